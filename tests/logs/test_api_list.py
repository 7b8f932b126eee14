"""GET /api/log/ (admin) and GET /api/log/self (user): shape, filters, pagination."""

from __future__ import annotations

import pytest

from logs.events import LogEvent
from logs.models import Log
from logs.selectors import SMALL_MATCH
from tests.factories import log_event
from tests.logs.logdata import T0, bulk_logs, ids, store
from usage.services import logs_ingest

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_users_logs(user_api, other_api):
    """An error log of user 1000 with admin-only details, and a consume log of user 1001."""
    return store(
        log_event(
            created_at=T0,
            type=5,
            content="upstream error 502",
            model_name="gpt-4o",
            token_id=7,
            token_name="ci-key",
            quota=0,
            prompt_tokens=0,
            completion_tokens=0,
            channel_id=3,
            channel_name="azure-east",
            ip="203.0.113.9",
            request_id="req-err-1",
            endpoint="/v1/chat/completions",
            other={
                "admin_info": {"use_channel": ["3"]},
                "stream_status": {"status": "error"},
                "channel_id": 3,
                "channel_name": "azure-east",
                "channel_type": 14,
                "error_code": "bad_gateway",
                "status_code": 502,
            },
        ),
        log_event(
            created_at=T0 + 10,
            user_id=1001,
            username="user1001",
            model_name="claude-3-5-sonnet",
            token_name="prod",
            quota=1500,
            prompt_tokens=120,
            completion_tokens=80,
            cache_read_tokens=30,
            use_time=2,
            duration_ms=2100,
            first_token_ms=350,
            is_stream=True,
            channel_id=1,
            channel_name="anthropic",
            group="vip",
            ip="2001:db8::1",
            other={"model_ratio": 15.0, "frt": 350},
        ),
    )


def test_admin_list_returns_every_field_in_new_api_page_shape(admin_api, two_users_logs):
    error_log, consume_log = two_users_logs

    response = admin_api.get("/api/log/")

    assert response.status_code == 200
    assert response.json() == {
        "success": True,
        "message": "",
        "data": {
            "page": 1,
            "page_size": 10,
            "total": 2,
            "items": [
                {
                    "id": consume_log.id,
                    "user_id": 1001,
                    "created_at": T0 + 10,
                    "type": 2,
                    "content": "",
                    "username": "user1001",
                    "token_id": 1,
                    "token_name": "prod",
                    "model_name": "claude-3-5-sonnet",
                    "quota": 1500,
                    "prompt_tokens": 120,
                    "completion_tokens": 80,
                    "cache_read_tokens": 30,
                    "cache_creation_tokens": 0,
                    "use_time": 2,
                    "duration_ms": 2100,
                    "first_token_ms": 350,
                    "is_stream": True,
                    "channel": 1,
                    "channel_id": 1,
                    "channel_name": "anthropic",
                    "group": "vip",
                    "ip": "2001:db8::1",
                    "request_id": "",
                    "endpoint": "",
                    "other": '{"frt":350,"model_ratio":15.0}',
                },
                {
                    "id": error_log.id,
                    "user_id": 1000,
                    "created_at": T0,
                    "type": 5,
                    "content": "upstream error 502",
                    "username": "user1000",
                    "token_id": 7,
                    "token_name": "ci-key",
                    "model_name": "gpt-4o",
                    "quota": 0,
                    "prompt_tokens": 0,
                    "completion_tokens": 0,
                    "cache_read_tokens": 0,
                    "cache_creation_tokens": 0,
                    "use_time": 0,
                    "duration_ms": 0,
                    "first_token_ms": None,
                    "is_stream": False,
                    "channel": 3,
                    "channel_id": 3,
                    "channel_name": "azure-east",
                    "group": "default",
                    "ip": "203.0.113.9",
                    "request_id": "req-err-1",
                    "endpoint": "/v1/chat/completions",
                    "other": '{"admin_info":{"use_channel":["3"]},"channel_id":3,'
                    '"channel_name":"azure-east","channel_type":14,"error_code":"bad_gateway",'
                    '"status_code":502,"stream_status":{"status":"error"}}',
                },
            ],
            "next_cursor": None,
        },
    }


def test_self_list_shows_only_callers_logs_without_admin_fields(user_api, two_users_logs):
    error_log, _ = two_users_logs

    response = user_api.get("/api/log/self")

    assert response.status_code == 200
    assert response.json() == {
        "success": True,
        "message": "",
        "data": {
            "page": 1,
            "page_size": 10,
            "total": 1,
            "items": [
                {
                    "id": error_log.id,
                    "user_id": 1000,
                    "created_at": T0,
                    "type": 5,
                    "content": "upstream error 502",
                    "username": "user1000",
                    "token_id": 7,
                    "token_name": "ci-key",
                    "model_name": "gpt-4o",
                    "quota": 0,
                    "prompt_tokens": 0,
                    "completion_tokens": 0,
                    "cache_read_tokens": 0,
                    "cache_creation_tokens": 0,
                    "use_time": 0,
                    "duration_ms": 0,
                    "first_token_ms": None,
                    "is_stream": False,
                    "channel": 0,
                    "channel_id": 0,
                    "channel_name": "",
                    "group": "default",
                    "ip": None,
                    "request_id": "req-err-1",
                    "endpoint": "/v1/chat/completions",
                    "other": '{"error_code":"bad_gateway","status_code":502}',
                }
            ],
            "next_cursor": None,
        },
    }


def test_other_user_sees_only_their_own_logs(other_api, two_users_logs):
    _, consume_log = two_users_logs

    response = other_api.get("/api/log/self")

    assert ids(response) == [consume_log.id]
    item = response.json()["data"]["items"][0]
    assert (item["channel"], item["channel_name"], item["ip"]) == (0, "", None)


def test_self_list_ignores_username_and_channel_parameters(user_api, two_users_logs):
    error_log, _ = two_users_logs

    response = user_api.get("/api/log/self", {"username": "user1001", "channel": 1})

    assert ids(response) == [error_log.id]


def test_list_is_newest_first_with_id_breaking_ties(admin_api):
    logs = store(
        log_event(created_at=T0 + 5, request_id="a"),
        log_event(created_at=T0 + 9, request_id="b"),
        log_event(created_at=T0 + 5, request_id="c"),
    )

    response = admin_api.get("/api/log/")

    assert ids(response) == [logs[1].id, logs[2].id, logs[0].id]


def test_user_other_without_hidden_keys_is_kept_whole(user_api):
    store(log_event(created_at=T0, other={"model_ratio": 2.5, "cache_tokens": 0}))

    item = user_api.get("/api/log/self").json()["data"]["items"][0]

    assert item["other"] == '{"cache_tokens":0,"model_ratio":2.5}'


def test_empty_other_is_sent_as_empty_json_object_string(admin_api):
    store(log_event(created_at=T0))

    item = admin_api.get("/api/log/").json()["data"]["items"][0]

    assert item["other"] == "{}"


@pytest.fixture
def filter_logs(admin_api, user_api):
    """Logs that differ in one field each, for the filter tests; content names them."""
    base = {"user_id": 1000, "username": "user1000", "model_name": "gpt-4o"}
    return store(
        log_event(**base, created_at=T0, content="t0"),
        log_event(**base, created_at=T0 + 100, content="t100"),
        log_event(**base, created_at=T0 + 200, content="t200"),
        log_event(**{**base, "model_name": "gpt-4o-mini"}, created_at=T0 + 300, content="mini"),
        log_event(**{**base, "model_name": "gpt_4"}, created_at=T0 + 301, content="underscore"),
        log_event(**{**base, "model_name": "gpt\\4"}, created_at=T0 + 302, content="backslash"),
        log_event(**{**base, "model_name": "GPT-4O"}, created_at=T0 + 303, content="upper"),
        log_event(**base, created_at=T0 + 400, type=5, content="error"),
        log_event(**base, created_at=T0 + 401, type=1, content="topup"),
        log_event(**base, created_at=T0 + 500, token_name="ci-key", content="token"),
        log_event(**base, created_at=T0 + 600, channel_id=9, content="channel9"),
        log_event(**base, created_at=T0 + 700, group="vip", content="vip"),
        log_event(**base, created_at=T0 + 800, request_id="req_1", content="req_1"),
        log_event(**base, created_at=T0 + 801, request_id="reqX1", content="reqX1"),
        log_event(user_id=1001, username="user1001", created_at=T0 + 900, content="u1"),
        log_event(user_id=1002, username="alice_b", created_at=T0 + 901, content="ab"),
    )


def contents(response):
    body = response.json()
    assert body["success"] is True, body
    return sorted(item["content"] for item in body["data"]["items"])


ADMIN_FILTERS = [
    # inclusive bounds on both ends
    ({"start_timestamp": T0 + 100, "end_timestamp": T0 + 200}, ["t100", "t200"]),
    ({"start_timestamp": T0 + 900}, ["ab", "u1"]),
    ({"end_timestamp": T0}, ["t0"]),
    ({"start_timestamp": 0, "end_timestamp": T0 + 100}, ["t0", "t100"]),
    ({"type": 5}, ["error"]),
    ({"type": 1}, ["topup"]),
    ({"username": "user1001"}, ["u1"]),
    ({"username": "alice%"}, ["ab"]),
    # `_` is literal in a pattern: "alice_b" matches, "aliceXb" would not
    ({"username": "%e_b"}, ["ab"]),
    ({"username": "user"}, []),  # exact without %
    ({"token_name": "ci-key"}, ["token"]),
    ({"token_name": "ci-%"}, []),  # token_name is always exact
    ({"model_name": "gpt-4o-mini"}, ["mini"]),
    ({"model_name": "gpt_4"}, ["underscore"]),
    ({"model_name": "gpt%mini"}, ["mini"]),
    ({"model_name": "gpt_%"}, ["underscore"]),  # `_` literal, not "any character"
    ({"model_name": "gpt\\%"}, ["backslash"]),  # `\` literal
    ({"model_name": "GPT-4O"}, ["upper"]),  # exact is case-sensitive
    ({"channel": 9}, ["channel9"]),
    ({"channel": 0, "type": 0}, None),  # 0 = all
    ({"group": "vip"}, ["vip"]),
    ({"request_id": "req_1"}, ["req_1"]),
    ({"request_id": "req%1"}, []),  # request_id is exact
    ({"model_name": "gpt-4o", "start_timestamp": T0 + 150, "end_timestamp": T0 + 700}, None),
]


@pytest.mark.parametrize(("params", "expected"), ADMIN_FILTERS)
def test_admin_list_filters(admin_api, filter_logs, params, expected):
    response = admin_api.get("/api/log/", {**params, "page_size": 100})

    if expected is None:  # computed from the stored rows
        qs = Log.objects.all()
        if params.get("model_name"):
            qs = qs.filter(model_name=params["model_name"])
        if params.get("start_timestamp"):
            qs = qs.filter(created_at__gte=params["start_timestamp"])
        if params.get("end_timestamp"):
            qs = qs.filter(created_at__lte=params["end_timestamp"])
        expected = sorted(qs.values_list("content", flat=True))
    assert contents(response) == expected


def test_pattern_is_case_insensitive(admin_api, filter_logs):
    response = admin_api.get("/api/log/", {"model_name": "%4o-MINI", "page_size": 100})

    assert contents(response) == ["mini"]


SELF_FILTERS = [
    ({"start_timestamp": T0 + 100, "end_timestamp": T0 + 200}, ["t100", "t200"]),
    ({"type": 5}, ["error"]),
    ({"token_name": "ci-key"}, ["token"]),
    ({"model_name": "gpt%mini"}, ["mini"]),
    ({"model_name": "gpt_4"}, ["underscore"]),
    ({"group": "vip"}, ["vip"]),
    ({"request_id": "req_1"}, ["req_1"]),
    # other users' logs never appear, whatever the filter
    ({"start_timestamp": T0 + 900}, []),
    ({"model_name": "gpt-4o", "start_timestamp": T0 + 850}, []),
]


@pytest.mark.parametrize(("params", "expected"), SELF_FILTERS)
def test_self_list_filters(user_api, filter_logs, params, expected):
    response = user_api.get("/api/log/self", {**params, "page_size": 100})

    assert contents(response) == expected


@pytest.mark.parametrize(
    ("params", "page", "page_size"),
    [
        ({}, 1, 10),
        ({"p": 2}, 2, 10),
        ({"p": 0}, 1, 10),
        ({"p": -3}, 1, 10),
        ({"page_size": 5}, 1, 5),
        ({"ps": 6}, 1, 6),
        ({"size": 7}, 1, 7),
        ({"page_size": 5, "ps": 6, "size": 7}, 1, 5),
        ({"page_size": 0, "ps": 6}, 1, 6),
        ({"page_size": 0, "ps": 0, "size": 7}, 1, 7),
        ({"page_size": 1000}, 1, 100),
        ({"page_size": 10**30}, 1, 100),
        ({"page_size": -5}, 1, 1),
        ({"p": 10**30}, 2**63 - 1, 10),
        ({"p": ""}, 1, 10),
    ],
)
@pytest.mark.parametrize("path", ["/api/log/", "/api/log/self"])
def test_page_and_page_size_are_clamped(admin_api, user_api, path, params, page, page_size):
    bulk_logs(25)
    client = admin_api if path == "/api/log/" else user_api

    data = client.get(path, params).json()["data"]

    assert (data["page"], data["page_size"], data["total"]) == (page, page_size, 25)
    expected_items = max(0, min(page_size, 25 - (page - 1) * page_size))
    assert len(data["items"]) == expected_items


def test_pages_partition_the_matches_without_overlap(admin_api):
    bulk_logs(25)
    newest_first = list(Log.objects.order_by("-created_at", "-id").values_list("id", flat=True))

    pages = [ids(admin_api.get("/api/log/", {"p": p, "page_size": 10})) for p in (1, 2, 3, 4)]

    assert pages == [newest_first[:10], newest_first[10:20], newest_first[20:], []]


def test_page_past_the_end_is_empty_not_an_error(user_api):
    bulk_logs(3)

    response = user_api.get("/api/log/self", {"p": 50})

    assert response.json() == {
        "success": True,
        "message": "",
        "data": {"page": 50, "page_size": 10, "total": 3, "items": [], "next_cursor": None},
    }


@pytest.mark.parametrize(
    ("count", "page_size"),
    [(23, 5), (SMALL_MATCH + 150, 100)],  # keys cut in Python / ordered index scan
)
def test_cursor_walks_every_match_once_in_order(admin_api, count, page_size):
    # Equal timestamps across page boundaries: the id breaks the tie.
    events = [LogEvent(created_at=T0 + i // 4, user_id=1000, username="u") for i in range(count)]
    for first in range(0, count, 1000):
        logs_ingest(events=events[first : first + 1000])
    newest_first = list(Log.objects.order_by("-created_at", "-id").values_list("id", flat=True))

    seen, cursor, pages = [], None, 0
    while True:
        params = {"page_size": page_size, **({"cursor": cursor} if cursor else {})}
        data = admin_api.get("/api/log/", params).json()["data"]
        seen += [item["id"] for item in data["items"]]
        cursor, pages = data["next_cursor"], pages + 1
        if cursor is None:
            break

    assert seen == newest_first
    assert pages == -(-count // page_size)


@pytest.mark.parametrize("count", [45, SMALL_MATCH + 45])
def test_offset_pages_agree_with_the_cursor_on_both_paths(user_api, count):
    bulk_logs(count)
    newest_first = list(Log.objects.order_by("-created_at", "-id").values_list("id", flat=True))

    by_p = [ids(user_api.get("/api/log/self", {"p": p, "ps": 20})) for p in (1, 2, 3)]

    assert by_p == [newest_first[:20], newest_first[20:40], newest_first[40:60]]


def test_next_cursor_names_the_last_item(admin_api):
    logs = store(*(log_event(created_at=T0 + i) for i in range(3)))

    data = admin_api.get("/api/log/", {"page_size": 2}).json()["data"]

    assert data["next_cursor"] == f"{T0 + 1}.{logs[1].id}"


def test_cursor_continues_a_page_read_with_p_and_echoes_p(user_api):
    bulk_logs(30)
    newest_first = list(Log.objects.order_by("-created_at", "-id").values_list("id", flat=True))
    second = user_api.get("/api/log/self", {"p": 2, "page_size": 10}).json()["data"]

    third = user_api.get(
        "/api/log/self", {"p": 3, "page_size": 10, "cursor": second["next_cursor"]}
    ).json()["data"]

    assert [i["id"] for i in third["items"]] == newest_first[20:30]
    assert (third["page"], third["total"], third["next_cursor"]) == (3, 30, None)


def test_cursor_keeps_the_filters(user_api, filter_logs):
    first = user_api.get("/api/log/self", {"model_name": "gpt-4o", "page_size": 2}).json()["data"]

    rest = user_api.get(
        "/api/log/self", {"model_name": "gpt-4o", "page_size": 100, "cursor": first["next_cursor"]}
    )

    expected = list(
        Log.objects.filter(user_id=1000, model_name="gpt-4o")
        .order_by("-created_at", "-id")
        .values_list("id", flat=True)
    )
    assert [i["id"] for i in first["items"]] + ids(rest) == expected


def test_total_is_capped_past_ten_thousand_matches(admin_api):
    bulk_logs(10_001)

    data = admin_api.get("/api/log/", {"page_size": 1}).json()["data"]

    assert (data["total"], data["total_is_capped"]) == (10_000, True)
    assert list(data) == ["page", "page_size", "total", "items", "total_is_capped", "next_cursor"]


def test_total_at_exactly_the_cap_is_not_marked_capped(admin_api):
    bulk_logs(10_000)

    data = admin_api.get("/api/log/", {"page_size": 1}).json()["data"]

    assert data["total"] == 10_000
    assert "total_is_capped" not in data


def test_deep_page_of_a_capped_match_asks_for_the_cursor(admin_api):
    bulk_logs(10_001)

    last_reachable = admin_api.get("/api/log/", {"p": 1000, "page_size": 10}).json()["data"]
    too_deep = admin_api.get("/api/log/", {"p": 1001, "page_size": 10}).json()
    continued = admin_api.get(
        "/api/log/", {"page_size": 10, "cursor": last_reachable["next_cursor"]}
    ).json()["data"]

    assert [i["created_at"] for i in last_reachable["items"]] == [
        T0 + 10_000 - n for n in range(9_990, 10_000)
    ]
    assert too_deep == {
        "success": False,
        "message": "page 1001 starts past the first 10000 matching logs; continue with cursor "
        "(the next_cursor of the previous page) or narrow the filters",
    }
    assert [i["created_at"] for i in continued["items"]] == [T0]
    assert continued["next_cursor"] is None
