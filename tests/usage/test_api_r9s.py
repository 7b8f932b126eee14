"""r9s.ai usage: GET /api/v1/portal/management/usage (API.md section 7)."""

from __future__ import annotations

import pytest
from rest_framework.renderers import JSONRenderer

from tests.factories import log_event
from tests.usage.conftest import AnyUuid, at

NOW = at("2025-03-10T12:00:00Z")
PATH = "/api/v1/portal/management/usage"
WEEK = {"start_time": 1735689600, "end_time": 1736294400}  # the seed's example range


@pytest.fixture
def frozen(time_machine):
    time_machine.move_to(NOW, tick=False)


@pytest.fixture
def logs(ingest, frozen):
    ingest(
        [
            log_event(
                created_at=at("2025-01-01T10:00:00Z"),
                model_name="gpt-4o-mini",
                prompt_tokens=1000,
                completion_tokens=500,
            ),
            log_event(
                created_at=at("2025-01-02T10:00:00Z"),
                model_name="gpt-4o-mini",
                prompt_tokens=2000,
                completion_tokens=300,
            ),
            log_event(
                created_at=at("2025-01-02T23:00:00Z"),
                model_name="claude",
                prompt_tokens=10,
                completion_tokens=10,
                cache_read_tokens=5,
                cache_creation_tokens=5,
            ),
            log_event(
                created_at=at("2025-01-02T23:00:00Z"),
                type=5,
                model_name="claude",
                prompt_tokens=10**6,
            ),
            log_event(
                created_at=at("2025-01-02T23:00:00Z"),
                user_id=1001,
                username="user1001",
                model_name="claude",
                prompt_tokens=10**6,
            ),
        ]
    )


def get(client, params):
    return client.get(PATH, params, new_api_user=False)


def test_records_per_day_and_model_whole_json(user_api, logs):
    response = get(user_api, WEEK)

    assert response.status_code == 200
    body = response.json()
    assert body == {
        "meta": {"code": 200, "message": "success", "request_id": AnyUuid()},
        "data": {
            "records": [
                {"timestamp": 1735689600, "tokens": 1500, "model": "gpt-4o-mini"},
                {"timestamp": 1735776000, "tokens": 30, "model": "claude"},
                {"timestamp": 1735776000, "tokens": 2300, "model": "gpt-4o-mini"},
            ],
            "total_tokens": 3830,
        },
    }
    assert response["X-Request-ID"] == body["meta"]["request_id"]
    assert get(user_api, WEEK).json()["meta"]["request_id"] != body["meta"]["request_id"]


def test_days_of_a_half_hour_zone(user_api, logs):
    records = get(user_api, {**WEEK, "timezone": "Asia/Kolkata"}).json()["data"]["records"]

    assert records == [
        {"timestamp": at("2025-01-01T00:00:00+05:30"), "tokens": 1500, "model": "gpt-4o-mini"},
        {"timestamp": at("2025-01-02T00:00:00+05:30"), "tokens": 2300, "model": "gpt-4o-mini"},
        {"timestamp": at("2025-01-03T00:00:00+05:30"), "tokens": 30, "model": "claude"},
    ]


def test_days_across_a_dst_change(user_api, ingest, frozen):
    # Berlin moves to summer time on 2025-03-30: that day starts at 23:00Z, the next at 22:00Z.
    ingest(
        [
            log_event(created_at=at("2025-03-29T22:59:59Z"), prompt_tokens=1, completion_tokens=0),
            log_event(created_at=at("2025-03-29T23:00:00Z"), prompt_tokens=2, completion_tokens=0),
            log_event(created_at=at("2025-03-30T21:59:59Z"), prompt_tokens=4, completion_tokens=0),
            log_event(created_at=at("2025-03-30T22:00:00Z"), prompt_tokens=8, completion_tokens=0),
        ]
    )
    records = get(
        user_api,
        {
            "start_time": at("2025-03-29T00:00:00Z"),
            "end_time": at("2025-04-01T00:00:00Z"),
            "timezone": "Europe/Berlin",
        },
    ).json()["data"]["records"]

    assert [(r["timestamp"], r["tokens"]) for r in records] == [
        (at("2025-03-28T23:00:00Z"), 1),
        (at("2025-03-29T23:00:00Z"), 6),
        (at("2025-03-30T22:00:00Z"), 8),
    ]


def test_a_range_starting_and_ending_mid_day(user_api, logs):
    starting = get(
        user_api, {"start_time": at("2025-01-02T12:00:00Z"), "end_time": WEEK["end_time"]}
    )
    ending = get(
        user_api, {"start_time": WEEK["start_time"], "end_time": at("2025-01-02T10:00:00Z")}
    )

    # the record is stamped with the start of its day even when the range starts later
    assert starting.json()["data"] == {
        "records": [{"timestamp": 1735776000, "tokens": 30, "model": "claude"}],
        "total_tokens": 30,
    }
    assert ending.json()["data"]["total_tokens"] == 1500 + 2300  # the end is inclusive


def test_empty_range(user_api, logs):
    response = get(user_api, {"start_time": 0, "end_time": 1000})

    assert response.json()["data"] == {"records": [], "total_tokens": 0}


def test_other_users_logs_are_invisible(other_api, logs):
    assert get(other_api, WEEK).json()["data"]["total_tokens"] == 10**6 + 50


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"end_time": 1}, "start_time: This field is required."),
        ({"start_time": 1}, "end_time: This field is required."),
        (
            {"start_time": "1.5e9", "end_time": 1},
            "invalid start_time: use an integer (Unix seconds)",
        ),
        ({"start_time": -5, "end_time": 1}, "start_time: must be >= 0 (Unix seconds)"),
        ({"start_time": 10, "end_time": 9}, "start_time is after end_time"),
        (
            {**WEEK, "timezone": "Local"},
            "timezone: unknown timezone 'Local' (use an IANA name such as Asia/Kolkata)",
        ),
    ],
)
def test_bad_parameters_are_errors_in_the_meta(user_api, frozen, params, message):
    response = get(user_api, params)

    assert response.status_code == 400
    assert response.json() == {
        "meta": {"code": 400, "message": message, "request_id": AnyUuid()},
        "data": None,
    }


def test_query_count(user_api, logs, django_assert_num_queries):
    get(user_api, WEEK)
    # 1. the access token with its user; 2. the daily totals per model (usage_rows)
    with django_assert_num_queries(2):
        get(user_api, WEEK)


def test_body_bytes_are_what_drfs_json_renderer_writes(user_api, ingest, frozen):
    ingest([log_event(created_at=at("2025-01-01T10:00:00Z"), model_name="模型\u2029x")])

    response = get(user_api, WEEK)

    body = response.json()
    assert body["data"]["records"][0]["model"] == "模型\u2029x"
    assert response.content == JSONRenderer().render(body)
    assert b"\\u2029" in response.content
