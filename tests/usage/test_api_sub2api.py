"""sub2api usage family under /api/v1 (API.md section 5)."""

from __future__ import annotations

import pytest

from logs.models import Log
from logs.services import logs_delete_before
from tests.factories import log_event
from tests.usage.conftest import at
from usage.api import sub2api

NOW = at("2025-03-10T12:00:00Z")  # a Monday
DAY = 86400


@pytest.fixture
def frozen(time_machine):
    time_machine.move_to(NOW, tick=False)


@pytest.fixture
def logs(ingest, frozen):
    """Four consume logs of user 1000, an error log, and a log of user 1001."""
    ingest(
        [
            log_event(
                request_id="r-1",
                created_at=at("2025-03-10T11:58:00Z"),
                model_name="gpt-4o",
                token_id=1,
                token_name="key-a",
                prompt_tokens=100,
                completion_tokens=50,
                cache_read_tokens=10,
                cache_creation_tokens=5,
                quota=1000,
                duration_ms=2000,
                first_token_ms=300,
                is_stream=True,
                group="vip",
                channel_id=9,
                channel_name="secret-upstream",
                ip="10.0.0.1",
            ),
            log_event(
                request_id="r-2",
                created_at=at("2025-03-09T23:00:00Z"),  # 04:30 on 03-10 in Kolkata
                model_name="claude",
                token_id=2,
                token_name="key-b",
                prompt_tokens=200,
                completion_tokens=100,
                quota=5000,
                duration_ms=4000,
            ),
            log_event(
                request_id="r-3",
                created_at=at("2025-03-01T10:00:00Z"),
                model_name="gpt-4o",
                token_id=1,
                token_name="key-a",
                prompt_tokens=10,
                completion_tokens=5,
                quota=250,
                duration_ms=1000,
            ),
            log_event(
                request_id="r-4",
                created_at=at("2025-01-15T08:00:00Z"),
                model_name="gpt-4o",
                token_id=3,
                token_name="key-c",
                prompt_tokens=1000,
                completion_tokens=0,
                quota=500000,
                duration_ms=3000,
            ),
            log_event(
                request_id="r-5",
                type=5,
                created_at=at("2025-03-10T11:59:00Z"),
                token_id=1,
                quota=777,
                prompt_tokens=777,
            ),
            log_event(
                request_id="r-6",
                user_id=1001,
                username="user1001",
                created_at=at("2025-03-10T11:59:30Z"),
                token_id=7,
                token_name="other-key",
                quota=123456,
                prompt_tokens=5555,
            ),
        ]
    )
    return {log.request_id: log.pk for log in Log.objects.all()}


def get(client, path, params=None):
    return client.get(f"/api/v1{path}", params or {}, new_api_user=False)


def post(client, path, body, params=""):
    return client.post(f"/api/v1{path}{params}", body, new_api_user=False)


def ok(data):
    return {"code": 0, "message": "success", "data": data}


def error(status, message):
    return {"code": status, "message": message}


def request_ids(response):
    return [item["request_id"] for item in response.json()["data"]["items"]]


# --- GET /usage ----------------------------------------------------------------------------


def test_list_whole_json_newest_first_in_the_requested_zone(user_api, logs):
    response = get(user_api, "/usage", {"page_size": 2, "timezone": "Asia/Kolkata"})

    assert response.status_code == 200
    assert response.json() == ok(
        {
            "items": [
                {
                    "id": logs["r-1"],
                    "user_id": 1000,
                    "api_key_id": 1,
                    "account_id": None,
                    "request_id": "r-1",
                    "model": "gpt-4o",
                    "group_id": None,
                    "group": "vip",
                    "input_tokens": 100,
                    "output_tokens": 50,
                    "cache_creation_tokens": 5,
                    "cache_read_tokens": 10,
                    "total_cost": 0.002,
                    "actual_cost": 0.002,
                    "rate_multiplier": 1,
                    "billing_type": 0,
                    "stream": True,
                    "duration_ms": 2000,
                    "first_token_ms": 300,
                    "created_at": "2025-03-10T17:28:00+05:30",
                    "api_key": {"id": 1, "name": "key-a"},
                },
                {
                    "id": logs["r-2"],
                    "user_id": 1000,
                    "api_key_id": 2,
                    "account_id": None,
                    "request_id": "r-2",
                    "model": "claude",
                    "group_id": None,
                    "group": "default",
                    "input_tokens": 200,
                    "output_tokens": 100,
                    "cache_creation_tokens": 0,
                    "cache_read_tokens": 0,
                    "total_cost": 0.01,
                    "actual_cost": 0.01,
                    "rate_multiplier": 1,
                    "billing_type": 0,
                    "stream": False,
                    "duration_ms": 4000,
                    "first_token_ms": None,
                    "created_at": "2025-03-10T04:30:00+05:30",
                    "api_key": {"id": 2, "name": "key-b"},
                },
            ],
            "total": 4,
            "page": 1,
            "page_size": 2,
            "pages": 2,
        }
    )


def test_list_defaults_to_page_1_of_20_in_the_server_zone(user_api, logs):
    data = get(user_api, "/usage").json()["data"]

    assert (data["page"], data["page_size"], data["total"], data["pages"]) == (1, 20, 4, 1)
    assert data["items"][0]["created_at"] == "2025-03-10T11:58:00+00:00"


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"api_key_id": 1}, ["r-1", "r-3"]),
        ({"model": "claude"}, ["r-2"]),
        ({"stream": "true"}, ["r-1"]),
        ({"stream": "false"}, ["r-2", "r-3", "r-4"]),
        ({"stream": ""}, ["r-1", "r-2", "r-3", "r-4"]),
        ({"api_key_id": 1, "stream": "false"}, ["r-3"]),
        ({"start_date": "2025-03-10", "end_date": "2025-03-10"}, ["r-1"]),
        (
            {"start_date": "2025-03-10", "end_date": "2025-03-10", "timezone": "Asia/Kolkata"},
            ["r-1", "r-2"],
        ),
        ({"start_date": "2025-03-01"}, ["r-1", "r-2", "r-3"]),
        ({"end_date": "2025-03-01"}, ["r-3", "r-4"]),
        ({"start_date": "2025-02-01", "end_date": "2025-02-28"}, []),
        ({"api_key_id": 7}, []),  # another user's key: nothing of theirs shows
        ({"model": "gpt-4o' OR 1=1 --"}, []),
    ],
)
def test_list_filters(user_api, logs, params, expected):
    assert request_ids(get(user_api, "/usage", params)) == expected


def test_list_shows_only_the_callers_consume_logs(user_api, other_api, admin_api, logs):
    assert request_ids(get(other_api, "/usage")) == ["r-6"]
    assert request_ids(get(admin_api, "/usage")) == []  # admins too see only their own


def test_list_limit_is_an_alias_of_page_size(user_api, logs):
    assert get(user_api, "/usage", {"limit": 1}).json()["data"]["page_size"] == 1
    assert get(user_api, "/usage", {"limit": 1, "page_size": 3}).json()["data"]["page_size"] == 3


def test_list_page_past_the_end_is_empty(user_api, logs):
    response = get(user_api, "/usage", {"page": 9, "page_size": 2})

    assert response.json() == ok({"items": [], "total": 4, "page": 9, "page_size": 2, "pages": 2})


def test_list_second_page(user_api, logs):
    assert request_ids(get(user_api, "/usage", {"page": 2, "page_size": 3})) == ["r-4"]


def test_list_without_logs_has_one_empty_page(user_api, frozen):
    response = get(user_api, "/usage")

    assert response.json() == ok({"items": [], "total": 0, "page": 1, "page_size": 20, "pages": 1})


def test_list_total_stops_counting_at_the_cap(user_api, logs, monkeypatch):
    monkeypatch.setattr(sub2api, "COUNT_CAP", 3)

    data = get(user_api, "/usage", {"page_size": 2}).json()["data"]

    assert (data["total"], data["pages"], data["total_is_capped"]) == (3, 2, True)
    assert request_ids(get(user_api, "/usage", {"page_size": 2, "page": 2})) == ["r-3", "r-4"]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"page": 0}, "page: Ensure this value is greater than or equal to 1."),
        ({"page": "two"}, "page: A valid integer is required."),
        ({"page": 10**7}, "page: Ensure this value is less than or equal to 1000000."),
        ({"page_size": 0}, "page_size: Ensure this value is greater than or equal to 1."),
        ({"page_size": 1001}, "page_size: Ensure this value is less than or equal to 1000."),
        ({"limit": 10**12}, "limit: Ensure this value is less than or equal to 1000."),
        ({"api_key_id": -1}, "api_key_id: Ensure this value is greater than or equal to 0."),
        ({"api_key_id": "abc"}, "api_key_id: A valid integer is required."),
        ({"stream": "maybe"}, "stream: Must be a valid boolean."),
        ({"model": "m" * 129}, "model: Ensure this field has no more than 128 characters."),
        ({"model": "a\x00"}, "model: Null characters are not allowed."),
        (
            {"start_date": "2025-3-1"},
            "start_date: '2025-3-1' is not a date; use YYYY-MM-DD, e.g. 2025-01-31",
        ),
        ({"end_date": "2025-02-30"}, "end_date: '2025-02-30' is not a calendar date"),
        ({"end_date": "0001-01-01"}, "end_date: '0001-01-01' is out of range (years 1970..9998)"),
        ({"start_date": "2025-03-02", "end_date": "2025-03-01"}, "start_date is after end_date"),
        (
            {"timezone": "Nowhere/City"},
            "timezone: unknown timezone 'Nowhere/City' (use an IANA name such as Asia/Kolkata)",
        ),
    ],
)
def test_list_bad_parameters_are_a_400(user_api, frozen, params, message):
    response = get(user_api, "/usage", params)

    assert response.status_code == 400
    assert response.json() == error(400, message)


def test_list_query_count(user_api, logs, django_assert_num_queries):
    get(user_api, "/usage")
    # 1. the access token with its user; 2. the total, from the rollups; 3. the page's keys;
    # 4. its rows
    with django_assert_num_queries(4):
        assert len(request_ids(get(user_api, "/usage"))) == 4
    with django_assert_num_queries(4):
        assert len(request_ids(get(user_api, "/usage", {"page_size": 2}))) == 2


def test_list_by_stream_counts_the_logs_only_when_the_page_is_full(
    user_api, logs, django_assert_num_queries
):
    get(user_api, "/usage")
    # The rollups keep no stream flag: 1. the access token; 2. the page's keys; 3. its rows
    # (fewer than page_size: they tell the total) ...
    with django_assert_num_queries(3):
        get(user_api, "/usage", {"stream": "false"})
    # ... or 4. the bounded COUNT of the logs when the page is full.
    with django_assert_num_queries(4):
        assert len(request_ids(get(user_api, "/usage", {"stream": "false", "page_size": 1}))) == 1


def test_list_total_counts_the_logs_that_remain_after_a_deletion(user_api, logs):
    # r-3 (03-01) and r-4 (01-15) are deleted, mid-day: the rollups still count them, the
    # total must not.
    logs_delete_before(before=at("2025-03-05T12:34:56Z"))
    params = {"start_date": "2025-01-01", "end_date": "2025-03-10", "page_size": 1}

    response = get(user_api, "/usage", params)

    assert response.json()["data"]["total"] == 2
    assert request_ids(response) == ["r-1"]


def test_list_with_no_match_reads_no_rows(user_api, logs, django_assert_num_queries):
    get(user_api, "/usage")
    # 1. the access token with its user; 2. the total from the rollups, 0: no page query
    with django_assert_num_queries(2):
        body = get(user_api, "/usage", {"model": "a-model-nobody-called"}).json()
    assert (body["data"]["items"], body["data"]["total"]) == ([], 0)


# --- GET /usage/{id} -----------------------------------------------------------------------


def test_get_one_log_whole_json(user_api, logs):
    response = get(user_api, f"/usage/{logs['r-3']}", {"timezone": "America/New_York"})

    assert response.status_code == 200
    assert response.json() == ok(
        {
            "id": logs["r-3"],
            "user_id": 1000,
            "api_key_id": 1,
            "account_id": None,
            "request_id": "r-3",
            "model": "gpt-4o",
            "group_id": None,
            "group": "default",
            "input_tokens": 10,
            "output_tokens": 5,
            "cache_creation_tokens": 0,
            "cache_read_tokens": 0,
            "total_cost": 0.0005,
            "actual_cost": 0.0005,
            "rate_multiplier": 1,
            "billing_type": 0,
            "stream": False,
            "duration_ms": 1000,
            "first_token_ms": None,
            "created_at": "2025-03-01T05:00:00-05:00",
            "api_key": {"id": 1, "name": "key-a"},
        }
    )


def test_get_one_log_never_shows_the_upstream_channel_or_ip(user_api, logs):
    body = get(user_api, f"/usage/{logs['r-1']}").content.decode()

    assert "secret-upstream" not in body
    assert "10.0.0.1" not in body
    assert '"account_id":null' in body


@pytest.mark.parametrize("request_id", ["r-6", "r-5"])  # another user's; an error log
def test_get_one_log_404_when_not_the_callers_usage(user_api, logs, request_id):
    response = get(user_api, f"/usage/{logs[request_id]}")

    assert response.status_code == 404
    assert response.json() == error(404, "usage log not found")


def test_get_one_log_404_when_absent(user_api, logs):
    response = get(user_api, "/usage/987654321")

    assert response.status_code == 404
    assert response.json() == error(404, "usage log not found")


@pytest.mark.parametrize("bad", ["abc", "-1", "1.5", "99999999999999999999"])
def test_get_one_log_400_for_a_malformed_id(user_api, frozen, bad):
    response = get(user_api, f"/usage/{bad}")

    assert response.status_code == 400
    assert response.json() == error(400, f"invalid usage log id {bad!r}")


def test_get_one_log_bad_timezone(user_api, logs):
    response = get(user_api, f"/usage/{logs['r-1']}", {"timezone": "UTC+5"})

    assert response.status_code == 400
    assert response.json()["message"].startswith("timezone: unknown timezone 'UTC+5'")


def test_get_one_log_query_count(user_api, logs, django_assert_num_queries):
    get(user_api, f"/usage/{logs['r-1']}")
    # 1. the access token with its user; 2. the log (scoped to the caller)
    with django_assert_num_queries(2):
        assert get(user_api, f"/usage/{logs['r-1']}").status_code == 200


# --- GET /usage/stats ----------------------------------------------------------------------


def stats(requests, input_tokens, output_tokens, cache, quota, average):
    return ok(
        {
            "total_requests": requests,
            "total_input_tokens": input_tokens,
            "total_output_tokens": output_tokens,
            "total_cache_tokens": cache,
            "total_tokens": input_tokens + output_tokens + cache,
            "total_cost": quota / 500000,
            "total_actual_cost": quota / 500000,
            "average_duration_ms": average,
        }
    )


def test_stats_default_period_is_today_whole_json(user_api, logs):
    response = get(user_api, "/usage/stats")

    assert response.status_code == 200
    assert response.json() == ok(
        {
            "total_requests": 1,
            "total_input_tokens": 100,
            "total_output_tokens": 50,
            "total_cache_tokens": 15,
            "total_tokens": 165,
            "total_cost": 0.002,
            "total_actual_cost": 0.002,
            "average_duration_ms": 2000.0,
        }
    )


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        # today in Kolkata started at 18:30Z on 03-09, so it holds r-2 too
        ({"timezone": "Asia/Kolkata"}, stats(2, 300, 150, 15, 6000, 3000.0)),
        ({"period": "week"}, stats(2, 300, 150, 15, 6000, 3000.0)),  # since 03-03 12:00
        ({"period": "month"}, stats(3, 310, 155, 15, 6250, 7000 / 3)),  # since 02-10 12:00
        ({"period": "year"}, stats(4, 1310, 155, 15, 506250, 2500.0)),
        ({"period": "year", "api_key_id": 1}, stats(2, 110, 55, 15, 1250, 1500.0)),
        (
            {"start_date": "2025-01-01", "end_date": "2025-03-01"},
            stats(2, 1010, 5, 0, 500250, 2000.0),
        ),
        # an explicit range wins over the period
        (
            {"period": "today", "start_date": "2025-01-15", "end_date": "2025-01-15"},
            stats(1, 1000, 0, 0, 500000, 3000.0),
        ),
        ({"start_date": "2024-01-01", "end_date": "2024-12-31"}, stats(0, 0, 0, 0, 0, 0.0)),
    ],
)
def test_stats_periods_ranges_and_keys(user_api, logs, params, expected):
    assert get(user_api, "/usage/stats", params).json() == expected


def test_stats_today_is_a_calendar_day_of_the_zone_on_a_dst_day(user_api, ingest, time_machine):
    # 2025-03-09 in New York started at 05:00Z; at 12:00Z the day is 7 hours old.
    time_machine.move_to(at("2025-03-09T12:00:00Z"), tick=False)
    ingest(
        [
            log_event(created_at=at("2025-03-09T04:59:59Z"), quota=1),
            log_event(created_at=at("2025-03-09T05:00:00Z"), quota=2),
        ]
    )
    data = get(user_api, "/usage/stats", {"timezone": "America/New_York"}).json()["data"]

    assert (data["total_requests"], data["total_cost"]) == (1, 2 / 500000)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"period": "decade"}, "period: must be one of today, week, month, year"),
        (
            {"start_date": "2025-03-01"},
            "start_date and end_date go together; give both, or neither and a period",
        ),
        (
            {"end_date": "2025-03-01"},
            "start_date and end_date go together; give both, or neither and a period",
        ),
        ({"start_date": "2025-03-02", "end_date": "2025-03-01"}, "start_date is after end_date"),
        ({"api_key_id": "1,2"}, "api_key_id: A valid integer is required."),
        ({"timezone": "Asia/Calcutta2"}, "timezone: unknown timezone 'Asia/Calcutta2'"),
    ],
)
def test_stats_bad_parameters_are_a_400(user_api, frozen, params, message):
    response = get(user_api, "/usage/stats", params)

    assert response.status_code == 400
    assert response.json()["code"] == 400
    assert response.json()["message"].startswith(message)


def test_stats_query_count(user_api, logs, django_assert_num_queries):
    get(user_api, "/usage/stats")
    # 1. the access token with its user; 2. the totals (usage_totals)
    with django_assert_num_queries(2):
        get(user_api, "/usage/stats", {"period": "year"})


# --- GET /usage/dashboard/stats ------------------------------------------------------------


def test_dashboard_stats_whole_json(user_api, logs):
    response = get(user_api, "/usage/dashboard/stats")

    assert response.status_code == 200
    assert response.json() == ok(
        {
            "total_api_keys": 3,  # keys 1, 2, 3
            "active_api_keys": 2,  # keys 1, 2 in the last 30 days
            "total_requests": 4,
            "total_input_tokens": 1310,
            "total_output_tokens": 155,
            "total_cache_creation_tokens": 5,
            "total_cache_read_tokens": 10,
            "total_tokens": 1480,
            "total_cost": 1.0125,
            "total_actual_cost": 1.0125,
            "today_requests": 1,
            "today_input_tokens": 100,
            "today_output_tokens": 50,
            "today_cache_creation_tokens": 5,
            "today_cache_read_tokens": 10,
            "today_tokens": 165,
            "today_cost": 0.002,
            "today_actual_cost": 0.002,
            "average_duration_ms": 2500.0,
            "rpm": 0,  # one request in the last 5 minutes: 1 // 5
            "tpm": 30,  # (100 + 50) // 5
        }
    )


def test_dashboard_stats_today_follows_the_timezone(user_api, logs):
    data = get(user_api, "/usage/dashboard/stats", {"timezone": "Asia/Kolkata"}).json()["data"]

    assert (data["today_requests"], data["today_tokens"], data["today_cost"]) == (2, 465, 0.012)


def test_dashboard_rpm_tpm_average_the_last_5_minutes(user_api, ingest, frozen):
    ingest(
        [
            log_event(
                created_at=NOW - 300 + i * 40,
                prompt_tokens=100,
                completion_tokens=50,
                cache_read_tokens=1000,
            )
            for i in range(7)
        ]
        + [
            log_event(created_at=NOW - 301, prompt_tokens=10**6),
            log_event(created_at=NOW - 10, type=5, prompt_tokens=10**6),
            log_event(created_at=NOW - 10, user_id=1001, username="user1001"),
        ]
    )
    data = get(user_api, "/usage/dashboard/stats").json()["data"]

    # cache tokens are not part of tpm (sub2api's definition)
    assert (data["rpm"], data["tpm"]) == (1, 7 * 150 // 5)


def test_dashboard_stats_of_a_user_without_logs(other_api, frozen):
    data = get(other_api, "/usage/dashboard/stats").json()["data"]

    assert set(data.values()) == {0}


def test_dashboard_stats_ignore_token_zero_when_counting_keys(user_api, ingest, frozen):
    ingest([log_event(token_id=0, token_name=""), log_event(token_id=4)])

    data = get(user_api, "/usage/dashboard/stats").json()["data"]

    assert (data["total_api_keys"], data["active_api_keys"], data["total_requests"]) == (1, 1, 2)


def test_dashboard_stats_bad_timezone(user_api, frozen):
    response = get(user_api, "/usage/dashboard/stats", {"timezone": "x" * 10_000})

    assert response.status_code == 400
    assert response.json() == error(400, f"timezone: unknown timezone {'x' * 64!r}")


def test_dashboard_stats_query_count(user_api, logs, django_assert_num_queries):
    get(user_api, "/usage/dashboard/stats")
    # 1. the access token with its user; 2. all-time totals per key (usage_rows);
    # 3. last-30-day totals per key (usage_rows); 4. today's totals (usage_totals);
    # 5. the last 5 minutes (usage_recent_totals)
    with django_assert_num_queries(5):
        get(user_api, "/usage/dashboard/stats")


# --- GET /usage/dashboard/trend ------------------------------------------------------------


def point(date, requests=0, input_tokens=0, output_tokens=0, creation=0, read=0, quota=0):
    return {
        "date": date,
        "requests": requests,
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "cache_creation_tokens": creation,
        "cache_read_tokens": read,
        "total_tokens": input_tokens + output_tokens + creation + read,
        "cost": quota / 500000,
        "actual_cost": quota / 500000,
    }


def test_trend_default_is_the_last_7_days_and_today_zero_filled(user_api, logs):
    response = get(user_api, "/usage/dashboard/trend")

    assert response.status_code == 200
    assert response.json() == ok(
        {
            "trend": [
                point("2025-03-03"),
                point("2025-03-04"),
                point("2025-03-05"),
                point("2025-03-06"),
                point("2025-03-07"),
                point("2025-03-08"),
                point("2025-03-09", 1, 200, 100, 0, 0, 5000),
                point("2025-03-10", 1, 100, 50, 5, 10, 1000),
            ],
            "start_date": "2025-03-03",
            "end_date": "2025-03-10",
            "granularity": "day",
        }
    )


def test_trend_hours_of_a_half_hour_zone(user_api, logs):
    data = get(
        user_api,
        "/usage/dashboard/trend",
        {
            "granularity": "hour",
            "timezone": "Asia/Kolkata",
            "start_date": "2025-03-10",
            "end_date": "2025-03-10",
        },
    ).json()["data"]

    expected = [point(f"2025-03-10 {hour:02d}:00") for hour in range(24)]
    expected[4] = point("2025-03-10 04:00", 1, 200, 100, 0, 0, 5000)  # 23:00Z = 04:30 IST
    expected[17] = point("2025-03-10 17:00", 1, 100, 50, 5, 10, 1000)  # 11:58Z = 17:28 IST
    assert data == {
        "trend": expected,
        "start_date": "2025-03-10",
        "end_date": "2025-03-10",
        "granularity": "hour",
    }


def test_trend_hours_skip_the_missing_hour_of_spring_forward(user_api, logs):
    trend = get(
        user_api,
        "/usage/dashboard/trend",
        {
            "granularity": "hour",
            "timezone": "America/New_York",
            "start_date": "2025-03-09",
            "end_date": "2025-03-09",
        },
    ).json()["data"]["trend"]

    labels = [p["date"][11:] for p in trend]
    assert labels == ["00:00", "01:00"] + [f"{h:02d}:00" for h in range(3, 24)]
    assert [p for p in trend if p["requests"]] == [
        point("2025-03-09 19:00", 1, 200, 100, 0, 0, 5000)
    ]


def test_trend_hours_repeat_the_hour_of_fall_back(user_api, ingest, frozen):
    ingest(
        [
            log_event(created_at=at("2024-11-03T05:30:00Z"), quota=1),  # 01:30 EDT
            log_event(created_at=at("2024-11-03T06:30:00Z"), quota=2),  # 01:30 EST
        ]
    )
    trend = get(
        user_api,
        "/usage/dashboard/trend",
        {
            "granularity": "hour",
            "timezone": "America/New_York",
            "start_date": "2024-11-03",
            "end_date": "2024-11-03",
        },
    ).json()["data"]["trend"]

    assert len(trend) == 25
    assert [(p["date"], p["cost"]) for p in trend[:4]] == [
        ("2024-11-03 00:00", 0.0),
        ("2024-11-03 01:00", 1 / 500000),
        ("2024-11-03 01:00", 2 / 500000),
        ("2024-11-03 02:00", 0.0),
    ]


def test_trend_of_an_empty_range_is_all_zeros(user_api, logs):
    data = get(
        user_api, "/usage/dashboard/trend", {"start_date": "2024-02-27", "end_date": "2024-03-01"}
    ).json()["data"]

    assert data["trend"] == [
        point(d) for d in ("2024-02-27", "2024-02-28", "2024-02-29", "2024-03-01")
    ]


def test_trend_end_date_alone_covers_the_8_days_up_to_it(user_api, logs):
    data = get(user_api, "/usage/dashboard/trend", {"end_date": "2025-03-05"}).json()["data"]

    assert (data["start_date"], data["end_date"], len(data["trend"])) == (
        "2025-02-26",
        "2025-03-05",
        8,
    )
    assert data["trend"][3] == point("2025-03-01", 1, 10, 5, 0, 0, 250)


def test_trend_shows_only_the_callers_logs(other_api, logs):
    trend = get(other_api, "/usage/dashboard/trend").json()["data"]["trend"]

    assert [p["requests"] for p in trend] == [0] * 7 + [1]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"granularity": "week"}, "granularity: must be one of day, hour"),
        ({"start_date": "2025-03-11", "end_date": "2025-03-10"}, "start_date is after end_date"),
        ({"start_date": "yesterday"}, "start_date: 'yesterday' is not a date; use YYYY-MM-DD"),
        ({"timezone": "Europe/Atlantis"}, "timezone: unknown timezone 'Europe/Atlantis'"),
        (
            {"granularity": "hour", "start_date": "2023-01-01", "end_date": "2025-01-01"},
            "the range holds more than 10000 hour buckets; choose a coarser granularity or a "
            "shorter range",
        ),
        (
            {"start_date": "1970-01-01", "end_date": "9998-12-31"},
            "the range holds more than 10000 day buckets",
        ),
    ],
)
def test_trend_bad_parameters_are_a_400(user_api, frozen, params, message):
    response = get(user_api, "/usage/dashboard/trend", params)

    assert response.status_code == 400
    assert response.json()["code"] == 400
    assert response.json()["message"].startswith(message)


def test_trend_query_count(user_api, logs, django_assert_num_queries):
    get(user_api, "/usage/dashboard/trend")
    # 1. the access token with its user; 2. the bucketed totals (usage_rows)
    with django_assert_num_queries(2):
        get(user_api, "/usage/dashboard/trend", {"granularity": "hour"})


# --- GET /usage/dashboard/models -----------------------------------------------------------


def test_models_whole_json_by_total_tokens(user_api, logs):
    response = get(
        user_api, "/usage/dashboard/models", {"start_date": "2025-03-01", "end_date": "2025-03-10"}
    )

    assert response.json() == ok(
        {
            "models": [
                {
                    "model": "claude",
                    "requests": 1,
                    "input_tokens": 200,
                    "output_tokens": 100,
                    "cache_creation_tokens": 0,
                    "cache_read_tokens": 0,
                    "total_tokens": 300,
                    "cost": 0.01,
                    "actual_cost": 0.01,
                },
                {
                    "model": "gpt-4o",
                    "requests": 2,
                    "input_tokens": 110,
                    "output_tokens": 55,
                    "cache_creation_tokens": 5,
                    "cache_read_tokens": 10,
                    "total_tokens": 180,
                    "cost": 0.0025,
                    "actual_cost": 0.0025,
                },
            ],
            "start_date": "2025-03-01",
            "end_date": "2025-03-10",
        }
    )


def test_models_ties_are_ordered_by_name(user_api, ingest, frozen):
    ingest([log_event(model_name=name, prompt_tokens=5, completion_tokens=5) for name in "cab"])

    models = get(user_api, "/usage/dashboard/models").json()["data"]["models"]

    assert [m["model"] for m in models] == ["a", "b", "c"]


def test_models_default_range_and_empty_range(user_api, logs):
    data = get(user_api, "/usage/dashboard/models").json()["data"]
    assert [m["model"] for m in data["models"]] == ["claude", "gpt-4o"]
    assert (data["start_date"], data["end_date"]) == ("2025-03-03", "2025-03-10")

    empty = get(user_api, "/usage/dashboard/models", {"end_date": "2024-01-01"}).json()["data"]
    assert empty == {"models": [], "start_date": "2023-12-25", "end_date": "2024-01-01"}


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"start_date": "2025-13-01"}, "start_date: '2025-13-01' is not a calendar date"),
        ({"start_date": "2025-03-11", "end_date": "2025-03-10"}, "start_date is after end_date"),
        ({"timezone": "+05:30"}, "timezone: unknown timezone '+05:30'"),
    ],
)
def test_models_bad_parameters_are_a_400(user_api, frozen, params, message):
    response = get(user_api, "/usage/dashboard/models", params)

    assert response.status_code == 400
    assert response.json()["message"].startswith(message)


def test_models_query_count(user_api, logs, django_assert_num_queries):
    get(user_api, "/usage/dashboard/models")
    # 1. the access token with its user; 2. the totals per model (usage_rows)
    with django_assert_num_queries(2):
        get(user_api, "/usage/dashboard/models")


# --- POST /usage/dashboard/api-keys-usage --------------------------------------------------


def test_api_keys_usage_whole_json_drops_keys_not_in_the_callers_logs(user_api, logs):
    # 7 is user 1001's key, 99 nobody's; 1 is repeated
    response = post(user_api, "/usage/dashboard/api-keys-usage", {"api_key_ids": [3, 1, 7, 99, 1]})

    assert response.status_code == 200
    assert response.json() == ok(
        {
            "stats": {
                "1": {"api_key_id": 1, "today_actual_cost": 0.002, "total_actual_cost": 0.0025},
                "3": {"api_key_id": 3, "today_actual_cost": 0.0, "total_actual_cost": 1.0},
            }
        }
    )


def test_api_keys_usage_today_follows_the_timezone(user_api, logs):
    response = post(
        user_api, "/usage/dashboard/api-keys-usage", {"api_key_ids": [2]}, "?timezone=Asia/Kolkata"
    )

    assert response.json()["data"]["stats"] == {
        "2": {"api_key_id": 2, "today_actual_cost": 0.01, "total_actual_cost": 0.01}
    }


def test_api_keys_usage_empty_list(user_api, logs, django_assert_num_queries):
    post(user_api, "/usage/dashboard/api-keys-usage", {"api_key_ids": []})
    # 1. the access token with its user (no usage to read)
    with django_assert_num_queries(1):
        response = post(user_api, "/usage/dashboard/api-keys-usage", {"api_key_ids": []})
    assert response.json() == ok({"stats": {}})


def test_api_keys_usage_accepts_100_ids(user_api, logs):
    response = post(user_api, "/usage/dashboard/api-keys-usage", {"api_key_ids": list(range(100))})

    assert sorted(response.json()["data"]["stats"]) == ["1", "2", "3"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            {"api_key_ids": list(range(101))},
            "api_key_ids: Too many API key IDs (maximum 100 allowed)",
        ),
        ({"api_key_ids": ["a"]}, "api_key_ids.0: A valid integer is required."),
        (
            {"api_key_ids": [1, -2]},
            "api_key_ids.1: Ensure this value is greater than or equal to 0.",
        ),
        ({"api_key_ids": [True]}, "api_key_ids.0: A valid integer is required."),
        ({"api_key_ids": 5}, "api_key_ids must be a list of integers"),
        ({}, "api_key_ids: This field is required."),
        ([1, 2], "Invalid data. Expected a dictionary, but got list."),
    ],
)
def test_api_keys_usage_bad_bodies_are_a_400(user_api, frozen, body, message):
    response = post(user_api, "/usage/dashboard/api-keys-usage", body)

    assert response.status_code == 400
    assert response.json() == error(400, message)


def test_api_keys_usage_malformed_json_is_a_400(user_api, frozen):
    response = user_api.client.post(
        "/api/v1/usage/dashboard/api-keys-usage",
        b"{not json",
        content_type="application/json",
        headers=user_api.headers(new_api_user=False),
    )

    assert response.status_code == 400
    assert response.json()["code"] == 400
    assert response.json()["message"].startswith("JSON parse error")


def test_api_keys_usage_refuses_get(user_api, frozen):
    response = get(user_api, "/usage/dashboard/api-keys-usage")

    assert response.status_code == 405
    assert response.json() == error(405, 'Method "GET" not allowed.')


def test_api_keys_usage_query_count(user_api, logs, django_assert_num_queries):
    post(user_api, "/usage/dashboard/api-keys-usage", {"api_key_ids": [1]})
    # 1. the access token with its user; 2. all-time totals per key; 3. today's per key
    with django_assert_num_queries(3):
        post(user_api, "/usage/dashboard/api-keys-usage", {"api_key_ids": [1, 2, 3]})
