"""API.md section 9 for the log API: every parameter, bad values, HTTP 200 `success: false` with
a reason (new-api), never a 500; or a correct empty result where the value is just unusual."""

from __future__ import annotations

import pytest

from tests.factories import log_event
from tests.logs.logdata import T0, store

pytestmark = pytest.mark.django_db

ADMIN_FILTERED = ["/api/log/", "/api/log/stat", "/api/log/export"]
SELF_FILTERED = ["/api/log/self", "/api/log/self/stat", "/api/log/self/export"]
BIG = 10**30
TEN_KB = "x" * 10_240

COMMON_PROBLEMS = [
    ({"start_timestamp": "yesterday"}, "invalid start_timestamp"),
    ({"start_timestamp": "1.5"}, "invalid start_timestamp"),
    ({"start_timestamp": "1e9"}, "invalid start_timestamp"),
    ({"start_timestamp": "0x10"}, "invalid start_timestamp"),
    ({"start_timestamp": "\xff"}, "invalid start_timestamp"),
    ({"start_timestamp": TEN_KB}, "invalid start_timestamp"),
    ({"start_timestamp": "9" * 10_240}, "start_timestamp must be <= 9223372036854775807"),
    ({"start_timestamp": -1}, "start_timestamp must be >= 0"),
    ({"start_timestamp": BIG}, "start_timestamp must be <= 9223372036854775807"),
    ({"start_timestamp": 2**63}, "start_timestamp must be <= 9223372036854775807"),
    ({"end_timestamp": "now"}, "invalid end_timestamp"),
    ({"end_timestamp": -BIG}, "end_timestamp must be >= 0"),
    (
        {"start_timestamp": T0 + 10, "end_timestamp": T0},
        f"start_timestamp ({T0 + 10}) is after end_timestamp ({T0})",
    ),
    ({"type": "consume"}, "invalid type"),
    ({"type": 7}, "type must be between 0 and 6"),
    ({"type": -1}, "type must be between 0 and 6"),
    ({"type": BIG}, "type must be between 0 and 6"),
    (
        {"model_name": "%%gpt"},
        "model_name: consecutive % wildcards are not allowed in a search pattern",
    ),
    ({"model_name": "%g%p%"}, "model_name: a search pattern may contain at most 2 % wildcards"),
    ({"model_name": "%g%"}, "model_name: a fuzzy search needs at least 2 characters besides %"),
    ({"model_name": "%"}, "model_name: a fuzzy search needs at least 2 characters besides %"),
    ({"model_name": "m" * 129}, "model_name must be at most 128 characters"),
    ({"model_name": TEN_KB}, "model_name must be at most 128 characters"),
    ({"model_name": "gpt\x00"}, "model_name must not contain NUL characters"),
    ({"token_name": "t" * 129}, "token_name must be at most 128 characters"),
    ({"token_name": "\x00"}, "token_name must not contain NUL characters"),
    ({"group": "g" * 65}, "group must be at most 64 characters"),
    ({"request_id": "r" * 65}, "request_id must be at most 64 characters"),
    (
        {"start_timestamp": "a", "type": 9, "model_name": "%%"},
        "invalid start_timestamp; type must be between 0 and 6; "
        "model_name: consecutive % wildcards are not allowed in a search pattern",
    ),
]
ADMIN_ONLY_PROBLEMS = [
    ({"username": "%%a"}, "username: consecutive % wildcards are not allowed in a search pattern"),
    ({"username": "a%b%c%"}, "username: a search pattern may contain at most 2 % wildcards"),
    ({"username": "a%"}, "username: a fuzzy search needs at least 2 characters besides %"),
    ({"username": "u" * 65}, "username must be at most 64 characters"),
    ({"channel": "azure"}, "invalid channel"),
    ({"channel": -2}, "channel must be >= 0"),
    ({"channel": BIG}, "channel must be <= 9223372036854775807"),
]
PAGE_PROBLEMS = [
    ({"p": "two"}, "invalid p"),
    ({"p": "1.5"}, "invalid p"),
    ({"page_size": "ten"}, "invalid page_size"),
    ({"ps": "x"}, "invalid ps"),
    ({"size": "[]"}, "invalid size"),
    ({"cursor": "abc"}, "invalid cursor: send the next_cursor of the previous page unchanged"),
    ({"cursor": "1.2.3"}, "invalid cursor: send the next_cursor of the previous page unchanged"),
    ({"cursor": "-1.5"}, "invalid cursor: send the next_cursor of the previous page unchanged"),
    (
        {"cursor": f"{2**63}.1"},
        "invalid cursor: send the next_cursor of the previous page unchanged",
    ),
]


def refused(client, path, params, message):
    response = client.get(path, params)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"success": False, "message": message}


@pytest.mark.parametrize(("params", "message"), COMMON_PROBLEMS + ADMIN_ONLY_PROBLEMS)
@pytest.mark.parametrize("path", ADMIN_FILTERED)
def test_admin_filtered_endpoints_refuse_bad_parameters(admin_api, path, params, message):
    refused(admin_api, path, params, message)


@pytest.mark.parametrize(("params", "message"), COMMON_PROBLEMS)
@pytest.mark.parametrize("path", SELF_FILTERED)
def test_self_filtered_endpoints_refuse_bad_parameters(user_api, path, params, message):
    refused(user_api, path, params, message)


@pytest.mark.parametrize(("params", "message"), PAGE_PROBLEMS)
@pytest.mark.parametrize("path", ["/api/log/", "/api/log/self"])
def test_lists_refuse_bad_paging(admin_api, user_api, path, params, message):
    refused(admin_api if path == "/api/log/" else user_api, path, params, message)


@pytest.mark.parametrize("params", [{"username": "%%"}, {"channel": "x"}, {"channel": -1}])
@pytest.mark.parametrize("path", SELF_FILTERED)
def test_self_endpoints_ignore_admin_only_parameters_even_when_malformed(user_api, path, params):
    response = user_api.get(path, params)

    assert response.status_code == 200
    if not response.streaming:
        assert response.json()["success"] is True


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({}, "keyword is required"),
        ({"keyword": ""}, "keyword is required"),
        ({"keyword": "   "}, "keyword is required"),
        ({"keyword": TEN_KB}, "keyword must be at most 128 characters"),
        ({"keyword": "k" * 129}, "keyword must be at most 128 characters"),
        ({"keyword": "a\x00b"}, "keyword must not contain NUL characters"),
    ],
)
@pytest.mark.parametrize("path", ["/api/log/search", "/api/log/self/search"])
def test_search_refuses_bad_keywords(admin_api, user_api, path, params, message):
    refused(admin_api if path == "/api/log/search" else user_api, path, params, message)


def test_keyword_of_exactly_128_characters_is_accepted(admin_api):
    response = admin_api.get("/api/log/search", {"keyword": "k" * 128})

    assert response.json() == {"success": True, "message": "", "data": []}


@pytest.mark.parametrize(
    "query",
    [
        "model_name=%FF%FE",  # not UTF-8: decoded as U+FFFD, matches nothing
        "token_name=%C3%28",
        "username=%ED%A0%80",  # an encoded surrogate
        "model_name=x%27%20OR%20%271%27%3D%271",  # x' OR '1'='1
        "group=%3B%20DROP%20TABLE%20logs",
        "request_id=%5C%5C%25_",  # \\%_ : exact, so no wildcard either
        "model_name=%25%5C_%25",  # %\_% : a pattern of literal \ and _
        "start_timestamp=9223372036854775807",
        "end_timestamp=1&start_timestamp=1",
        "p=99999999999999999999999",
    ],
)
def test_unusual_but_valid_values_give_a_correct_empty_result(admin_api, query):
    store(log_event(created_at=T0))

    response = admin_api.get(f"/api/log/?{query}")

    assert response.status_code == 200
    body = response.json()
    assert body["success"] is True
    assert body["data"]["items"] == []


def test_unknown_parameters_are_ignored(admin_api):
    store(log_event(created_at=T0))

    response = admin_api.get("/api/log/?unknown_param=1&default_time=day")

    assert response.json()["data"]["total"] == 1


def test_refusals_happen_before_any_log_query(admin_api, django_assert_num_queries):
    admin_api.get("/api/log/")  # records the token's last use
    # 1. access token + user; nothing else: validation needs no query
    with django_assert_num_queries(1):
        admin_api.get("/api/log/", {"type": 99})
