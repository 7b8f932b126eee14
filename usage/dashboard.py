"""What the dashboard pages show, built from the usage selectors (the same ones the API
calls, so a number on a page equals the API's for the same filter).

Queries: one bucketed query grouped by model (cards, the three per-model charts and the token
classes all derive from it), one grouped by API key, one for the live last-60-seconds rate."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.conf import settings

from accounts.models import Channel
from logs.models import LogType
from usage.forms import Window
from usage.money import quota_to_money
from usage.selectors import UsageFilter, UsageRow, UsageTotals, usage_rows, usage_totals

TOP_MODELS = 8  # series per chart; the rest are summed into "Other"
TOP_KEYS = 10
OTHER = "Other"
LIVE_SECONDS = 60


@dataclass(slots=True)
class Cards:
    totals: UsageTotals
    minutes: float  # elapsed minutes of the range (its future part does not count)
    live: UsageTotals

    @property
    def quota_money(self) -> Decimal:
        return quota_to_money(self.totals.quota)

    @property
    def avg_rpm(self) -> float:
        return self.totals.requests / self.minutes if self.minutes else 0.0

    @property
    def avg_tpm(self) -> float:
        return self.totals.token_used / self.minutes if self.minutes else 0.0

    @property
    def avg_latency_ms(self) -> float | None:
        if not self.totals.requests:
            return None
        return self.totals.duration_ms / self.totals.requests

    @property
    def avg_first_token_ms(self) -> float | None:
        if not self.totals.first_token_count:
            return None
        return self.totals.first_token_ms / self.totals.first_token_count

    @property
    def cache_tokens(self) -> int:
        return self.totals.cache_read_tokens + self.totals.cache_creation_tokens


@dataclass(slots=True)
class KeyRow:
    token_id: int
    token_name: str
    totals: UsageTotals

    @property
    def quota_money(self) -> Decimal:
        return quota_to_money(self.totals.quota)


@dataclass(slots=True)
class Dashboard:
    window: Window
    cards: Cards
    keys: list[KeyRow]
    charts: dict[str, object] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return self.cards.totals.requests == 0


def bucket_label(start: int, window: Window, with_year: bool) -> str:
    moment = datetime.fromtimestamp(start, window.tz)
    if window.granularity == "hour":
        return moment.strftime("%Y-%m-%d %H:%M" if with_year else "%m-%d %H:%M")
    return moment.strftime("%Y-%m-%d" if with_year else "%m-%d")


def dashboard_build(*, window: Window, where: UsageFilter, now: int) -> Dashboard:
    """Cards, zero-filled chart series (one point per bucket of the window, in its zone) and
    the top API keys, for the logs matching `where` in the window."""
    rows = usage_rows(
        start=window.start,
        end=window.end,
        where=where,
        group_by=("model_name",),
        granularity=window.granularity,
        tz=window.tz,
    )
    totals = UsageTotals()
    per_model: dict[str, UsageTotals] = defaultdict(UsageTotals)
    for row in rows:
        totals.add(row.totals)
        per_model[str(row.dims["model_name"])].add(row.totals)

    elapsed = min(window.end, now) - window.start + 1
    live = usage_totals(start=now - LIVE_SECONDS + 1, end=now, where=where)
    cards = Cards(totals=totals, minutes=max(elapsed, 0) / 60, live=live)

    key_rows = usage_rows(
        start=window.start, end=window.end, where=where, group_by=("token_id", "token_name")
    )
    key_rows.sort(key=lambda r: (-r.totals.quota, -r.totals.requests, str(r.dims["token_name"])))
    keys = [
        KeyRow(int(str(r.dims["token_id"])), str(r.dims["token_name"]), r.totals)
        for r in key_rows[:TOP_KEYS]
    ]

    dashboard = Dashboard(window=window, cards=cards, keys=keys)
    dashboard.charts = _chart_data(window, rows, per_model)
    return dashboard


def _chart_data(
    window: Window, rows: list[UsageRow], per_model: dict[str, UsageTotals]
) -> dict[str, object]:
    buckets = window.buckets
    index = {start: i for i, start in enumerate(buckets)}
    ranked = sorted(per_model, key=lambda m: (-per_model[m].quota, -per_model[m].requests, m))
    shown = ranked[:TOP_MODELS]
    if len(ranked) > TOP_MODELS:
        shown.append(OTHER)
    series = {name: i for i, name in enumerate(shown)}
    width = len(buckets)
    quota = [[0] * width for _ in shown]
    requests = [[0] * width for _ in shown]
    token_classes = {
        "prompt": [0] * width,
        "completion": [0] * width,
        "cache_read": [0] * width,
        "cache_creation": [0] * width,
    }
    for row in rows:
        position = index.get(row.bucket) if row.bucket is not None else None
        if position is None:  # cannot happen: rows are bucketed like the window
            continue
        model = str(row.dims["model_name"])
        line = series.get(model, series.get(OTHER))
        if line is not None:
            quota[line][position] += row.totals.quota
            requests[line][position] += row.totals.requests
        token_classes["prompt"][position] += row.totals.prompt_tokens
        token_classes["completion"][position] += row.totals.completion_tokens
        token_classes["cache_read"][position] += row.totals.cache_read_tokens
        token_classes["cache_creation"][position] += row.totals.cache_creation_tokens
    share = [sum(line) for line in requests]
    with_year = (
        datetime.fromtimestamp(window.start, window.tz).year
        != datetime.fromtimestamp(window.end, window.tz).year
    )
    return {
        "granularity": window.granularity,
        "buckets": buckets,
        "labels": [bucket_label(start, window, with_year) for start in buckets],
        "models": [name or "(no model)" for name in shown],
        "quota": quota,
        "requests": requests,
        "tokens": token_classes,
        "share": share,
        "quota_per_unit": settings.QUOTA_PER_UNIT,
    }


@dataclass(slots=True)
class Breakdown:
    """One row of a per-user, per-channel or per-group table."""

    key: object
    label: str
    totals: UsageTotals

    @property
    def quota_money(self) -> Decimal:
        return quota_to_money(self.totals.quota)


@dataclass(slots=True)
class ErrorRate:
    model: str
    requests: int  # consume logs
    errors: int  # error logs (type 5)

    @property
    def rate(self) -> float:
        total = self.requests + self.errors
        return self.errors / total if total else 0.0


@dataclass(slots=True)
class SiteDashboard:
    base: Dashboard
    users: list[Breakdown]
    channels: list[Breakdown]
    groups: list[Breakdown]
    errors: list[ErrorRate]


TOP_USERS = 10


def _ranked(rows: Mapping[Any, Breakdown]) -> list[Breakdown]:
    return sorted(rows.values(), key=lambda b: (-b.totals.quota, -b.totals.requests, b.label))


def site_dashboard_build(*, window: Window, where: UsageFilter, now: int) -> SiteDashboard:
    """The dashboard of every user (or of `where.username`), plus top users by quota, the
    per-channel and per-group breakdowns and the error rate of each model (error logs over
    consume + error logs)."""
    base = dashboard_build(window=window, where=where, now=now)
    start, end = window.start, window.end

    users: dict[object, Breakdown] = {}
    for row in usage_rows(start=start, end=end, where=where, group_by=("user_id", "username")):
        user_id = row.dims["user_id"]
        entry = users.setdefault(
            user_id, Breakdown(user_id, str(row.dims["username"]), UsageTotals())
        )
        entry.totals.add(row.totals)  # a renamed user has one row per name in the logs

    channels: dict[int, Breakdown] = {}
    groups: dict[str, Breakdown] = {}
    for row in usage_rows(start=start, end=end, where=where, group_by=("channel_id", "group")):
        channel_id, group = int(str(row.dims["channel_id"])), str(row.dims["group"])
        channels.setdefault(channel_id, Breakdown(channel_id, "", UsageTotals())).totals.add(
            row.totals
        )
        groups.setdefault(group, Breakdown(group, group or "(none)", UsageTotals())).totals.add(
            row.totals
        )
    names = dict(Channel.objects.filter(id__in=list(channels)).values_list("id", "name"))
    for channel_id, channel in channels.items():
        name = names.get(channel_id, "")
        channel.label = f"#{channel_id} {name}".strip() if channel_id else "(no channel)"

    by_model: dict[str, ErrorRate] = {}
    errors_where = replace(where, types=(LogType.CONSUME, LogType.ERROR))
    for row in usage_rows(
        start=start, end=end, where=errors_where, group_by=("model_name", "type")
    ):
        model = str(row.dims["model_name"])
        rate = by_model.setdefault(model, ErrorRate(model or "(no model)", 0, 0))
        if row.dims["type"] == LogType.ERROR:
            rate.errors += row.totals.requests
        else:
            rate.requests += row.totals.requests
    errors = sorted(by_model.values(), key=lambda e: (-e.rate, -e.errors, e.model))

    top_users = _ranked(users)[:TOP_USERS]
    base.charts["users"] = {
        "labels": [u.label for u in top_users],
        "quota": [u.totals.quota for u in top_users],
    }
    return SiteDashboard(
        base=base,
        users=top_users,
        channels=_ranked(channels),
        groups=_ranked(groups),
        errors=errors,
    )
