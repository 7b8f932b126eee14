"""The log stat and count read from the rollups: GET /api/log/stat, /api/log/self/stat, the
log lists' totals and the dashboard's log pages (docs/logs-api.md, Stat)."""

from __future__ import annotations

from functools import partial
from typing import Any

from django.db import connections, router

from logs.filters import LogCursor, LogFilter
from logs.models import Log, RetentionMark
from logs.retention import RetentionMarks
from logs.selectors import (
    TOTAL_CAP,
    LogListPage,
    LogStat,
    logs_count,
    logs_page,
    logs_quota,
    logs_rates,
    logs_stat_filter,
)
from usage.buckets import Piece, pieces
from usage.rollups import (
    families_for,
)
from usage.selectors.rows import UsageFilter
from usage.selectors.statement import _branch, _saturating_fetch, _total

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


def usage_logs_page(
    *, filters: LogFilter, page: int, page_size: int, cursor: LogCursor | None, now: int
) -> LogListPage:
    """`logs.selectors.logs_page` with its total from `usage_log_count`: the log lists of the
    API and of the pages. Raises PageTooDeep as logs_page does."""
    return logs_page(
        filters=filters,
        page=page,
        page_size=page_size,
        cursor=cursor,
        counted=usage_log_count(filters=filters, now=now),
    )


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
