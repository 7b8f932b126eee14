"""PostgreSQL: make `logs` a table partitioned by RANGE on created_at (docs/partitioning.md).

Nothing changes on other databases, and nothing changes in Django's model state: the model keeps
`id` as its primary key (ids stay unique through the identity sequence), while the database's
primary key becomes (id, created_at) because PostgreSQL requires the partition key in it.
Idempotency of request ids lives in `ingest_keys`, so no unique index on the logs is lost.

The migration copies the table as it finds it at its point in the migration graph: the columns,
defaults, NOT NULL and CHECK constraints come over with CREATE TABLE ... LIKE, and every index
other than the primary key is recreated from its own definition (pg_get_indexdef), so index
migrations that run before this one are carried over and those that run after it act on the
partitioned table (CREATE/DROP INDEX on the parent reach every partition; note that
CREATE/DROP INDEX CONCURRENTLY do not work on a partitioned parent).

Existing rows are moved into partitions created for the windows that hold them, under an ACCESS
EXCLUSIVE lock for the whole copy: on a large existing table, run it in a quiet moment.
The code is self-contained on purpose (a migration must not change when `logs/partitions.py`
does); it follows the same window and naming rules.
"""

from datetime import UTC, datetime

from django.conf import settings
from django.db import migrations

DAY = 86_400
ORIGIN = 4 * DAY  # Monday 1970-01-05 00:00 UTC, as in logs/partitions.py
TABLE = "logs"
OLD = "logs_migrating"


def _name(lower):
    moment = datetime.fromtimestamp(lower, UTC)
    suffix = f"{moment:%Y%m%d}" if lower % DAY == 0 else f"{moment:%Y%m%d_%H%M%S}"
    return f"{TABLE}_p{suffix}"


def _relkind(cursor, table):
    cursor.execute("SELECT relkind FROM pg_class WHERE oid = to_regclass(%s)", [table])
    row = cursor.fetchone()
    return row[0] if row else None


def _rebuild(cursor, partitioned):
    """Recreate `logs` as a partitioned (or, going back, a plain) table holding the same rows."""
    cursor.execute(f"LOCK TABLE {TABLE} IN ACCESS EXCLUSIVE MODE")
    cursor.execute(
        "SELECT c.relname, pg_get_indexdef(i.indexrelid) FROM pg_index i "
        "JOIN pg_class c ON c.oid = i.indexrelid "
        "WHERE i.indrelid = %s::regclass AND NOT i.indisprimary ORDER BY c.relname",
        [TABLE],
    )
    indexes = cursor.fetchall()
    cursor.execute(
        "SELECT conname FROM pg_constraint WHERE conrelid = %s::regclass AND contype = 'p'",
        [TABLE],
    )
    primary = [row[0] for row in cursor.fetchall()]
    # Ids are never reused, also those of deleted rows: continue after the sequence's position.
    cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [TABLE])
    sequence = cursor.fetchone()[0]
    last = 0
    if sequence:
        cursor.execute(f"SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM {sequence}")  # noqa: S608
        last = cursor.fetchone()[0]
    cursor.execute(f"SELECT coalesce(max(id), 0) FROM {TABLE}")  # noqa: S608
    next_id = max(last, cursor.fetchone()[0]) + 1

    # Free the names the new table's index and constraint names need.
    cursor.execute(f"ALTER TABLE {TABLE} RENAME TO {OLD}")
    for name in primary:
        cursor.execute(f'ALTER TABLE {OLD} RENAME CONSTRAINT "{name}" TO "{OLD}_{name}"')
    for name, _ in indexes:
        cursor.execute(f'DROP INDEX "{name}"')

    cursor.execute(
        f"CREATE TABLE {TABLE} (LIKE {OLD} INCLUDING DEFAULTS INCLUDING CONSTRAINTS "
        "INCLUDING STORAGE INCLUDING COMMENTS INCLUDING COMPRESSION INCLUDING GENERATED)"
        + (" PARTITION BY RANGE (created_at)" if partitioned else "")
    )
    # The old id default (an identity, or a serial's nextval) belongs to the old table.
    cursor.execute(f"ALTER TABLE {TABLE} ALTER COLUMN id DROP DEFAULT")
    if partitioned:
        width = int(getattr(settings, "LOG_PARTITION_DAYS", 1)) * DAY
        cursor.execute(
            f"SELECT DISTINCT floor((created_at - %s)::numeric / %s)::bigint FROM {OLD}",  # noqa: S608
            [ORIGIN, width],
        )
        windows = {ORIGIN + row[0] * width for row in cursor.fetchall()}
        now = int(datetime.now(UTC).timestamp())
        current = ORIGIN + (now - ORIGIN) // width * width
        windows |= {current, current + width}
        for lower in sorted(windows):
            cursor.execute(
                f'CREATE TABLE "{_name(lower)}" PARTITION OF {TABLE} FOR VALUES FROM (%s) TO (%s)',
                [lower, lower + width],
            )
    cursor.execute(f"INSERT INTO {TABLE} SELECT * FROM {OLD}")  # noqa: S608
    key = "id, created_at" if partitioned else "id"
    cursor.execute(f'ALTER TABLE {TABLE} ADD CONSTRAINT "{TABLE}_pkey" PRIMARY KEY ({key})')
    for _, definition in indexes:
        # A partitioned parent's definition reads "ON ONLY logs"; the new one must recurse.
        cursor.execute(definition.replace(" ON ONLY ", " ON ", 1))
    cursor.execute(f"DROP TABLE {OLD}")
    cursor.execute(
        f"ALTER TABLE {TABLE} ALTER COLUMN id ADD GENERATED BY DEFAULT AS IDENTITY "
        f"(START WITH {int(next_id)})"
    )
    cursor.execute(f"ANALYZE {TABLE}")


def partition(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        if _relkind(cursor, TABLE) == "r":
            _rebuild(cursor, partitioned=True)


def unpartition(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        if _relkind(cursor, TABLE) == "p":
            _rebuild(cursor, partitioned=False)


class Migration(migrations.Migration):
    dependencies = [("logs", "0001_initial")]

    operations = [migrations.RunPython(partition, unpartition, elidable=False)]
