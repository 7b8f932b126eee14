"""GET /api/log/stat (admin) and GET /api/log/self/stat (user)."""

from __future__ import annotations

import pytest
import time_machine

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
        ({"type": 5}, {"quota": 0, "rpm": 1, "tpm": 0}),
        ({"type": 6}, {"quota": 300, "rpm": 1, "tpm": 0}),
        ({"type": 2}, {"quota": 31000, "rpm": 3, "tpm": 1930}),
        ({"type": 0}, {"quota": 31000, "rpm": 3, "tpm": 1930}),
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
        ({"type": 6}, {"quota": 300, "rpm": 1, "tpm": 0}),
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
    # 1. access token + user; 2. SUM(quota); 3. COUNT and token SUM of the last 60 s
    with django_assert_num_queries(3):
        user_api.get("/api/log/self/stat", {"type": 2})
