"""Usage statistics: the reads every statistics family and the dashboard pages share
(`usage_rows`, `usage_records`, `usage_totals`) and the filter and totals they use.

All ranges are inclusive on both ends, in Unix seconds. Bucketed results are aligned to the
calendar of the zone given (weeks start on Monday). Only buckets/groups with at least one
matching log are returned; callers zero-fill against `usage.buckets.bucket_starts`.

Numbers are exact: each equals a plain GROUP BY over the matching raw logs.

How (docs/aggregates.md): the range is cut at the zone's bucket boundaries; each piece is split
into the coarsest whole UTC rollup buckets that fit (days, 12/6/3 hours, hours, quarter-hours,
as far as the tables keep them), and what no rollup bucket covers (a range that starts or ends
mid-bucket, a +05:30 zone's half-hour edges in a table without quarter-hours) is read from the
raw logs. ONE statement sums all of it, grouped by output bucket and dimensions. For each span
the smallest table holding every dimension the query filters or groups by serves it
(usage_site, usage_channel, usage_user_total, usage_user); a query no table can answer (a user
together with a channel or a group, say) reads the raw logs for the whole range, still in one
statement.

After log retention the rollups still count the purged logs, and the raw-log parts of a range
count only the logs that remain.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from typing import Any
from zoneinfo import ZoneInfo

from django.db import connections, router
from django.db.models import F, Max, Min, Q, Value

from logs.models import Log, LogType
from logs.querysets import LikePattern, like_escape
from usage.buckets import BucketError, Piece, pieces, segments
from usage.rollups import (
    MEASURES,
    SITE,
    families_for,
)
from usage.selectors.statement import RAW_MEASURE, _end_from_rollup, _saturating_fetch, _statement

DIMENSIONS = (
    "model_name",
    "user_id",
    "username",
    "token_id",
    "token_name",
    "channel_id",
    "group",
    "type",
    "endpoint",
)


@dataclass(frozen=True, slots=True)
class UsageFilter:
    """Which logs count. None means "no restriction" for every field but `types`.

    `types` defaults to consume logs only (type 2), which is what every family calls usage;
    an empty tuple means all types. `username_pattern` and `model_pattern` are new-api `%`
    patterns (the log API's; `logs.querysets.LogQuerySet.text_match`): case-insensitive, only
    `%` a wildcard, matched with the same operator on rollup rows as on logs."""

    user_id: int | None = None
    username: str | None = None
    username_pattern: str | None = None
    token_ids: tuple[int, ...] | None = None
    token_name: str | None = None
    model_names: tuple[str, ...] | None = None
    model_pattern: str | None = None
    channel_id: int | None = None
    group: str | None = None
    types: tuple[int, ...] = (LogType.CONSUME,)

    def _patterns(self) -> list[tuple[str, str]]:
        """(column, LIKE pattern with `\\` escapes) of the `%` patterns."""
        return [
            (column, "%".join(like_escape(part) for part in value.split("%")))
            for column, value in (
                ("username", self.username_pattern),
                ("model_name", self.model_pattern),
            )
            if value is not None
        ]

    def q(self) -> Q:
        q = Q()
        if self.user_id is not None:
            q &= Q(user_id=self.user_id)
        if self.username is not None:
            q &= Q(username=self.username)
        if self.token_ids is not None:
            q &= Q(token_id__in=self.token_ids)
        if self.token_name is not None:
            q &= Q(token_name=self.token_name)
        if self.model_names is not None:
            q &= Q(model_name__in=self.model_names)
        if self.channel_id is not None:
            q &= Q(channel_id=self.channel_id)
        if self.group is not None:
            q &= Q(group=self.group)
        if self.types:
            q &= Q(type__in=self.types)
        for column, pattern in self._patterns():
            q &= Q(LikePattern(F(column), Value(pattern)))
        return q

    def dimensions(self) -> set[str]:
        """The columns this filter restricts."""
        named = {
            "user_id": self.user_id,
            "username": self.username if self.username is not None else self.username_pattern,
            "token_id": self.token_ids,
            "token_name": self.token_name,
            "model_name": self.model_names if self.model_names is not None else self.model_pattern,
            "channel_id": self.channel_id,
            "group": self.group,
            "type": self.types or None,
        }
        return {name for name, value in named.items() if value is not None}

    def matches_nothing(self) -> bool:
        return self.token_ids == () or self.model_names == ()

    def sql(self, alias: str, *, vendor: str, ids_by_name: str = "") -> tuple[str, list[Any]]:
        """` AND ...` conditions on the columns of `alias` (a log or a rollup row), for the
        database `vendor`.

        `ids_by_name` (SQL yielding the ids of the users who logged under a username, `%s`
        being the name) narrows a username filter to those users first, for a table whose
        index leads with user_id."""
        clauses: list[str] = []
        params: list[Any] = []
        if self.username is not None and ids_by_name and self.user_id is None:
            clauses.append(ids_by_name.format(column=f"{alias}.user_id"))
            params.append(self.username)
        for column, value in (
            ("user_id", self.user_id),
            ("username", self.username),
            ("token_name", self.token_name),
            ("channel_id", self.channel_id),
            ('"group"', self.group),
        ):
            if value is not None:
                clauses.append(f"{alias}.{column} = %s")
                params.append(value)
        for column, values in (
            ("token_id", self.token_ids),
            ("model_name", self.model_names),
            ("type", self.types or None),
        ):
            if values is not None:
                clauses.append(f"{alias}.{column} IN ({', '.join(['%s'] * len(values))})")
                params.extend(values)
        # logs.querysets.LikePattern's operators: ILIKE on PostgreSQL, LIKE (ASCII case
        # folding) on SQLite.
        like = "ILIKE" if vendor == "postgresql" else "LIKE"
        for column, pattern in self._patterns():
            clauses.append(f"{alias}.{column} {like} %s ESCAPE '\\'")
            params.append(pattern)
        return "".join(f" AND {clause}" for clause in clauses), params


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
    week, month), by bucket of that zone's calendar. Ordered by bucket, then by the dimension
    values (numbers numerically, strings by code point). One SQL statement (none when the
    filter matches nothing). Raises BucketError for an unknown dimension or granularity, a
    bucketed query without a zone, or more than MAX_BUCKETS buckets."""
    group_by = list(dict.fromkeys(group_by))
    records = usage_records(
        start=start, end=end, where=where, group_by=group_by, granularity=granularity, tz=tz
    )
    width = len(group_by)
    if granularity is None:
        return [
            UsageRow(
                bucket=None,
                dims=dict(zip(group_by, record[:width], strict=True)),
                totals=UsageTotals(*record[width:]),
            )
            for record in records
        ]
    return [
        UsageRow(
            bucket=record[0],
            dims=dict(zip(group_by, record[1 : 1 + width], strict=True)),
            totals=UsageTotals(*record[1 + width :]),
        )
        for record in records
    ]


def usage_records(
    *,
    start: int,
    end: int,
    where: UsageFilter,
    group_by: Sequence[str] = (),
    granularity: str | None = None,
    tz: ZoneInfo | None = None,
    measures: Sequence[str] = MEASURES,
) -> list[tuple[Any, ...]]:
    """`usage_rows` as plain tuples holding only the `measures` asked for (names from
    MEASURES, in the order given): `(bucket start, *group_by values, *measures)`, without the
    bucket when `granularity` is None; duplicates in `group_by` are dropped. Same rows, order,
    errors and single statement as `usage_rows`.

    For answers of thousands of rows (a month of hours per model): a UsageRow per row, and
    sums nobody reads, cost more than the query itself (docs/aggregates.md)."""
    _check(group_by, granularity, tz)
    unknown = [name for name in measures if name not in RAW_MEASURE]
    if unknown:
        raise BucketError(f"unknown measure {', '.join(unknown)}")
    group_by = list(dict.fromkeys(group_by))
    if where.matches_nothing():
        return []
    alias = router.db_for_read(Log)
    try:
        cuts = segments(start, end, tz, granularity)
    except BucketError:
        # A long range in fine buckets ("all of time, by day"): only the buckets that can hold
        # data matter, so narrow the range to the data first (two index lookups).
        first, last = _data_span(alias)
        if first is None or last is None:
            return []
        cuts = segments(max(start, first), min(end, last), tz, granularity, limit=SPAN_LIMIT)
    if not cuts:
        return []
    tables = {
        span: family.table
        for span, family in families_for({*group_by, *where.dimensions()}).items()
    }
    minus: list[Piece] = []
    if tables:
        rolled, raw = pieces(cuts, tuple(tables))
        minus = _end_from_rollup(
            rolled, raw, stop=cuts[-1][1], finest=min(tables), now=int(time.time())
        )
    else:
        rolled, raw = [], [(0, lo, hi, label) for lo, hi, label in cuts]
    connection = connections[alias]
    return _saturating_fetch(
        connection,
        lambda aggregate: _statement(
            connection.vendor,
            tables,
            rolled,
            raw,
            minus,
            where,
            group_by,
            measures,
            bucketed=granularity is not None,
            aggregate=aggregate,
        ),
    )


# How many output buckets a read may have once its range is narrowed to the data (MAX_BUCKETS
# applies before): a year of hours fits, a lifetime of hours does not.
SPAN_LIMIT = 100_000


def _data_span(alias: str) -> tuple[int | None, int | None]:
    """The first and last instant any log or rollup row covers (None, None when there is no
    data); every table's rows start and end with the site table's or the logs'."""
    logs = Log.objects.using(alias).aggregate(first=Min("created_at"), last=Max("created_at"))
    site = (
        SITE.model._default_manager.using(alias)
        .filter(span=SITE.spans[0])
        .aggregate(first=Min("bucket"), last=Max("bucket"))
    )
    firsts = [value for value in (logs["first"], site["first"]) if value is not None]
    lasts = [logs["last"]] if logs["last"] is not None else []
    if site["last"] is not None:
        lasts.append(site["last"] + SITE.spans[0] - 1)
    return (min(firsts) if firsts else None, max(lasts) if lasts else None)


def usage_totals(*, start: int, end: int, where: UsageFilter) -> UsageTotals:
    """Totals of the logs with start <= created_at <= end matching `where`. For rpm/tpm, a
    window shorter than a quarter-hour reads only raw logs, through the logs' indexes."""
    rows = usage_rows(start=start, end=end, where=where)
    return rows[0].totals if rows else UsageTotals()
