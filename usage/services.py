"""Writes. Ingestion lives here, not in `logs`, because one transaction stores the logs and every
aggregate that counts them (STYLE.md: accounts <- logs <- usage)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import orjson
from django.contrib.auth.hashers import UNUSABLE_PASSWORD_PREFIX
from django.db import connection, transaction

from accounts.models import Channel, User
from logs.events import LogEvent
from logs.models import IngestKey, Log
from logs.partitions import partitions_ensure_for

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
    return result
