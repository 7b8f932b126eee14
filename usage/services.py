"""Writes: ingestion (the logs and every aggregate that counts them, in one transaction), the
users and channels the events name, and the rollups' apply, rebuild and purge."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from operator import add, attrgetter
from typing import Any

import orjson
from django.contrib.auth.hashers import make_password
from django.db import connection, models, transaction

from accounts.ids import GATEWAY_ID_MAX
from accounts.models import Channel, User
from logs.events import LogEvent
from logs.models import LOG_COLUMNS, IngestKey, Log
from logs.partitions import partitions_ensure_for
from logs.retention import retention_advance
from usage.buckets import bucket_of
from usage.rollups import (
    DAY,
    FAMILIES,
    MAX_SUM,
    MEASURES,
    PG_TYPES,
    Family,
    day_floor,
    in_range,
    quoted,
    select_coarser,
    select_from_logs,
)
from usage.selectors import usage_complete_since, usage_rollup_end

# A user's `last_seen_at` (the time of the newest event seen for it) is written again only when
# it moves by more than this: a busy user costs one row update per ten minutes, not one per
# batch (renames set it exactly; see users_provision).
LAST_SEEN_RESOLUTION = 600


@dataclass
class IngestResult:
    accepted: int = 0
    duplicates: int = 0
    accepted_events: list[LogEvent] = field(default_factory=list)


@contextmanager
def _raw_cursor() -> Iterator[Any]:
    """A psycopg cursor with server-side parameter binding, inside Django's transaction.

    Django's default psycopg cursor binds client-side: it quotes every parameter into the SQL
    text, arrays element by element through a regular expression (half the time of a batch in
    the first profile). This cursor sends parameters apart from the statement and can COPY.
    Errors are translated into django.db's exceptions, and the statements are logged like
    Django's own (`django_assert_num_queries` counts them)."""
    import psycopg

    connection.ensure_connection()
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        yield cursor


def _log_query(sql: str, started: float) -> None:
    if connection.queries_logged:
        connection.queries_log.append({"sql": sql, "time": f"{time.monotonic() - started:.3f}"})


def _pg_execute(sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
    started = time.monotonic()
    with _raw_cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall() if cursor.description else []
    _log_query(sql, started)
    return rows


def _newest_per_key(events: Sequence[LogEvent], key: str, value: str) -> dict[int, tuple[int, str]]:
    """id -> (created_at, name) of that id's newest event in the batch (the later one of equals)."""
    fields = attrgetter(key, "created_at", value)
    newest: dict[int, tuple[int, str]] = {}
    for event in events:
        ident, created_at, name = fields(event)
        seen = newest.get(ident)
        if seen is None or created_at >= seen[0]:
            newest[ident] = (created_at, name)
    return newest


def _aware(ts: int) -> datetime:
    return datetime.fromtimestamp(ts, tz=UTC)


def users_provision(*, events: Sequence[LogEvent]) -> None:
    """Create the users the batch names for the first time (role common, no password) and apply
    renames. One SELECT in the steady state; more statements only when something changes.

    The newest event wins: a name applies only if its event is not older than the user's
    `last_seen_at` (a late retry of an old batch does not undo a rename). The gateway's
    usernames are unique, so the holder here of a name that another id carries in a newer
    event is stale (renamed on the gateway since): it gives the name up and is called
    "<name>#<id>" until its own next event. When the holder was seen later than the claiming
    event, the claimant is the stale one and gets "<name>#<id>". A local account never gives up
    its name: a gateway user whose events carry it is called "<name>#<id>" (docs/ingest.md).

    Events never carry a local account's id (`logs.events` refuses ids above GATEWAY_ID_MAX,
    and local accounts live there), so no event creates, renames or writes for one."""
    _users_touch(_users_sync(_newest_per_key(events, "user_id", "username")))


def _users_sync(wanted: dict[int, tuple[int, str]]) -> dict[int, int]:
    """Create and rename (see users_provision); returns the users whose `last_seen_at` should
    move forward (id -> Unix time), for `_users_touch` at the end of the transaction."""
    if any(uid > GATEWAY_ID_MAX for uid in wanted):
        # `event_parse` refuses these; a caller that built events itself must not write for a
        # local account.
        raise ValueError(f"user ids above {GATEWAY_ID_MAX} are local accounts'")
    known = _users_known(list(wanted))
    candidates: dict[int, tuple[int, str]] = {}
    touched: dict[int, int] = {}
    for uid, (ts, name) in wanted.items():
        if uid not in known:
            candidates[uid] = (ts, name)
            continue
        old_name, seen = known[uid]
        if name != old_name and ts >= seen:
            candidates[uid] = (ts, name)
        elif ts - seen > LAST_SEEN_RESOLUTION:
            touched[uid] = ts
    if candidates:
        for uid in _users_claim_names(candidates, known):
            if candidates[uid][0] - known[uid][1] > LAST_SEEN_RESOLUTION:
                touched[uid] = candidates[uid][0]
    return touched


def _users_known(ids: list[int]) -> dict[int, tuple[str, int]]:
    """id -> (username, last_seen_at in Unix seconds, 0 if never) of the existing users among
    `ids`. The one query of the steady state; on PostgreSQL a single array parameter and integer
    results (the ORM's IN list of hundreds of quoted ids and its datetime objects cost more
    than the query)."""
    if connection.vendor == "postgresql":
        rows = _pg_execute(
            "SELECT id, username, COALESCE(floor(EXTRACT(EPOCH FROM last_seen_at))::int8, 0) "  # noqa: S608
            f"FROM {User._meta.db_table} WHERE id = ANY(%b::int8[])",
            [ids],
        )
        return {uid: (name, seen) for uid, name, seen in rows}
    return {
        uid: (name, int(seen.timestamp()) if seen else 0)
        for uid, name, seen in User.objects.filter(id__in=ids).values_list(
            "id", "username", "last_seen_at"
        )
    }


def _users_touch(touched: dict[int, int]) -> None:
    """Move `last_seen_at` forward. Best effort and last in the transaction: a row that another
    batch is updating right now is skipped (that batch moves it to about the same time) rather
    than waited for, so concurrent batches never queue or deadlock on their common users."""
    if not touched:
        return
    ids = sorted(touched)
    table = User._meta.db_table
    if connection.vendor == "postgresql":
        _pg_execute(
            f"UPDATE {table} AS u SET last_seen_at = v.seen "  # noqa: S608 (constant table)
            "FROM unnest(%b::int8[], %b::timestamptz[]) AS v(id, seen) "
            "WHERE u.id = v.id AND (u.last_seen_at IS NULL OR u.last_seen_at < v.seen) "
            f"AND u.id IN (SELECT id FROM {table} WHERE id = ANY(%b::int8[]) "
            "FOR NO KEY UPDATE SKIP LOCKED)",
            [ids, [_aware(touched[uid]) for uid in ids], ids],
        )
        return
    with connection.cursor() as cursor:
        cursor.executemany(
            f"UPDATE {table} SET last_seen_at = %s WHERE id = %s "  # noqa: S608
            "AND (last_seen_at IS NULL OR last_seen_at < %s)",
            [(_aware(touched[uid]), uid, _aware(touched[uid])) for uid in ids],
        )


def _stale_name(name: str, uid: int) -> str:
    return f"{name[: 64 - 21]}#{uid}"


def _users_claim_names(
    candidates: dict[int, tuple[int, str]], known: dict[int, tuple[str, int]]
) -> set[int]:
    """Create and rename the `candidates` (id -> (event time, name)); see users_provision.
    Returns the known candidates that kept their names (their `last_seen_at` may still move)."""
    holder_of: dict[str, tuple[int, int, bool]] = {
        name: (uid, int(seen.timestamp()) if seen else 0, is_local)
        for uid, name, seen, is_local in User.objects.filter(
            username__in={name for _, name in candidates.values()}
        ).values_list("id", "username", "last_seen_at", "is_local")
    }
    # A local account's name is never a gateway user's, whatever the events' times: its
    # claimants are called "<name>#<id>" (and stay so while their events carry that name).
    shadowed = {
        uid for uid, (_, name) in candidates.items() if (held := holder_of.get(name)) and held[2]
    }
    shadow_moves = {
        uid: stale
        for uid in sorted(shadowed)
        if uid in known and known[uid][0] != (stale := _stale_name(candidates[uid][1], uid))
    }
    losers: set[int] = set(shadowed)
    while True:  # ends: `losers` only grows, and is bounded by the candidates
        winners: dict[str, tuple[int, int]] = {}
        for uid, (ts, name) in sorted(candidates.items()):
            if uid not in losers and (name not in winners or ts >= winners[name][0]):
                winners[name] = (ts, uid)
        # They leave their names.
        moving = {uid for _, uid in winners.values() if uid in known} | shadow_moves.keys()
        beaten = {
            uid
            for name, (ts, uid) in winners.items()
            if (holder := holder_of.get(name))
            and holder[0] != uid
            and holder[0] not in moving
            and holder[1] > ts
        }
        if not beaten:
            break
        losers |= beaten
    final = {uid: name for name, (_, uid) in winners.items()} | shadow_moves

    first_pass: list[User] = []
    for name, (ts, uid) in winners.items():
        holder = holder_of.get(name)
        if holder and holder[0] != uid and holder[0] not in moving:
            first_pass.append(
                User(id=holder[0], username=_stale_name(name, holder[0]),
                     last_seen_at=_aware(max(ts, holder[1])))
            )  # fmt: skip
    freed = {known[uid][0] for uid in moving}
    if freed & set(final.values()):
        # Names swapped or passed along within the batch: free them first, or the unique index
        # refuses the intermediate state.
        first_pass += [
            User(id=uid, username=f"#renaming#{uid}", last_seen_at=_aware(candidates[uid][0]))
            for uid in sorted(moving)
        ]
    if first_pass:
        User.objects.bulk_update(first_pass, ["username", "last_seen_at"])
    if moving:
        User.objects.bulk_update(
            [
                User(id=uid, username=final[uid], last_seen_at=_aware(candidates[uid][0]))
                for uid in sorted(moving)
            ],
            ["username", "last_seen_at"],
        )
    new = [
        User(
            id=uid,
            username=final[uid] if final.get(uid) == name else _stale_name(name, uid),
            password=make_password(None),  # unusable: the gateway's users log in there
            last_seen_at=_aware(ts),
        )
        for uid, (ts, name) in sorted(candidates.items())
        if uid not in known
    ]
    if new:
        # ignore_conflicts: a concurrent batch may have created the same user first.
        User.objects.bulk_create(new, ignore_conflicts=True)
    return {uid for uid in candidates if uid in known and uid not in moving}


def channels_provision(*, events: Sequence[LogEvent]) -> None:
    """Create the channels the batch names (id 0 is "no channel") and rename them from the
    batch's newest non-empty `channel_name`; an empty name never blanks a known one."""
    _channels_sync(*_channels_wanted(events))


def _channels_wanted(events: Sequence[LogEvent]) -> tuple[set[int], dict[int, tuple[int, str]]]:
    named = _newest_per_key(
        [event for event in events if event.channel_id and event.channel_name],
        "channel_id",
        "channel_name",
    )
    return {event.channel_id for event in events if event.channel_id}, named


def _channels_sync(ids: set[int], named: dict[int, tuple[int, str]]) -> None:
    if not ids:
        return
    known = dict(Channel.objects.filter(id__in=ids).values_list("id", "name"))
    new = [
        Channel(id=cid, name=named[cid][1] if cid in named else "")
        for cid in sorted(ids)
        if cid not in known
    ]
    if new:
        Channel.objects.bulk_create(new, ignore_conflicts=True)
    renamed = [
        Channel(id=cid, name=name)
        for cid, (_, name) in sorted(named.items())
        if cid in known and known[cid] != name
    ]
    if renamed:
        Channel.objects.bulk_update(renamed, ["name"])


def _keys_wanted(events: Sequence[LogEvent]) -> dict[str, int]:
    """request id -> created_at of its first event, in sorted id order."""
    keyed: dict[str, int] = {}
    for event in events:
        if event.request_id and event.request_id not in keyed:
            keyed[event.request_id] = event.created_at
    return {key: keyed[key] for key in sorted(keyed)}


def _keys_insert(keyed: dict[str, int]) -> set[str]:
    """Insert the batch's request ids into the key table; returns the ones that were new.

    ON CONFLICT DO NOTHING makes a concurrent transaction holding the same key wait for ours,
    then skip it: two gateways posting the same request id store it once. Keys are inserted in
    sorted order so that two batches sharing keys lock them in the same order (no deadlock)."""
    if not keyed:
        return set()
    keys = list(keyed)
    table = IngestKey._meta.db_table
    if connection.vendor == "postgresql":
        # One JSON array of [id, created_at] pairs (see _rollup_upsert), in sorted id order.
        rows = _pg_execute(
            f"INSERT INTO {table} (request_id, created_at) "  # noqa: S608 (constant table)
            "SELECT r->>0, (r->>1)::int8 FROM jsonb_array_elements(%t::jsonb) AS r "
            "ON CONFLICT DO NOTHING RETURNING request_id",
            [orjson.dumps(list(keyed.items())).decode()],
        )
    else:
        params: list[Any] = []
        for key in keys:
            params += [key, keyed[key]]
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {table} (request_id, created_at) VALUES "  # noqa: S608
                + ",".join(["(%s, %s)"] * len(keys))
                + " ON CONFLICT DO NOTHING RETURNING request_id",
                params,
            )
            rows = cursor.fetchall()
    return {row[0] for row in rows}


_row_values = attrgetter(*LOG_COLUMNS[:-1])  # every column but `other`, in LOG_COLUMNS order


def _rows(events: Sequence[LogEvent]) -> list[tuple[Any, ...]]:
    return [
        (*_row_values(event), event.other_json)
        if event.other_json is not None
        else (*_row_values(event), orjson.dumps(event.other).decode())
        for event in events
    ]


def _logs_insert(rows: Sequence[tuple[Any, ...]]) -> None:
    """Insert rows in LOG_COLUMNS order (see `_rows`)."""
    table = Log._meta.db_table
    columns = ", ".join(f'"{name}"' for name in LOG_COLUMNS)
    if connection.vendor == "postgresql":
        # COPY: psycopg formats the rows in C and the server skips the per-statement executor
        # work; measured 2.5x less client CPU than an INSERT ... SELECT FROM unnest(arrays)
        # with binary array parameters, and far less than a 24 000-parameter VALUES list.
        sql = f"COPY {table} ({columns}) FROM STDIN"
        started = time.monotonic()
        with _raw_cursor() as cursor, cursor.copy(sql) as copy:
            for row in rows:
                copy.write_row(row)
        _log_query(sql, started)
        return
    placeholders = ", ".join(["%s"] * len(LOG_COLUMNS))
    with connection.cursor() as cursor:
        cursor.executemany(
            f"INSERT INTO {table} ({columns}) VALUES ({placeholders})",  # noqa: S608
            rows,
        )


def logs_ingest(*, events: Sequence[LogEvent]) -> IngestResult:
    """Store a batch of validated events, atomically and idempotently.

    Events whose non-empty request_id was stored before (in any batch, or earlier in this one)
    are duplicates: not stored, not counted. Users and channels named by the events are created
    or renamed. Everything happens in one transaction: after a failure nothing of the batch
    exists (the caller sees the django.db exception). Returns the counts and the accepted
    events, in the batch's order (for the aggregates, which hook in after the insert)."""
    result = IngestResult()
    if not events:
        return result
    # Everything that needs no database is prepared before the transaction starts: SQLite
    # holds its single write lock for the whole transaction, PostgreSQL its row locks.
    keys = _keys_wanted(events)
    rows = _rows(events)
    users = _newest_per_key(events, "user_id", "username")
    channels = _channels_wanted(events)
    with transaction.atomic():
        claimed = _keys_insert(keys)
        accepted: list[int] = []
        for index, event in enumerate(events):
            if not event.request_id:
                accepted.append(index)
            elif event.request_id in claimed:
                claimed.discard(event.request_id)  # a second copy in the batch is a duplicate
                accepted.append(index)
        result.duplicates = len(events) - len(accepted)
        result.accepted = len(accepted)
        result.accepted_events = [events[index] for index in accepted]
        if accepted:
            # A duplicate's user and channel names are those it carried when first stored, so
            # provisioning from the whole batch changes nothing they did not already change.
            touched = _users_sync(users)
            _channels_sync(*channels)
            partitions_ensure_for(events=result.accepted_events)  # PostgreSQL: a partition each
            _logs_insert([rows[index] for index in accepted])
            usage_rollup_apply(events=result.accepted_events)
            _users_touch(touched)
    return result


_measures_of = attrgetter(
    "quota",
    "prompt_tokens",
    "completion_tokens",
    "cache_read_tokens",
    "cache_creation_tokens",
    "duration_ms",
)


def _rollup_measures(events: Sequence[LogEvent]) -> list[tuple[int, ...]]:
    """Each event's contribution to MEASURES, computed once for every family."""
    return [
        (
            1,
            *_measures_of(event),
            event.first_token_ms or 0,
            0 if event.first_token_ms is None else 1,
        )
        for event in events
    ]


def _rollup_rows(
    family: Family, events: Sequence[LogEvent], measures: list[tuple[int, ...]] | None = None
) -> list[tuple[Any, ...]]:
    """The batch summed per (span, bucket, dimensions) of `family`: one row per key, sorted by
    key so that concurrent batches lock shared rows in the same order (no deadlock).
    `measures`: `_rollup_measures(events)`, when the caller computed it for every family."""
    if measures is None:
        measures = _rollup_measures(events)
    finest, *coarser = family.spans
    dims_of = attrgetter(*family.dims)
    single = len(family.dims) == 1  # attrgetter of one name returns the value, not a tuple
    sums: dict[tuple[Any, ...], tuple[int, ...]] = {}
    for event, contribution in zip(events, measures, strict=True):
        bucket = bucket_of(event.created_at, finest)
        key = (bucket, dims_of(event)) if single else (bucket, *dims_of(event))
        held = sums.get(key)
        # map(add) sums the nine measures in C.
        sums[key] = contribution if held is None else tuple(map(add, held, contribution))
    levels = {finest: sums}
    for span in coarser:
        folded: dict[tuple[Any, ...], tuple[int, ...]] = {}
        for (bucket, *rest), values in sums.items():
            key = (bucket_of(bucket, span), *rest)
            held = folded.get(key)
            folded[key] = values if held is None else tuple(map(add, held, values))
        levels[span] = sums = folded
    # A batch's sums stay far below MAX_SUM: 1000 events within the ingest bounds add < 2^41.
    return sorted(
        (span, *key, *values) for span, level in levels.items() for key, values in level.items()
    )


def _rollup_upsert(family: Family, rows: list[tuple[Any, ...]]) -> None:
    quote = connection.ops.quote_name
    table = quote(family.table)
    columns = ", ".join(quote(name) for name in family.columns)
    key = ", ".join(quote(name) for name in ("span", "bucket", *family.dims))
    # Saturating: a stored sum that would pass MAX_SUM stays at it (verify_usage reports the
    # row), where PostgreSQL would refuse every batch adding to the row (a poison batch the
    # gateway retries forever) and SQLite would turn the sum into a float. Never more than a
    # comparison: the bounds keep new events far from it.
    least = "LEAST" if connection.vendor == "postgresql" else "MIN"
    add = ", ".join(
        f"{quote(name)} = {least}({table}.{quote(name)}, {MAX_SUM} - excluded.{quote(name)})"
        f" + excluded.{quote(name)}"
        for name in MEASURES
    )
    if connection.vendor == "postgresql":
        # The rows travel as one JSON array of arrays, serialized by orjson in C: psycopg
        # dumps array parameters element by element in Python, which cost 4x more client CPU
        # for the same server work (and Django's own cursor quotes them even more slowly).
        select = ", ".join(
            f"(r->>{index})::{PG_TYPES[name]}" for index, name in enumerate(family.columns)
        )
        _pg_execute(
            f"INSERT INTO {table} ({columns}) SELECT {select} "  # noqa: S608 (constants)
            f"FROM jsonb_array_elements(%t::jsonb) AS r ON CONFLICT ({key}) DO UPDATE SET {add}",
            [orjson.dumps(rows).decode()],
        )
        return
    placeholders = ", ".join(["%s"] * len(family.columns))
    with connection.cursor() as cursor:
        cursor.executemany(
            f"INSERT INTO {table} ({columns}) VALUES ({placeholders}) "  # noqa: S608
            f"ON CONFLICT ({key}) DO UPDATE SET {add}",
            rows,
        )


def usage_rollup_apply(*, events: Sequence[LogEvent]) -> None:
    """Add stored events to every rollup table: one INSERT ... ON CONFLICT DO UPDATE per table.

    Called by `logs_ingest` inside its transaction with the accepted events only, so a log and
    every aggregate counting it commit or roll back together, and a duplicate is never counted.
    Nothing else adds to the rollups (rebuild_usage recomputes them from the logs)."""
    if not events:
        return
    measures = _rollup_measures(events)
    for family in FAMILIES:
        _rollup_upsert(family, _rollup_rows(family, events, measures))


@dataclass
class RebuildResult:
    since: int | None = None  # the first rebuilt instant (a UTC midnight); None: nothing to do
    until: int | None = None
    deleted: int = 0
    inserted: int = 0
    clamped: bool = False  # the asked-for start lay before the oldest complete day of logs


def usage_rebuild(
    *, since: int | None = None, chunk_days: int = 1, progress: Any = None
) -> RebuildResult:
    """Recompute every rollup row from `since` (aligned down to a UTC midnight; default and
    minimum: `usage_complete_since()`) from the raw logs, one transaction per chunk of
    `chunk_days` days: delete the chunk's rows, then INSERT ... SELECT ... GROUP BY the logs for
    the finest span and sum the coarser spans from it. On PostgreSQL each chunk holds a SHARE
    lock on the logs, so no ingest lands between the delete and the insert (ingests wait for the
    chunk, a second or so). `progress(chunk_start, chunk_end)` is called after each chunk."""
    result = RebuildResult()
    safe = usage_complete_since()
    if safe is None:
        return result
    start = safe if since is None else day_floor(since)
    if start < safe:
        start, result.clamped = safe, True
    end = usage_rollup_end()
    result.since, result.until = start, end
    step = max(1, chunk_days) * DAY
    for lo in range(start, end, step):
        hi = min(lo + step, end)
        with transaction.atomic(), connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute(f"LOCK TABLE {Log._meta.db_table} IN SHARE MODE")
            for family in FAMILIES:
                cursor.execute(
                    f"DELETE FROM {family.table} WHERE {in_range(family)}",  # noqa: S608
                    [lo, hi],
                )
                result.deleted += cursor.rowcount
                columns = quoted(family.columns)
                finest, *coarser = family.spans
                cursor.execute(
                    f"INSERT INTO {family.table} ({columns}) " + select_from_logs(family, finest),
                    [lo, hi],
                )
                result.inserted += cursor.rowcount
                finer = finest
                for span in coarser:
                    cursor.execute(
                        f"INSERT INTO {family.table} ({columns}) "
                        + select_coarser(family, finer, span),
                        [lo, hi],
                    )
                    result.inserted += cursor.rowcount
                    finer = span
        if progress is not None:
            progress(lo, hi)
    return result


def usage_purge(*, before: int, chunk_days: int = 1) -> int:
    """Delete the rollup rows of every day that ends on or before `before` (aligned down to a UTC
    midnight), oldest first, one short transaction per chunk of days. Returns the rows deleted.
    The only way rollup rows disappear besides rebuild_usage (USAGE_RETENTION_DAYS). The
    retention mark `rollups_before` is raised to the cut-off first (`logs.retention`): the log
    stat sums raw logs, not rollups, before it. A cut-off in the future is marked only up to
    shortly after now, so the mark is raised again before each chunk."""
    cutoff = day_floor(before)
    retention_advance(rollups_before=cutoff)
    step = max(1, chunk_days) * DAY
    deleted = 0
    for family in FAMILIES:
        first = family.model._default_manager.filter(span=family.spans[0]).aggregate(
            first=models.Min("bucket")
        )["first"]
        if first is None:
            continue
        for lo in range(day_floor(first), cutoff, step):
            if cutoff > time.time():
                retention_advance(rollups_before=cutoff)
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(
                    f"DELETE FROM {family.table} WHERE {in_range(family)}",  # noqa: S608
                    [lo, min(lo + step, cutoff)],
                )
                deleted += cursor.rowcount
    return deleted
