"""Time buckets aligned to a zone's calendar, on Unix seconds.

Every IANA zone's UTC offset has been a multiple of 15 minutes since the 1970s, so a bucket of
any zone (hour, day, week, month) is a union of whole UTC quarter-hours. That is what makes
pre-aggregating by quarter-hour exact for every zone, including +05:30, +05:45 and DST changes."""

from __future__ import annotations

import functools
import math
import re
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from logs.events import DAY

QUARTER = 900
HOUR = 3600
GRANULARITIES = ("hour", "day", "week", "month")
MAX_BUCKETS = 10_000


class BucketError(ValueError):
    """A bad zone, granularity or range, with a message a person can act on."""


@functools.cache
def zone_names() -> frozenset[str]:
    """The IANA zone names this machine knows (`zoneinfo.available_timezones()`): the ones the
    APIs accept, and the enum of their time zone parameters in the OpenAPI schema. The copies of
    the database under `posix/` and `right/` (leap seconds counted) are not among them."""
    return frozenset(available_timezones())


def zone_get(name: str | None, default: str) -> ZoneInfo:
    """The ZoneInfo for an IANA name of `zone_names()`; None or "" gives `default`; any other
    name raises."""
    value = (name or "").strip() or default
    if len(value) > 64 or value.startswith(("/", ".")) or ".." in value:
        raise BucketError(f"unknown timezone {value[:64]!r}")
    try:
        if value not in zone_names():
            raise ZoneInfoNotFoundError(value)
        return ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise BucketError(
            f"unknown timezone {value!r} (use an IANA name such as Asia/Kolkata)"
        ) from None


def local_midnight(day: date, tz: ZoneInfo) -> int:
    """Unix time of the first instant of `day` in `tz` (a midnight skipped by DST starts the
    day at the transition)."""
    return int(datetime.combine(day, time(0), tzinfo=tz).timestamp())


def local_date(ts: int, tz: ZoneInfo) -> date:
    return datetime.fromtimestamp(ts, tz).date()


def bucket_floor(ts: int, tz: ZoneInfo, granularity: str) -> int:
    """Start of the bucket holding `ts`."""
    if granularity == "hour":
        return _hour_floor(ts, tz)
    day = local_date(ts, tz)
    if granularity == "day":
        return local_midnight(day, tz)
    if granularity == "week":  # weeks start on Monday
        return local_midnight(day - timedelta(days=day.weekday()), tz)
    if granularity == "month":
        return local_midnight(day.replace(day=1), tz)
    raise BucketError(f"granularity must be one of {', '.join(GRANULARITIES)}")


def bucket_next(start: int, tz: ZoneInfo, granularity: str) -> int:
    """Start of the bucket after the one starting at `start`."""
    if granularity == "hour":
        return _next_hour(start, tz)
    day = local_date(start, tz)
    if granularity == "day":
        return local_midnight(day + timedelta(days=1), tz)
    if granularity == "week":
        return local_midnight(day + timedelta(days=7), tz)
    if granularity == "month":
        following = (day.replace(day=28) + timedelta(days=4)).replace(day=1)
        return local_midnight(following, tz)
    raise BucketError(f"granularity must be one of {', '.join(GRANULARITIES)}")


def _offset(ts: int, tz: ZoneInfo) -> int:
    offset = datetime.fromtimestamp(ts, tz).utcoffset()
    return int(offset.total_seconds()) if offset is not None else 0


def _offset_change(before: int, after: int, tz: ZoneInfo) -> int:
    """The first instant in (before, after] whose UTC offset is the one at `after` (the offset
    at `before` differs; one change at most lies between them, as within any hour)."""
    target = _offset(after, tz)
    while after - before > 1:
        middle = (before + after) // 2
        if _offset(middle, tz) == target:
            after = middle
        else:
            before = middle
    return after


# An hour bucket starts where the local clock shows a whole hour, or where the UTC offset
# changes. With whole-hour DST changes that is every real hour (a fall-back night has two
# buckets labelled 01:00); Lord Howe Island's half-hour changes make one 30-minute bucket.


def _hour_floor(ts: int, tz: ZoneInfo) -> int:
    offset = _offset(ts, tz)
    floor = ts - (ts + offset) % 3600
    if _offset(floor, tz) == offset:
        return floor
    return _offset_change(floor, ts, tz)


def _next_hour(start: int, tz: ZoneInfo) -> int:
    offset = _offset(start, tz)
    following = start + 3600 - (start + offset) % 3600
    if _offset(following - 1, tz) == offset:
        return following
    return _offset_change(start, following - 1, tz)


def bucket_starts(
    start: int, end: int, tz: ZoneInfo, granularity: str, *, limit: int = MAX_BUCKETS
) -> list[int]:
    """Every bucket start from the bucket holding `start` to the one holding `end` (inclusive),
    for zero-filling. Raises BucketError past `limit` buckets (default MAX_BUCKETS)."""
    if end < start:
        raise BucketError("the range ends before it starts")
    current = bucket_floor(start, tz, granularity)
    starts: list[int] = []
    while current <= end:
        starts.append(current)
        if len(starts) > limit:
            raise BucketError(
                f"the range holds more than {limit} {granularity} buckets; "
                "choose a coarser granularity or a shorter range"
            )
        current = bucket_next(current, tz, granularity)
    return starts


# --- Parsing of the range parameters of the statistics APIs -------------------------------------
# Shared by every family so that "a day", "inclusive" and "in that zone" mean the same everywhere.

# The largest timestamp accepted: the end of year 9998 UTC, so that every bucket computation
# (a zone's local date, the following week or month) stays inside Python's datetime range.
MAX_TIMESTAMP = int(datetime(9999, 1, 1, tzinfo=UTC).timestamp()) - 1
MIN_YEAR, MAX_YEAR = 1970, 9998
# The four digits of a year MIN_YEAR..MAX_YEAR, for the OpenAPI schema's patterns.
YEAR_PATTERN = "(?:19[7-9][0-9]|[2-8][0-9]{3}|9[0-8][0-9]{2}|99[0-8][0-9]|999[0-8])"
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def date_parse(text: str) -> date:
    """A calendar date written exactly `YYYY-MM-DD` (sub2api's layout), years 1970..9998."""
    text = text.strip()
    if not _ISO_DATE.fullmatch(text):
        raise BucketError(f"{text[:32]!r} is not a date; use YYYY-MM-DD, e.g. 2025-01-31")
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise BucketError(f"{text!r} is not a calendar date") from None
    if not MIN_YEAR <= day.year <= MAX_YEAR:
        raise BucketError(f"{text!r} is out of range (years {MIN_YEAR}..{MAX_YEAR})")
    return day


def day_span(first: date, last: date, tz: ZoneInfo) -> tuple[int, int]:
    """The inclusive Unix range covering the local calendar days `first`..`last` of `tz`: from
    the first day's midnight to the second before the midnight after `last` (23 or 25 hours
    long on DST days)."""
    return local_midnight(first, tz), local_midnight(last + timedelta(days=1), tz) - 1


def instant_parse(text: str) -> date | datetime:
    """An ISO 8601 date (`2024-08-01`) or date-time (`2024-08-01T10:00:00Z`, with an offset, or
    naive), as `date.fromisoformat`/`datetime.fromisoformat` read them. A naive date-time and a
    date are resolved against a zone later, by `instant_seconds`."""
    text = text.strip()
    if not text or len(text) > 64:
        raise BucketError("use an ISO 8601 date or date-time, e.g. 2024-08-01T00:00:00Z")
    try:
        value: date | datetime
        if "T" in text.upper() or " " in text:
            value = datetime.fromisoformat(text)
        else:
            value = date.fromisoformat(text)
    except ValueError:
        raise BucketError(
            f"{text[:64]!r} is not an ISO 8601 date or date-time, e.g. 2024-08-01T00:00:00Z"
        ) from None
    if not MIN_YEAR <= value.year <= MAX_YEAR:
        raise BucketError(f"{text!r} is out of range (years {MIN_YEAR}..{MAX_YEAR})")
    return value


def instant_timestamp(value: date | datetime, tz: ZoneInfo, *, end: bool) -> float:
    """Unix time of a parsed instant as a bound of a range. A date alone is its whole local day
    in `tz`: its midnight as a start, its last second as an end. A naive date-time is wall time
    in `tz`. Fractions of a second are kept (see `instant_seconds`)."""
    if not isinstance(value, datetime):
        first, last = day_span(value, value, tz)
        return float(last if end else first)
    if value.tzinfo is None:
        value = value.replace(tzinfo=tz)
    return value.timestamp()


def instant_seconds(value: date | datetime, tz: ZoneInfo, *, end: bool) -> int:
    """`instant_timestamp` in whole seconds for an inclusive bound: fractions round inwards (up
    for a start, down for an end), so a log stamped with whole seconds is inside the bound
    exactly when its instant is."""
    seconds = instant_timestamp(value, tz, end=end)
    return math.floor(seconds) if end else math.ceil(seconds)


def months_before(ts: int, tz: ZoneInfo, months: int) -> int:
    """The instant `months` calendar months before `ts`, at the same wall time in `tz`; a day
    missing from the earlier month becomes its last day (31 March -> 28/29 February)."""
    local = datetime.fromtimestamp(ts, tz)
    index = local.year * 12 + (local.month - 1) - months
    year, month = divmod(index, 12)
    month += 1
    following = date(year + (month == 12), month % 12 + 1, 1)
    day = min(local.day, (following - timedelta(days=1)).day)
    earlier = local.replace(year=year, month=month, day=day, fold=0)
    return int(earlier.timestamp())


# Resolutions of the rollup tables (usage/models.py): each divides the next, all aligned to the
# Unix epoch, so any quarter-aligned interval splits into whole rollup buckets.
SPANS = (QUARTER, HOUR, DAY)


def bucket_of(ts: int, span: int) -> int:
    """The start of the rollup bucket of `span` seconds holding `ts` (ts >= 0). The ingest path,
    rebuild_usage and verify_usage all bucket with this (SQL: created_at - created_at % span)."""
    return ts - ts % span


Piece = tuple[int, int, int, int]  # (span, lo, hi, label): the span-buckets in [lo, hi) count
# toward the output bucket `label`; span 0 means raw logs with lo <= created_at < hi.


def segments(
    start: int,
    end: int,
    tz: ZoneInfo | None,
    granularity: str | None,
    *,
    limit: int = MAX_BUCKETS,
) -> list[tuple[int, int, int]]:
    """The inclusive range [start, end] cut at the zone's bucket boundaries: half-open
    (lo, hi, label) triples, label being the bucket start (0 when not bucketed). Raises
    BucketError past `limit` buckets."""
    if end < start:
        return []
    stop = end + 1
    if granularity is None or tz is None:
        return [(start, stop, 0)]
    starts = bucket_starts(start, end, tz, granularity, limit=limit)
    bounds = [*starts[1:], bucket_next(starts[-1], tz, granularity)]
    return [(max(lo, start), min(hi, stop), lo) for lo, hi in zip(starts, bounds, strict=True)]


def pieces(
    cuts: list[tuple[int, int, int]], spans: tuple[int, ...] = SPANS
) -> tuple[list[Piece], list[Piece]]:
    """Split each (lo, hi, label) segment into the fewest whole rollup buckets of `spans` (the
    coarsest that fit) plus the raw-log remainders that no quarter-hour covers (a range that
    starts or ends mid-quarter, or a boundary of a zone whose offset was not a multiple of 15
    minutes, before the 1980s). Returns (rollup pieces, raw pieces); adjacent pieces of one
    span and label are merged."""
    finest = spans[0]
    rolled: list[Piece] = []
    raw: list[Piece] = []

    def emit(span: int, lo: int, hi: int, label: int) -> None:
        target = raw if span == 0 else rolled
        if target and target[-1][0] == span and target[-1][2] == lo and target[-1][3] == label:
            target[-1] = (span, target[-1][1], hi, label)
        else:
            target.append((span, lo, hi, label))

    for lo, hi, label in cuts:
        first = -(-lo // finest) * finest
        last = hi - hi % finest
        if first >= last:
            emit(0, lo, hi, label)
            continue
        if lo < first:
            emit(0, lo, first, label)
        at = first
        # Up: the finer spans until `at` is aligned to the next coarser one.
        for level, span in enumerate(spans[:-1]):
            coarser = spans[level + 1]
            while at % coarser and at + span <= last:
                emit(span, at, at + span, label)
                at += span
        top = spans[-1]
        whole = (last - at) // top
        if whole > 0:
            emit(top, at, at + whole * top, label)
            at += whole * top
        # Down: the finer spans for what is left before `last`.
        for span in reversed(spans[:-1]):
            whole = (last - at) // span
            if whole > 0:
                emit(span, at, at + whole * span, label)
                at += whole * span
        if last < hi:
            emit(0, last, hi, label)
    return rolled, raw
