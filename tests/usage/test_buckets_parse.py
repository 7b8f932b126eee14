"""The range parsing helpers of usage.buckets that every statistics family shares."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from tests.usage.conftest import at
from usage.buckets import (
    MAX_TIMESTAMP,
    BucketError,
    bucket_floor,
    bucket_next,
    date_parse,
    day_span,
    instant_parse,
    instant_seconds,
    months_before,
)

KOLKATA = ZoneInfo("Asia/Kolkata")
NEW_YORK = ZoneInfo("America/New_York")


def test_date_parse_accepts_only_yyyy_mm_dd():
    assert date_parse("2025-03-09") == date(2025, 3, 9)
    for bad in ("2025-3-9", "20250309", "2025-03-09T00:00", " ", "2025-02-29", "0999-01-01"):
        with pytest.raises(BucketError):
            date_parse(bad)


def test_day_span_covers_whole_local_days_including_a_23_hour_one():
    assert day_span(date(2025, 3, 9), date(2025, 3, 9), NEW_YORK) == (
        at("2025-03-09T05:00:00Z"),
        at("2025-03-10T03:59:59Z"),
    )
    assert day_span(date(2025, 3, 1), date(2025, 3, 2), KOLKATA) == (
        at("2025-02-28T18:30:00Z"),
        at("2025-03-02T18:29:59Z"),
    )


@pytest.mark.parametrize(
    ("text", "end", "expected"),
    [
        ("2024-08-01T00:00:00Z", False, at("2024-08-01T00:00:00Z")),
        ("2024-08-01T00:00:00+05:30", False, at("2024-07-31T18:30:00Z")),
        ("2024-08-01T10:00:00", False, at("2024-08-01T04:30:00Z")),  # naive: Kolkata wall time
        ("2024-08-01 10:00", False, at("2024-08-01T04:30:00Z")),
        ("2024-08-01", False, at("2024-07-31T18:30:00Z")),
        ("2024-08-01", True, at("2024-08-01T18:29:59Z")),
        ("2024-08-01T00:00:00.2Z", False, at("2024-08-01T00:00:01Z")),
        ("2024-08-01T00:00:00.2Z", True, at("2024-08-01T00:00:00Z")),
    ],
)
def test_instants_resolve_in_the_zone_and_round_inwards(text, end, expected):
    assert instant_seconds(instant_parse(text), KOLKATA, end=end) == expected


@pytest.mark.parametrize(
    "bad", ["", "soon", "2024-13-01", "2024-08-01T25:00", "1900-01-01", "9" * 80]
)
def test_instant_parse_refuses_what_is_not_iso_8601(bad):
    with pytest.raises(BucketError):
        instant_parse(bad)


UTC = ZoneInfo("UTC")


@pytest.mark.parametrize(
    ("now", "tz", "months", "expected"),
    [
        ("2025-03-31T12:00:00+00:00", UTC, 1, "2025-02-28T12:00:00+00:00"),
        ("2024-03-31T12:00:00+00:00", UTC, 1, "2024-02-29T12:00:00+00:00"),
        ("2025-01-15T08:00:00+00:00", UTC, 1, "2024-12-15T08:00:00+00:00"),
        ("2024-02-29T08:00:00+00:00", UTC, 12, "2023-02-28T08:00:00+00:00"),
        # same wall time across a DST change (EDT now, EST a month earlier)
        ("2025-03-20T12:00:00-04:00", NEW_YORK, 1, "2025-02-20T12:00:00-05:00"),
    ],
)
def test_months_before_keeps_the_wall_time_and_clamps_the_day(now, tz, months, expected):
    assert months_before(at(now), tz, months) == at(expected)


def test_the_largest_timestamp_still_has_a_next_week_and_month():
    for granularity in ("hour", "day", "week", "month"):
        start = bucket_floor(MAX_TIMESTAMP, ZoneInfo("Pacific/Kiritimati"), granularity)
        assert bucket_next(start, ZoneInfo("Pacific/Kiritimati"), granularity) > MAX_TIMESTAMP
    assert datetime.fromtimestamp(MAX_TIMESTAMP, UTC).year == 9998
