"""Zone buckets and the split of a range into rollup pieces."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from usage.buckets import bucket_floor, bucket_starts, pieces, segments

# (zone, a UTC day holding one of its DST changes)
CHANGES = (
    ("Australia/Lord_Howe", (2024, 4, 6)),  # +11 -> +10:30
    ("Australia/Lord_Howe", (2024, 10, 5)),  # +10:30 -> +11
    ("Pacific/Chatham", (2024, 4, 6)),  # +13:45 -> +12:45
    ("Pacific/Chatham", (2024, 9, 28)),  # +12:45 -> +13:45
    ("America/New_York", (2024, 3, 10)),
    ("America/New_York", (2024, 11, 3)),
    ("Asia/Kathmandu", (2024, 6, 1)),  # no change: +05:45 all along
)


def _hour_start(ts: int, tz: ZoneInfo) -> int:
    """Walk back minute by minute to a whole local hour or an offset change."""
    offset = datetime.fromtimestamp(ts, tz).utcoffset()
    minute = ts - ts % 60
    while True:
        local = datetime.fromtimestamp(minute, tz)
        if local.utcoffset() != offset:
            return minute + 60
        if local.minute == 0:
            return minute
        minute -= 60


@pytest.mark.parametrize(("zone", "day"), CHANGES)
def test_hour_buckets_follow_the_local_clock_across_dst_changes(zone, day):
    tz = ZoneInfo(zone)
    start = int(datetime(day[0], day[1], day[2], tzinfo=UTC).timestamp()) - 86400
    end = start + 3 * 86400
    starts = bucket_starts(start, end, tz, "hour")
    assert starts == sorted(set(starts))
    for ts in range(start, end, 300):
        expected = _hour_start(ts, tz)
        assert bucket_floor(ts, tz, "hour") == expected, ts
        assert expected in starts
    # Every bucket is a whole number of quarter-hours: the rollups can answer it exactly.
    assert all(ts % 900 == 0 for ts in starts)


def test_half_hour_dst_change_makes_one_30_minute_hour():
    tz = ZoneInfo("Australia/Lord_Howe")
    change = int(datetime(2024, 10, 5, 15, 30, tzinfo=UTC).timestamp())  # 02:00 -> 02:30
    starts = bucket_starts(change - 3600, change + 3600, tz, "hour")
    assert [ts - change for ts in starts] == [-3600, 0, 1800]


def test_kolkata_day_is_read_from_quarters_hours_and_raw_edges():
    tz = ZoneInfo("Asia/Kolkata")
    midnight = int(datetime(2024, 6, 1, tzinfo=tz).timestamp())  # 2024-05-31 18:30 UTC
    start, end = midnight + 7, midnight + 2 * 86400 - 1  # two local days, less 7 seconds
    rolled, raw = pieces(segments(start, end, tz, "day"))
    hour, quarter = 3600, 900
    first_hour = midnight + 1800  # 19:00 UTC
    assert raw == [(0, start, midnight + quarter, midnight)]
    assert rolled == [
        (quarter, midnight + quarter, first_hour, midnight),
        (hour, first_hour, midnight + 86400 - 1800, midnight),
        (quarter, midnight + 86400 - 1800, midnight + 86400, midnight),
        (quarter, midnight + 86400, midnight + 86400 + 1800, midnight + 86400),
        (hour, midnight + 86400 + 1800, midnight + 2 * 86400 - 1800, midnight + 86400),
        (quarter, midnight + 2 * 86400 - 1800, midnight + 2 * 86400, midnight + 86400),
    ]


def test_utc_month_total_is_read_from_days_with_hour_and_quarter_edges():
    start = int(datetime(2024, 5, 1, 10, 45, tzinfo=UTC).timestamp())
    end = int(datetime(2024, 5, 31, 13, 30, tzinfo=UTC).timestamp()) - 1
    rolled, raw = pieces(segments(start, end, None, None))
    day = int(datetime(2024, 5, 2, tzinfo=UTC).timestamp())
    last_day = int(datetime(2024, 5, 31, tzinfo=UTC).timestamp())
    assert raw == []
    assert rolled == [
        (900, start, start + 900, 0),
        (3600, start + 900, day, 0),
        (86400, day, last_day, 0),
        (3600, last_day, last_day + 13 * 3600, 0),
        (900, last_day + 13 * 3600, end + 1, 0),
    ]
