"""Use-case reads of the logs: the new-api log API (`logs.api`) and the dashboard's log pages call
these same functions.

Conventions: timestamps are Unix seconds (no timezone involved: `created_at` is an absolute
instant); bounds are inclusive; lists are newest first, `created_at DESC, id DESC`; a
`LogFilter` with `user_id` set never returns another user's log. Results are raw `Log` rows or
dicts: hiding admin-only fields from users is the caller's job (`logs.serializers`,
`logs.export`)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import orjson
from django.db.models import Case, Count, F, Q, Sum, TextField, Value, When
from django.db.models.expressions import Combinable
from django.db.models.functions import Cast, Coalesce

from logs.events import MAX_TOKENS, SUMMED_BOUNDS, TOKEN_FIELDS
from logs.filters import LogCursor, LogFilter
from logs.models import LOG_COLUMNS, Log, LogType
from logs.querysets import LogQuerySet

TOTAL_CAP = 10_000
# Up to this many matches, a page is cut from the matches' keys read in any order (see
# logs_page): the planner may then combine two indexes instead of walking one in order.
SMALL_MATCH = 2000
# `p` is served with OFFSET only this deep: beyond it, `cursor` continues (docs/logs-api.md).
MAX_OFFSET = TOTAL_CAP
SEARCH_LIMIT = 100
RATE_WINDOW_SECONDS = 60
EXPORT_CHUNK = 2000
EXPORT_FIELDS = ("id", *LOG_COLUMNS)


class PageTooDeep(ValueError):
    """`p` asks for rows past MAX_OFFSET of a match larger than TOTAL_CAP."""


@dataclass(frozen=True, slots=True)
class LogListPage:
    items: list[Log]
    page: int
    page_size: int
    total: int
    total_is_capped: bool
    next_cursor: LogCursor | None


@dataclass(frozen=True, slots=True)
class LogStat:
    quota: int
    rpm: int
    tpm: int


def logs_matching(*, filters: LogFilter) -> LogQuerySet:
    """Every log `filters` selects, unordered (see `LogFilter` for the semantics)."""
    qs = Log.objects.all()
    if filters.user_id is not None:
        qs = qs.for_user(filters.user_id)
    return (
        qs.between(filters.start, filters.end)
        .of_type(filters.type)
        .text_match("username", filters.username)
        .text_match("model_name", filters.model_name)
        .equal_unless_blank(
            token_name=filters.token_name,
            channel_id=filters.channel_id,
            group=filters.group,
            request_id=filters.request_id,
        )
    )


def logs_count(*, filters: LogFilter, cap: int = TOTAL_CAP) -> tuple[int, bool]:
    """(number of matching logs, capped): counts at most `cap + 1` rows, so the cost is bounded
    whatever the table size; past `cap` it answers (cap, True)."""
    counted = logs_matching(filters=filters).order_by().values("id")[: cap + 1].count()
    return (cap, True) if counted > cap else (counted, False)


def logs_page(
    *,
    filters: LogFilter,
    page: int = 1,
    page_size: int = 10,
    cursor: LogCursor | None = None,
    counted: tuple[int, bool] | None = None,
) -> LogListPage:
    """One newest-first page of the logs `filters` selects, with the (capped) total.

    `counted` is the (count, capped) pair of `logs_count` when the caller has it from elsewhere
    (`usage.selectors.usage_log_count` reads it from the rollups); else it is counted here.

    Without `cursor`, page `page` (1-based) is read with OFFSET, served down to MAX_OFFSET rows:
    a deeper page of a match larger than TOTAL_CAP raises PageTooDeep (the client continues with
    the cursor instead); a page past the end of a smaller match is empty. With `cursor`, the
    page starts right after that position (keyset: the cost does not grow with depth) and
    `page` is only echoed. `next_cursor` is None on the last page.

    Queries: the capped count, then the page in index order; or, for at most SMALL_MATCH
    matches, their (created_at, id) keys in any order and the page's rows by id. No page query
    when the page is known to be empty."""
    total, capped = logs_count(filters=filters) if counted is None else counted
    offset = 0 if cursor is not None else (page - 1) * page_size
    if offset and offset >= total:
        if capped:  # total == MAX_OFFSET: the rows there exist, but OFFSET may not reach them
            raise PageTooDeep(
                f"page {page} starts past the first {MAX_OFFSET} matching logs; continue with "
                "cursor (the next_cursor of the previous page) or narrow the filters"
            )
        return LogListPage([], page, page_size, total, capped, None)
    if not total:
        return LogListPage([], page, page_size, 0, False, None)
    matching = logs_matching(filters=filters)
    window: list[tuple[int, int]]
    if not capped and total <= SMALL_MATCH:
        # Few matches, perhaps thinly spread over the index an ordered scan would walk (a
        # channel and a model it rarely serves: the scan would read every log of the channel).
        # Their keys, read in any order, cost what the count cost; the page is cut here.
        keys = sorted(matching.order_by().values_list("created_at", "id"), reverse=True)
        if cursor is not None:
            keys = [key for key in keys if key < (cursor.created_at, cursor.id)]
        window = keys[offset : offset + page_size + 1]
        page_ids = [log_id for _, log_id in window[:page_size]]
        items = list(Log.objects.filter(id__in=page_ids).newest_first()) if page_ids else []
    else:
        if cursor is not None:
            ordered = matching.before_key(cursor.created_at, cursor.id).newest_first()
            rows = list(ordered[: page_size + 1])
        elif offset:
            # Deferred join: the OFFSET walks the index (ids only, no row is read), then only
            # the page's rows are fetched.
            ids = matching.newest_first().values("id")[offset : offset + page_size + 1]
            rows = list(Log.objects.filter(id__in=ids).newest_first())
        else:
            rows = list(matching.newest_first()[: page_size + 1])
        window = [(row.created_at, row.id) for row in rows]
        items = rows[:page_size]
    more = len(window) > page_size
    next_cursor = LogCursor(*window[page_size - 1]) if more else None
    return LogListPage(items, page, page_size, total, capped, next_cursor)


def logs_stat_filter(filters: LogFilter) -> LogFilter:
    """`filters` as the stat applies them: consume logs (type 2) only, whatever type was asked
    for. new-api's log page sends the selected type to its stat and new-api ignores it, so the
    line shows the consumption of the other filters (API.md section 3)."""
    return dataclasses.replace(filters, type=LogType.CONSUME)


def logs_quota(*, filters: LogFilter) -> int:
    """SUM(quota) of the logs `filters` selects (a type of 0: every type; the stat passes
    `logs_stat_filter(filters)`, consume logs). One aggregate query, index-only on PostgreSQL
    when one index serves the filters (docs/logs-api.md, Indexes); its cost grows with the matches.
    `usage.selectors.usage_log_stat` answers the same from the rollups when it can."""
    quota = logs_matching(filters=filters).aggregate(quota=Coalesce(Sum("quota"), 0))["quota"]
    return int(quota)


def logs_rates(*, filters: LogFilter, now: int) -> tuple[int, int]:
    """(rpm, tpm) of the stat: the number of logs `filters` selects with
    `created_at >= now - 60` (Unix seconds; start/end ignored), and their prompt + completion
    tokens. One aggregate query over the last minute of an index."""
    recent = logs_matching(filters=dataclasses.replace(filters, start=None, end=None)).filter(
        created_at__gte=now - RATE_WINDOW_SECONDS
    )
    rate = recent.aggregate(
        rpm=Count("id"),
        tpm=Coalesce(Sum(F("prompt_tokens") + F("completion_tokens")), 0),
    )
    return int(rate["rpm"]), int(rate["tpm"])


def logs_search(
    *, keyword: str, user_id: int | None = None, limit: int = SEARCH_LIMIT
) -> list[Log]:
    """At most `limit` logs matching `keyword`, newest first.

    An integer keyword matches the type code; anything else is a case-insensitive substring of
    content, model_name, token_name, request_id and, site-wide only, username. `user_id` scopes
    the search to that user (and leaves username out). One query."""
    fields = ["content", "model_name", "token_name", "request_id"]
    qs = Log.objects.all()
    if user_id is None:
        fields.append("username")
    else:
        qs = qs.for_user(user_id)
    return list(qs.keyword(keyword, fields=fields).newest_first()[:limit])


def logs_export_rows(
    *, filters: LogFilter, chunk_size: int = EXPORT_CHUNK
) -> Iterator[dict[str, Any]]:
    """Every log `filters` selects, newest first, as dicts of EXPORT_FIELDS, with no cap.

    Read in keyset chunks of `chunk_size` rows, one short query each (no long transaction, no
    server-side cursor): memory stays at one chunk whatever the number of rows. Logs ingested
    while the export runs appear only if they sort after the current position."""
    matching = logs_matching(filters=filters).newest_first()
    # `other` is read as text and decoded with orjson: Django's JSONField decoding (the json
    # module) was half the cost of an export.
    fields = [name for name in EXPORT_FIELDS if name != "other"]
    position: tuple[int, int] | None = None
    while True:
        qs = matching if position is None else matching.before_key(*position)
        chunk = list(
            qs.values(*fields, other_text=Cast("other", output_field=TextField()))[:chunk_size]
        )
        for row in chunk:
            text = row.pop("other_text")
            row["other"] = orjson.loads(text) if text else {}
            yield row
        if len(chunk) < chunk_size:
            return
        position = (chunk[-1]["created_at"], chunk[-1]["id"])


def logs_beyond_bounds(*, start: int, end: int, shown: int = 10) -> tuple[int, list[int]]:
    """The logs with start <= created_at < end holding a counter past the ingest bounds
    (`logs.events`; docs/ingest.md, "Bounds"), which only logs stored before the bounds can:
    how many, and the ids of the first `shown`. One scan of the range (verify_usage)."""
    past = Q()
    for name, bound in SUMMED_BOUNDS.items():
        past |= Q(**{f"{name}__gt": bound})
    tokens: Combinable = F(TOKEN_FIELDS[0])
    for name in TOKEN_FIELDS[1:]:
        tokens = tokens + F(name)
    # The token sum only where every class is within its bound: PostgreSQL would refuse a
    # bigint sum past 2^63 - 1, and the CASE is the one construct that orders evaluation.
    matching = (
        Log.objects.filter(created_at__gte=start, created_at__lt=end)
        .alias(tokens=Case(When(past, then=Value(0)), default=tokens))
        .filter(past | Q(tokens__gt=MAX_TOKENS))
    )
    count = matching.count()
    ids = list(matching.order_by("id").values_list("id", flat=True)[:shown]) if count else []
    return count, ids
