"""Time partitions of the `logs` table on PostgreSQL (docs/partitioning.md).

Migration `logs.0002_partition_logs` makes `logs` a table partitioned by RANGE on `created_at`
(Unix seconds). Each partition is one window of `LOG_PARTITION_DAYS` days; windows are counted
from Monday 1970-01-05 00:00 UTC, so daily partitions start at UTC midnight and weekly ones on a
Monday. A partition is named `logs_pYYYYMMDD` after its lower bound (UTC).

There is no DEFAULT partition: with one, PostgreSQL refuses `DETACH PARTITION ... CONCURRENTLY`
and every new partition would have to scan it. Instead the ingest service calls
`partitions_ensure_for(events=...)` before inserting; it creates a missing partition on demand
(CREATE TABLE + ATTACH, which locks the parent in SHARE UPDATE EXCLUSIVE mode only, so reads and
other ingests go on). `manage_partitions` creates the coming days' partitions ahead of time, so
that path is normally taken only by backfills.

On every other database the functions do nothing: the table is a plain table there.
"""

from __future__ import annotations

import logging
import re
import time
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from operator import attrgetter
from typing import Any, Protocol

from django.conf import settings
from django.db import connection, transaction

from logs.events import DAY, MAX_BIGINT
from logs.models import Log
from logs.retention import retention_advance

logger = logging.getLogger(__name__)

# Monday 1970-01-05 00:00 UTC: the origin of the partition windows.
ORIGIN = 4 * DAY
# Key of the transaction-level advisory lock that serialises partition creation, so that two
# ingests needing the same new partition do not both try to create it.
CREATE_LOCK_KEY = 0x746C5F7061727431
# Waiting for a lock that blocks others (ATTACH's SHARE UPDATE EXCLUSIVE on the parent, a plain
# DETACH's ACCESS EXCLUSIVE) gives up after this, so nobody queues behind us for long.
BLOCKING_LOCK_TIMEOUT_MS = 2_000
# DETACH ... CONCURRENTLY waits for every transaction that uses the table when it starts (the
# longest is a read bounded by READ_STATEMENT_TIMEOUT_MS). Waiting blocks no one, so the bound is
# generous; a detach that times out is finished (FINALIZE) by the next call.
CONCURRENT_DETACH_TIMEOUT_MS = 120_000
MINVALUE = -(2**63)
MAXVALUE = MAX_BIGINT

_CREATED_AT = attrgetter("created_at")
_BOUND = re.compile(r"FOR VALUES FROM \((?P<lower>[^)]*)\) TO \((?P<upper>[^)]*)\)")


class Dated(Protocol):
    """Anything with a created_at in Unix seconds: a `LogEvent`, a `Log`."""

    @property
    def created_at(self) -> int: ...


@dataclass(frozen=True, slots=True)
class Partition:
    name: str
    lower: int  # inclusive, Unix seconds (MINVALUE if unbounded)
    upper: int  # exclusive, Unix seconds (MAXVALUE if unbounded)
    # pg_class.reltuples: an estimate kept by VACUUM/ANALYZE; None until the partition has been
    # analysed once.
    rows: int | None


def is_partitioned() -> bool:
    """True when `logs` is a partitioned table (PostgreSQL after migration 0002)."""
    if connection.vendor != "postgresql":
        return False
    with connection.cursor() as cursor:
        return _catalog(cursor) is not None


def partition_width() -> int:
    """The width of a partition window in seconds (`LOG_PARTITION_DAYS`)."""
    return int(settings.LOG_PARTITION_DAYS) * DAY


def window_start(ts: int, width: int | None = None) -> int:
    """The lower bound of the partition window holding `ts`."""
    width = width or partition_width()
    return ORIGIN + (ts - ORIGIN) // width * width


def partition_name(lower: int) -> str:
    moment = datetime.fromtimestamp(lower, UTC)
    if lower % DAY:
        return f"{_parent()}_p{moment:%Y%m%d_%H%M%S}"
    return f"{_parent()}_p{moment:%Y%m%d}"


def partitions_list() -> list[Partition]:
    """The attached partitions of `logs`, oldest first ([] when the table is not partitioned).
    `rows` is PostgreSQL's estimate, not a count."""
    if connection.vendor != "postgresql":
        return []
    with connection.cursor() as cursor:
        catalog = _catalog(cursor)
    return catalog[0] if catalog else []


def partitions_ensure(*, start: int, end: int) -> list[str]:
    """Create the partitions that cover every second of [start, end] (Unix seconds, inclusive)
    and are missing. A window that existing partitions cover only in part gets partitions for
    the uncovered part (after a change of LOG_PARTITION_DAYS). Returns the names created.
    Runs in the caller's transaction if there is one; the new partitions are visible to others
    when it commits."""
    if connection.vendor != "postgresql" or end < start:
        return []
    width = partition_width()
    windows = range(window_start(start, width), window_start(end, width) + 1, width)
    return _ensure_windows(windows, width)


def partitions_ensure_for(*, events: Sequence[Dated]) -> list[str]:
    """Make sure a partition exists for every event's created_at; called by the ingest service
    inside its transaction just before the insert. `Log.save()` and `Log.objects.bulk_create()`
    do not call it (logs.models imports nothing of its app but the querysets): whoever writes
    logs through the ORM on PostgreSQL calls it first.

    Costs no SQL when the batch falls in partitions this process knows and that cannot have been
    dropped since (their upper bound is still in the future: `partitions_drop_before` never drops
    those). Otherwise one catalog query, and, when something is missing, the creation under an
    advisory lock. Returns the names created."""
    if connection.vendor != "postgresql" or not events:
        return []
    stamps = list(map(_CREATED_AT, events))
    low, high = min(stamps), max(stamps)
    now = time.time()
    index = bisect_right(_known_lowers, low) - 1
    if index >= 0 and high < _known[index][1] and _known[index][1] > now:
        return []
    width = partition_width()
    windows = {ORIGIN + (ts - ORIGIN) // width * width for ts in stamps}
    unknown = [window for window in sorted(windows) if not _trusted_window(window, width, now)]
    if not unknown:
        return []
    return _ensure_windows(unknown, width, check_first=True)


def partitions_learn() -> None:
    """Read the committed partitions into this process's cache, so that ingest into them costs
    no catalog query. Run after migrate; does nothing inside a transaction, whose uncommitted
    partitions could still be rolled back."""
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        return
    with connection.cursor() as cursor:
        catalog = _catalog(cursor)
    if catalog is not None:
        _remember((p.lower, p.upper) for p in catalog[0] if (p.lower, p.upper) not in _uncommitted)


def partitions_drop_before(*, before: int) -> int:
    """Drop every partition lying entirely before `before` (its upper bound <= before), and
    return how many rows they held (an exact count taken on each detached partition just before
    it is dropped).

    Partitions whose upper bound is still in the future are never dropped, whatever `before` is:
    they can still receive events, and ingest trusts them. Rows of partitions that straddle
    `before` stay; delete them with `logs.services.logs_delete_before` (docs/partitioning.md).

    Outside a transaction each partition is detached with DETACH ... CONCURRENTLY, which never
    blocks reads or ingest, then counted and dropped once nothing can see it. Inside a
    transaction (tests, or a caller's atomic block) it falls back to a plain DETACH, which needs
    an ACCESS EXCLUSIVE lock on `logs` for a moment and gives up after
    BLOCKING_LOCK_TIMEOUT_MS. A lock that cannot be had raises DatabaseError; what was dropped
    before stays dropped, and the next call picks up where this one stopped.

    Before the first detach, the retention mark `logs_before` is raised to the newest upper
    bound among the partitions leaving `logs` (`logs.retention`; committed at once outside a
    transaction)."""
    if connection.vendor != "postgresql":
        return 0
    cut = min(before, int(time.time()))
    with connection.cursor() as cursor:
        catalog = _catalog(cursor)
    if catalog is None:
        return 0
    attached, pending = catalog
    victims = [(p, True) for p in pending if p.upper <= cut]
    victims += [(p, False) for p in attached if p.upper <= cut]
    # Pending partitions are already gone from `logs` (their own call raised the mark first;
    # covering them again costs nothing).
    leaving = [p for p, _ in victims] + pending
    if leaving:
        retention_advance(logs_before=max(p.upper for p in leaving))
    # A detach that an earlier call could not finish blocks every other concurrent detach:
    # finish those first. One lying after the cut was not ours to drop: it is only detached.
    for partition in pending:
        if partition.upper > cut:
            _detach(partition, pending=True)
            logger.warning("finished detaching log partition %s; kept it", partition.name)
    total = 0
    for partition, is_pending in victims:
        started = time.perf_counter()
        _detach(partition, pending=is_pending)
        detached = time.perf_counter()
        # Detached: no query of `logs` reaches it any more, so counting and dropping it blocks
        # nobody.
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"SELECT count(*) FROM {_quote(partition.name)}")  # noqa: S608
            rows = int(cursor.fetchone()[0])
            cursor.execute(f"DROP TABLE {_quote(partition.name)}")
        fields = {
            "partition": partition.name,
            "rows": rows,
            "detach_ms": round((detached - started) * 1000, 1),
            "total_ms": round((time.perf_counter() - started) * 1000, 1),
        }
        logger.info(
            "dropped log partition %s (%d rows)", partition.name, rows, extra={"fields": fields}
        )
        total += rows
    return total


# --- internals -----------------------------------------------------------------------------

# The partitions this process has seen committed, as sorted (lower, upper) pairs. Replaced as a
# whole (never mutated) so that threads read a consistent pair of lists.
_known: list[tuple[int, int]] = []
_known_lowers: list[int] = []
# Ranges this process created in a transaction that has not committed (yet, or ever: Django has
# no rollback hook). They are never taken from the catalog into `_known`; their own commit adds
# them.
_uncommitted: set[tuple[int, int]] = set()


def _parent() -> str:
    return Log._meta.db_table


def _quote(name: str) -> str:
    return connection.ops.quote_name(name)


def _trusted_window(lower: int, width: int, now: float) -> bool:
    """Whether one known partition holds the whole window and cannot have been dropped since."""
    index = bisect_right(_known_lowers, lower) - 1
    return index >= 0 and lower + width <= _known[index][1] and _known[index][1] > now


def _remember(intervals: Iterable[tuple[int, int]]) -> None:
    global _known, _known_lowers
    known = sorted(set(intervals))
    _known, _known_lowers = known, [lower for lower, _ in known]


def _bound(text: str) -> int:
    text = text.strip().strip("'")
    if text == "MINVALUE":
        return MINVALUE
    if text == "MAXVALUE":
        return MAXVALUE
    return int(text)


def _catalog(cursor: Any) -> tuple[list[Partition], list[Partition]] | None:
    """(attached partitions, partitions pending a concurrent detach), oldest first, or None when
    `logs` is not partitioned. A pending partition is invisible to queries and to tuple routing
    but still reserves its range."""
    cursor.execute(
        "SELECT p.relkind, c.relname, pg_get_expr(c.relpartbound, c.oid), c.reltuples, "
        "i.inhdetachpending FROM pg_class p "
        "LEFT JOIN pg_inherits i ON i.inhparent = p.oid "
        "LEFT JOIN pg_class c ON c.oid = i.inhrelid "
        "WHERE p.oid = to_regclass(%s)",
        [_parent()],
    )
    rows = cursor.fetchall()
    if not rows or rows[0][0] != "p":
        return None
    attached: list[Partition] = []
    pending: list[Partition] = []
    for _, name, bound, reltuples, detaching in rows:
        match = _BOUND.search(bound or "")
        if match is None:  # no partition at all, or a DEFAULT one (this design never makes one)
            continue
        estimate = int(reltuples) if reltuples is not None and reltuples >= 0 else None
        partition = Partition(name, _bound(match["lower"]), _bound(match["upper"]), estimate)
        (pending if detaching else attached).append(partition)
    attached.sort(key=lambda p: p.lower)
    pending.sort(key=lambda p: p.lower)
    return attached, pending


def _gaps(lower: int, upper: int, taken: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The parts of [lower, upper) that no interval of `taken` (sorted) covers."""
    gaps = []
    cursor_at = lower
    for start, end in taken:
        if end <= cursor_at:
            continue
        if start >= upper:
            break
        if start > cursor_at:
            gaps.append((cursor_at, start))
        cursor_at = max(cursor_at, end)
        if cursor_at >= upper:
            break
    if cursor_at < upper:
        gaps.append((cursor_at, upper))
    return gaps


def _missing(
    windows: Iterable[int], width: int, taken: list[tuple[int, int]]
) -> list[tuple[int, int]]:
    missing: list[tuple[int, int]] = []
    for lower in windows:
        missing += _gaps(lower, lower + width, taken)
    return missing


def _ensure_windows(windows: Iterable[int], width: int, check_first: bool = False) -> list[str]:
    windows = list(windows)
    if check_first:
        # The common slow path (a batch reaching into a past partition) finds everything in place:
        # one catalog query, no lock.
        with connection.cursor() as cursor:
            catalog = _catalog(cursor)
        if catalog is None:
            return []
        attached, pending = catalog
        taken = [(p.lower, p.upper) for p in attached]
        _remember(interval for interval in taken if interval not in _uncommitted)
        if not _missing(windows, width, taken + [(p.lower, p.upper) for p in pending]):
            return []
    created: list[tuple[int, int]] = []
    names: list[str] = []
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [CREATE_LOCK_KEY])
        catalog = _catalog(cursor)
        if catalog is None:
            return []
        attached, pending = catalog
        taken = [(p.lower, p.upper) for p in attached]
        # A range pending detach cannot take a new partition until the detach is finalised;
        # creating one would fail on the overlap, and so does an insert into it (a retryable
        # error, the ingest view answers 503).
        created = _missing(windows, width, sorted(taken + [(p.lower, p.upper) for p in pending]))
        if created:
            cursor.execute("SELECT current_setting('lock_timeout')")
            previous = cursor.fetchone()[0]
            cursor.execute(
                "SELECT set_config('lock_timeout', %s, true)", [f"{BLOCKING_LOCK_TIMEOUT_MS}ms"]
            )
            names = [_create(cursor, lower, upper) for lower, upper in created]
            cursor.execute("SELECT set_config('lock_timeout', %s, true)", [previous])
    _uncommitted.update(created)
    _remember(interval for interval in taken if interval not in _uncommitted)

    def committed() -> None:
        _uncommitted.difference_update(created)
        _remember([*_known, *created])

    transaction.on_commit(committed)
    if names:
        logger.info(
            "created log partitions %s", ", ".join(names), extra={"fields": {"partitions": names}}
        )
    return names


def _create(cursor: Any, lower: int, upper: int) -> str:
    """Create one partition as a plain table, then attach it: CREATE TABLE ... PARTITION OF would
    lock the parent ACCESS EXCLUSIVE, ATTACH only SHARE UPDATE EXCLUSIVE. The table is empty, so
    the attach's validation scan and the index builds it triggers are instant."""
    name = partition_name(lower)
    cursor.execute(
        "SELECT relname FROM pg_class WHERE relname LIKE %s AND relnamespace = "
        "(SELECT relnamespace FROM pg_class WHERE oid = %s::regclass)",
        [name.replace("_", r"\_") + "%", _parent()],
    )
    taken = {row[0] for row in cursor.fetchall()}
    # A table by that name may be a detached partition left behind by an interrupted drop.
    candidate, suffix = name, 1
    while candidate in taken:
        candidate, suffix = f"{name}_{suffix}", suffix + 1
    parent, table = _quote(_parent()), _quote(candidate)
    cursor.execute(
        f"CREATE TABLE {table} (LIKE {parent} INCLUDING DEFAULTS INCLUDING CONSTRAINTS "
        "INCLUDING STORAGE INCLUDING COMPRESSION INCLUDING GENERATED)"
    )
    cursor.execute(
        f"ALTER TABLE {parent} ATTACH PARTITION {table} FOR VALUES FROM (%s) TO (%s)",
        [lower, upper],
    )
    return candidate


def _detach(partition: Partition, *, pending: bool) -> None:
    parent, table = _quote(_parent()), _quote(partition.name)
    if connection.in_atomic_block:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SELECT current_setting('lock_timeout')")
            previous = cursor.fetchone()[0]
            cursor.execute(
                "SELECT set_config('lock_timeout', %s, true)", [f"{BLOCKING_LOCK_TIMEOUT_MS}ms"]
            )
            mode = "FINALIZE" if pending else ""
            cursor.execute(f"ALTER TABLE {parent} DETACH PARTITION {table} {mode}")
            cursor.execute("SELECT set_config('lock_timeout', %s, true)", [previous])
        return
    with connection.cursor() as cursor:
        cursor.execute("SET lock_timeout = %s", [f"{CONCURRENT_DETACH_TIMEOUT_MS}ms"])
        try:
            mode = "FINALIZE" if pending else "CONCURRENTLY"
            cursor.execute(f"ALTER TABLE {parent} DETACH PARTITION {table} {mode}")
        finally:
            cursor.execute("RESET lock_timeout")
