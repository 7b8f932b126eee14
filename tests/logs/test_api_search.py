"""GET /api/log/search (admin) and GET /api/log/self/search (user)."""

from __future__ import annotations

import pytest

from tests.factories import log_event
from tests.logs.logdata import T0, admin_item, bulk_logs, store

pytestmark = pytest.mark.django_db


@pytest.fixture
def search_logs(admin_api, user_api, other_api):
    return store(
        log_event(created_at=T0, content="Upstream TIMEOUT after 30s", type=5, channel_id=2),
        log_event(created_at=T0 + 1, model_name="claude-3-haiku", ip="198.51.100.4"),
        log_event(created_at=T0 + 2, token_name="nightly_batch"),
        log_event(created_at=T0 + 3, request_id="req-abc-123", other={"admin_info": {"a": 1}}),
        log_event(created_at=T0 + 4, content="discount 50% applied", type=1),
        log_event(created_at=T0 + 5, user_id=1001, username="user1001", content="timeout too"),
        log_event(created_at=T0 + 6, user_id=1001, username="user1001", model_name="haiku-x"),
    )


def search(client, path, keyword):
    body = client.get(path, {"keyword": keyword}).json()
    assert body["success"] is True, body
    return [item["created_at"] - T0 for item in body["data"]]


def test_admin_search_returns_a_bare_array_of_admin_items(admin_api, search_logs):
    response = admin_api.get("/api/log/search", {"keyword": "haiku"})

    assert response.status_code == 200
    assert response.json() == {
        "success": True,
        "message": "",
        "data": [admin_item(search_logs[6]), admin_item(search_logs[1])],
    }
    assert response.json()["data"][1]["ip"] == "198.51.100.4"


def test_self_search_returns_the_callers_logs_in_user_shape(user_api, search_logs):
    log = search_logs[3]

    response = user_api.get("/api/log/self/search", {"keyword": "ABC"})

    assert response.json() == {
        "success": True,
        "message": "",
        "data": [
            {
                **admin_item(log),
                "channel": 0,
                "channel_id": 0,
                "channel_name": "",
                "ip": None,
                "other": "{}",
            }
        ],
    }


@pytest.mark.parametrize(
    ("keyword", "admin_hits", "user_hits"),
    [
        ("timeout", [5, 0], [0]),  # content, case-insensitive
        ("HAIKU", [6, 1], [1]),  # model_name
        ("nightly", [2], [2]),  # token_name
        ("abc-1", [3], [3]),  # request_id
        ("user1001", [6, 5], []),  # username: admins only
        ("5", [0], [0]),  # an integer is the type code
        (" 1 ", [4], [4]),
        ("2", [6, 5, 3, 2, 1], [3, 2, 1]),
        ("7", [], []),  # no such type
        ("-1", [], []),
        ("9" * 40, [], []),
        ("50%", [4], [4]),  # % is literal
        ("0%", [4], [4]),
        ("%", [4], [4]),
        ("_", [2], [2]),  # _ is literal
        ("h_l", [], []),  # as a wildcard it would match "nightly"
        ("\\", [], []),
        ("'; DROP TABLE logs; --", [], []),
        ("\ufffd", [], []),
        ("nothing-matches", [], []),
    ],
)
def test_search_matches(admin_api, user_api, search_logs, keyword, admin_hits, user_hits):
    assert search(admin_api, "/api/log/search", keyword) == admin_hits
    assert search(user_api, "/api/log/self/search", keyword) == user_hits


def test_search_returns_at_most_100_newest_first(admin_api, user_api):
    bulk_logs(150, content="bulk row")

    admin = search(admin_api, "/api/log/search", "bulk")
    user = search(user_api, "/api/log/self/search", "bulk")

    assert admin == user == list(range(149, 49, -1))


def test_search_runs_one_query(admin_api, search_logs, django_assert_num_queries):
    admin_api.get("/api/log/search", {"keyword": "x"})  # records the token's last use
    # 1. access token + user (authentication)
    # 2. SELECT ... WHERE content/model/token/request_id/username ILIKE ... LIMIT 100
    with django_assert_num_queries(2):
        admin_api.get("/api/log/search", {"keyword": "timeout"})


def test_self_search_runs_one_query(user_api, search_logs, django_assert_num_queries):
    user_api.get("/api/log/self/search", {"keyword": "x"})
    # 1. access token + user; 2. SELECT ... WHERE user_id = ? AND (...) LIMIT 100
    with django_assert_num_queries(2):
        user_api.get("/api/log/self/search", {"keyword": "timeout"})
