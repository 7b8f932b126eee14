"""The rollup-backed selectors equal a plain GROUP BY over the raw logs, for random logs, batches
(with duplicates), ranges (starting and ending mid-quarter), zones, granularities, filters and
groupings. The expected side is computed here in Python from `Log.objects.values()`, bucketing
each log with zoneinfo directly (not with usage.buckets)."""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from logs.events import LogEvent
from logs.models import Log
from usage.models import UsageChannel, UsageSite, UsageUser
from usage.selectors import DIMENSIONS, UsageFilter, usage_rows, usage_totals
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


def _events(rng: random.Random, count: int) -> list[LogEvent]:
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


def _ingest_in_random_batches(rng: random.Random, events: list[LogEvent]) -> None:
    at = 0
    while at < len(events):
        size = rng.choice((1, 3, 17, 60, 150))
        logs_ingest(events=events[at : at + size])
        at += size


def _hour_start(ts: int, tz: ZoneInfo) -> int:
    """The latest instant <= ts where the local clock shows a whole hour or the UTC offset
    changes, found by walking back minute by minute."""
    offset = datetime.fromtimestamp(ts, tz).utcoffset()
    minute = ts - ts % 60
    while True:
        local = datetime.fromtimestamp(minute, tz)
        if local.utcoffset() != offset:
            return minute + 60
        if local.minute == 0:
            return minute
        minute -= 60


def _bucket(ts: int, tz: ZoneInfo, granularity: str) -> int:
    if granularity == "hour":
        return _hour_start(ts, tz)
    day: date = datetime.fromtimestamp(ts, tz).date()
    if granularity == "week":
        day -= timedelta(days=day.weekday())
    elif granularity == "month":
        day = day.replace(day=1)
    return int(datetime.combine(day, time(0), tzinfo=tz).timestamp())


def _expected(
    logs: list[dict[str, Any]],
    start: int,
    end: int,
    where: dict[str, Any],
    group_by: tuple[str, ...],
    tz: ZoneInfo,
    granularity: str | None,
) -> dict[tuple[Any, ...], tuple[int, ...]]:
    sums: dict[tuple[Any, ...], list[int]] = defaultdict(lambda: [0] * 9)
    for log in logs:
        if not start <= log["created_at"] <= end:
            continue
        if any(
            log[name] not in value if isinstance(value, tuple) else log[name] != value
            for name, value in where.items()
        ):
            continue
        bucket = _bucket(log["created_at"], tz, granularity) if granularity else None
        held = sums[(bucket, *(log[name] for name in group_by))]
        first_token = log["first_token_ms"]
        for index, value in enumerate(
            (
                1,
                log["quota"],
                log["prompt_tokens"],
                log["completion_tokens"],
                log["cache_read_tokens"],
                log["cache_creation_tokens"],
                log["duration_ms"],
                first_token or 0,
                first_token is not None,
            )
        ):
            held[index] += value
    return {key: tuple(value) for key, value in sums.items()}


def _random_filter(rng: random.Random) -> dict[str, Any]:
    """Filters in log-column terms (tuples mean "one of")."""
    where: dict[str, Any] = {}
    if rng.random() < 0.4:
        where["user_id"] = rng.randint(1, 6)
    if rng.random() < 0.1:
        where["username"] = rng.choice(("three", "u3", "u1"))
    if rng.random() < 0.2:
        where["token_id"] = tuple(rng.sample(range(10, 63), rng.randint(1, 8)))
    if rng.random() < 0.3:
        where["model_name"] = tuple(rng.sample(MODELS, rng.randint(1, 2)))
    if rng.random() < 0.2:
        where["channel_id"] = rng.randint(0, 3)
    if rng.random() < 0.15:
        where["group"] = rng.choice(GROUPS)
    roll = rng.random()
    if roll < 0.6:
        where["type"] = (2,)
    elif roll < 0.8:
        where["type"] = tuple(rng.sample(range(7), rng.randint(1, 3)))
    return where


def _usage_filter(where: dict[str, Any]) -> UsageFilter:
    return UsageFilter(
        user_id=where.get("user_id"),
        username=where.get("username"),
        token_ids=where.get("token_id"),
        model_names=where.get("model_name"),
        channel_id=where.get("channel_id"),
        group=where.get("group"),
        types=where.get("type", ()),
    )


def _random_range(
    rng: random.Random, granularity: str | None, stamps: list[int]
) -> tuple[int, int]:
    """Anywhere in the data's span; often a few minutes from a log, so that the sub-quarter
    edges (answered from raw logs) hold logs; sometimes on a quarter-hour, as dashboards ask."""
    longest = {"hour": 12 * 86400}.get(granularity or "", T1 - T0)
    if rng.random() < 0.6:
        start = rng.choice(stamps) - rng.randint(0, 600)
    else:
        start = rng.randint(T0 - 86400, T1)
    if rng.random() < 0.2:
        start -= start % 900
    length = rng.choice((rng.randint(0, 3600), rng.randint(0, 3 * 86400), rng.randint(0, longest)))
    end = start + length
    if rng.random() < 0.6:
        later = [ts for ts in stamps if start <= ts <= end]
        if later:
            end = rng.choice(later) + rng.randint(0, 600)
    elif rng.random() < 0.3:
        end -= end % 900 + 1
    return start, max(start, end)


@pytest.mark.django_db(transaction=False)
def test_selectors_equal_group_by_over_raw_logs(django_assert_max_num_queries):
    rng = random.Random(20240615)
    events = _events(rng, 700)
    _ingest_in_random_batches(rng, events)
    assert UsageSite.objects.exists() and UsageUser.objects.exists()
    assert UsageChannel.objects.exists()
    logs = list(Log.objects.values(*FIELDS))
    assert len(logs) < len(events)  # some retries were dropped

    stamps = sorted(log["created_at"] for log in logs)
    checked_rows = 0
    for _ in range(160):
        tz = ZoneInfo(rng.choice(ZONES))
        granularity = rng.choice(GRANULARITIES)
        start, end = _random_range(rng, granularity, stamps)
        where = _random_filter(rng)
        group_by = tuple(rng.sample(DIMENSIONS, rng.choice((0, 0, 1, 1, 2, 3))))
        with django_assert_max_num_queries(1):
            rows = usage_rows(
                start=start,
                end=end,
                where=_usage_filter(where),
                group_by=group_by,
                granularity=granularity,
                tz=tz,
            )
        got = {
            (row.bucket, *(row.dims[name] for name in group_by)): (
                row.totals.requests,
                row.totals.quota,
                row.totals.prompt_tokens,
                row.totals.completion_tokens,
                row.totals.cache_read_tokens,
                row.totals.cache_creation_tokens,
                row.totals.duration_ms,
                row.totals.first_token_ms,
                row.totals.first_token_count,
            )
            for row in rows
        }
        expected = _expected(logs, start, end, where, group_by, tz, granularity)
        context = (tz.key, granularity, start, end, where, group_by)
        assert got == expected, context
        assert len(got) == len(rows), context  # one row per bucket and dimension values
        order = [(row.bucket or 0, *row.dims.values()) for row in rows]
        assert order == sorted(order), context
        checked_rows += len(rows)

        totals = usage_totals(start=start, end=end, where=_usage_filter(where))
        assert (totals.requests, totals.quota, totals.first_token_count) == tuple(
            sum(value[index] for value in expected.values()) for index in (0, 1, 8)
        ), context
    assert checked_rows > 200  # the queries were not all empty
