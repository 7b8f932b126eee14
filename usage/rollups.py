"""The rollup families: which dimensions each table keeps, and the bucketing every writer and
reader shares (docs/aggregates.md). Writes are in `usage.services`, reads in `usage.selectors`."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import models

from logs.events import MAX_BIGINT
from usage.buckets import DAY, HOUR, QUARTER, SPANS
from usage.models import UsageChannel, UsageSite, UsageUser, UsageUserTotal

# The sums every rollup row holds, in this order everywhere (UsageTotals' fields).
MEASURES = (
    "requests",
    "quota",
    "prompt_tokens",
    "completion_tokens",
    "cache_read_tokens",
    "cache_creation_tokens",
    "duration_ms",
    "first_token_ms",
    "first_token_count",
)

# Where every sum saturates: the BIGINT columns' and SQLite integers' maximum. Events within the
# ingest bounds never get there (logs.events.SUM_CAPACITY); only data stored before the bounds
# can (docs/ingest.md, "Bounds").
MAX_SUM = MAX_BIGINT

# The same sums over raw logs (SQL), for `logs AS l`.
RAW_MEASURES = (
    "1",
    "l.quota",
    "l.prompt_tokens",
    "l.completion_tokens",
    "l.cache_read_tokens",
    "l.cache_creation_tokens",
    "l.duration_ms",
    "COALESCE(l.first_token_ms, 0)",
    "CASE WHEN l.first_token_ms IS NULL THEN 0 ELSE 1 END",
)

# The log columns each of RAW_MEASURES reads.
RAW_MEASURE_COLUMNS = {
    "requests": (),
    "quota": ("quota",),
    "prompt_tokens": ("prompt_tokens",),
    "completion_tokens": ("completion_tokens",),
    "cache_read_tokens": ("cache_read_tokens",),
    "cache_creation_tokens": ("cache_creation_tokens",),
    "duration_ms": ("duration_ms",),
    "first_token_ms": ("first_token_ms",),
    "first_token_count": ("first_token_ms",),
}

PG_TYPES = {
    "span": "integer",
    "bucket": "bigint",
    "user_id": "bigint",
    "username": "text",
    "token_id": "bigint",
    "token_name": "text",
    "model_name": "text",
    "endpoint": "text",
    "channel_id": "bigint",
    "group": "text",
    "type": "smallint",
    **dict.fromkeys(MEASURES, "bigint"),
}


@dataclass(frozen=True)
class Family:
    """One rollup table: its dimension columns (in key order after span and bucket) and the
    spans it keeps."""

    model: type[models.Model]
    dims: tuple[str, ...]
    spans: tuple[int, ...] = SPANS

    @property
    def table(self) -> str:
        return self.model._meta.db_table

    @property
    def columns(self) -> tuple[str, ...]:
        return ("span", "bucket", *self.dims, *MEASURES)

    def covers(self, needed: Iterable[str]) -> bool:
        return set(needed) <= set(self.dims)


# Smallest first: a read uses the first family that has every dimension it filters or groups by.
#
# The site table's rows are few (models x types per bucket), so it keeps a chain of spans: with
# 3, 6 and 12 hours between the hour and the day, a calendar day of a zone whose midnight is not
# a UTC midnight takes 4-9 buckets instead of 24-27 (docs/aggregates.md), and quarter-hours
# serve the bucket edges of +05:30 and +05:45 zones, where site-wide raw logs would be many.
# The channel and user tables keep hours and UTC days only: there, quarter-hours and the extra
# spans would add nearly one row per log each, and a zone's half-hour edges are read from the
# raw logs through the user / channel index (a few rows per edge).
SITE = Family(
    UsageSite,
    ("model_name", "type"),
    spans=(QUARTER, HOUR, 3 * HOUR, 6 * HOUR, 12 * HOUR, 24 * HOUR),
)
CHANNEL = Family(UsageChannel, ("channel_id", "group", "model_name", "type"), spans=(HOUR, DAY))
# One row per user and UTC day (and type): the day part of reads by user that need no key or
# model, where usage_user holds one row per key, model and endpoint.
USER_TOTAL = Family(UsageUserTotal, ("user_id", "username", "type"), spans=(24 * HOUR,))
USER = Family(
    UsageUser,
    ("user_id", "username", "token_id", "token_name", "model_name", "endpoint", "type"),
    spans=(HOUR, 24 * HOUR),
)
FAMILIES = (SITE, CHANNEL, USER_TOTAL, USER)


def families_for(needed: Iterable[str]) -> dict[int, Family]:
    """For each span some table covering `needed` keeps, the smallest such table; empty when no
    table has every dimension (the read then uses the raw logs)."""
    wanted = set(needed)
    chosen: dict[int, Family] = {}
    for family in FAMILIES:
        if family.covers(wanted):
            for span in family.spans:
                chosen.setdefault(span, family)
    return dict(sorted(chosen.items()))


def day_floor(ts: int) -> int:
    return ts - ts % DAY


def day_ceil(ts: int) -> int:
    return -(-ts // DAY) * DAY


def quoted(names: Iterable[str]) -> str:
    return ", ".join(f'"{name}"' for name in names)


# The summed log columns of MEASURES (between the two counts), as select_from_logs sums them.
_LOG_SUMS = (
    "quota",
    "prompt_tokens",
    "completion_tokens",
    "cache_read_tokens",
    "cache_creation_tokens",
    "duration_ms",
    "COALESCE(first_token_ms, 0)",
)
SPLIT = 2**32


def select_from_logs(family: Family, span: int, *, split: bool = False) -> str:
    """SELECT of `family`'s rows at `span` from the logs with %s <= created_at < %s: the same
    bucketing as the ingest path (usage.buckets.bucket_of; created_at >= 0).

    `split`: each sum comes as two, of the values' high and low parts (`x / SPLIT` and
    `x % SPLIT`; `split_join` makes MEASURES of them), which cannot overflow even where the
    logs' sum passes 2^63 (logs stored before the ingest bounds; verify_usage on SQLite, whose
    SUM refuses that, where PostgreSQL's numeric sum is exact)."""
    dims = quoted(family.dims)
    if split:
        sums = ", ".join(f"SUM({e} / {SPLIT}), SUM({e} %% {SPLIT})" for e in _LOG_SUMS)
    else:
        sums = ", ".join(f"SUM({e})" for e in _LOG_SUMS)
    return (
        f"SELECT {span}, created_at - created_at %% {span}, {dims}, COUNT(*), {sums}, "  # noqa: S608
        "COUNT(first_token_ms) FROM logs WHERE created_at >= %s AND created_at < %s "
        f"GROUP BY created_at - created_at %% {span}, {dims}"
    )


def split_join(values: Sequence[Any]) -> tuple[int, ...]:
    """MEASURES from the values of `select_from_logs(..., split=True)` after its keys."""
    count, *halves, counted = values
    pairs = zip(halves[::2], halves[1::2], strict=True)
    return (int(count), *(int(high) * SPLIT + int(low) for high, low in pairs), int(counted))


def select_coarser(family: Family, finer: int, span: int) -> str:
    """SELECT of `family`'s rows at `span` summed from its own rows at the finer span, with
    %s <= bucket < %s (both multiples of `span`)."""
    dims = quoted(family.dims)
    sums = ", ".join(f"SUM({name})" for name in MEASURES)
    return (
        f"SELECT {span}, bucket - bucket %% {span}, {dims}, {sums} "  # noqa: S608
        f"FROM {family.table} WHERE span = {finer} AND bucket >= %s AND bucket < %s "
        f"GROUP BY bucket - bucket %% {span}, {dims}"
    )


def in_range(family: Family) -> str:
    """WHERE clause for every row of `family` with %s <= bucket < %s (uses the span-bucket
    index of every table)."""
    spans = ", ".join(str(span) for span in family.spans)
    return f"span IN ({spans}) AND bucket >= %s AND bucket < %s"
