"""The rollup-backed selectors equal a plain GROUP BY over the raw logs, for random logs, batches
(with duplicates), ranges (starting and ending mid-quarter), zones, granularities, filters and
groupings. The expected side is computed here in Python from `Log.objects.values()`, bucketing
each log with zoneinfo directly (not with usage.buckets)."""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from logs.models import Log
from tests.usage.logdata import (
    FIELDS,
    GRANULARITIES,
    GROUPS,
    MODELS,
    T0,
    T1,
    ZONES,
    ingest_in_random_batches,
    random_events,
)
from usage.models import UsageChannel, UsageSite, UsageUser, UsageUserTotal
from usage.rollups import MEASURES
from usage.selectors import DIMENSIONS, UsageFilter, usage_records, usage_rows, usage_totals


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
    if rng.random() < 0.15:
        where["token_name"] = rng.choice(("key-0", "key-2", "key-2-new"))
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
        token_name=where.get("token_name"),
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
    events = random_events(rng, 700)
    ingest_in_random_batches(rng, events)
    assert UsageSite.objects.exists() and UsageUser.objects.exists()
    assert UsageChannel.objects.exists() and UsageUserTotal.objects.exists()
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

        # The tuple form: the same rows in the same order, with only the measures asked for.
        measures = tuple(rng.sample(MEASURES, rng.randint(1, len(MEASURES))))
        with django_assert_max_num_queries(1):
            records = usage_records(
                start=start,
                end=end,
                where=_usage_filter(where),
                group_by=group_by,
                granularity=granularity,
                tz=tz,
                measures=measures,
            )
        keys = [record[: len(group_by) + 1] for record in records]
        if granularity is None:
            keys = [(None, *record[: len(group_by)]) for record in records]
        assert keys == [(row.bucket, *row.dims.values()) for row in rows], context
        picked = [MEASURES.index(name) for name in measures]
        assert [record[len(record) - len(measures) :] for record in records] == [
            tuple(expected[key][index] for index in picked) for key in keys
        ], (*context, measures)

        totals = usage_totals(start=start, end=end, where=_usage_filter(where))
        assert (totals.requests, totals.quota, totals.first_token_count) == tuple(
            sum(value[index] for value in expected.values()) for index in (0, 1, 8)
        ), context
    assert checked_rows > 200  # the queries were not all empty
