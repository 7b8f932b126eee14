"""Random logs for the aggregate tests: months of data, several users (one renamed), keys,
models, channels, groups, types and endpoints, clustered around local midnights and DST changes
of the zones the tests use, with retries (duplicate request ids) mixed in."""

from __future__ import annotations

import random
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from logs.events import LogEvent
from usage.services import logs_ingest

ZONES = (
    "UTC",
    "Asia/Kolkata",
    "Asia/Kathmandu",
    "America/New_York",
    "Australia/Lord_Howe",
    "Pacific/Chatham",
)
GRANULARITIES = (None, "hour", "day", "week", "month")
# 2024-02-20 .. 2024-11-20 UTC: the March/April and October/November DST changes of New York,
# Lord Howe (half an hour) and Chatham (+12:45/+13:45).
T0 = int(datetime(2024, 2, 20, tzinfo=UTC).timestamp())
T1 = int(datetime(2024, 11, 20, tzinfo=UTC).timestamp())
MODELS = ("gpt-4o", "claude-3-5", "", "text-embedding-3")
GROUPS = ("default", "vip", "")
ENDPOINTS = ("", "/v1/chat/completions", "/v1/messages")
TYPES = (2, 2, 2, 2, 2, 2, 5, 5, 1, 6, 0, 3, 4)
FIELDS = (
    "created_at",
    "type",
    "user_id",
    "username",
    "token_id",
    "token_name",
    "model_name",
    "channel_id",
    "group",
    "endpoint",
    "quota",
    "prompt_tokens",
    "completion_tokens",
    "cache_read_tokens",
    "cache_creation_tokens",
    "duration_ms",
    "first_token_ms",
)


def _interesting_instants(rng: random.Random) -> list[int]:
    """Local midnights and DST changes of every zone, where bucketing goes wrong if it can."""
    instants = []
    for name in ZONES:
        tz = ZoneInfo(name)
        day = datetime.fromtimestamp(T0, tz).date()
        while day < datetime.fromtimestamp(T1, tz).date():
            midnight = int(datetime.combine(day, time(0), tzinfo=tz).timestamp())
            if rng.random() < 0.08:
                instants.append(midnight)
            day += timedelta(days=1)
        # DST changes: where the offset one hour apart differs.
        for ts in range(T0, T1, 3600):
            if tz.utcoffset(datetime.fromtimestamp(ts, UTC)) != tz.utcoffset(
                datetime.fromtimestamp(ts + 3600, UTC)
            ):
                instants.extend(range(ts, ts + 3601, 900))
    return instants


def random_events(rng: random.Random, count: int) -> list[LogEvent]:
    instants = _interesting_instants(rng)
    events = []
    used_ids: list[str] = []
    for n in range(count):
        if rng.random() < 0.5:
            jitter = rng.choice((0, -1, 1, rng.randint(-1800, 1800), rng.randint(-1800, 1800)))
            created_at = rng.choice(instants) + jitter
        else:
            created_at = rng.randint(T0, T1)
        user_id = rng.randint(1, 6)
        # User 3 is renamed half-way; key 2 of every user is renamed too.
        username = "three" if user_id == 3 and created_at > (T0 + T1) // 2 else f"u{user_id}"
        token = rng.randint(0, 2)
        token_name = f"key-{token}" + ("-new" if token == 2 and rng.random() < 0.5 else "")
        if used_ids and rng.random() < 0.08:
            request_id = rng.choice(used_ids)  # a retry: must not count twice
        elif rng.random() < 0.15:
            request_id = ""
        else:
            request_id = f"req-{n}"
            used_ids.append(request_id)
        events.append(
            LogEvent(
                created_at=created_at,
                user_id=user_id,
                username=username,
                type=rng.choice(TYPES),
                request_id=request_id,
                token_id=user_id * 10 + token,
                token_name=token_name,
                model_name=rng.choice(MODELS),
                quota=rng.randint(0, 50_000),
                prompt_tokens=rng.randint(0, 4000),
                completion_tokens=rng.randint(0, 2000),
                cache_read_tokens=rng.choice((0, 0, rng.randint(0, 3000))),
                cache_creation_tokens=rng.choice((0, 0, rng.randint(0, 500))),
                duration_ms=rng.randint(0, 60_000),
                first_token_ms=rng.choice((None, rng.randint(0, 5000))),
                channel_id=rng.randint(0, 3),
                channel_name="",
                group=rng.choice(GROUPS),
                endpoint=rng.choice(ENDPOINTS),
            )
        )
    return events


def ingest_in_random_batches(rng: random.Random, events: list[LogEvent]) -> None:
    at = 0
    while at < len(events):
        size = rng.choice((1, 3, 17, 60, 150))
        logs_ingest(events=events[at : at + size])
        at += size
