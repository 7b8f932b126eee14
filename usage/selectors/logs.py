"""Reads the statistics APIs need beyond usage_rows/usage_totals: the per-request usage logs
(a page, one log), recent totals, top endpoints, a user's lifetime consumption.

The log reads go to the raw logs through the Log queryset. Their results are bounded (one
aggregate row, one page of logs), and each is served by a logs index."""

from __future__ import annotations

import time
from dataclasses import dataclass

from django.db.models import Count, Sum
from django.db.models.functions import Coalesce

from logs.filters import LogFilter
from logs.models import LOG_COLUMNS, Log
from usage.buckets import MAX_TIMESTAMP
from usage.selectors.log_stat import _log_sum
from usage.selectors.rows import UsageFilter, UsageTotals, usage_records


def usage_user_consumption(*, user_id: int) -> UsageTotals:
    """Every consume log of the user, whenever stamped: new-api's `used_quota` (the quota sum)
    and `request_count` (the number of logs), for `/api/user/self`. Only `requests` and `quota`
    are filled.

    The range starts and ends at UTC midnights, so it is read from the user's day rollups alone
    (usage_user_total, one row per day and type): one statement, however many logs. Like
    new-api's counters, it keeps counting logs that log retention deleted (USAGE_RETENTION_DAYS
    governs the rollups)."""
    records = usage_records(
        start=0,
        end=MAX_TIMESTAMP,
        where=UsageFilter(user_id=user_id),
        measures=("requests", "quota"),
    )
    if not records:
        return UsageTotals()
    requests, quota = records[0]
    return UsageTotals(requests=int(requests or 0), quota=int(quota or 0))


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
    absent from the result (AceData's `api_map[...].path`; callers show ""). One `usage_rows`
    query grouped by model and endpoint: read from usage_user, which keeps the endpoint, when
    `where` is a user's."""
    best: dict[str, tuple[int, str]] = {}
    records = usage_records(
        start=start,
        end=end,
        where=where,
        group_by=("model_name", "endpoint"),
        measures=("requests",),
    )
    for model, endpoint, uses in records:  # by model, then endpoint: on a tie the first stays
        if endpoint and uses > best.get(model, (0, ""))[0]:
            best[model] = (uses, endpoint)
    return {model: endpoint for model, (_, endpoint) in best.items()}


# What the per-request usage views show of a log (sub2api's UsageLog): the log's columns but
# those it has no field for; `content` and `other` can be large and are not part of it.
_NOT_SHOWN = frozenset(
    {"content", "username", "use_time", "channel_id", "channel_name", "ip", "endpoint", "other"}
)
USAGE_LOG_FIELDS = ("id", *(name for name in LOG_COLUMNS if name not in _NOT_SHOWN))


@dataclass(slots=True)
class UsageLogPage:
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
) -> UsageLogPage:
    """One page of the logs matching `where` with start <= created_at <= end (None: unbounded)
    and, when `is_stream` is given, that stream flag; newest first (created_at desc, id desc).

    `total` counts at most `count_cap` logs (a COUNT over a LIMITed subquery), so a page costs
    the same on a user with ten million logs as on one with ten thousand; past the cap,
    `total_is_capped` is set. When the page itself shows where the matches end, no count query
    is made. Only USAGE_LOG_FIELDS are loaded.

    The page's keys are read first, then its rows by id (a deferred join): the key query can be
    answered from the user index, which holds the model and type, so a model the user rarely or
    never called costs an index walk, not a heap fetch per log of the user (at 10 M logs: the
    busiest user's year with a model it never used, 0.4-7 s before, docs/scaling.md)."""
    qs = Log.objects.filter(where.q()).between(start, end)
    if is_stream is not None:
        qs = qs.filter(is_stream=is_stream)
    # The total from the rollups first (the rollups keep no stream flag): exact, and the page
    # query is skipped when nothing matches (a model the user never called would otherwise
    # walk its whole range). As the log lists do (`usage_log_count`).
    rolled = None
    if is_stream is None and not where.matches_nothing():
        span = LogFilter(start=start, end=end)
        rolled = _log_sum(span, where, int(time.time()), "requests")
        if rolled == 0:
            return UsageLogPage(items=[], total=0, total_is_capped=False)
    keys = list(qs.newest_first().values_list("created_at", "id")[offset : offset + limit])
    items: list[Log] = []
    if keys:
        rows = Log.objects.filter(
            id__in=[log_id for _, log_id in keys],
            created_at__gte=keys[-1][0],
            created_at__lte=keys[0][0],
        )
        items = list(rows.newest_first().only(*USAGE_LOG_FIELDS))
    if rolled is not None:
        capped = rolled > count_cap
        return UsageLogPage(
            items=items, total=count_cap if capped else rolled, total_is_capped=capped
        )
    if 0 < len(items) < limit or (offset == 0 and not items):
        return UsageLogPage(items=items, total=offset + len(items), total_is_capped=False)
    counted = qs.order_by()[: count_cap + 1].count()
    if counted > count_cap:
        return UsageLogPage(items=items, total=count_cap, total_is_capped=True)
    return UsageLogPage(items=items, total=counted, total_is_capped=False)


def usage_log_get(*, log_id: int, where: UsageFilter) -> Log | None:
    """The log with this id if it matches `where` (callers scope `where` to the caller's user
    id, so another user's log is indistinguishable from a missing one), else None. Only
    USAGE_LOG_FIELDS are loaded."""
    return Log.objects.filter(where.q(), pk=log_id).only(*USAGE_LOG_FIELDS).first()
