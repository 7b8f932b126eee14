"""GET /api/log/stat (admin) and GET /api/log/self/stat (user).

The quota comes from the usage rollups after the retention marks and from the raw logs before
them (docs/logs-api.md, Stat): the tests at the end delete logs and rollup rows every way the
application can and check the stat against the logs left. tests/usage/test_log_stat_property.py
does the same for random histories and filters."""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
import time_machine
from django.core.management import call_command
from django.db.models import Sum

from logs.models import Log, RetentionMark
from logs.partitions import partitions_drop_before
from logs.retention import FUTURE_BOUND
from logs.services import logs_delete_before
from tests.factories import log_event
from tests.logs.logdata import store

pytestmark = pytest.mark.django_db

NOW = 1_767_225_600  # 2026-01-01T00:00:00Z


@pytest.fixture(autouse=True)
def frozen_clock():
    with time_machine.travel(NOW, tick=False):
        yield


def consume(created_at: int, **fields):
    defaults = {"quota": 100, "prompt_tokens": 10, "completion_tokens": 5}
    return log_event(created_at=created_at, **{**defaults, **fields})


@pytest.fixture
def stat_logs(admin_api, user_api, other_api):
    return store(
        # user 1000: two recent consume logs, one old, a recent error and a recent refund
        consume(NOW - 10, quota=1000, prompt_tokens=100, completion_tokens=50),
        consume(NOW - 60, quota=2000, prompt_tokens=200, completion_tokens=80, model_name="o1"),
        consume(NOW - 61, quota=4000, prompt_tokens=400, completion_tokens=100),
        consume(NOW - 5, type=5, quota=0, prompt_tokens=0, completion_tokens=0),
        consume(NOW - 5, type=6, quota=300, prompt_tokens=0, completion_tokens=0),
        # user 1001, on channel 7 in group vip with token "ci"
        consume(
            NOW - 30,
            user_id=1001,
            username="user1001",
            quota=8000,
            prompt_tokens=1000,
            completion_tokens=500,
            channel_id=7,
            group="vip",
            token_name="ci",
            request_id="r-1001",
        ),
        consume(NOW - 86_400, user_id=1001, username="user1001", quota=16000),
    )


def test_admin_stat_sums_consume_quota_of_all_time_and_rates_of_the_last_minute(
    admin_api, stat_logs
):
    response = admin_api.get("/api/log/stat")

    assert response.status_code == 200
    assert response.json() == {
        "success": True,
        "message": "",
        # quota: every type-2 log; rpm/tpm: type-2 logs with created_at >= NOW - 60
        "data": {"quota": 31000, "rpm": 3, "tpm": 150 + 280 + 1500},
    }


def test_self_stat_counts_only_the_callers_logs(user_api, stat_logs):
    response = user_api.get("/api/log/self/stat")

    assert response.json() == {
        "success": True,
        "message": "",
        "data": {"quota": 7000, "rpm": 2, "tpm": 430},
    }


def test_self_stat_of_a_user_without_logs_is_zero(other_api, user_api):
    store(consume(NOW - 1))

    assert other_api.get("/api/log/self/stat").json()["data"] == {"quota": 0, "rpm": 0, "tpm": 0}


def test_stat_of_an_empty_table_is_zero(admin_api):
    assert admin_api.get("/api/log/stat").json()["data"] == {"quota": 0, "rpm": 0, "tpm": 0}


def test_time_range_limits_quota_but_not_the_rates(admin_api, stat_logs):
    data = admin_api.get(
        "/api/log/stat", {"start_timestamp": NOW - 61, "end_timestamp": NOW - 60}
    ).json()["data"]

    assert data == {"quota": 6000, "rpm": 3, "tpm": 1930}


def test_range_bounds_are_inclusive(admin_api, stat_logs):
    data = admin_api.get(
        "/api/log/stat", {"start_timestamp": NOW - 10, "end_timestamp": NOW - 10}
    ).json()["data"]

    assert data["quota"] == 1000


def test_rate_window_includes_exactly_sixty_seconds_back(user_api, stat_logs):
    # NOW - 60 counts, NOW - 61 does not.
    data = user_api.get("/api/log/self/stat", {"model_name": "o1"}).json()["data"]

    assert data == {"quota": 2000, "rpm": 1, "tpm": 280}


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"username": "user1001"}, {"quota": 24000, "rpm": 1, "tpm": 1500}),
        ({"username": "%1001"}, {"quota": 24000, "rpm": 1, "tpm": 1500}),
        ({"username": "user"}, {"quota": 0, "rpm": 0, "tpm": 0}),
        ({"token_name": "ci"}, {"quota": 8000, "rpm": 1, "tpm": 1500}),
        ({"model_name": "o1"}, {"quota": 2000, "rpm": 1, "tpm": 280}),
        ({"model_name": "gpt%"}, {"quota": 29000, "rpm": 2, "tpm": 1650}),
        ({"channel": 7}, {"quota": 8000, "rpm": 1, "tpm": 1500}),
        ({"group": "vip"}, {"quota": 8000, "rpm": 1, "tpm": 1500}),
        ({"request_id": "r-1001"}, {"quota": 8000, "rpm": 1, "tpm": 1500}),
        ({"start_timestamp": NOW - 100}, {"quota": 15000, "rpm": 3, "tpm": 1930}),
        ({"end_timestamp": NOW - 100}, {"quota": 16000, "rpm": 3, "tpm": 1930}),
    ],
)
def test_admin_stat_filters(admin_api, stat_logs, params, expected):
    assert admin_api.get("/api/log/stat", params).json()["data"] == expected


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"model_name": "o1"}, {"quota": 2000, "rpm": 1, "tpm": 280}),
        ({"model_name": "%4o"}, {"quota": 5000, "rpm": 1, "tpm": 150}),
        ({"token_name": "ci"}, {"quota": 0, "rpm": 0, "tpm": 0}),
        ({"group": "vip"}, {"quota": 0, "rpm": 0, "tpm": 0}),
        ({"request_id": "r-1001"}, {"quota": 0, "rpm": 0, "tpm": 0}),
        ({"start_timestamp": NOW - 60}, {"quota": 3000, "rpm": 2, "tpm": 430}),
        # users cannot widen their scope: username and channel are not read
        ({"username": "user1001"}, {"quota": 7000, "rpm": 2, "tpm": 430}),
        ({"channel": 7}, {"quota": 7000, "rpm": 2, "tpm": 430}),
    ],
)
def test_self_stat_filters(user_api, stat_logs, params, expected):
    assert user_api.get("/api/log/self/stat", params).json()["data"] == expected


@pytest.mark.parametrize("log_type", range(7))
def test_stat_counts_consume_logs_whatever_type_is_sent(admin_api, user_api, stat_logs, log_type):
    # new-api's log page sends the selected type to both stats and new-api ignores it: the
    # quota, RPM and TPM stay those of the consume logs (the error and refund logs of user 1000
    # are not counted, with type=5 or 6 neither).
    admin = admin_api.get("/api/log/stat", {"type": log_type})
    own = user_api.get("/api/log/self/stat", {"type": log_type, "model_name": "gpt-4o"})

    assert admin.json() == {
        "success": True,
        "message": "",
        "data": {"quota": 31000, "rpm": 3, "tpm": 1930},
    }
    assert own.json() == {
        "success": True,
        "message": "",
        "data": {"quota": 5000, "rpm": 1, "tpm": 150},
    }


def test_stat_ignores_the_type_with_the_other_filters_applied(admin_api, stat_logs):
    data = admin_api.get("/api/log/stat", {"type": 5, "username": "user1001"}).json()["data"]

    assert data == {"quota": 24000, "rpm": 1, "tpm": 1500}


def test_other_user_self_stat_sees_only_their_logs(other_api, stat_logs):
    data = other_api.get("/api/log/self/stat").json()["data"]

    assert data == {"quota": 24000, "rpm": 1, "tpm": 1500}


def test_admin_stat_runs_two_aggregate_queries(admin_api, stat_logs, django_assert_num_queries):
    admin_api.get("/api/log/stat")  # the first call also records the token's last use
    # 1. access token + user (authentication)
    # 2. SUM(quota) over the range and filters
    # 3. COUNT(*), SUM(prompt + completion) over created_at >= now - 60
    with django_assert_num_queries(3):
        response = admin_api.get("/api/log/stat", {"model_name": "gpt%", "channel": 7})
    assert response.json()["success"] is True


def test_self_stat_runs_two_aggregate_queries(user_api, stat_logs, django_assert_num_queries):
    user_api.get("/api/log/self/stat")
    # 1. access token + user; 2. SUM(quota) over rollups and raw edges, with the retention
    # marks; 3. COUNT and token SUM of the last 60 s
    with django_assert_num_queries(3):
        user_api.get("/api/log/self/stat", {"type": 2})


def test_admin_stat_from_the_rollups_runs_two_aggregate_queries(
    admin_api, stat_logs, django_assert_num_queries
):
    admin_api.get("/api/log/stat")
    # 1. access token + user; 2. SUM(quota) over the rollups (channel 7, model gpt-4o) and the
    # raw edges, with the retention marks; 3. COUNT and token SUM of the last 60 s
    with django_assert_num_queries(3):
        response = admin_api.get("/api/log/stat", {"model_name": "gpt-4o", "channel": 7})
    assert response.json()["data"] == {"quota": 8000, "rpm": 1, "tpm": 1500}


# --- after deletions: the stat counts what the logs hold -----------------------------------

DAY = 86_400
# Three days of logs, the last one a minute before NOW; quota 1, 10, 100, ... so that every sum
# names the logs it counts.
HISTORY: list[tuple[int, dict[str, Any]]] = [
    (NOW - 3 * DAY + 100, {}),
    (NOW - 2 * DAY - 7, {"model_name": "o1"}),
    (NOW - 2 * DAY + 5 * 3600 + 11, {}),
    (NOW - 2 * DAY + 5 * 3600 + 12, {"channel_id": 7, "model_name": "o1"}),
    (NOW - DAY + 3599, {"user_id": 1001, "username": "user1001"}),
    (NOW - 60, {}),
]
CUT = NOW - 2 * DAY + 5 * 3600 + 12  # mid-day, between the third and the fourth log


@pytest.fixture
def history(admin_api, user_api):
    store(
        *(
            consume(created_at, quota=10**index, **fields)
            for index, (created_at, fields) in enumerate(HISTORY)
        )
    )


def stored_quota(**filters) -> int:
    """The plain sum over the logs the table holds (consume logs)."""
    return Log.objects.filter(type=2, **filters).aggregate(q=Sum("quota", default=0))["q"]


STAT_QUERIES: list[dict[str, int | str]] = [
    {},
    {"start_timestamp": NOW - 3 * DAY, "end_timestamp": NOW - DAY},
    {"start_timestamp": CUT - 1, "end_timestamp": CUT},
    {"end_timestamp": NOW - 2 * DAY},
    {"model_name": "o1"},
    {"channel": 7},
]


def expected(params: dict[str, int | str]) -> int:
    filters: dict[str, int | str] = {
        "created_at__gte": params.get("start_timestamp", 0),
        "created_at__lte": params.get("end_timestamp", 2**62),
    }
    if "model_name" in params:
        filters["model_name"] = params["model_name"]
    if "channel" in params:
        filters["channel_id"] = params["channel"]
    return stored_quota(**filters)


def quotas(api, path: str = "/api/log/stat") -> list[int]:
    return [api.get(path, params).json()["data"]["quota"] for params in STAT_QUERIES]


def test_stat_after_a_mid_day_delete_counts_only_the_logs_left(admin_api, user_api, history):
    assert quotas(admin_api) == [111111, 1111, 1100, 11, 1010, 1000]

    response = admin_api.delete(f"/api/log/?target_timestamp={CUT}")

    assert response.json()["data"] == 3
    assert quotas(admin_api) == [expected(params) for params in STAT_QUERIES]
    assert quotas(admin_api) == [111000, 1000, 1000, 0, 1000, 1000]
    # user 1000's own: the fourth and the last log
    assert user_api.get("/api/log/self/stat").json()["data"]["quota"] == 101000


def test_a_late_log_older_than_the_cut_off_is_counted(admin_api, history, ingest):
    admin_api.delete(f"/api/log/?target_timestamp={CUT}")

    ingest([consume(NOW - 3 * DAY + 5, quota=7_000_000), consume(CUT - 1, quota=7)])

    assert quotas(admin_api) == [expected(params) for params in STAT_QUERIES]
    assert quotas(admin_api)[:4] == [7111007, 7001007, 1007, 7000000]


def test_a_second_delete_with_an_earlier_cut_off_keeps_the_mark(admin_api, history, ingest):
    admin_api.delete(f"/api/log/?target_timestamp={CUT}")
    ingest([consume(NOW - 3 * DAY + 5, quota=7_000_000), consume(CUT - 1, quota=7)])

    admin_api.delete(f"/api/log/?target_timestamp={NOW - 3 * DAY + 6}")

    assert RetentionMark.objects.get().logs_before == CUT
    assert quotas(admin_api) == [expected(params) for params in STAT_QUERIES]
    assert quotas(admin_api)[0] == 111007


def test_stat_after_purge_logs(admin_api, history, settings):
    settings.LOG_RETENTION_DAYS = 2

    call_command("purge_logs", stdout=StringIO())

    assert RetentionMark.objects.get().logs_before == NOW - 2 * DAY
    assert quotas(admin_api) == [expected(params) for params in STAT_QUERIES]
    assert quotas(admin_api)[0] == 111100


def test_stat_after_purge_usage_still_counts_the_logs(admin_api, history, settings):
    settings.USAGE_RETENTION_DAYS = 1

    call_command("purge_usage", stdout=StringIO())  # rollup rows of the days before NOW - DAY

    assert RetentionMark.objects.get().rollups_before == NOW - DAY
    assert quotas(admin_api) == [111111, 1111, 1100, 11, 1010, 1000]


def test_stat_after_both_purges_and_a_late_log(admin_api, history, settings, ingest):
    admin_api.delete(f"/api/log/?target_timestamp={CUT}")
    settings.USAGE_RETENTION_DAYS = 2
    call_command("purge_usage", stdout=StringIO())
    ingest([consume(NOW - 2 * DAY - 3600, quota=3), consume(NOW - DAY - 1, quota=5)])

    assert quotas(admin_api) == [expected(params) for params in STAT_QUERIES]
    assert quotas(admin_api)[0] == 111008


@pytest.mark.postgres("partitions: PostgreSQL only")
def test_stat_after_partitions_are_dropped(admin_api, history, settings):
    settings.LOG_PARTITION_DAYS = 1
    store(consume(NOW - 40 * DAY + 1, quota=5), consume(NOW - 39 * DAY + 1, quota=3))

    # Drops the daily partition of NOW - 40 days, which lies wholly before the cut-off; the
    # next one straddles it and stays (so does the fixture's 28-day one, from NOW - 10 days).
    assert partitions_drop_before(before=NOW - 39 * DAY + 3600) == 1

    # The mark is where the rows went: the dropped partition's upper bound.
    assert RetentionMark.objects.get().logs_before == NOW - 39 * DAY
    assert admin_api.get("/api/log/stat").json()["data"]["quota"] == 111111 + 3
    assert quotas(admin_api) == [expected(params) for params in STAT_QUERIES]


def test_an_interrupted_delete_has_raised_the_mark_before_deleting(admin_api, history):
    def interrupt(total: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        logs_delete_before(before=CUT, batch_size=1, on_batch=interrupt)

    assert RetentionMark.objects.get().logs_before == CUT
    assert Log.objects.count() == 5  # one batch of one log went
    assert quotas(admin_api) == [expected(params) for params in STAT_QUERIES]
    assert quotas(admin_api)[0] == 111110


def test_a_delete_far_in_the_future_caps_the_mark(admin_api, history, ingest):
    admin_api.delete(f"/api/log/?target_timestamp={NOW + 365 * DAY}")
    # Nothing stamped after NOW + 5 minutes can exist (ingest refuses it), so nothing later
    # was deleted: the stat reads the rollups again from shortly after now.
    assert RetentionMark.objects.get().logs_before == NOW + FUTURE_BOUND

    ingest([consume(NOW - 5, quota=9)])

    assert admin_api.get("/api/log/stat").json()["data"] == {"quota": 9, "rpm": 1, "tpm": 15}


def test_a_long_delete_into_the_future_keeps_its_mark_ahead_of_new_logs(admin_api, history):
    # Deleting everything before next year while ingest goes on: after two hours, a batch
    # deletes a log stamped then, past the mark the deletion started with (now + 65 minutes).
    with time_machine.travel(NOW, tick=False) as clock:

        def ingest_two_hours_later(total: int) -> None:
            if total == 2:
                clock.shift(2 * 3600)
                store(consume(NOW + 2 * 3600, quota=5))

        logs_delete_before(before=NOW + 365 * DAY, batch_size=2, on_batch=ingest_two_hours_later)

        assert Log.objects.count() == 0
        assert RetentionMark.objects.get().logs_before >= NOW + 2 * 3600 + 1
        assert admin_api.get("/api/log/stat").json()["data"]["quota"] == 0


def test_the_first_stat_after_a_delete_reads_the_new_mark(
    admin_api, history, django_assert_num_queries
):
    admin_api.get("/api/log/stat")
    logs_delete_before(before=CUT)  # in this process: the stat last saw no mark
    # 1. access token + user; 2. the quota statement, split at the old mark: the marks it reads
    # in its own snapshot differ; 3. the quota statement again, split at the new mark;
    # 4. the rates
    with django_assert_num_queries(4):
        assert admin_api.get("/api/log/stat").json()["data"]["quota"] == 111000
    with django_assert_num_queries(3):
        assert admin_api.get("/api/log/stat").json()["data"]["quota"] == 111000


def test_a_pattern_matches_the_same_logs_from_the_rollups(admin_api, user_api):
    # `_` and `\` match themselves, `%` anything, case-insensitively; the rollup rows are matched
    # with the same operator as the logs, and the hour's edge is read raw.
    store(
        consume(NOW - 2 * DAY, model_name="gpt_4o", quota=1),
        consume(NOW - 2 * DAY + 1, model_name="gpt-4o", quota=10),
        consume(NOW - DAY, model_name="GPT_4O-mini", quota=100),
        consume(NOW - 30, model_name="a\\b_4o", quota=1000),
        consume(NOW - DAY + 7, username="user1000", user_id=1000, model_name="x", quota=10_000),
    )

    def quota(path: str, **params: object) -> int:
        return admin_api.get(path, params).json()["data"]["quota"]

    assert quota("/api/log/stat", model_name="%t_4o%") == 101
    assert quota("/api/log/stat", model_name="%\\b_4%") == 1000
    assert quota("/api/log/stat", model_name="%4O", start_timestamp=NOW - 2 * DAY + 1) == 1010
    assert quota("/api/log/stat", username="%SER10%") == 11111
    assert user_api.get("/api/log/self/stat", {"model_name": "gpt%"}).json()["data"] == {
        "quota": 111,
        "rpm": 0,
        "tpm": 0,
    }


@pytest.mark.parametrize(
    ("params", "quota"),
    [
        ({"end_timestamp": 2**63 - 1}, 31000),
        ({"start_timestamp": 2**63 - 1}, 0),
        ({"start_timestamp": 2**63 - 2, "end_timestamp": 2**63 - 1}, 0),
        ({"start_timestamp": NOW - 60, "end_timestamp": 2**63 - 1, "model_name": "o1"}, 2000),
    ],
)
def test_stat_takes_bounds_up_to_the_largest_bigint(admin_api, stat_logs, params, quota):
    assert admin_api.get("/api/log/stat", params).json()["data"]["quota"] == quota
