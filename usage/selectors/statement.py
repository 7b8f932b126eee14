"""The SQL of the aggregate reads (`usage_records`, the log stat): ONE statement per read,
a UNION ALL of a branch per rollup span and of the raw logs, summed per output bucket and
dimensions (docs/aggregates.md). Each database gets its own plan shapes: literal ranges and
width_bucket() on PostgreSQL, a JSON table of pieces on SQLite."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import orjson
from django.db import OperationalError
from django.db.backends.base.base import BaseDatabaseWrapper

from logs.models import Log
from usage.buckets import Piece
from usage.rollups import (
    MAX_SUM,
    MEASURES,
    RAW_MEASURE_COLUMNS,
    RAW_MEASURES,
    USER,
    USER_TOTAL,
)

if TYPE_CHECKING:
    from usage.selectors.rows import UsageFilter


TEXT_DIMENSIONS = frozenset({"username", "token_name", "model_name", "group", "endpoint"})
# Each measure's SQL over a raw log (`logs AS l`); a rollup row holds the sum in the column of
# the same name.
RAW_MEASURE = dict(zip(MEASURES, RAW_MEASURES, strict=True))


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
