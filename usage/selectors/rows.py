"""Usage statistics: the reads every statistics family and the dashboard pages share.

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
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

import orjson
from django.db import OperationalError, connections, models, router
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Count, F, Max, Min, Q, Sum, Value
from django.db.models.functions import Coalesce

from logs.filters import LogFilter
from logs.models import Log, LogType, RetentionMark
from logs.querysets import LikePattern, like_escape
from logs.retention import RetentionMarks
from logs.selectors import (
    TOTAL_CAP,
    LogStat,
    logs_beyond_bounds,
    logs_count,
    logs_quota,
    logs_rates,
    logs_stat_filter,
)
from usage.buckets import MAX_TIMESTAMP, BucketError, Piece, pieces, segments
from usage.rollups import (
    DAY,
    FAMILIES,
    MAX_SUM,
    MEASURES,
    RAW_MEASURE_COLUMNS,
    RAW_MEASURES,
    SITE,
    USER,
    USER_TOTAL,
    day_ceil,
    day_floor,
    families_for,
    in_range,
    quoted,
    select_from_logs,
    split_join,
)

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
TEXT_DIMENSIONS = frozenset({"username", "token_name", "model_name", "group", "endpoint"})
# Each measure's SQL over a raw log (`logs AS l`); a rollup row holds the sum in the column of
# the same name.
RAW_MEASURE = dict(zip(MEASURES, RAW_MEASURES, strict=True))


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


# PostgreSQL: up to this many separate time ranges of one source are OR-ed literally.
FEW_RANGES = 16


def _ranges(chosen: list[Piece]) -> list[tuple[int, int]]:
    """The pieces' [lo, hi) ranges, touching ones merged (labels do not matter here)."""
    merged: list[tuple[int, int]] = []
    for _, lo, hi, _ in chosen:
        if merged and merged[-1][1] == lo:
            merged[-1] = (merged[-1][0], hi)
        else:
            merged.append((lo, hi))
    return merged


def _coverage(ranges: list[tuple[int, int]]) -> float:
    """The share of [first lo, last hi) that the ranges cover."""
    return sum(hi - lo for lo, hi in ranges) / (ranges[-1][1] - ranges[0][0])


def _pg_time_filter(column: str, ranges: list[tuple[int, int]], step: int) -> tuple[str, list[Any]]:
    """Literal conditions selecting `column` in the pieces (so the planner estimates from the
    statistics): the overall range, narrowed by a few OR-ed ranges, by width_bucket() membership
    when the pieces cover most of the range, else by the list of bucket starts (an index scan
    per bucket)."""
    lo, hi = ranges[0][0], ranges[-1][1]
    sql = f"{column} >= %s AND {column} < %s"
    params: list[Any] = [lo, hi]
    if len(ranges) == 1:
        return sql, params
    if len(ranges) <= FEW_RANGES or not step:
        ors = " OR ".join([f"({column} >= %s AND {column} < %s)"] * len(ranges))
        return f"{sql} AND ({ors})", params + [bound for pair in ranges for bound in pair]
    if _coverage(ranges) >= 0.5:
        bounds = [bound for pair in ranges for bound in pair]
        return (
            f"{sql} AND width_bucket({column}, %s::bigint[]) %% 2 = 1",
            [*params, _pg_bigints(bounds)],
        )
    starts = [ts for low, high in ranges for ts in range(low, high, step)]
    return f"{sql} AND {column} = ANY(%s::bigint[])", [*params, _pg_bigints(starts)]


def _pg_bigints(values: Sequence[int]) -> str:
    """A bigint[] parameter in PostgreSQL's text form (`{1,2,3}`, cast with `::bigint[]`).
    psycopg adapts a list element by element in Python (~1 µs each, 4 ms for the labels of a
    month of hours); str.join does it in C."""
    return "{" + ",".join(map(str, values)) + "}"


def _end_from_rollup(
    rolled: list[Piece], raw: list[Piece], *, stop: int, finest: int, now: int
) -> list[Piece]:
    """When the range ends (before `stop`) in a bucket of the finest rollup span whose part
    after the end can hold fewer logs than its part before (shorter, not counting what is
    still in the future at `now`), that bucket is read from the rollup, less its logs from
    `stop` on, instead of reading its logs up to `stop`. A range ending now then reads no log
    of the current bucket, which on a busy site holds many (340 k in the current quarter-hour
    of the 10 M benchmark database while it ingested ~450 events/s). Exact, because a log and
    the rollup rows counting it commit together and one statement sees one snapshot of both.
    After retention it is as exact as the rollups (a purge that cut into this bucket after the
    end would leave purged logs counted). Only at the end of the range: before its start lie
    the older logs, which retention deletes.

    Moves the trailing raw piece into `rolled` (in place) and returns the pieces to subtract."""
    bucket = stop - stop % finest
    after = min(bucket + finest, max(now + 1, stop)) - stop
    if not raw or raw[-1][1:3] != (bucket, stop) or after >= stop - bucket:
        return []
    label = raw.pop()[3]
    rolled.append((finest, bucket, bucket + finest, label))
    return [(0, stop, bucket + finest, label)]


def _sqlite_pieces(chosen: list[Piece]) -> tuple[str, list[Any]]:
    """A derived table p(lo, hi, label) of the pieces; CROSS JOIN makes it SQLite's outer loop,
    each piece an index range scan."""
    return (
        "(SELECT json_extract(value, '$[1]') AS lo, json_extract(value, '$[2]') AS hi, "
        "json_extract(value, '$[3]') AS label FROM json_each(%s)) AS p",
        [orjson.dumps(chosen).decode()],
    )


def _pg_label(column: str, chosen: list[Piece]) -> tuple[str, list[Any]]:
    """The output bucket of `column` in the pieces `chosen` (of one span): the last of their
    labels <= it. Labels are segment starts and every piece lies inside its label's segment, so
    the labels of the other pieces are not needed. When each piece is one rollup bucket labelled
    with its own start (hours by hour, UTC days by day) the label is the bucket itself, which
    PostgreSQL can group on with the column's statistics."""
    span = chosen[0][0]
    if span and all(lo == label and hi - lo == span for _, lo, hi, label in chosen):
        return column, []
    labels = sorted({label for *_, label in chosen})
    if len(labels) == 1:
        return str(labels[0]), []
    text = _pg_bigints(labels)
    return f"(%s::bigint[])[width_bucket({column}, %s::bigint[])]", [text, text]


def _branch(
    vendor: str,
    source: str,
    chosen: list[Piece],
    where: UsageFilter,
    dims: list[str],
    measures: Sequence[str],
    *,
    subtract: bool = False,
    aggregate: str = "SUM",
) -> tuple[str, list[Any]]:
    """The SELECT of one span of the rollup table `source` (or of the logs, span 0) over the
    pieces `chosen`, each row labelled with its output bucket, with the `measures` asked for;
    negated when `subtract` (logs only). `aggregate`: see `_saturating_fetch`."""
    span = chosen[0][0]
    alias = "r" if span else "l"
    column = "r.bucket" if span else "l.created_at"
    expressions = [f"r.{name}" if span else RAW_MEASURE[name] for name in measures]
    span_sql = f"r.span = {span}" if span else "1 = 1"
    ids_by_name = ""
    if source == USER.table:
        # usage_user has no index on username: the users who logged under a name are found
        # in usage_user_total (its username index), then usage_user is read by user_id.
        names = f"SELECT user_id FROM {USER_TOTAL.table} WHERE username = %s"  # noqa: S608
        ids_by_name = (
            f"{{column}} = ANY(ARRAY({names}))"
            if vendor == "postgresql"
            else f"{{column}} IN ({names})"
        )
    conditions, condition_params = where.sql(alias, vendor=vendor, ids_by_name=ids_by_name)
    if vendor != "postgresql":
        label, label_params = "p.label", list[Any]()
        from_sql, from_params = _sqlite_pieces(chosen)
        from_sql += f" CROSS JOIN {source} AS {alias}"
        where_sql = f"{span_sql} AND {column} >= p.lo AND {column} < p.hi{conditions}"
        where_params = condition_params
    else:
        label, label_params = _pg_label(column, chosen)
        ranges = _ranges(chosen)
        if span == 0 and len(ranges) > FEW_RANGES and _coverage(ranges) < 0.5:
            # Many short stretches of raw logs (a +05:30 zone's day edges over a year, read
            # from the user or channel index): one index range scan per stretch, a nested loop
            # that LATERAL ... OFFSET 0 pins.
            # Only the columns the outer SELECT reads, so that an index holding them all can
            # answer without visiting the table.
            needed = ["created_at", *dims]
            needed += [column for name in measures for column in RAW_MEASURE_COLUMNS[name]]
            columns = ", ".join(f"l.{name}" for name in dict.fromkeys(needed))
            from_sql = (
                "unnest(%s::bigint[], %s::bigint[]) AS p(lo, hi) CROSS JOIN LATERAL "  # noqa: S608
                f"(SELECT {columns} FROM {source} AS l WHERE l.created_at >= p.lo "
                f"AND l.created_at < p.hi{conditions} OFFSET 0) AS l"
            )
            from_params = [
                _pg_bigints([lo for lo, _ in ranges]),
                _pg_bigints([hi for _, hi in ranges]),
                *condition_params,
            ]
            where_sql, where_params = "1 = 1", []
        else:
            time_sql, time_params = _pg_time_filter(column, ranges, span)
            from_sql, from_params = f"{source} AS {alias}", []
            where_sql = f"{span_sql} AND {time_sql}{conditions}"
            where_params = time_params + condition_params
    keys = [f"{label} AS label"] + [f"{alias}.{dim} AS d{i}" for i, dim in enumerate(dims)]
    if span:
        # Rollup rows are left to the outer GROUP BY. Summing them here as well was measured
        # slower: PostgreSQL then planned a branch like the 130 k user-day rows of the site
        # dashboard's top keys as a parallel sequential scan with a sort (415 vs 184 ms).
        select = ", ".join(keys + [f"{e} AS m{i}" for i, e in enumerate(expressions)])
        group_sql = ""
    else:
        # Raw logs are many per output bucket (a heavy user's half-hour edges: 30 k logs in a
        # month of Kolkata days): summed here first, so that the outer GROUP BY and ORDER BY
        # sort a few rows per group instead of every log.
        sign = "-" if subtract else ""
        select = ", ".join(
            keys + [f"{sign}{aggregate}({e}) AS m{i}" for i, e in enumerate(expressions)]
        )
        group_sql = " GROUP BY " + ", ".join(str(n) for n in range(1, len(keys) + 1))
    return (
        f"SELECT {select} FROM {from_sql} WHERE {where_sql}{group_sql}",  # noqa: S608
        label_params + from_params + where_params,
    )


def _statement(
    vendor: str,
    tables: dict[int, str],
    rolled: list[Piece],
    raw: list[Piece],
    minus: list[Piece],
    where: UsageFilter,
    group_by: Sequence[str],
    measures: Sequence[str],
    *,
    bucketed: bool,
    aggregate: str = "SUM",
) -> tuple[str, list[Any]]:
    """One SELECT summing `measures`, per output bucket and `group_by` values, over the rollup
    rows of `rolled` (one UNION ALL branch per span, from `tables[span]`) and the logs of
    `raw`, less the logs of `minus`; the bucket is selected when `bucketed`. `aggregate`: see
    `_saturating_fetch`."""
    dims = [f'"{name}"' for name in group_by]
    summed = list(measures)
    if minus and "requests" not in summed:
        summed.append("requests")  # for the HAVING below, not selected
    by_source: dict[int, list[Piece]] = {}
    for piece in [*rolled, *raw]:
        by_source.setdefault(piece[0], []).append(piece)
    branches: list[str] = []
    params: list[Any] = []
    for span, chosen in sorted(by_source.items(), reverse=True):
        source = tables[span] if span else Log._meta.db_table
        sql, branch_params = _branch(
            vendor, source, chosen, where, dims, summed, aggregate=aggregate
        )
        branches.append(sql)
        params += branch_params
    having = ""
    if minus:
        sql, branch_params = _branch(
            vendor, Log._meta.db_table, minus, where, dims, summed, subtract=True,
            aggregate=aggregate,
        )  # fmt: skip
        branches.append(sql)
        params += branch_params
        # A group whose logs all lie past the end nets to zero: it has no log in the range.
        having = f" HAVING {aggregate}(m{summed.index('requests')}) > 0"
    keys = ["label"] + [f"d{i}" for i in range(len(dims))]
    sums = [_total(vendor, aggregate, f"m{i}") for i in range(len(measures))]
    union = " UNION ALL ".join(branches)
    # Code-point order for text, whatever the database's collation (SQLite's is binary).
    collate = ' COLLATE "C"' if vendor == "postgresql" else ""
    order = ", ".join(
        ["label"]
        + [f"d{i}{collate if name in TEXT_DIMENSIONS else ''}" for i, name in enumerate(group_by)]
    )
    columns = ", ".join((keys if bucketed else keys[1:]) + sums)
    return (
        f"SELECT {columns} FROM ({union}) AS u "  # noqa: S608
        f"GROUP BY {', '.join(keys)}{having} ORDER BY {order}",
        params,
    )


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


def _total(vendor: str, aggregate: str, column: str) -> str:
    """The outer sum of `column` as a BIGINT, saturating at 2^63 - 1 (see _saturating_fetch):
    PostgreSQL sums bigints into a numeric, which only the cast could refuse. (Not LEAST: it
    ignores NULL, the sum of no rows.)"""
    total = f"{aggregate}({column})"
    if vendor == "postgresql":
        return f"CAST(CASE WHEN {total} > {MAX_SUM} THEN {MAX_SUM} ELSE {total} END AS BIGINT)"
    return f"CAST({total} AS BIGINT)"


def _saturating_fetch(
    connection: BaseDatabaseWrapper, build: Callable[[str], tuple[str, list[Any]]]
) -> list[tuple[Any, ...]]:
    """The rows of the statement `build(aggregate)` makes with SUM as its aggregate.

    Events within the ingest bounds keep every sum below 2^63 (docs/ingest.md, "Bounds"); only
    data stored before the bounds can pass it. PostgreSQL's sums then saturate (`_total`).
    SQLite refuses such a SUM of integers ("integer overflow"): the statement runs again with
    TOTAL, SQLite's floating-point sum, whose cast saturates at 2^63 - 1, so a page over such
    data shows a number instead of an error (exact below 2^53; verify_usage names the rows)."""
    sql, params = build("SUM")
    with connection.cursor() as cursor:
        try:
            cursor.execute(sql, params)
        except OperationalError as exc:
            if connection.vendor != "sqlite" or "integer overflow" not in str(exc):
                raise
            cursor.execute(*build("TOTAL"))
        return cursor.fetchall()


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


# --- The log stat ------------------------------------------------------------------------------
# GET /api/log/stat, /api/log/self/stat and the dashboard's log pages (docs/logs-api.md, Stat).

# Ranges are clipped here (an unbounded end, or end_timestamp up to the bigint maximum):
# ingest refuses created_at past now + 5 minutes, and a rollup bucket after it still fits a
# bigint.
_LAST_SECOND = 2**62
# The marks this process last saw in the database (logs.retention); see _log_sum.
_marks_seen = RetentionMarks()


def usage_log_stat(*, filters: LogFilter, now: int) -> LogStat:
    """new-api's stat line for `filters`, counting what the LOGS hold (API.md section 3).

    `quota`: SUM(quota) of the consume logs (type 2) the other filters select: `filters.type`
    is ignored, as new-api ignores it. `rpm`/`tpm`: the number of those logs, and their prompt
    + completion tokens, with `created_at >= now - 60` (Unix seconds), ignoring start/end.

    The quota is exact and its cost does not grow with the range: every filter but
    `request_id` is one the rollups keep (user, username and model exact or `%` pattern, token
    name, channel, group), so it is read like `usage_rows` (whole rollup buckets, raw
    logs at the unaligned edges), but only from `retention_marks().since` on: before that
    instant logs or rollup rows were deleted, and the raw logs left there are summed instead,
    in the same statement. A filter set no rollup table keeps whole (a user and a group) reads
    raw logs in that statement; a request id sums the raw logs (`logs.selectors.logs_quota`).

    Queries: the quota statement (which also reads the marks, in its own snapshot; once more
    when the marks moved since this process last looked) and the rates."""
    typed = logs_stat_filter(filters)
    where = _log_usage_filter(typed)
    quota = None if where is None else _log_sum(typed, where, now, "quota")
    if quota is None:
        quota = logs_quota(filters=typed)
    rpm, tpm = logs_rates(filters=typed, now=now)
    return LogStat(quota=quota, rpm=rpm, tpm=tpm)


def usage_log_count(*, filters: LogFilter, now: int, cap: int = TOTAL_CAP) -> tuple[int, bool]:
    """`logs.selectors.logs_count` (how many logs `filters` selects, capped: (cap, True) past
    `cap`) read like the stat's quota: from the rollups after the retention marks, raw logs
    before them and at the edges, so the cost does not grow with the matches. A request id
    counts the raw logs. Pass it to `logs_page` as `counted`.

    At 10 M logs, the busiest user and a model it never called over a year: an index walk of
    the user's million logs (140 ms) before, one rollup statement now (docs/scaling.md)."""
    where = _log_usage_filter(filters)
    if filters.token_name and filters.user_id is None:
        # Site-wide by token name: usage_user has no index leading with it (every day row of
        # the range would be read), while logs_token_created_id stops at cap + 1 entries.
        where = None
    counted = None if where is None else _log_sum(filters, where, now, "requests")
    if counted is None:
        return logs_count(filters=filters, cap=cap)
    return (cap, True) if counted > cap else (counted, False)


def _log_usage_filter(filters: LogFilter) -> UsageFilter | None:
    """`filters` in rollup terms (a type of 0: every type); None when some filter is one the
    rollups do not keep (a request id)."""
    if filters.request_id:
        return None

    def exact(value: str) -> str | None:
        return value if value and "%" not in value else None

    def pattern(value: str) -> str | None:
        return value if "%" in value else None

    return UsageFilter(
        user_id=filters.user_id,
        username=exact(filters.username),
        username_pattern=pattern(filters.username),
        token_name=filters.token_name or None,
        model_names=(filters.model_name,) if exact(filters.model_name) else None,
        model_pattern=pattern(filters.model_name),
        channel_id=filters.channel_id or None,
        group=filters.group or None,
        types=(filters.type,) if filters.type else (),
    )


def _log_sum(filters: LogFilter, where: UsageFilter, now: int, measure: str) -> int | None:
    """SUM(`measure`) (a name of MEASURES: "quota", or "requests" to count) over [start, end]
    from the rollups after the marks and the raw logs before.

    The split point comes from the marks this process saw last; the statement reads the marks
    again in its own snapshot, and if they moved (a deletion started meanwhile), it runs again
    with them. None if they keep moving (the caller then sums the raw logs in one statement)."""
    global _marks_seen
    start = min(filters.start or 0, _LAST_SECOND)  # ingest refuses created_at < 0
    end = min(filters.end or _LAST_SECOND, _LAST_SECOND)
    alias = router.db_for_read(Log)
    connection = connections[alias]
    for _ in range(3):
        since = _marks_seen.since
        build = partial(
            _log_sum_statement, connection.vendor, start, end + 1, since, now, where, measure
        )
        total, logs_before, rollups_before = _saturating_fetch(connection, build)[0][:3]
        _marks_seen = RetentionMarks(logs_before or 0, rollups_before or 0)
        if _marks_seen.since == since:
            return int(total or 0)
    return None


def _log_sum_statement(
    vendor: str,
    start: int,
    stop: int,
    since: int,
    now: int,
    where: UsageFilter,
    measure: str,
    aggregate: str = "SUM",
) -> tuple[str, list[Any]]:
    """SELECT (sum of `measure` over [start, stop), logs_before, rollups_before): rollup
    buckets that start at or after `since`, raw logs for the rest. One UNION ALL branch per
    piece (a stretch of one span, or of raw logs), so that each is one index range scan: a
    branch over several stretches would scan the index from the first to the last and filter."""
    tables = {span: family.table for span, family in families_for(where.dimensions()).items()}
    terms: list[_Term] = []
    if start < since:
        terms.append(((0, start, min(stop, since), 0), 1, None))
    if max(start, since) < stop:
        cut = [(max(start, since), stop, 0)]
        rolled, raw = pieces(cut, tuple(tables)) if tables else ([], [(0, *cut[0])])
        terms += [(piece, 1, None) for piece in rolled]
        for _, lo, hi, _ in raw:
            terms += _edge_terms(lo, hi, min(tables, default=0), since, now)
    branches: list[str] = []
    params: list[Any] = []
    logs = Log._meta.db_table
    for piece, sign, gate in terms:
        source = tables[piece[0]] if piece[0] else logs
        sql, branch_params = _branch(
            vendor, source, [piece], where, [], (measure,), aggregate=aggregate
        )
        if gate is not None:
            # Evaluated once (no column in it): the branch's scan runs only if it holds.
            empty, stretches = gate
            probes = " OR ".join(
                [f"EXISTS (SELECT 1 FROM {logs} WHERE created_at >= %s AND created_at < %s)"]  # noqa: S608
                * len(stretches)
            )
            # Around the branch, not inside it: a raw-log branch ends with its GROUP BY.
            sql = f"SELECT label, m0 FROM ({sql}) AS g WHERE {'NOT ' if empty else ''}({probes})"  # noqa: S608
            branch_params += [bound for stretch in stretches for bound in stretch]
        branches.append(sql if sign > 0 else f"SELECT label, -m0 AS m0 FROM ({sql}) AS n")  # noqa: S608
        params += branch_params
    union = " UNION ALL ".join(branches)
    marks = RetentionMark._meta.db_table
    # PostgreSQL: current_schema() is PARALLEL UNSAFE, so the statement is never planned in
    # parallel. Its estimate can cross the parallel threshold, and starting two workers cost
    # 5-15 ms on the 2-core benchmark machine for a statement that runs in about 1 ms.
    serial = ", current_schema()" if vendor == "postgresql" else ""
    return (
        f"SELECT (SELECT {_total(vendor, aggregate, 'm0')} FROM ({union}) AS u), "  # noqa: S608
        f"m.logs_before, m.rollups_before{serial} FROM (SELECT 1 AS one) AS o "
        f"LEFT JOIN {marks} AS m ON m.id = 1",
        params,
    )


# A piece of the stat's statement: (piece, +1 to add it or -1 to subtract it, gate). A gate
# (empty, stretches) keeps the piece only if no log (empty) or some log (not empty) lies in
# those [a, b) stretches.
_Term = tuple[Piece, int, tuple[bool, list[tuple[int, int]]] | None]


def _edge_terms(lo: int, hi: int, span: int, since: int, now: int) -> list[_Term]:
    """[lo, hi), a stretch no whole rollup bucket covers, bucket by bucket of `span` (the
    finest the tables keep; 0: none), from `since` on: either the raw logs of the stretch, or
    the bucket's rollup rows minus the raw logs of the rest of the bucket, whichever reads
    fewer seconds of logs up to `now` (none are stamped much later). So a range that ends now
    takes the current bucket from the rollups, however busy its minutes were. When the raw
    stretch is the choice, the statement still takes the rollup row instead if the rest of
    the bucket holds no log at all (a range ending at the newest log, on a database that
    stopped receiving logs): one index probe decides, in the statement's snapshot."""
    if not span:
        return [((0, lo, hi, 0), 1, None)]

    def seconds(a: int, b: int) -> int:
        return max(0, min(b, now + 1) - a)

    terms: list[_Term] = []
    at = lo
    while at < hi:
        bucket = at - at % span
        upto = min(hi, bucket + span)
        rest = [(a, b) for a, b in ((bucket, at), (upto, bucket + span)) if a < b]
        whole: Piece = (span, bucket, bucket + span, 0)
        if bucket < since:
            terms.append(((0, at, upto, 0), 1, None))
        elif sum(seconds(a, b) for a, b in rest) < seconds(at, upto):
            terms.append((whole, 1, None))
            terms += [((0, a, b, 0), -1, None) for a, b in rest]
        else:
            terms.append(((0, at, upto, 0), 1, (False, rest)))
            terms.append((whole, 1, (True, rest)))
        at = upto
    return terms


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
            return LogPage(items=[], total=0, total_is_capped=False)
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
        return LogPage(items=items, total=count_cap if capped else rolled, total_is_capped=capped)
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


def usage_complete_since() -> int | None:
    """The first UTC midnight from which the raw logs are complete, i.e. the rollups can be
    recomputed or checked from them; None when there are no logs.

    Log retention deletes the logs before some instant and leaves the rollups alone, so the
    rollups count more than the logs up to there. If any rollup row predates the oldest log's day,
    or the site rollup of that day counts more requests than the logs of that day hold, logs of
    that day were purged and only the next midnight is safe."""
    oldest = Log.objects.aggregate(oldest=models.Min("created_at"))["oldest"]
    if oldest is None:
        return None
    first_day = day_floor(oldest)
    earlier = any(
        family.model._default_manager.filter(span=family.spans[0], bucket__lt=first_day).exists()
        for family in FAMILIES
    )
    counted = SITE.model._default_manager.filter(span=DAY, bucket=first_day).aggregate(
        n=models.Sum("requests")
    )["n"]
    stored = Log.objects.filter(created_at__gte=first_day, created_at__lt=first_day + DAY).count()
    return day_ceil(oldest) if earlier or (counted or 0) > stored else first_day


def usage_rollup_end() -> int:
    """The UTC midnight after the newest log and the newest rollup row."""
    newest = Log.objects.aggregate(newest=models.Max("created_at"))["newest"] or 0
    last = max(
        (
            family.model._default_manager.aggregate(last=models.Max("bucket"))["last"] or 0
            for family in FAMILIES
        ),
        default=0,
    )
    return day_floor(max(newest, last)) + DAY


@dataclass(frozen=True, slots=True)
class RollupDifference:
    """A rollup row that disagrees with the GROUP BY over the raw logs (None: no such row)."""

    table: str
    span: int
    bucket: int
    dims: dict[str, object]
    rollup: tuple[int, ...] | None
    logs: tuple[int, ...] | None


@dataclass(slots=True)
class VerifyResult:
    since: int | None = None  # None: no logs, nothing to compare
    until: int | None = None
    rows: int = 0  # rollup rows compared
    differences: list[RollupDifference] = field(default_factory=list)
    # Logs in the range past the ingest bounds (stored before them): how many, the first ids.
    beyond_bounds: int = 0
    beyond_bounds_ids: list[int] = field(default_factory=list)


def usage_verify(*, since: int | None = None, chunk_days: int = 7) -> VerifyResult:
    """Compare every rollup row from `since` (aligned down to a UTC midnight; never before
    `usage_complete_since()`, where purged logs make the rollups legitimately larger) with a
    plain GROUP BY over the raw logs, span by span, a chunk of days at a time. Returns every
    difference: a row whose sums differ, a row the logs do not explain, a group with no row;
    and the logs of the range past the ingest bounds, which only logs stored before them can
    be (their sums may pass 2^63: computed exactly all the same, so that they are reported;
    such rollup rows are saturated, or floats that older SQLite ingests made of them)."""
    result = VerifyResult()
    safe = usage_complete_since()
    if safe is None:
        return result
    start = safe if since is None else max(safe, day_floor(since))
    end = usage_rollup_end()
    result.since, result.until = start, end
    step = max(1, chunk_days) * DAY
    alias = router.db_for_read(Log)
    result.beyond_bounds, result.beyond_bounds_ids = logs_beyond_bounds(start=start, end=end)
    split = connections[alias].vendor == "sqlite"
    with connections[alias].cursor() as cursor:
        for family in FAMILIES:
            # Rows of a span the family does not keep: nothing writes them, nothing reads them.
            spans = ", ".join(str(span) for span in family.spans)
            cursor.execute(
                f"SELECT {quoted(family.columns)} FROM {family.table} "  # noqa: S608
                f"WHERE span NOT IN ({spans})"
            )
            width = len(family.dims)
            for record in cursor.fetchall():
                result.differences.append(
                    RollupDifference(
                        table=family.table,
                        span=int(record[0]),
                        bucket=int(record[1]),
                        dims=dict(zip(family.dims, record[2 : 2 + width], strict=True)),
                        rollup=tuple(record[2 + width :]),
                        logs=None,
                    )
                )
        for lo in range(start, end, step):
            hi = min(lo + step, end)
            for family in FAMILIES:
                width = len(family.dims)
                expected: dict[tuple[Any, ...], tuple[int, ...]] = {}
                for span in family.spans:
                    cursor.execute(select_from_logs(family, span, split=split), [lo, hi])
                    for record in cursor.fetchall():
                        key = tuple(record[: 2 + width])
                        sums = record[2 + width :]
                        expected[key] = (
                            split_join(sums) if split else tuple(int(value) for value in sums)
                        )
                cursor.execute(
                    f"SELECT {quoted(family.columns)} FROM {family.table} "  # noqa: S608
                    f"WHERE {in_range(family)}",
                    [lo, hi],
                )
                actual: dict[tuple[Any, ...], tuple[int, ...]] = {
                    tuple(record[: 2 + width]): tuple(record[2 + width :])
                    for record in cursor.fetchall()
                }
                result.rows += len(actual)
                for key in sorted(expected.keys() | actual.keys(), key=repr):
                    if expected.get(key) != actual.get(key):
                        result.differences.append(
                            RollupDifference(
                                table=family.table,
                                span=int(key[0]),
                                bucket=int(key[1]),
                                dims=dict(zip(family.dims, key[2:], strict=True)),
                                rollup=actual.get(key),
                                logs=expected.get(key),
                            )
                        )
    return result
