"""The optional trigram index of the log search (PostgreSQL; docs/logs-api.md, Search).

GET /api/log/search and /self/search look for a keyword as a case-insensitive substring of five
columns. Without an index, a keyword that matches few logs makes PostgreSQL read every row
(1.5 s per million logs). With this index, such a keyword takes milliseconds, but every ingested
log costs about twice the database CPU (the figures are in the docs), so the index is not built
by a migration: an operator who wants fast rare-keyword search at that price runs
`manage.py search_index --create` (and `--drop` to go back).

The index is one GIN over the five searched columns, each as the expression the search query
already compares (Django's `icontains`: `UPPER(col::text) LIKE UPPER('%keyword%')`, see
`LogQuerySet.keyword`), so the query does not change: the planner answers the OR of the five
conditions with a BitmapOr over this index when the keyword is rare, and keeps the newest-first
scan of `logs_created_id` when it is common or has no trigram (2 characters or fewer). The
index only finds candidates; PostgreSQL rechecks the condition on every candidate row, so the
results are those of the plain query.

Partitions created after the index (ingest, `manage_partitions`) get theirs from ATTACH
PARTITION. On other databases nothing is built.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction

from logs.models import Log

SEARCH_INDEX = "logs_search_trgm"
# The searched columns as `icontains` writes them (a text column's ::text cast is no cast).
SEARCH_INDEX_COLUMNS = (
    "upper(content) gin_trgm_ops, upper(model_name::text) gin_trgm_ops, "
    "upper(token_name::text) gin_trgm_ops, upper(request_id::text) gin_trgm_ops, "
    "upper(username::text) gin_trgm_ops"
)
# Per-partition index names end so (the parent's own name is SEARCH_INDEX).
PARTITION_SUFFIX = "_search_trgm"
BUILD_MEMORY = "256MB"


@dataclass(frozen=True, slots=True)
class SearchIndexStatus:
    exists: bool
    # True when every partition's index is built and attached: only then may the planner use
    # it for a query over the whole table.
    valid: bool
    partitions: int
    partitions_indexed: int
    size_bytes: int


def _table() -> str:
    return Log._meta.db_table


def _quote(name: str) -> str:
    return connection.ops.quote_name(name)


def search_index_status() -> SearchIndexStatus | None:
    """Where the search index stands; None on a database other than PostgreSQL."""
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT i.indisvalid, pg_relation_size(i.indexrelid) FROM pg_index i "
            "WHERE i.indexrelid = to_regclass(%s)",
            [SEARCH_INDEX],
        )
        row = cursor.fetchone()
        cursor.execute(
            "SELECT count(*) FROM pg_inherits WHERE inhparent = %s::regclass", [_table()]
        )
        partitions = int(cursor.fetchone()[0])
        cursor.execute(
            "SELECT count(*), coalesce(sum(pg_relation_size(ii.inhrelid)), 0) "
            "FROM pg_inherits ii WHERE ii.inhparent = to_regclass(%s)",
            [SEARCH_INDEX],
        )
        indexed, children_size = cursor.fetchone()
    if row is None:
        return SearchIndexStatus(False, False, partitions, 0, 0)
    valid, own_size = row
    return SearchIndexStatus(
        True, bool(valid), partitions, int(indexed), int(own_size) + int(children_size)
    )


def search_index_create() -> list[str]:
    """Build the search index (PostgreSQL; creates the pg_trgm extension if missing) and
    return the names of the partitions indexed by this call.

    Outside a transaction it blocks no ingest or read: the parent's index is made `ON ONLY`
    (invalid until every partition's is attached), then each partition's is built with CREATE
    INDEX CONCURRENTLY and attached. Run again after an interruption: attached partitions are
    skipped, a half-built index is rebuilt. Inside a transaction (tests) it falls back to one
    plain CREATE INDEX, which blocks writes to `logs` until the transaction ends.

    Needs pg_trgm (PostgreSQL's contrib; trusted since PostgreSQL 13, so the database's owner
    may create it); raises the database's error when it cannot be created."""
    if connection.vendor != "postgresql":
        return []
    table = _table()
    with connection.cursor() as cursor:
        cursor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        cursor.execute("SELECT relkind FROM pg_class WHERE oid = %s::regclass", [table])
        partitioned = cursor.fetchone()[0] == "p"
        if connection.in_atomic_block:
            cursor.execute(
                f"CREATE INDEX IF NOT EXISTS {SEARCH_INDEX} ON {_quote(table)} "
                f"USING gin ({SEARCH_INDEX_COLUMNS})"
            )
            return []
        cursor.execute("SET maintenance_work_mem = %s", [BUILD_MEMORY])
        try:
            if not partitioned:
                cursor.execute(
                    f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {SEARCH_INDEX} ON {_quote(table)} "
                    f"USING gin ({SEARCH_INDEX_COLUMNS})"
                )
                return []
            cursor.execute(
                f"CREATE INDEX IF NOT EXISTS {SEARCH_INDEX} ON ONLY {_quote(table)} "
                f"USING gin ({SEARCH_INDEX_COLUMNS})"
            )
            done = []
            for partition in _partitions_without_index(cursor):
                child = _quote(partition + PARTITION_SUFFIX)
                # An interrupted run leaves an invalid index by that name: rebuild it.
                cursor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {child}")
                cursor.execute(
                    f"CREATE INDEX CONCURRENTLY {child} ON {_quote(partition)} "
                    f"USING gin ({SEARCH_INDEX_COLUMNS})"
                )
                cursor.execute(f"ALTER INDEX {SEARCH_INDEX} ATTACH PARTITION {child}")
                done.append(partition)
            return done
        finally:
            cursor.execute("RESET maintenance_work_mem")


def search_index_drop() -> None:
    """Drop the search index: the parent's, its partitions' and any left unattached by an
    interrupted build. The pg_trgm extension stays (other objects may use it). Searches stay
    exact; rare keywords are slow again."""
    if connection.vendor != "postgresql":
        return
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"DROP INDEX IF EXISTS {SEARCH_INDEX}")
        cursor.execute(
            "SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
            "JOIN pg_inherits p ON p.inhrelid = i.indrelid "
            "WHERE p.inhparent = %s::regclass AND c.relname LIKE %s",
            [_table(), "%" + PARTITION_SUFFIX.replace("_", r"\_")],
        )
        for (name,) in cursor.fetchall():
            cursor.execute(f"DROP INDEX IF EXISTS {_quote(name)}")


def _partitions_without_index(cursor: Any) -> list[str]:
    """The partitions of `logs` with no index attached to SEARCH_INDEX, by name."""
    cursor.execute(
        "SELECT c.relname FROM pg_inherits p JOIN pg_class c ON c.oid = p.inhrelid "
        "WHERE p.inhparent = %s::regclass AND NOT EXISTS ("
        "  SELECT 1 FROM pg_inherits ii JOIN pg_index i ON i.indexrelid = ii.inhrelid "
        "  WHERE ii.inhparent = to_regclass(%s) AND i.indrelid = c.oid) "
        "ORDER BY c.relname",
        [_table(), SEARCH_INDEX],
    )
    return [row[0] for row in cursor.fetchall()]
