"""new-api data statistics: GET /api/data/ (admin), GET /api/data/self and GET /api/data/users
(admin) (API.md section 4)."""

from __future__ import annotations

import pytest
from rest_framework.renderers import JSONRenderer

from tests.factories import log_event
from tests.usage.conftest import at
from usage.buckets import MAX_TIMESTAMP

NOW = at("2025-03-10T12:00:00Z")
HOUR = 3600
DAY = 86400


@pytest.fixture
def frozen(time_machine):
    time_machine.move_to(NOW, tick=False)


@pytest.fixture
def logs(ingest, frozen):
    ingest(
        [
            log_event(
                created_at=at("2025-03-10T10:05:00Z"),
                model_name="gpt-4o",
                quota=1000,
                prompt_tokens=100,
                completion_tokens=50,
                cache_read_tokens=7,
            ),
            log_event(
                created_at=at("2025-03-10T10:55:00Z"),
                model_name="gpt-4o",
                quota=2000,
                prompt_tokens=10,
                completion_tokens=20,
            ),
            log_event(
                created_at=at("2025-03-10T10:30:00Z"),
                model_name="claude",
                quota=300,
                prompt_tokens=1,
                completion_tokens=2,
            ),
            log_event(
                created_at=at("2025-03-10T11:10:00Z"),
                model_name="gpt-4o",
                quota=5,
                prompt_tokens=1,
                completion_tokens=1,
            ),
            # an error log is not usage
            log_event(
                created_at=at("2025-03-10T10:20:00Z"),
                type=5,
                model_name="gpt-4o",
                quota=9999,
                prompt_tokens=9999,
            ),
            # another user's log
            log_event(
                created_at=at("2025-03-10T10:40:00Z"),
                user_id=1001,
                username="user1001",
                model_name="gpt-4o",
                quota=70000,
                prompt_tokens=1000,
                completion_tokens=1000,
            ),
        ]
    )


RANGE = {"start_timestamp": at("2025-03-10T10:00:00Z"), "end_timestamp": at("2025-03-10T11:59:59Z")}


def row(model, count, quota, token_used, created_at, user_id=1000, username="user1000"):
    return {
        "model_name": model,
        "count": count,
        "quota": quota,
        "token_used": token_used,
        "created_at": created_at,
        "user_id": user_id,
        "username": username,
    }


def test_self_rows_per_model_and_hour_whole_json(user_api, other_api, logs):
    response = user_api.get("/api/data/self", {**RANGE, "tz": "UTC"})

    assert response.status_code == 200
    assert response.json() == {
        "success": True,
        "message": "",
        "data": [
            row("claude", 1, 300, 3, at("2025-03-10T10:00:00Z")),
            row("gpt-4o", 2, 3000, 180, at("2025-03-10T10:00:00Z")),
            row("gpt-4o", 1, 5, 2, at("2025-03-10T11:00:00Z")),
        ],
    }


def test_self_shows_only_the_callers_logs(other_api, logs):
    data = other_api.get("/api/data/self", RANGE).json()["data"]

    assert data == [row("gpt-4o", 1, 70000, 2000, at("2025-03-10T10:00:00Z"), 1001, "user1001")]


def test_self_ignores_the_username_parameter(user_api, logs):
    data = user_api.get("/api/data/self", {**RANGE, "username": "user1001"}).json()["data"]

    assert {(r["user_id"], r["username"]) for r in data} == {(1000, "user1000")}


def test_admin_rows_are_site_wide_with_blank_user(admin_api, logs):
    response = admin_api.get("/api/data/", RANGE)

    assert response.json() == {
        "success": True,
        "message": "",
        "data": [
            row("claude", 1, 300, 3, at("2025-03-10T10:00:00Z"), 0, ""),
            row("gpt-4o", 3, 73000, 2180, at("2025-03-10T10:00:00Z"), 0, ""),
            row("gpt-4o", 1, 5, 2, at("2025-03-10T11:00:00Z"), 0, ""),
        ],
    }


def test_admin_username_restricts_to_that_user(admin_api, logs):
    data = admin_api.get("/api/data/", {**RANGE, "username": "user1001"}).json()["data"]

    assert data == [row("gpt-4o", 1, 70000, 2000, at("2025-03-10T10:00:00Z"), 1001, "user1001")]


def test_admin_blank_username_means_everyone(admin_api, logs):
    data = admin_api.get("/api/data/", {**RANGE, "username": ""}).json()["data"]

    assert sum(r["count"] for r in data) == 5


def test_hour_buckets_follow_a_half_hour_zone(user_api, logs):
    # 10:05Z is 15:35 in Kolkata (hour 15:00 IST = 09:30Z); 10:30Z..11:10Z fall in 16:00 IST.
    data = user_api.get("/api/data/self", {**RANGE, "tz": "Asia/Kolkata"}).json()["data"]

    assert data == [
        row("gpt-4o", 1, 1000, 150, at("2025-03-10T09:30:00Z")),
        row("claude", 1, 300, 3, at("2025-03-10T10:30:00Z")),
        row("gpt-4o", 2, 2005, 32, at("2025-03-10T10:30:00Z")),
    ]


def test_day_buckets_start_at_the_zones_midnight(user_api, logs):
    data = user_api.get(
        "/api/data/self", {**RANGE, "granularity": "day", "tz": "Asia/Kolkata"}
    ).json()["data"]

    midnight_ist = at("2025-03-10T00:00:00+05:30")
    assert data == [
        row("claude", 1, 300, 3, midnight_ist),
        row("gpt-4o", 3, 3005, 182, midnight_ist),
    ]


def test_week_buckets_start_on_monday(user_api, ingest, frozen):
    # 2025-03-09 is a Sunday, 2025-03-10 a Monday.
    ingest(
        [
            log_event(created_at=at("2025-03-09T23:59:59Z"), quota=1),
            log_event(created_at=at("2025-03-10T00:00:00Z"), quota=2),
        ]
    )
    data = user_api.get(
        "/api/data/self",
        {"start_timestamp": at("2025-03-01T00:00:00Z"), "granularity": "week", "tz": "UTC"},
    ).json()["data"]

    assert [(r["created_at"], r["quota"]) for r in data] == [
        (at("2025-03-03T00:00:00Z"), 1),
        (at("2025-03-10T00:00:00Z"), 2),
    ]


def test_day_buckets_across_a_dst_change(user_api, ingest, frozen):
    # New York springs forward on 2025-03-09: that day lasts 23 hours (05:00Z to 04:00Z).
    ingest(
        [
            log_event(created_at=at("2025-03-09T04:59:59Z"), quota=1),
            log_event(created_at=at("2025-03-09T05:00:00Z"), quota=2),
            log_event(created_at=at("2025-03-10T03:59:59Z"), quota=4),
            log_event(created_at=at("2025-03-10T04:00:00Z"), quota=8),
        ]
    )
    data = user_api.get(
        "/api/data/self",
        {
            "start_timestamp": at("2025-03-08T00:00:00Z"),
            "granularity": "day",
            "tz": "America/New_York",
        },
    ).json()["data"]

    assert [(r["created_at"], r["count"], r["quota"]) for r in data] == [
        (at("2025-03-08T05:00:00Z"), 1, 1),
        (at("2025-03-09T05:00:00Z"), 2, 6),
        (at("2025-03-10T04:00:00Z"), 1, 8),
    ]


def test_range_ending_mid_bucket_counts_only_logs_up_to_the_end(user_api, logs):
    data = user_api.get(
        "/api/data/self",
        {"start_timestamp": RANGE["start_timestamp"], "end_timestamp": at("2025-03-10T10:29:59Z")},
    ).json()["data"]

    # The bucket still starts at 10:00; the claude log at 10:30 is outside the range.
    assert data == [row("gpt-4o", 1, 1000, 150, at("2025-03-10T10:00:00Z"))]


def test_range_bounds_are_inclusive(user_api, logs):
    exact = at("2025-03-10T10:30:00Z")
    data = user_api.get(
        "/api/data/self", {"start_timestamp": exact, "end_timestamp": exact}
    ).json()["data"]

    assert data == [row("claude", 1, 300, 3, at("2025-03-10T10:00:00Z"))]


def test_empty_range_gives_no_rows(user_api, logs):
    response = user_api.get(
        "/api/data/self", {"start_timestamp": NOW - 10 * DAY, "end_timestamp": NOW - 9 * DAY}
    )

    assert response.json() == {"success": True, "message": "", "data": []}


def test_default_range_is_the_last_30_days_up_to_now(user_api, ingest, frozen):
    ingest(
        [
            log_event(created_at=NOW - 30 * DAY - 1, quota=1),
            log_event(created_at=NOW - 30 * DAY, quota=2),
            log_event(created_at=NOW, quota=4),
            log_event(created_at=NOW + 60, quota=8),
        ]
    )
    for params in ({}, {"start_timestamp": 0, "end_timestamp": 0}):
        data = user_api.get("/api/data/self", params).json()["data"]

        assert sum(r["quota"] for r in data) == 6


def test_default_start_is_30_days_before_the_given_end(user_api, ingest, frozen):
    end = NOW - 100 * DAY
    ingest([log_event(created_at=end - 30 * DAY - 1, quota=1), log_event(created_at=end, quota=2)])

    data = user_api.get("/api/data/self", {"end_timestamp": end}).json()["data"]

    assert sum(r["quota"] for r in data) == 2


def test_self_allows_a_span_of_31_days(user_api, frozen):
    response = user_api.get(
        "/api/data/self", {"start_timestamp": NOW - 31 * DAY, "end_timestamp": NOW}
    )

    assert response.json() == {"success": True, "message": "", "data": []}


def test_self_refuses_a_span_over_31_days(user_api, frozen):
    response = user_api.get(
        "/api/data/self", {"start_timestamp": NOW - 31 * DAY - 1, "end_timestamp": NOW}
    )

    assert response.status_code == 200
    assert response.json() == {"success": False, "message": "time span cannot exceed 1 month"}


def test_admin_has_no_span_limit(admin_api, logs):
    response = admin_api.get(
        "/api/data/", {"start_timestamp": NOW - 400 * DAY, "granularity": "day"}
    )

    assert response.json()["success"] is True
    assert sum(r["count"] for r in response.json()["data"]) == 5


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"start_timestamp": "abc"}, "invalid start_timestamp"),
        ({"end_timestamp": "1.5"}, "invalid end_timestamp"),
        ({"start_timestamp": "-1"}, "start_timestamp must be >= 0"),
        (
            {"end_timestamp": str(MAX_TIMESTAMP + 1)},
            f"end_timestamp must be <= {MAX_TIMESTAMP}",
        ),
        ({"start_timestamp": "9" * 5000}, "invalid start_timestamp"),
        ({"granularity": "month"}, "granularity: must be one of hour, day, week"),
        (
            {"tz": "Mars/Olympus_Mons"},
            "tz: unknown timezone 'Mars/Olympus_Mons' (use an IANA name such as Asia/Kolkata)",
        ),
        ({"tz": "../../etc/passwd"}, "tz: unknown timezone '../../etc/passwd'"),
        (
            {"start_timestamp": NOW, "end_timestamp": NOW - 1},
            f"start_timestamp ({NOW}) is after end_timestamp ({NOW - 1})",
        ),
    ],
)
def test_bad_parameters_are_refused_in_new_api_shape(user_api, admin_api, frozen, params, message):
    for client, path in (
        (user_api, "/api/data/self"),
        (admin_api, "/api/data/"),
        (admin_api, "/api/data/users"),
    ):
        response = client.get(path, params)

        assert response.status_code == 200
        assert response.json() == {"success": False, "message": message}


@pytest.mark.parametrize(
    ("username", "message"),
    [
        ("x" * 65, "username: Ensure this field has no more than 64 characters."),
        ("a\x00b", "username: Null characters are not allowed."),
    ],
)
def test_admin_bad_username_is_refused(admin_api, frozen, username, message):
    response = admin_api.get("/api/data/", {"username": username})

    assert response.json() == {"success": False, "message": message}


def test_sql_and_like_characters_in_username_match_literally(admin_api, logs):
    for username in ("user1000' OR '1'='1", "user%", "%_%"):
        response = admin_api.get("/api/data/", {**RANGE, "username": username})

        assert response.json() == {"success": True, "message": "", "data": []}


@pytest.mark.parametrize("path", ["/api/data/", "/api/data/users"])
def test_common_user_cannot_read_site_wide_data(user_api, path):
    response = user_api.get(path)

    assert response.status_code == 403
    assert response.json() == {"success": False, "message": "Unauthorized: insufficient privileges"}


def test_new_api_user_header_is_required(user_api):
    response = user_api.get("/api/data/self", new_api_user=False)

    assert response.status_code == 401
    assert response.json() == {
        "success": False,
        "message": "Unauthorized: New-Api-User header missing",
    }


def test_self_query_count(user_api, logs, django_assert_num_queries):
    user_api.get("/api/data/self", RANGE)  # the first call also stamps the token's last use
    # 1. the access token with its user; 2. the aggregate rows (usage_rows)
    with django_assert_num_queries(2):
        response = user_api.get("/api/data/self", RANGE)
    assert len(response.json()["data"]) == 3


def test_admin_query_count(admin_api, logs, django_assert_num_queries):
    admin_api.get("/api/data/", RANGE)
    # 1. the access token with its user; 2. the aggregate rows (usage_rows)
    with django_assert_num_queries(2):
        response = admin_api.get("/api/data/", {**RANGE, "username": "user1000"})
    assert len(response.json()["data"]) == 3


# --- GET /api/data/users: per username and bucket ----------------------------------------------


def user_row(username, count, quota, token_used, created_at):
    return {
        "username": username,
        "created_at": created_at,
        "count": count,
        "quota": quota,
        "token_used": token_used,
    }


def spent(**fields):
    """A consume event without the factory's default tokens (add them where a test counts)."""
    return log_event(**{"prompt_tokens": 0, "completion_tokens": 0, **fields})


def test_users_rows_per_username_and_hour_whole_json(admin_api, user_api, other_api, logs):
    response = admin_api.get("/api/data/users", {**RANGE, "tz": "UTC"})

    assert response.status_code == 200
    assert response.json() == {
        "success": True,
        "message": "",
        # the error log of user1000 at 10:20 is not usage
        "data": [
            user_row("user1000", 3, 3300, 183, at("2025-03-10T10:00:00Z")),
            user_row("user1001", 1, 70000, 2000, at("2025-03-10T10:00:00Z")),
            user_row("user1000", 1, 5, 2, at("2025-03-10T11:00:00Z")),
        ],
    }


def test_users_hour_buckets_follow_a_half_hour_zone(admin_api, user_api, other_api, logs):
    # Kolkata's 15:00 hour is 09:30Z-10:30Z: it holds 10:05Z (and the error log at 10:20Z); its
    # 16:00 hour holds 10:30Z, 10:40Z (user1001), 10:55Z and 11:10Z.
    data = admin_api.get("/api/data/users", {**RANGE, "tz": "Asia/Kolkata"}).json()["data"]

    assert data == [
        user_row("user1000", 1, 1000, 150, at("2025-03-10T09:30:00Z")),
        user_row("user1000", 3, 2305, 35, at("2025-03-10T10:30:00Z")),
        user_row("user1001", 1, 70000, 2000, at("2025-03-10T10:30:00Z")),
    ]


def test_users_day_buckets_and_the_range_edges(admin_api, user_api, other_api, ingest, frozen):
    # Days of New York across its spring-forward (2025-03-09 lasts 23 hours); the range starts
    # and ends mid-hour, so the edges are read from the logs and the middle from the rollups.
    ingest(
        [
            spent(created_at=at("2025-03-08T05:29:59Z"), quota=1),  # before the start
            spent(created_at=at("2025-03-08T05:30:00Z"), quota=2),
            spent(created_at=at("2025-03-09T04:59:59Z"), quota=4, prompt_tokens=3),
            spent(created_at=at("2025-03-09T05:00:00Z"), quota=8),
            spent(
                created_at=at("2025-03-09T12:00:00Z"), user_id=1001, username="user1001", quota=16
            ),
            spent(created_at=at("2025-03-10T03:59:59Z"), quota=32),
            spent(created_at=at("2025-03-10T04:00:00Z"), quota=64, completion_tokens=5),
            spent(created_at=at("2025-03-10T04:10:00Z"), quota=128),  # after the end
        ]
    )
    data = admin_api.get(
        "/api/data/users",
        {
            "start_timestamp": at("2025-03-08T05:30:00Z"),
            "end_timestamp": at("2025-03-10T04:09:59Z"),
            "granularity": "day",
            "tz": "America/New_York",
        },
    ).json()["data"]

    assert data == [
        user_row("user1000", 2, 6, 3, at("2025-03-08T05:00:00Z")),
        user_row("user1000", 2, 40, 0, at("2025-03-09T05:00:00Z")),
        user_row("user1001", 1, 16, 0, at("2025-03-09T05:00:00Z")),
        user_row("user1000", 1, 64, 5, at("2025-03-10T04:00:00Z")),
    ]


def test_users_groups_by_the_username_the_logs_were_recorded_under(admin_api, ingest, frozen):
    # user 1000 logged as "old" and, after a rename, as "new"; user 1001 then took "old":
    # new-api groups by username, so "old" sums both users' logs.
    hour = at("2025-03-10T10:00:00Z")
    ingest(
        [
            spent(created_at=hour + 1, user_id=1000, username="old", quota=1),
            spent(created_at=hour + 2, user_id=1000, username="new", quota=2),
            spent(created_at=hour + 3, user_id=1001, username="old", quota=4),
        ]
    )

    data = admin_api.get("/api/data/users", RANGE).json()["data"]

    assert data == [user_row("new", 1, 2, 0, hour), user_row("old", 2, 5, 0, hour)]


def test_users_username_restricts_to_that_name(admin_api, user_api, other_api, logs):
    data = admin_api.get("/api/data/users", {**RANGE, "username": "user1001"}).json()["data"]

    assert data == [user_row("user1001", 1, 70000, 2000, at("2025-03-10T10:00:00Z"))]


def test_users_empty_range_gives_no_rows(admin_api, logs):
    response = admin_api.get(
        "/api/data/users", {"start_timestamp": NOW - 10 * DAY, "end_timestamp": NOW - 9 * DAY}
    )

    assert response.json() == {"success": True, "message": "", "data": []}


def test_users_default_range_is_the_last_30_days_up_to_now(admin_api, ingest, frozen):
    ingest(
        [
            log_event(created_at=NOW - 30 * DAY - 1, quota=1),
            log_event(created_at=NOW - 30 * DAY, quota=2),
            log_event(created_at=NOW, quota=4),
            log_event(created_at=NOW + 60, quota=8),
        ]
    )

    data = admin_api.get("/api/data/users").json()["data"]

    assert sum(r["quota"] for r in data) == 6


def test_users_query_count(admin_api, logs, django_assert_num_queries):
    admin_api.get("/api/data/users", RANGE)
    # 1. the access token with its user; 2. the aggregate rows (usage_rows: hours of usage_user)
    with django_assert_num_queries(2):
        response = admin_api.get("/api/data/users", {"start_timestamp": NOW - 20 * DAY})
    assert len(response.json()["data"]) == 3


def test_body_bytes_are_compact_utf8_with_line_separators_escaped(admin_api, ingest, frozen):
    ingest(
        [
            log_event(
                created_at=at("2025-03-10T10:05:00Z"),
                model_name='模型 "q"\u2028\\',
                quota=7,
                prompt_tokens=2,
                completion_tokens=3,
            )
        ]
    )

    response = admin_api.get("/api/data/", RANGE)

    assert response["Content-Type"] == "application/json"
    assert (
        response.content
        == (
            '{"success":true,"message":"","data":[{"model_name":"模型 \\"q\\"\\u2028\\\\",'
            f'"count":1,"quota":7,"token_used":5,"created_at":{at("2025-03-10T10:00:00Z")},'
            '"user_id":0,"username":""}]}'
        ).encode()
    )
    assert response.content == JSONRenderer().render(response.json())


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"start_timestamp": "-1"}, "start_timestamp must be >= 0"),
        ({"start_timestamp": "abc"}, "invalid start_timestamp"),
        (
            {"start_timestamp": NOW, "end_timestamp": NOW - 1},
            f"start_timestamp ({NOW}) is after end_timestamp ({NOW - 1})",
        ),
        (
            {f"p{index}": "1" for index in range(1_100)},
            "too many parameters (at most 1000)",
        ),
    ],
)
def test_every_new_api_route_words_a_problem_the_same_way(user_api, frozen, params, message):
    """docs/logs-api.md, "Wording of errors": the log routes and the data routes of new-api
    say one problem in one way."""
    for path in (
        "/api/data/self",
        "/api/log/self",
        "/api/log/self/stat",
        "/api/log/self/export",
    ):
        response = user_api.get(path, params)

        assert response.status_code == 200, path
        assert response.json() == {"success": False, "message": message}, path
