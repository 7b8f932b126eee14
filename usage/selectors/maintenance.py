"""Maintenance reads: from where the raw logs are complete, where the rollups end, and the
comparison of every rollup row with a GROUP BY over the raw logs (`verify_usage`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db import connections, models, router

from logs.models import Log
from logs.selectors import (
    logs_beyond_bounds,
)
from usage.rollups import (
    DAY,
    FAMILIES,
    SITE,
    day_ceil,
    day_floor,
    in_range,
    quoted,
    select_from_logs,
    split_join,
)


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
