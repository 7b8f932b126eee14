"""The log stat (`usage_log_stat`: rollups after the retention marks, raw logs before), and the
lists' total read the same way (`usage_log_count`), equal a plain SUM over the logs the table
holds, computed here in Python from `Log.objects.values()`, whatever happened before: ingests
(with retried request ids), deletions of logs with mid-day cut-offs (`logs_delete_before`, as
DELETE /api/log/ and purge_logs do), partition drops (`partitions_drop_before`, as
manage_partitions does; nothing on SQLite), usage purges (`usage_purge`) and late logs older
than a cut-off.

Hypothesis draws the history and, after every step, a few filter sets (user scope, exact and
`%` usernames and models, token, channel, group, type, request id) with ranges bounded or not,
on bucket boundaries or a second off. Each example runs in a savepoint that is rolled back.
More examples: LOG_STAT_EXAMPLES=300 pytest -k log_stat_property."""

from __future__ import annotations

import operator
import os
import re
from datetime import UTC, datetime
from typing import Any

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from logs.events import LogEvent
from logs.filters import LogFilter
from logs.models import Log
from logs.partitions import partitions_drop_before
from logs.retention import retention_marks
from logs.services import logs_delete_before
from usage.selectors import usage_log_count, usage_log_stat
from usage.services import logs_ingest, usage_purge

pytestmark = pytest.mark.django_db

DAY = 86_400
BASE = int(datetime(2025, 3, 3, tzinfo=UTC).timestamp())  # a Monday, long past
SPAN = 6 * DAY
EXAMPLES = int(os.environ.get("LOG_STAT_EXAMPLES", "40"))
FIELDS = (
    "created_at",
    "type",
    "user_id",
    "username",
    "token_name",
    "model_name",
    "channel_id",
    "group",
    "request_id",
    "quota",
    "prompt_tokens",
    "completion_tokens",
)


class Rollback(Exception):
    """Raised at the end of an example to roll its savepoint back."""


# Each example has a few hot spots (quarter-hours, so sometimes on an hour, a day...); most
# instants (logs, range bounds, cut-offs, `now`) are near one: on it, a second off, or minutes
# off. Logs and range bounds then often share the rollup bucket where a range's unaligned edge
# is read, from raw logs or as the bucket's rollup minus the rest of the bucket.
spots = st.lists(
    st.builds(lambda quarter: BASE + quarter * 900, st.integers(0, SPAN // 900)),
    min_size=1,
    max_size=3,
)


def instants(hot: list[int]) -> st.SearchStrategy[int]:
    near = st.builds(
        operator.add,
        st.sampled_from(hot),
        st.one_of(st.sampled_from((-1, 0, 1)), st.integers(-1200, 1200)),
    )
    return st.one_of(st.integers(BASE - DAY, BASE + SPAN + DAY), near, near, near)


@st.composite
def events(draw: st.DrawFn, hot: list[int]) -> LogEvent:
    user_id = draw(st.sampled_from((1, 2, 3)))
    # User 3 logged under two names (a rename); "U2" differs from "u2" only in case.
    username = draw(st.sampled_from(("u3", "three"))) if user_id == 3 else f"u{user_id}"
    return LogEvent(
        created_at=draw(instants(hot)),
        user_id=user_id,
        username=username,
        type=draw(st.sampled_from((2, 2, 2, 2, 5, 6, 1))),
        token_id=user_id * 10 + draw(st.integers(0, 1)),
        token_name=draw(st.sampled_from(("k1", "k2", ""))),
        model_name=draw(st.sampled_from(("gpt-4o", "GPT-4o-mini", "claude", ""))),
        channel_id=draw(st.integers(0, 2)),
        group=draw(st.sampled_from(("default", "vip", ""))),
        # "r-1" and "r-2" repeat: retries, stored once.
        request_id=draw(st.sampled_from(("", "", "r-1", "r-2"))),
        quota=draw(st.integers(1, 10_000)),
        prompt_tokens=draw(st.integers(0, 500)),
        completion_tokens=draw(st.integers(0, 500)),
    )


def steps(hot: list[int]) -> st.SearchStrategy[tuple[str, Any]]:
    return st.one_of(
        st.tuples(st.just("ingest"), st.lists(events(hot), min_size=1, max_size=25)),
        st.tuples(st.just("delete logs"), instants(hot)),
        st.tuples(st.just("drop partitions"), instants(hot)),
        st.tuples(st.just("purge usage"), instants(hot)),
    )


@st.composite
def stat_filters(draw: st.DrawFn, hot: list[int]) -> LogFilter:
    admin = draw(st.booleans())
    bound = st.one_of(st.none(), instants(hot))
    start, end = draw(bound), draw(bound)
    if start is not None and end is not None and start > end:
        start, end = end, start
    return LogFilter(
        user_id=None if admin else draw(st.sampled_from((1, 2, 3))),
        start=start,
        end=end,
        type=draw(st.sampled_from((0, 0, 0, 2, 5, 6, 1))),
        username=draw(st.sampled_from(("", "", "u1", "u3", "three", "U2", "%u%"))) if admin else "",
        token_name=draw(st.sampled_from(("", "", "k1", "k2"))),
        model_name=draw(st.sampled_from(("", "", "gpt-4o", "claude", "%gpt%", "GPT-4o-mini"))),
        channel_id=draw(st.sampled_from((0, 0, 1, 2))) if admin else 0,
        group=draw(st.sampled_from(("", "", "vip", "default"))),
        request_id=draw(st.sampled_from(("", "", "", "", "r-1"))),
    )


def _text_matches(value: str, wanted: str) -> bool:
    if not wanted:
        return True
    if "%" not in wanted:
        return value == wanted
    pattern = ".*".join(re.escape(part) for part in wanted.split("%"))
    return re.fullmatch(pattern, value, flags=re.IGNORECASE | re.DOTALL) is not None


def selected(log: dict[str, Any], f: LogFilter) -> bool:
    """`f`'s filters but the time range and the type, by the contract (API.md section 3)."""
    return (
        (f.user_id is None or log["user_id"] == f.user_id)
        and _text_matches(log["username"], f.username)
        and _text_matches(log["model_name"], f.model_name)
        and (not f.token_name or log["token_name"] == f.token_name)
        and (not f.channel_id or log["channel_id"] == f.channel_id)
        and (not f.group or log["group"] == f.group)
        and (not f.request_id or log["request_id"] == f.request_id)
    )


def in_range(log: dict[str, Any], f: LogFilter) -> bool:
    return (not f.start or log["created_at"] >= f.start) and (
        not f.end or log["created_at"] <= f.end
    )


def expected_count(logs: list[dict[str, Any]], f: LogFilter, cap: int) -> tuple[int, bool]:
    """The list's (total, capped): every log the filters select (a type of 0: every type), at
    most `cap`."""
    counted = sum(
        1
        for log in logs
        if selected(log, f) and (not f.type or log["type"] == f.type) and in_range(log, f)
    )
    return (cap, True) if counted > cap else (counted, False)


def expected_stat(logs: list[dict[str, Any]], f: LogFilter, now: int) -> tuple[int, int, int]:
    """(quota, rpm, tpm) by the contract (API.md section 3), over the stored logs: consume logs
    (2) only, whatever type the filter names."""
    chosen = [log for log in logs if selected(log, f) and log["type"] == 2]
    quota = sum(log["quota"] for log in chosen if in_range(log, f))
    recent = [log for log in chosen if log["created_at"] >= now - 60]
    return (
        quota,
        len(recent),
        sum(log["prompt_tokens"] + log["completion_tokens"] for log in recent),
    )


def apply(step: tuple[str, Any]) -> None:
    action, argument = step
    if action == "ingest":
        logs_ingest(events=argument)
    elif action == "delete logs":
        logs_delete_before(before=argument, batch_size=7)
    elif action == "drop partitions":
        partitions_drop_before(before=argument)
    else:
        usage_purge(before=argument)


@hypothesis_settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_log_stat_equals_a_sum_over_the_stored_logs_whatever_was_deleted(
    settings: Any, data: st.DataObject
):
    settings.LOG_PARTITION_DAYS = 1  # on PostgreSQL, drops then take a day of logs at a time
    try:
        with transaction.atomic():
            hot = data.draw(spots, label="hot spots")
            history = data.draw(st.lists(steps(hot), min_size=1, max_size=6), label="history")
            # Start with logs; a later ingest brings logs older than a cut-off (late ones).
            first = data.draw(st.lists(events(hot), min_size=1, max_size=25))
            history = [("ingest", first), *history]
            for step in history:
                apply(step)
                logs = list(Log.objects.values(*FIELDS))
                # First the whole table (it sees any deleted log the rollups still count),
                # then drawn filters.
                checks = [(LogFilter(), BASE)]
                checks += [
                    (data.draw(stat_filters(hot)), data.draw(instants(hot))) for _ in range(3)
                ]
                for f, now in checks:
                    with CaptureQueriesContext(connection) as queries:
                        stat = usage_log_stat(filters=f, now=now)
                    assert (stat.quota, stat.rpm, stat.tpm) == expected_stat(logs, f, now), (
                        step[0],
                        retention_marks(),
                    )
                    # The quota statement (twice at most here: once more when a deletion moved
                    # the marks since this process last read them) and the rates.
                    assert len(queries) <= 3
                    # The list's total, read the same way (a small cap, to reach it).
                    for cap in (5, 10_000):
                        assert usage_log_count(filters=f, now=now, cap=cap) == expected_count(
                            logs, f, cap
                        ), (step[0], retention_marks())
            raise Rollback
    except Rollback:
        pass
