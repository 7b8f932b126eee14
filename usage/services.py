"""Writes. Ingestion lives here, not in `logs`, because one transaction stores the logs and every
aggregate that counts them (STYLE.md: accounts <- logs <- usage)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from django.contrib.auth.hashers import UNUSABLE_PASSWORD_PREFIX
from django.db import DataError, connection, models, transaction

from accounts.models import Channel, User
from logs.events import LogEvent
from logs.models import IngestKey, Log
from logs.partitions import partitions_ensure_for
from usage.buckets import bucket_of
from usage.rollups import (
    DAY,
    FAMILIES,
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

LOG_COLUMNS = (
    "created_at",
    "type",
    "content",
    "user_id",
    "username",
    "token_id",
    "token_name",
    "model_name",
    "quota",
    "prompt_tokens",
    "completion_tokens",
    "cache_read_tokens",
    "cache_creation_tokens",
    "use_time",
    "duration_ms",
    "first_token_ms",
    "is_stream",
    "channel_id",
    "channel_name",
    "group",
    "ip",
    "request_id",
    "endpoint",
    "other",
)
# What a log row's values are made of (the types the database driver adapts).
SqlValue = int | str | bool | None

PG_COLUMN_TYPES = {
    "created_at": "bigint",
    "type": "smallint",
    "content": "text",
    "user_id": "bigint",
    "username": "text",
    "token_id": "bigint",
    "token_name": "text",
    "model_name": "text",
    "quota": "bigint",
    "prompt_tokens": "bigint",
    "completion_tokens": "bigint",
    "cache_read_tokens": "bigint",
    "cache_creation_tokens": "bigint",
    "use_time": "integer",
    "duration_ms": "bigint",
    "first_token_ms": "bigint",
    "is_stream": "boolean",
    "channel_id": "bigint",
    "channel_name": "text",
    "group": "text",
    "ip": "inet",
    "request_id": "text",
    "endpoint": "text",
    "other": "jsonb",
}


MAX_SUM = 2**63 - 1  # rollup columns are BIGINT


@dataclass
class IngestResult:
    accepted: int = 0
    duplicates: int = 0
    accepted_events: list[LogEvent] = field(default_factory=list)


def _newest_per_key(events: Sequence[LogEvent], key: str, value: str) -> dict[int, str]:
    """id -> the name carried by that id's newest event in the batch."""
    newest: dict[int, tuple[int, str]] = {}
    for event in events:
        ident, name = getattr(event, key), getattr(event, value)
        seen = newest.get(ident)
        if seen is None or event.created_at >= seen[0]:
            newest[ident] = (event.created_at, name)
    return {ident: name for ident, (_, name) in newest.items()}


def users_provision(*, events: Sequence[LogEvent]) -> None:
    """Create the users the batch names for the first time (role common, no password) and apply
    renames. One SELECT in the steady state; more only when something changes."""
    wanted = _newest_per_key(events, "user_id", "username")
    known = dict(User.objects.filter(id__in=wanted).values_list("id", "username"))
    changes = {uid: name for uid, name in wanted.items() if known.get(uid) != name}
    if not changes:
        return
    # The gateway's usernames are unique, so a local holder of a wanted name is stale (renamed on
    # the gateway since): it gives the name up and keeps "<name>#<id>" until its next event.
    holders = list(
        User.objects.filter(username__in=changes.values())
        .exclude(id__in=changes)
        .only("id", "username")
    )
    for holder in holders:
        holder.username = f"{holder.username[: 64 - 21]}#{holder.id}"
    if holders:
        User.objects.bulk_update(holders, ["username"])
    new = [
        User(id=uid, username=name, password=UNUSABLE_PASSWORD_PREFIX)
        for uid, name in changes.items()
        if uid not in known
    ]
    if new:
        User.objects.bulk_create(new, ignore_conflicts=True)
    renamed = [User(id=uid, username=name) for uid, name in changes.items() if uid in known]
    if renamed:
        User.objects.bulk_update(renamed, ["username"])


def channels_provision(*, events: Sequence[LogEvent]) -> None:
    """Create or rename the channels named in the batch (id 0 is "no channel")."""
    wanted = _newest_per_key(
        [e for e in events if e.channel_id and e.channel_name], "channel_id", "channel_name"
    )
    if not wanted:
        return
    known = dict(Channel.objects.filter(id__in=wanted).values_list("id", "name"))
    new = [Channel(id=cid, name=name) for cid, name in wanted.items() if cid not in known]
    if new:
        Channel.objects.bulk_create(new, ignore_conflicts=True)
    renamed = [
        Channel(id=cid, name=name)
        for cid, name in wanted.items()
        if cid in known and known[cid] != name
    ]
    if renamed:
        Channel.objects.bulk_update(renamed, ["name"])


def _keys_claim(events: Sequence[LogEvent]) -> set[str]:
    """Insert the batch's request ids into the key table; returns the ones that were new.

    ON CONFLICT DO NOTHING makes a concurrent transaction holding the same key wait for ours,
    then skip it: two gateways posting the same request id store it once."""
    keyed = {}
    for event in events:
        if event.request_id and event.request_id not in keyed:
            keyed[event.request_id] = event.created_at
    if not keyed:
        return set()
    table = IngestKey._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                f"INSERT INTO {table} (request_id, created_at) "  # noqa: S608 (constant table)
                "SELECT * FROM unnest(%s::text[], %s::bigint[]) "
                "ON CONFLICT DO NOTHING RETURNING request_id",
                [list(keyed), list(keyed.values())],
            )
        else:
            placeholders = ",".join(["(%s, %s)"] * len(keyed))
            params: list[SqlValue] = []
            for key, created in keyed.items():
                params += [key, created]
            cursor.execute(
                f"INSERT INTO {table} (request_id, created_at) VALUES {placeholders} "  # noqa: S608
                "ON CONFLICT DO NOTHING RETURNING request_id",
                params,
            )
        return {row[0] for row in cursor.fetchall()}


def _row(event: LogEvent) -> list[SqlValue]:
    return [
        event.created_at,
        event.type,
        event.content,
        event.user_id,
        event.username,
        event.token_id,
        event.token_name,
        event.model_name,
        event.quota,
        event.prompt_tokens,
        event.completion_tokens,
        event.cache_read_tokens,
        event.cache_creation_tokens,
        event.use_time,
        event.duration_ms,
        event.first_token_ms,
        event.is_stream,
        event.channel_id,
        event.channel_name,
        event.group,
        event.ip,
        event.request_id,
        event.endpoint,
        orjson.dumps(event.other).decode(),
    ]


def _logs_insert(events: Sequence[LogEvent]) -> None:
    table = Log._meta.db_table
    columns = ", ".join(f'"{name}"' for name in LOG_COLUMNS)
    rows = [_row(event) for event in events]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # One statement, one array per column: far cheaper to parse and plan than a
            # 24 000-parameter VALUES list.
            arrays = ", ".join(f"%s::{PG_COLUMN_TYPES[name]}[]" for name in LOG_COLUMNS)
            cursor.execute(
                f"INSERT INTO {table} ({columns}) SELECT * FROM unnest({arrays})",  # noqa: S608
                [list(column) for column in zip(*rows, strict=True)],
            )
        else:
            placeholders = ", ".join(["%s"] * len(LOG_COLUMNS))
            cursor.executemany(
                f"INSERT INTO {table} ({columns}) VALUES ({placeholders})",  # noqa: S608
                rows,
            )


@transaction.atomic
def logs_ingest(*, events: Sequence[LogEvent]) -> IngestResult:
    """Store a batch of validated events, atomically and idempotently.

    Events whose non-empty request_id was stored before (in any batch, or earlier in this one)
    are duplicates: not stored, not counted. Users and channels named by the events are created
    or renamed. Everything happens in one transaction: after a failure nothing of the batch
    exists. Returns the counts and the accepted events (for the aggregates)."""
    result = IngestResult()
    if not events:
        return result
    claimed = _keys_claim(events)
    accepted: list[LogEvent] = []
    for event in events:
        if not event.request_id:
            accepted.append(event)
        elif event.request_id in claimed:
            claimed.discard(event.request_id)  # a second copy within the batch is a duplicate
            accepted.append(event)
    result.duplicates = len(events) - len(accepted)
    result.accepted = len(accepted)
    result.accepted_events = accepted
    if not accepted:
        return result
    users_provision(events=accepted)
    channels_provision(events=accepted)
    partitions_ensure_for(events=accepted)  # PostgreSQL: a partition for every created_at
    _logs_insert(accepted)
    usage_rollup_apply(events=accepted)
    return result


def _rollup_rows(family: Family, events: Sequence[LogEvent]) -> list[tuple[Any, ...]]:
    """The batch summed per (span, bucket, dimensions) of `family`: one row per key, sorted by
    key so that concurrent batches lock shared rows in the same order (no deadlock)."""
    finest, *coarser = family.spans
    sums: dict[tuple[object, ...], list[int]] = {}
    for event in events:
        first_token = event.first_token_ms
        key = (
            bucket_of(event.created_at, finest),
            *(getattr(event, name) for name in family.dims),
        )
        measures = (
            1,
            event.quota,
            event.prompt_tokens,
            event.completion_tokens,
            event.cache_read_tokens,
            event.cache_creation_tokens,
            event.duration_ms,
            first_token or 0,
            0 if first_token is None else 1,
        )
        held = sums.get(key)
        if held is None:
            sums[key] = list(measures)
        else:
            for index, value in enumerate(measures):
                held[index] += value
    levels = {finest: sums}
    for span in coarser:
        folded: dict[tuple[object, ...], list[int]] = {}
        for (bucket, *dims), values in sums.items():
            key = (bucket_of(bucket, span), *dims)  # type: ignore[arg-type]
            held = folded.get(key)
            if held is None:
                folded[key] = list(values)
            else:
                for index, value in enumerate(values):
                    held[index] += value
        levels[span] = sums = folded
    rows = sorted(
        (span, *key, *measures) for span, level in levels.items() for key, measures in level.items()
    )
    # `sums` is now the coarsest span's: the largest values. PostgreSQL raises the same on an
    # overflow against a stored row (SQLite would turn the sum into a float: counters near
    # 2**63 are not usage a gateway reports).
    if any(value > MAX_SUM for held in sums.values() for value in held):
        raise DataError("a usage sum exceeds the 64-bit range; nothing of the batch was stored")
    return rows


def _rollup_upsert(family: Family, rows: list[tuple[Any, ...]]) -> None:
    quote = connection.ops.quote_name
    table = quote(family.table)
    columns = ", ".join(quote(name) for name in family.columns)
    key = ", ".join(quote(name) for name in ("span", "bucket", *family.dims))
    add = ", ".join(
        f"{quote(name)} = {table}.{quote(name)} + excluded.{quote(name)}" for name in MEASURES
    )
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            arrays = ", ".join(f"%s::{PG_TYPES[name]}[]" for name in family.columns)
            cursor.execute(
                f"INSERT INTO {table} ({columns}) SELECT * FROM unnest({arrays}) "  # noqa: S608
                f"ON CONFLICT ({key}) DO UPDATE SET {add}",
                [list(column) for column in zip(*rows, strict=True)],
            )
        else:
            placeholders = ", ".join(["%s"] * len(family.columns))
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
    for family in FAMILIES:
        _rollup_upsert(family, _rollup_rows(family, events))


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
    The only way rollup rows disappear besides rebuild_usage (USAGE_RETENTION_DAYS)."""
    cutoff = day_floor(before)
    step = max(1, chunk_days) * DAY
    deleted = 0
    for family in FAMILIES:
        first = family.model._default_manager.filter(span=family.spans[0]).aggregate(
            first=models.Min("bucket")
        )["first"]
        if first is None:
            continue
        for lo in range(day_floor(first), cutoff, step):
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(
                    f"DELETE FROM {family.table} WHERE {in_range(family)}",  # noqa: S608
                    [lo, min(lo + step, cutoff)],
                )
                deleted += cursor.rowcount
    return deleted
