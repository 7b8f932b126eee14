"""AceData aggregate: GET /api/v1/usage/apis/aggregate/ (API.md section 6)."""

from __future__ import annotations

import pytest

from tests.factories import log_event
from tests.usage.conftest import at

NOW = at("2025-03-10T12:00:00Z")
PATH = "/api/v1/usage/apis/aggregate/"


@pytest.fixture
def frozen(time_machine):
    time_machine.move_to(NOW, tick=False)


@pytest.fixture
def logs(ingest, frozen):
    chat, responses = "/v1/chat/completions", "/v1/responses"
    ingest(
        [
            log_event(
                created_at=at("2025-03-09T20:00:00Z"),
                model_name="gpt-4",
                quota=250000,
                endpoint=chat,
                token_id=1,
            ),
            log_event(
                created_at=at("2025-03-09T21:00:00Z"),
                model_name="gpt-4",
                quota=125000,
                endpoint=chat,
                token_id=2,
            ),
            log_event(
                created_at=at("2025-03-10T01:00:00Z"),
                model_name="gpt-4",
                quota=50000,
                endpoint=responses,
                token_id=1,
            ),
            log_event(
                created_at=at("2025-03-10T02:00:00Z"),
                model_name="claude",
                quota=100000,
                endpoint="",
                token_id=1,
            ),
            log_event(
                created_at=at("2025-03-01T00:00:00Z"),
                model_name="claude",
                quota=500000,
                endpoint="/v1/messages",
                token_id=2,
            ),
            # not usage: an error log, and another user's log
            *[
                log_event(
                    created_at=at("2025-03-10T03:00:00Z"),
                    type=5,
                    model_name="gpt-4",
                    quota=999,
                    endpoint="/v1/embeddings",
                )
                for _ in range(3)
            ],
            *[
                log_event(
                    created_at=at("2025-03-10T03:00:00Z"),
                    user_id=1001,
                    username="user1001",
                    model_name="gpt-4",
                    quota=5,
                    endpoint="/v1/other",
                )
                for _ in range(3)
            ],
        ]
    )


def get(client, params=None):
    return client.get(PATH, params or {}, new_api_user=False)


def test_default_is_the_last_30_days_whole_json(user_api, logs):
    response = get(user_api)

    assert response.status_code == 200
    assert response.json() == {
        "results": [
            {"date": "2025-03-01", "api_id": "claude", "amount": 1.0},
            {"date": "2025-03-09", "api_id": "gpt-4", "amount": 0.75},
            {"date": "2025-03-10", "api_id": "claude", "amount": 0.2},
            {"date": "2025-03-10", "api_id": "gpt-4", "amount": 0.1},
        ],
        "total": 2.05,
        "api_map": {
            # claude's only named path; gpt-4's most used one (2 chat calls against 1)
            "claude": {"name": "claude", "path": "/v1/messages"},
            "gpt-4": {"name": "gpt-4", "path": "/v1/chat/completions"},
        },
    }


def test_dates_are_calendar_days_of_a_half_hour_zone(user_api, logs):
    results = get(user_api, {"timezone": "Asia/Kolkata"}).json()["results"]

    assert results == [
        {"date": "2025-03-01", "api_id": "claude", "amount": 1.0},
        {"date": "2025-03-10", "api_id": "claude", "amount": 0.2},
        {"date": "2025-03-10", "api_id": "gpt-4", "amount": 0.85},
    ]


def test_dates_across_a_dst_change(user_api, logs):
    # New York: 20:00Z..02:00Z on 03-09/10 are all the evening of 03-09 (EDT, UTC-4).
    results = get(user_api, {"timezone": "America/New_York"}).json()["results"]

    assert results == [
        {"date": "2025-02-28", "api_id": "claude", "amount": 1.0},
        {"date": "2025-03-09", "api_id": "claude", "amount": 0.2},
        {"date": "2025-03-09", "api_id": "gpt-4", "amount": 0.85},
    ]


def test_api_id_is_repeatable(user_api, logs):
    one = get(user_api, {"api_id": "gpt-4"}).json()
    both = user_api.client.get(
        f"{PATH}?api_id=gpt-4&api_id=claude&api_id=", headers=user_api.headers(False)
    ).json()

    assert [r["api_id"] for r in one["results"]] == ["gpt-4", "gpt-4"]
    assert list(one["api_map"]) == ["gpt-4"]
    assert one["total"] == 0.85
    assert both["total"] == 2.05


def test_application_id_selects_one_key(user_api, logs):
    response = get(user_api, {"application_id": 2})

    assert response.json() == {
        "results": [
            {"date": "2025-03-01", "api_id": "claude", "amount": 1.0},
            {"date": "2025-03-09", "api_id": "gpt-4", "amount": 0.25},
        ],
        "total": 1.25,
        "api_map": {
            "claude": {"name": "claude", "path": "/v1/messages"},
            "gpt-4": {"name": "gpt-4", "path": "/v1/chat/completions"},
        },
    }


def test_bounds_are_inclusive_and_path_is_the_most_used_in_the_range(user_api, logs):
    response = get(
        user_api,
        {"created_at_from": "2025-03-10T00:00:00Z", "created_at_to": "2025-03-10T01:00:00Z"},
    )

    assert response.json() == {
        "results": [{"date": "2025-03-10", "api_id": "gpt-4", "amount": 0.1}],
        "total": 0.1,
        "api_map": {"gpt-4": {"name": "gpt-4", "path": "/v1/responses"}},
    }


@pytest.mark.parametrize(
    ("params", "total"),
    [
        # fractions of a second round inwards
        (
            {
                "created_at_from": "2025-03-10T00:00:00Z",
                "created_at_to": "2025-03-10T00:59:59.999Z",
            },
            0,
        ),
        (
            {
                "created_at_from": "2025-03-10T01:00:00.001Z",
                "created_at_to": "2025-03-10T05:00:00Z",
            },
            0.2,
        ),
        # a bare date is its whole day in `timezone`
        ({"created_at_from": "2025-03-10", "created_at_to": "2025-03-10"}, 0.3),
        (
            {
                "created_at_from": "2025-03-10",
                "created_at_to": "2025-03-10",
                "timezone": "Asia/Kolkata",
            },
            0.3 + 0.75,
        ),
        # a naive date-time is wall time in `timezone`; an offset is honoured
        (
            {
                "created_at_from": "2025-03-10T02:00:00",
                "created_at_to": "2025-03-10T02:30:00",
                "timezone": "Asia/Kolkata",
            },
            0.25,
        ),
        (
            {
                "created_at_from": "2025-03-10T02:00:00+05:30",
                "created_at_to": "2025-03-10T02:30+05:30",
            },
            0.25,
        ),
        # a range ending mid-day: the day's result holds only what the range covers
        ({"created_at_to": "2025-03-10T01:30:00Z"}, 1.85),
        # created_at_to alone: the 30 days before it
        ({"created_at_to": "2025-03-31T00:00:01Z"}, 0.85 + 0.2),
        ({"created_at_to": "2025-03-31T00:00:00Z"}, 2.05),  # 03-01 00:00 is just inside
        ({"created_at_from": "2024-01-01T00:00:00Z", "created_at_to": "2024-12-31T23:59:59Z"}, 0),
    ],
)
def test_range_parameters(user_api, logs, params, total):
    assert get(user_api, params).json()["total"] == pytest.approx(total)


def test_empty_range_whole_json(user_api, logs, django_assert_num_queries):
    get(user_api, {"created_at_from": "2020-01-01", "created_at_to": "2020-01-31"})
    # 1. the access token with its user; 2. the daily totals per model (no rows: no paths)
    with django_assert_num_queries(2):
        response = get(user_api, {"created_at_from": "2020-01-01", "created_at_to": "2020-01-31"})

    assert response.json() == {"results": [], "total": 0.0, "api_map": {}}


def test_other_users_see_only_their_logs(other_api, logs):
    response = get(other_api)

    assert response.json() == {
        "results": [{"date": "2025-03-10", "api_id": "gpt-4", "amount": 3e-05}],
        "total": 3e-05,
        "api_map": {"gpt-4": {"name": "gpt-4", "path": "/v1/other"}},
    }


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (
            {"created_at_from": "yesterday"},
            "created_at_from: 'yesterday' is not an ISO 8601 date or date-time, "
            "e.g. 2024-08-01T00:00:00Z",
        ),
        (
            {"created_at_to": "0001-01-01T00:00:00Z"},
            "created_at_to: '0001-01-01T00:00:00Z' is out of range (years 1970..9998)",
        ),
        (
            {"created_at_to": "x" * 100},
            "created_at_to: use an ISO 8601 date or date-time, e.g. 2024-08-01T00:00:00Z",
        ),
        (
            {"created_at_from": "2025-03-10T00:00:01Z", "created_at_to": "2025-03-10T00:00:00Z"},
            "created_at_from is after created_at_to",
        ),
        (
            {"timezone": "Mars/Base"},
            "timezone: unknown timezone 'Mars/Base' (use an IANA name such as Asia/Kolkata)",
        ),
        ({"application_id": "app-1"}, "application_id: A valid integer is required."),
        (
            {"application_id": "-1"},
            "application_id: Ensure this value is greater than or equal to 0.",
        ),
        ({"api_id": "m" * 129}, "api_id.0: Ensure this field has no more than 128 characters."),
        (
            {"api_id": [f"m{i}" for i in range(101)]},
            "api_id: Ensure this field has no more than 100 elements.",
        ),
    ],
)
def test_bad_parameters_are_a_400_with_detail(user_api, frozen, params, message):
    response = get(user_api, params)

    assert response.status_code == 400
    assert response.json() == {"detail": message}


def test_query_count(user_api, logs, django_assert_num_queries):
    get(user_api)
    # 1. the access token with its user; 2. the daily totals per model (usage_rows);
    # 3. the most used endpoint per model (usage_top_endpoints)
    with django_assert_num_queries(3):
        get(user_api)
