"""Usage statistics: the reads every statistics family and the dashboard pages share.

All ranges are inclusive on both ends, in Unix seconds. Bucketed results are aligned to the
calendar of the zone given (weeks start on Monday). Only buckets/groups with at least one
matching log are returned; callers zero-fill against `usage.buckets.bucket_starts`.

Numbers are exact: each equals a plain GROUP BY over the matching raw logs.

Implementation note: this first version groups the raw logs by UTC quarter-hour in SQL and folds
quarter-hours into zone buckets in Python (exact, see usage/buckets.py). The rollup tables
replace the raw scan for the bulk of a range without changing these signatures.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from zoneinfo import ZoneInfo

from django.db.models import Count, F, Q, Sum
from django.db.models.functions import Coalesce

from logs.models import Log, LogType
from usage.buckets import QUARTER, BucketError, bucket_floor

DIMENSIONS = (
    "model_name",
    "user_id",
    "username",
    "token_id",
    "token_name",
    "channel_id",
    "group",
    "type",
)


@dataclass(frozen=True, slots=True)
class UsageFilter:
    """Which logs count. None means "no restriction" for every field but `types`.

    `types` defaults to consume logs only (type 2), which is what every family calls usage;
    an empty tuple means all types."""

    user_id: int | None = None
    username: str | None = None
    token_ids: tuple[int, ...] | None = None
    model_names: tuple[str, ...] | None = None
    channel_id: int | None = None
    group: str | None = None
    types: tuple[int, ...] = (LogType.CONSUME,)

    def q(self) -> Q:
        q = Q()
        if self.user_id is not None:
            q &= Q(user_id=self.user_id)
        if self.username is not None:
            q &= Q(username=self.username)
        if self.token_ids is not None:
            q &= Q(token_id__in=self.token_ids)
        if self.model_names is not None:
            q &= Q(model_name__in=self.model_names)
        if self.channel_id is not None:
            q &= Q(channel_id=self.channel_id)
        if self.group is not None:
            q &= Q(group=self.group)
        if self.types:
            q &= Q(type__in=self.types)
        return q


@dataclass(slots=True)
class UsageTotals:
    requests: int = 0
    quota: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cache_read_tokens: int = 0
    cache_creation_tokens: int = 0
    duration_ms: int = 0  # sum over the logs
    first_token_ms: int = 0  # sum over the logs that report a first-token time
    first_token_count: int = 0  # how many logs report one

    @property
    def token_used(self) -> int:
        """new-api's token_used: prompt + completion."""
        return self.prompt_tokens + self.completion_tokens

    @property
    def total_tokens(self) -> int:
        """sub2api's and r9s.ai's total: all four token classes."""
        return (
            self.prompt_tokens
            + self.completion_tokens
            + self.cache_read_tokens
            + self.cache_creation_tokens
        )

    def add(self, other: UsageTotals) -> None:
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))


@dataclass(slots=True)
class UsageRow:
    bucket: int | None  # bucket start (Unix s), None when not bucketed
    dims: dict[str, object] = field(default_factory=dict)
    totals: UsageTotals = field(default_factory=UsageTotals)


# Annotation names are prefixed: an aggregate may not shadow the column it sums.
_SUMS = {
    "agg_requests": Count("id"),
    "agg_quota": Coalesce(Sum("quota"), 0),
    "agg_prompt_tokens": Coalesce(Sum("prompt_tokens"), 0),
    "agg_completion_tokens": Coalesce(Sum("completion_tokens"), 0),
    "agg_cache_read_tokens": Coalesce(Sum("cache_read_tokens"), 0),
    "agg_cache_creation_tokens": Coalesce(Sum("cache_creation_tokens"), 0),
    "agg_duration_ms": Coalesce(Sum("duration_ms"), 0),
    "agg_first_token_ms": Coalesce(Sum("first_token_ms"), 0),
    "agg_first_token_count": Count("first_token_ms"),
}


def _check(group_by: Sequence[str], granularity: str | None, tz: ZoneInfo | None) -> None:
    unknown = [d for d in group_by if d not in DIMENSIONS]
    if unknown:
        raise BucketError(f"cannot group by {', '.join(unknown)}")
    if granularity is not None and tz is None:
        raise BucketError("a bucketed query needs a timezone")


def usage_rows(
    *,
    start: int,
    end: int,
    where: UsageFilter,
    group_by: Sequence[str] = (),
    granularity: str | None = None,
    tz: ZoneInfo | None = None,
) -> list[UsageRow]:
    """Totals of the logs with start <= created_at <= end matching `where`, grouped by the
    dimensions in `group_by` (see DIMENSIONS) and, when `granularity` is given (hour, day,
    week, month), by bucket of that zone's calendar. Ordered by bucket, then by dimensions."""
    _check(group_by, granularity, tz)
    qs = Log.objects.filter(where.q(), created_at__gte=start, created_at__lte=end)
    keys = list(group_by)
    if granularity is not None:
        qs = qs.annotate(quarter=F("created_at") - F("created_at") % QUARTER)
        keys.append("quarter")
    grouped = qs.values(*keys).annotate(**_SUMS).order_by()
    rows: dict[tuple[object, ...], UsageRow] = {}
    for record in grouped:
        bucket = None
        if granularity is not None and tz is not None:
            bucket = bucket_floor(int(record["quarter"]), tz, granularity)
        dims = {d: record[d] for d in group_by}
        key = (bucket, *dims.values())
        row = rows.get(key)
        if row is None:
            row = rows[key] = UsageRow(bucket=bucket, dims=dims)
        row.totals.add(UsageTotals(**{name[4:]: int(record[name]) for name in _SUMS}))
    return sorted(rows.values(), key=_sort_key(group_by))


def _sort_key(group_by: Sequence[str]):  # type: ignore[no-untyped-def]
    def key(row: UsageRow) -> tuple[object, ...]:
        return (row.bucket or 0, *(str(row.dims[d]) for d in group_by))

    return key


def usage_totals(*, start: int, end: int, where: UsageFilter) -> UsageTotals:
    """Totals of the logs with start <= created_at <= end matching `where`."""
    rows = usage_rows(start=start, end=end, where=where)
    return rows[0].totals if rows else UsageTotals()


# --- Reads the statistics APIs need beyond usage_rows/usage_totals ------------------------------
# They read the raw logs through the Log queryset. Their results are bounded (one aggregate row,
# one row per (model, endpoint), one page of logs), and each is served by a logs index.


def usage_recent_totals(*, where: UsageFilter, since: int) -> UsageTotals:
    """Totals of the logs matching `where` with created_at >= `since`, with no upper bound (a
    gateway may stamp a log a little ahead of our clock). For "requests/tokens per minute over
    the last N minutes" (sub2api's dashboard rpm/tpm: N = 5). Only `requests`, the four token
    classes, `quota` and `duration_ms` are filled."""
    record = Log.objects.filter(where.q(), created_at__gte=since).aggregate(
        requests=Count("id"),
        quota=Coalesce(Sum("quota"), 0),
        prompt_tokens=Coalesce(Sum("prompt_tokens"), 0),
        completion_tokens=Coalesce(Sum("completion_tokens"), 0),
        cache_read_tokens=Coalesce(Sum("cache_read_tokens"), 0),
        cache_creation_tokens=Coalesce(Sum("cache_creation_tokens"), 0),
        duration_ms=Coalesce(Sum("duration_ms"), 0),
    )
    return UsageTotals(**{name: int(value) for name, value in record.items()})


def usage_top_endpoints(*, start: int, end: int, where: UsageFilter) -> dict[str, str]:
    """For each model of the logs with start <= created_at <= end matching `where`, the request
    path (`endpoint`) it was called through most often; ties go to the alphabetically first
    path. Logs without an endpoint are ignored, so a model none of whose logs names one is
    absent from the result (AceData's `api_map[...].path`; callers show "")."""
    counts = (
        Log.objects.filter(where.q(), created_at__gte=start, created_at__lte=end)
        .exclude(endpoint="")
        .values("model_name", "endpoint")
        .annotate(uses=Count("id"))
        .order_by()
    )
    best: dict[str, tuple[int, str]] = {}
    for record in counts:
        model, endpoint, uses = record["model_name"], record["endpoint"], int(record["uses"])
        current = best.get(model)
        if current is None or (-uses, endpoint) < (-current[0], current[1]):
            best[model] = (uses, endpoint)
    return {model: endpoint for model, (_, endpoint) in best.items()}


# What the per-request usage views show of a log (sub2api's UsageLog); `content` and `other`
# can be large and are not part of it.
USAGE_LOG_FIELDS = (
    "id",
    "created_at",
    "type",
    "user_id",
    "token_id",
    "token_name",
    "model_name",
    "quota",
    "prompt_tokens",
    "completion_tokens",
    "cache_read_tokens",
    "cache_creation_tokens",
    "duration_ms",
    "first_token_ms",
    "is_stream",
    "group",
    "request_id",
)


@dataclass(slots=True)
class LogPage:
    items: list[Log]
    total: int  # exact when not total_is_capped, else the cap
    total_is_capped: bool


def usage_log_page(
    *,
    where: UsageFilter,
    start: int | None,
    end: int | None,
    is_stream: bool | None = None,
    offset: int,
    limit: int,
    count_cap: int,
) -> LogPage:
    """One page of the logs matching `where` with start <= created_at <= end (None: unbounded)
    and, when `is_stream` is given, that stream flag; newest first (created_at desc, id desc).

    `total` counts at most `count_cap` logs (a COUNT over a LIMITed subquery), so a page costs
    the same on a user with ten million logs as on one with ten thousand; past the cap,
    `total_is_capped` is set. When the page itself shows where the matches end, no count query
    is made. Only USAGE_LOG_FIELDS are loaded."""
    qs = Log.objects.filter(where.q()).between(start, end)
    if is_stream is not None:
        qs = qs.filter(is_stream=is_stream)
    items = list(qs.newest_first().only(*USAGE_LOG_FIELDS)[offset : offset + limit])
    if 0 < len(items) < limit or (offset == 0 and not items):
        return LogPage(items=items, total=offset + len(items), total_is_capped=False)
    counted = qs.order_by()[: count_cap + 1].count()
    if counted > count_cap:
        return LogPage(items=items, total=count_cap, total_is_capped=True)
    return LogPage(items=items, total=counted, total_is_capped=False)


def usage_log_get(*, log_id: int, where: UsageFilter) -> Log | None:
    """The log with this id if it matches `where` (callers scope `where` to the caller's user
    id, so another user's log is indistinguishable from a missing one), else None. Only
    USAGE_LOG_FIELDS are loaded."""
    return Log.objects.filter(where.q(), pk=log_id).only(*USAGE_LOG_FIELDS).first()
