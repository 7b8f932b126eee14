"""POST /api/log/ (API.md section 2), through the HTTP client with a real ingest token."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
import time_machine
from django.db import connection
from django.test import Client

from accounts.models import Channel, Role, Status, User
from logs.events import MAX_BODY_BYTES
from logs.models import IngestKey, Log
from tests.conftest import ApiClient
from usage.rollups import FAMILIES

URL = "/api/log/"
NOW = 1_750_000_000  # 2025-06-15T15:06:40Z
LOG_FIELDS = [field.name for field in Log._meta.fields if field.name != "id"]
BATCH_REFUSED = "the database refused the batch; nothing of it was stored, retry it"


@pytest.fixture(autouse=True)
def frozen_time():
    with time_machine.travel(NOW, tick=False):
        yield


def event(**fields: Any) -> dict[str, Any]:
    """A minimal valid raw event; override or add any field."""
    return {"user_id": 1000, "username": "user1000", **fields}


def post(api: ApiClient, body: Any) -> Any:
    return api.post(URL, body, new_api_user=False)


def stored() -> list[dict[str, Any]]:
    return list(Log.objects.order_by("id").values(*LOG_FIELDS))


def nothing_stored() -> bool:
    return not Log.objects.exists() and not IngestKey.objects.exists()


# --- the response ---------------------------------------------------------------------------


def test_ingest_answers_counts_and_per_item_errors(ingest_api):
    response = post(
        ingest_api,
        {
            "logs": [
                event(request_id="a", prompt_tokens=10),
                event(request_id="b", prompt_tokens=-1),
                event(request_id="a", prompt_tokens=10),
                event(request_id="c"),
            ]
        },
    )

    assert response.status_code == 200
    assert response.json() == {
        "success": True,
        "message": "",
        "data": {
            "accepted": 2,
            "duplicates": 1,
            "rejected": 1,
            "errors": [{"index": 1, "message": "prompt_tokens: must be >= 0"}],
        },
    }
    assert [row["request_id"] for row in stored()] == ["a", "c"]


def test_ingest_accepts_a_bare_array(ingest_api):
    response = post(ingest_api, [event(request_id="a"), event(request_id="b")])

    assert response.status_code == 200
    assert response.json()["data"] == {"accepted": 2, "duplicates": 0, "rejected": 0, "errors": []}


def test_ingest_reports_every_problem_of_an_item_in_one_message(ingest_api):
    response = post(ingest_api, [event(quota=-1, prompt_tokens="5", foo=1)])

    assert response.json()["data"]["errors"] == [
        {
            "index": 0,
            "message": "unknown field(s): 'foo'; quota: must be >= 0; "
            "prompt_tokens: must be an integer, not a string",
        }
    ]


# --- defaults and stored values -------------------------------------------------------------


def test_minimal_event_gets_every_default(ingest_api):
    response = post(ingest_api, [{"user_id": 5, "username": "u5"}])

    assert response.json()["data"]["accepted"] == 1
    assert stored() == [
        {
            "created_at": NOW,
            "type": 2,
            "content": "",
            "user_id": 5,
            "username": "u5",
            "token_id": 0,
            "token_name": "",
            "model_name": "",
            "quota": 0,
            "prompt_tokens": 0,
            "completion_tokens": 0,
            "cache_read_tokens": 0,
            "cache_creation_tokens": 0,
            "use_time": 0,
            "duration_ms": 0,
            "first_token_ms": None,
            "is_stream": False,
            "channel_id": 0,
            "channel_name": "",
            "group": "default",
            "ip": None,
            "request_id": "",
            "endpoint": "",
            "other": {},
        }
    ]


def test_full_event_is_stored_as_sent(ingest_api):
    full = {
        "request_id": "20250615150000abcdef",
        "created_at": NOW - 60,
        "type": 2,
        "user_id": 7,
        "username": "alice",
        "token_id": 3,
        "token_name": "prod-backend",
        "model_name": "gpt-4o",
        "quota": 1875,
        "prompt_tokens": 1000,
        "completion_tokens": 125,
        "cache_read_tokens": 256,
        "cache_creation_tokens": 64,
        "use_time": 2,
        "duration_ms": 2345,
        "first_token_ms": 410,
        "is_stream": True,
        "channel_id": 4,
        "channel_name": "azure-eastus",
        "group": "vip",
        "ip": "203.0.113.10",
        "content": "model ratio 1.25, completion ratio 4.00, group ratio 1.00",
        "endpoint": "/v1/chat/completions",
        "other": {"model_ratio": 1.25, "frt": 410, "admin_info": {"use_channel": ["4"]}},
    }

    post(ingest_api, [full])

    assert stored() == [full]


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"created_at": NOW + 300}, {"created_at": NOW + 300}),
        ({"created_at": 0}, {"created_at": 0}),
        ({"created_at": "2025-06-15T15:00:00Z"}, {"created_at": 1749999600}),
        ({"created_at": "2025-06-15T23:00:00+08:00"}, {"created_at": 1749999600}),
        ({"created_at": "2025-06-15T10:00:00-05:00"}, {"created_at": 1749999600}),
        ({"created_at": "2025-06-15T15:00:00"}, {"created_at": 1749999600}),  # naive = UTC
        ({"created_at": "2025-06-15T15:00:00.999Z"}, {"created_at": 1749999600}),
        ({"type": 0}, {"type": 0}),
        ({"type": 6}, {"type": 6}),
        ({"channel": 7}, {"channel_id": 7}),
        ({"channel": 7, "channel_id": 7}, {"channel_id": 7}),
        ({"use_time": 3}, {"use_time": 3, "duration_ms": 3000}),
        ({"duration_ms": 2500}, {"use_time": 2, "duration_ms": 2500}),
        ({"use_time": 1, "duration_ms": 2500}, {"use_time": 1, "duration_ms": 2500}),
        ({"first_token_ms": None}, {"first_token_ms": None}),
        ({"first_token_ms": 0}, {"first_token_ms": 0}),
        ({"quota": 2**31 - 1}, {"quota": 2**31 - 1}),  # the bound (test_ingest_bounds.py)
        ({"ip": "2001:DB8:0:0::1"}, {"ip": "2001:db8::1"}),
        ({"ip": "::ffff:192.0.2.1"}, {"ip": "::ffff:192.0.2.1"}),
        ({"ip": "0000:0000:0000:0000:0000:ffff:192.168.100.228"}, {"ip": "::ffff:192.168.100.228"}),
        ({"ip": "2001:db8:0:0:0:0:0:1"}, {"ip": "2001:db8::1"}),
        ({"ip": " 192.0.2.1 "}, {"ip": "192.0.2.1"}),
        ({"ip": ""}, {"ip": None}),
        ({"ip": None}, {"ip": None}),
        ({"other": '{"model_ratio": 15.0}'}, {"other": {"model_ratio": 15.0}}),
        ({"other": ""}, {"other": {}}),
        ({"other": "null"}, {"other": {}}),
        ({"other": None}, {"other": {}}),
        ({"other": {"path": "C:\\u0000"}}, {"other": {"path": "C:\\u0000"}}),
        ({"group": ""}, {"group": ""}),
        ({"request_id": "r" * 64}, {"request_id": "r" * 64}),
        ({"username": "u" * 64}, {"username": "u" * 64}),
        ({"token_name": "t" * 128}, {"token_name": "t" * 128}),
        ({"model_name": "m" * 128}, {"model_name": "m" * 128}),
        ({"channel_name": "c" * 128, "channel_id": 1}, {"channel_name": "c" * 128}),
        ({"group": "g" * 64}, {"group": "g" * 64}),
        ({"content": "é" * 4096}, {"content": "é" * 4096}),
        ({"endpoint": "/" * 128}, {"endpoint": "/" * 128}),
        ({"username": "用户🙂"}, {"username": "用户🙂"}),
    ],
)
def test_accepted_value_is_stored_normalized(ingest_api, fields, expected):
    response = post(ingest_api, [event(**fields)])

    assert response.json()["data"]["errors"] == []
    row = stored()[0]
    assert {name: row[name] for name in expected} == expected


# --- rejected values ------------------------------------------------------------------------

NOT_FRACTION = "not a number with a fraction or exponent"
COUNTERS = [
    "token_id",
    "quota",
    "prompt_tokens",
    "completion_tokens",
    "cache_read_tokens",
    "cache_creation_tokens",
    "channel_id",
    "channel",
    "use_time",
    "duration_ms",
    "first_token_ms",
]
TYPE_CHOICES = (
    "type: must be one of 0 (unknown), 1 (topup), 2 (consume), 3 (manage), 4 (system), "
    "5 (error), 6 (refund)"
)
BAD_ITEMS = [
    *[({name: -1}, f"{name}: must be >= 0") for name in COUNTERS],
    *[({name: True}, f"{name}: must be an integer, not a boolean") for name in COUNTERS],
    *[({name: 1.5}, f"{name}: must be an integer, {NOT_FRACTION}") for name in COUNTERS],
    ({"prompt_tokens": 10.0}, f"prompt_tokens: must be an integer, {NOT_FRACTION}"),
    ({"prompt_tokens": 1e3}, f"prompt_tokens: must be an integer, {NOT_FRACTION}"),
    ({"quota": "100"}, "quota: must be an integer, not a string"),
    ({"quota": None}, "quota: must be an integer, not null"),
    ({"quota": [1]}, "quota: must be an integer, not an array"),
    ({"quota": {"v": 1}}, "quota: must be an integer, not an object"),
    ({"quota": 2**31}, "quota: must be <= 2147483647"),
    ({"quota": 2**63 - 1}, "quota: must be <= 2147483647"),
    ({"quota": 2**63}, "quota: must be <= 2147483647"),
    ({"quota": 2**70}, f"quota: must be an integer, {NOT_FRACTION}"),  # beyond 64 bits
    ({"use_time": 2**31 // 1000 + 1}, "use_time: must be <= 2147483"),
    ({"duration_ms": 2**31}, "duration_ms: must be <= 2147483647"),
    ({"user_id": 0}, "user_id: must be >= 1"),
    ({"user_id": -3}, "user_id: must be >= 1"),
    ({"user_id": "5"}, "user_id: must be an integer, not a string"),
    ({"user_id": None}, "user_id: must be an integer, not null"),
    ({"user_id": True}, "user_id: must be an integer, not a boolean"),
    ({"type": 7}, TYPE_CHOICES),
    ({"type": -1}, TYPE_CHOICES),
    ({"type": "2"}, "type: must be an integer, not a string"),
    ({"type": True}, "type: must be an integer, not a boolean"),
    ({"username": ""}, "username: must be 1 to 64 characters"),
    ({"username": "u" * 65}, "username: must be 1 to 64 characters"),
    ({"username": 123}, "username: must be a string, not an integer"),
    ({"username": None}, "username: must be a string, not null"),
    ({"username": "a\x00b"}, "username: must not contain NUL characters"),
    ({"request_id": "r" * 65}, "request_id: at most 64 characters"),
    ({"token_name": "t" * 129}, "token_name: at most 128 characters"),
    ({"model_name": "m" * 129}, "model_name: at most 128 characters"),
    ({"channel_name": "c" * 129}, "channel_name: at most 128 characters"),
    ({"group": "g" * 65}, "group: at most 64 characters"),
    ({"content": "x" * 4097}, "content: at most 4096 characters"),
    ({"endpoint": "/" * 129}, "endpoint: at most 128 characters"),
    ({"content": "a\x00b"}, "content: must not contain NUL characters"),
    ({"model_name": "gpt\x00"}, "model_name: must not contain NUL characters"),
    ({"request_id": 5}, "request_id: must be a string, not an integer"),
    ({"model_name": ["gpt-4o"]}, "model_name: must be a string, not an array"),
    ({"group": None}, "group: must be a string, not null"),
    ({"is_stream": 1}, "is_stream: must be true or false, not an integer"),
    ({"is_stream": "true"}, "is_stream: must be true or false, not a string"),
    ({"is_stream": None}, "is_stream: must be true or false, not null"),
    ({"ip": "999.1.1.1"}, "ip: '999.1.1.1' is not an IPv4 or IPv6 address"),
    ({"ip": "1.2.3"}, "ip: '1.2.3' is not an IPv4 or IPv6 address"),
    ({"ip": "localhost"}, "ip: 'localhost' is not an IPv4 or IPv6 address"),
    ({"ip": "fe80::1%eth0"}, "ip: 'fe80::1%eth0' is not an IPv4 or IPv6 address"),
    ({"ip": "1" * 100}, f"ip: {'1' * 64!r} is not an IPv4 or IPv6 address"),
    ({"ip": 3232235521}, "ip: must be an IPv4 or IPv6 address string or null, not an integer"),
    ({"other": "not json"}, "other: the string does not hold valid JSON"),
    ({"other": "[1, 2]"}, "other: must be a JSON object (or a string holding one), not an array"),
    ({"other": 5}, "other: must be a JSON object (or a string holding one), not an integer"),
    ({"other": [1]}, "other: must be a JSON object (or a string holding one), not an array"),
    ({"other": True}, "other: must be a JSON object (or a string holding one), not a boolean"),
    ({"other": {"k": "x" * 16400}}, "other: larger than 16384 bytes when serialized"),
    (
        {"other": orjson.dumps({"k": "x" * 16400}).decode()},
        "other: larger than 16384 bytes when serialized",
    ),
    ({"other": "x" * 100_000}, "other: larger than 16384 bytes"),
    ({"other": {"error": "a\x00b"}}, "other: must not contain NUL characters"),
    ({"created_at": NOW + 301}, "created_at: more than 5 minutes in the future"),
    ({"created_at": "2025-06-15T15:12:00Z"}, "created_at: more than 5 minutes in the future"),
    ({"created_at": "yesterday"}, "created_at: 'yesterday' is not an ISO-8601 date-time"),
    (
        {"created_at": True},
        "created_at: must be Unix seconds (integer) or an ISO-8601 string, not a boolean",
    ),
    (
        {"created_at": 1.5},
        f"created_at: must be Unix seconds (integer) or an ISO-8601 string, {NOT_FRACTION}",
    ),
    (
        {"created_at": None},
        "created_at: must be Unix seconds (integer) or an ISO-8601 string, not null",
    ),
    ({"created_at": -1}, "created_at: must be >= 0 (Unix seconds)"),
    ({"created_at": "1960-01-01T00:00:00Z"}, "created_at: must be >= 0 (Unix seconds)"),
    ({"channel": 3, "channel_id": 4}, "channel: differs from channel_id (send one of them)"),
    ({"foo": 1, "bar": 2}, "unknown field(s): 'bar', 'foo'"),
    ({"Quota": 1}, "unknown field(s): 'Quota'"),
]


@pytest.mark.parametrize(("fields", "message"), BAD_ITEMS)
def test_invalid_field_is_rejected_with_its_reason(ingest_api, fields, message):
    response = post(ingest_api, [event(**{"request_id": "bad", **fields})])

    assert response.status_code == 200
    assert response.json()["data"] == {
        "accepted": 0,
        "duplicates": 0,
        "rejected": 1,
        "errors": [{"index": 0, "message": message}],
    }
    assert nothing_stored()


def test_deeply_nested_other_is_rejected(ingest_api):
    nested: dict[str, Any] = {}
    for _ in range(300):
        nested = {"a": nested}

    response = post(ingest_api, [event(other=nested)])

    assert response.json()["data"]["errors"] == [
        {"index": 0, "message": "other: nested too deeply"}
    ]


@pytest.mark.parametrize(
    ("missing", "message"), [("user_id", "user_id: required"), ("username", "username: required")]
)
def test_required_field_missing_is_rejected(ingest_api, missing, message):
    item = event()
    del item[missing]

    response = post(ingest_api, [item])

    assert response.json()["data"]["errors"] == [{"index": 0, "message": message}]


@pytest.mark.parametrize(
    ("item", "kind"), [(5, "an integer"), ("x", "a string"), ([], "an array"), (None, "null")]
)
def test_item_that_is_not_an_object_is_rejected(ingest_api, item, kind):
    response = post(ingest_api, [item, event()])

    assert response.json()["data"] == {
        "accepted": 1,
        "duplicates": 0,
        "rejected": 1,
        "errors": [{"index": 0, "message": f"event must be a JSON object, not {kind}"}],
    }


def test_rejected_item_is_dropped_and_the_others_stored(ingest_api):
    response = post(
        ingest_api,
        [event(request_id="ok-1"), event(request_id="bad", user_id=0), event(request_id="ok-2")],
    )

    assert response.json()["data"]["accepted"] == 2
    assert [row["request_id"] for row in stored()] == ["ok-1", "ok-2"]
    # The rejected item's request id is not claimed: its corrected retry is stored.
    retry = post(ingest_api, [event(request_id="bad")])
    assert retry.json()["data"]["accepted"] == 1


# --- batch size and malformed bodies --------------------------------------------------------


def test_exactly_1000_events_are_accepted(ingest_api):
    response = post(ingest_api, {"logs": [event(request_id=f"r{i}") for i in range(1000)]})

    assert response.json()["data"] == {
        "accepted": 1000,
        "duplicates": 0,
        "rejected": 0,
        "errors": [],
    }
    assert Log.objects.count() == 1000


def test_1001_events_are_refused_and_nothing_stored(ingest_api):
    response = post(ingest_api, [event(request_id=f"r{i}") for i in range(1001)])

    assert response.status_code == 400
    assert response.json() == {
        "success": False,
        "message": "the batch holds 1001 events; at most 1000 are accepted",
    }
    assert nothing_stored()


EMPTY = 'empty body: send {"logs": [...]} or a JSON array of events'
NOT_A_BATCH = 'the body must be {"logs": [...]} or a JSON array of events'
MALFORMED = [
    (b"", EMPTY),
    (b"  \n", EMPTY),
    (b"{}", 'missing "logs": send {"logs": [...]} or a JSON array of events'),
    (b'{"logs": []}', "the batch holds no events (send 1 to 1000)"),
    (b"[]", "the batch holds no events (send 1 to 1000)"),
    (b'"logs"', NOT_A_BATCH),
    (b"42", NOT_A_BATCH),
    (b"null", NOT_A_BATCH),
    (b'{"logs": {"user_id": 5, "username": "u5"}}', '"logs" must be a JSON array of events'),
    (b'{"logs": null}', '"logs" must be a JSON array of events'),
    (
        b'{"logs": [{"user_id": 5, "username": "u5"}], "extra": 1}',
        "unknown top-level field(s): 'extra'; expected only \"logs\"",
    ),
]


@pytest.mark.parametrize(("body", "message"), MALFORMED)
def test_malformed_body_is_refused_and_nothing_stored(ingest_api, body, message):
    users = User.objects.count()

    response = post(ingest_api, body)

    assert response.status_code == 400
    assert response.json() == {"success": False, "message": message}
    assert nothing_stored()
    assert User.objects.count() == users


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b'[{"user_id": 5, "username": "u5"}',  # truncated
        b'[{"user_id": 5, "username": "u5"},]',  # trailing comma
        b'[{"user_id": 5, "username": "\xff\xfe"}]',  # not UTF-8
        b'[{"user_id": 5, "username": "\\ud800"}]',  # lone surrogate
        b"\xef\xbb\xbf[]",  # a byte-order mark
        b"[" * 2000 + b"]" * 2000,  # nested beyond the parser's limit
    ],
)
def test_body_that_is_not_json_is_refused(ingest_api, body):
    response = post(ingest_api, body)

    assert response.status_code == 400
    payload = response.json()
    assert payload["success"] is False
    assert payload["message"].startswith("body is not valid JSON (UTF-8): ")
    assert nothing_stored()


def test_body_over_10_mib_is_refused_and_nothing_stored(ingest_api):
    body = b'[{"user_id": 5, "username": "u5"}' + b" " * MAX_BODY_BYTES + b"]"

    response = post(ingest_api, body)

    assert response.status_code == 400
    assert response.json() == {"success": False, "message": "request body exceeds 10 MiB"}
    assert nothing_stored()
    assert not User.objects.filter(id=5).exists()


def test_body_of_exactly_10_mib_is_accepted(ingest_api):
    head = b'[{"user_id": 5, "username": "u5"}'
    body = head + b" " * (MAX_BODY_BYTES - len(head) - 1) + b"]"
    assert len(body) == MAX_BODY_BYTES

    response = post(ingest_api, body)

    assert response.json()["data"]["accepted"] == 1


# --- idempotency ----------------------------------------------------------------------------


def test_duplicate_within_a_batch_is_stored_once(ingest_api):
    response = post(
        ingest_api,
        [event(request_id="a", quota=1), event(request_id="a", quota=2), event(request_id="b")],
    )

    assert response.json()["data"] == {"accepted": 2, "duplicates": 1, "rejected": 0, "errors": []}
    assert [(row["request_id"], row["quota"]) for row in stored()] == [("a", 1), ("b", 0)]


def test_duplicate_across_batches_is_stored_once(ingest_api):
    post(ingest_api, [event(request_id="a"), event(request_id="b")])

    response = post(
        ingest_api, [event(request_id="b"), event(request_id="a"), event(request_id="c")]
    )

    assert response.json()["data"] == {"accepted": 1, "duplicates": 2, "rejected": 0, "errors": []}
    assert sorted(row["request_id"] for row in stored()) == ["a", "b", "c"]
    assert IngestKey.objects.count() == 3


def test_events_without_request_id_are_never_duplicates(ingest_api):
    post(ingest_api, [event(), event()])
    response = post(ingest_api, [event(), event(request_id="")])

    assert response.json()["data"]["accepted"] == 2
    assert Log.objects.count() == 4
    assert not IngestKey.objects.exists()


def test_request_id_stays_claimed_after_its_log_is_deleted(ingest_api):
    post(ingest_api, [event(request_id="a")])
    Log.objects.all().delete()  # retention

    response = post(ingest_api, [event(request_id="a")])

    assert response.json()["data"]["duplicates"] == 1
    assert not Log.objects.exists()


def test_steady_state_batch_costs_a_fixed_number_of_queries(ingest_api, django_assert_num_queries):
    def batch(start: int, size: int) -> list[dict[str, Any]]:
        return [
            event(request_id=f"r{i}", user_id=10 + i % 3, username=f"u{i % 3}",
                  channel_id=1 + i % 2, channel_name=f"ch{i % 2}")
            for i in range(start, start + size)
        ]  # fmt: skip

    post(ingest_api, batch(0, 10))  # provisions the users and channels, marks the token used
    # token lookup, SAVEPOINT, claim request ids, users SELECT, channels SELECT, logs INSERT,
    # one upsert per rollup family (4), RELEASE SAVEPOINT, and on PostgreSQL the partition
    # catalog check (a process trusts only committed partitions, and the test's never commit):
    # the same for 1000 events as for 2 (no per-event query).
    expected = 7 + len(FAMILIES) + (connection.vendor == "postgresql")
    with django_assert_num_queries(expected):
        response = post(ingest_api, batch(10, 1000))
    assert response.json()["data"]["accepted"] == 1000
    with django_assert_num_queries(expected):
        post(ingest_api, batch(1010, 2))


# --- users and channels named by events -----------------------------------------------------


def test_unknown_user_is_provisioned_as_common_user_without_password(ingest_api):
    post(ingest_api, [event(user_id=42, username="newbie", created_at=NOW - 100)])

    user = User.objects.get(id=42)
    assert (user.username, user.role, user.status) == ("newbie", Role.COMMON, Status.ENABLED)
    assert not user.has_usable_password()
    assert user.last_seen_at == datetime.fromtimestamp(NOW - 100, tz=UTC)


def test_last_seen_moves_forward_at_ten_minute_resolution(ingest_api):
    def seen() -> int:
        last_seen_at = User.objects.get(id=42).last_seen_at
        assert last_seen_at is not None
        return int(last_seen_at.timestamp())

    post(ingest_api, [event(user_id=42, username="u42", created_at=NOW - 2000)])
    post(ingest_api, [event(user_id=42, username="u42", created_at=NOW - 1000)])
    assert seen() == NOW - 1000
    post(ingest_api, [event(user_id=42, username="u42", created_at=NOW - 500)])  # < 10 min on
    assert seen() == NOW - 1000
    post(ingest_api, [event(user_id=42, username="u42", created_at=NOW - 3000)])  # older
    assert seen() == NOW - 1000
    post(ingest_api, [event(user_id=42, username="u42", created_at=NOW)])
    assert seen() == NOW


def test_newer_event_renames_the_user_and_older_one_does_not_undo_it(ingest_api):
    post(ingest_api, [event(request_id="1", user_id=42, username="old", created_at=NOW - 300)])
    post(ingest_api, [event(request_id="2", user_id=42, username="new", created_at=NOW - 200)])
    assert User.objects.get(id=42).username == "new"

    post(ingest_api, [event(request_id="3", user_id=42, username="old", created_at=NOW - 250)])

    assert User.objects.get(id=42).username == "new"
    # Each log keeps the name its event carried.
    assert [row["username"] for row in stored()] == ["old", "new", "old"]


def test_within_a_batch_the_newest_event_names_the_user(ingest_api):
    post(
        ingest_api,
        [
            event(user_id=42, username="newest", created_at=NOW - 10),
            event(user_id=42, username="older", created_at=NOW - 20),
        ],
    )

    assert User.objects.get(id=42).username == "newest"


def test_username_taken_over_by_another_id_renames_the_stale_holder(ingest_api):
    post(ingest_api, [event(request_id="1", user_id=7, username="alice", created_at=NOW - 300)])

    post(ingest_api, [event(request_id="2", user_id=8, username="alice", created_at=NOW - 200)])

    assert User.objects.get(id=8).username == "alice"
    assert User.objects.get(id=7).username == "alice#7"
    # The stale holder's own next event gives it its new name.
    post(ingest_api, [event(request_id="3", user_id=7, username="alice2", created_at=NOW - 100)])
    assert User.objects.get(id=7).username == "alice2"


def test_stale_claim_of_a_username_does_not_displace_its_current_holder(ingest_api):
    post(ingest_api, [event(request_id="1", user_id=7, username="alice", created_at=NOW - 100)])

    # A late retry from when user 9 was called alice (renamed on the gateway since).
    post(ingest_api, [event(request_id="2", user_id=9, username="alice", created_at=NOW - 500)])

    assert User.objects.get(id=7).username == "alice"
    assert User.objects.get(id=9).username == "alice#9"


def test_usernames_swapped_within_a_batch(ingest_api):
    post(
        ingest_api,
        [
            event(user_id=7, username="a", created_at=NOW - 100),
            event(user_id=8, username="b", created_at=NOW - 100),
        ],
    )

    response = post(
        ingest_api,
        [
            event(user_id=7, username="b", created_at=NOW - 50),
            event(user_id=8, username="a", created_at=NOW - 50),
        ],
    )

    assert response.json()["data"]["accepted"] == 2
    assert dict(User.objects.filter(id__in=[7, 8]).values_list("id", "username")) == {
        7: "b",
        8: "a",
    }


def test_two_new_ids_with_one_name_in_a_batch_the_newest_wins(ingest_api):
    post(
        ingest_api,
        [
            event(user_id=7, username="bob", created_at=NOW - 50),
            event(user_id=8, username="bob", created_at=NOW - 10),
        ],
    )

    assert dict(User.objects.filter(id__in=[7, 8]).values_list("id", "username")) == {
        7: "bob#7",
        8: "bob",
    }


def test_channels_are_provisioned_and_renamed_by_the_newest_name(ingest_api):
    post(
        ingest_api,
        [
            event(channel_id=5, channel_name="azure", created_at=NOW - 100),
            event(channel_id=6, created_at=NOW - 100),  # no name yet
            event(channel_id=0, channel_name="ignored"),  # 0 is "no channel"
        ],
    )
    assert dict(Channel.objects.values_list("id", "name")) == {5: "azure", 6: ""}

    post(
        ingest_api,
        [
            event(channel_id=5, channel_name="azure-eastus", created_at=NOW - 50),
            event(channel_id=5, channel_name="azure-old", created_at=NOW - 60),
            event(channel_id=6, channel_name="openai"),
        ],
    )
    assert dict(Channel.objects.values_list("id", "name")) == {5: "azure-eastus", 6: "openai"}


def test_empty_channel_name_does_not_blank_a_known_name(ingest_api):
    post(ingest_api, [event(channel_id=5, channel_name="azure")])

    post(ingest_api, [event(channel_id=5, channel_name=""), event(channel=5)])

    assert Channel.objects.get(id=5).name == "azure"


# --- atomicity ------------------------------------------------------------------------------


@pytest.fixture
def failing_insert():
    """A trigger that makes the database refuse a log whose content is 'boom': a failure in the
    middle of the batch's INSERT, after its request ids, users and channels were written."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "CREATE FUNCTION test_refuse_boom() RETURNS trigger LANGUAGE plpgsql AS $$ "
                "BEGIN IF NEW.content = 'boom' THEN RAISE EXCEPTION 'injected failure'; "
                "END IF; RETURN NEW; END $$"
            )
            cursor.execute(
                "CREATE TRIGGER test_refuse_boom BEFORE INSERT ON logs FOR EACH ROW "
                "EXECUTE FUNCTION test_refuse_boom()"
            )
        else:
            cursor.execute(
                "CREATE TRIGGER test_refuse_boom BEFORE INSERT ON logs "
                "WHEN NEW.content = 'boom' BEGIN SELECT RAISE(ABORT, 'injected failure'); END"
            )
    # The test's transaction is rolled back afterwards, taking the trigger with it.


def test_failure_in_the_middle_of_a_batch_leaves_nothing_behind(ingest_api, failing_insert, caplog):
    users = set(User.objects.values_list("id", flat=True))

    response = post(
        ingest_api,
        [
            event(request_id="1", user_id=50, username="first", channel_id=8, channel_name="c8"),
            event(request_id="2", user_id=51, username="second", content="boom"),
            event(request_id="3", user_id=52, username="third", channel_id=9, channel_name="c9"),
        ],
    )

    assert response.status_code == 503
    assert response.json() == {"success": False, "message": BATCH_REFUSED}
    assert nothing_stored()
    assert set(User.objects.values_list("id", flat=True)) == users
    assert not Channel.objects.exists()
    assert "ingest batch failed" in caplog.text
    # The same batch without the poisoned event goes through afterwards.
    retry = post(ingest_api, [event(request_id="1", user_id=50, username="first")])
    assert retry.json()["data"]["accepted"] == 1


# --- concurrency (PostgreSQL: real row locks between two connections) ----------------------


@pytest.fixture
def slow_claim():
    """Makes the claim of any request id ending in "-s100" sleep 0.3 s inside its transaction,
    so that two batches sharing ids are certain to be claiming them at the same time."""
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE FUNCTION test_slow_claim() RETURNS trigger LANGUAGE plpgsql AS $$ "
            "BEGIN PERFORM pg_sleep(0.3); RETURN NEW; END $$"
        )
        cursor.execute(
            "CREATE TRIGGER test_slow_claim BEFORE INSERT ON ingest_keys FOR EACH ROW "
            "WHEN (NEW.request_id LIKE '%%-s100') EXECUTE FUNCTION test_slow_claim()"
        )
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DROP TRIGGER test_slow_claim ON ingest_keys")
            cursor.execute("DROP FUNCTION test_slow_claim()")


@pytest.mark.postgres("SQLite serializes writers")
@pytest.mark.django_db(transaction=True)
def test_concurrent_batches_sharing_request_ids_store_each_once(request, ingest_api):
    request.getfixturevalue("slow_claim")
    token = ingest_api.token.secret  # type: ignore[union-attr]
    rounds, shared = 2, 200
    for round_ in range(rounds):
        common = [event(request_id=f"{round_}-s{i}", user_id=60 + i % 5, username=f"u{i % 5}")
                  for i in range(shared)]  # fmt: skip
        batches = [
            common + [event(request_id=f"{round_}-a{i}") for i in range(50)],
            # The other gateway sends the shared ids in the opposite order: claiming them in
            # the order received would deadlock the two transactions.
            [event(request_id=f"{round_}-b{i}") for i in range(50)] + common[::-1],
        ]
        barrier = threading.Barrier(len(batches))
        answers: list[Any] = [None] * len(batches)

        def send(
            slot: int,
            body: list[dict[str, Any]],
            barrier: threading.Barrier = barrier,
            answers: list[Any] = answers,
        ) -> None:
            try:
                client = Client()
                barrier.wait(timeout=10)
                answers[slot] = client.post(
                    URL, body, content_type="application/json",
                    headers={"Authorization": f"Bearer {token}"},
                )  # fmt: skip
            finally:
                connection.close()

        threads = [threading.Thread(target=send, args=(n, b)) for n, b in enumerate(batches)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)

        assert [answer.status_code for answer in answers] == [200, 200]
        data = [answer.json()["data"] for answer in answers]
        assert sum(d["accepted"] for d in data) == shared + 100
        assert sum(d["duplicates"] for d in data) == shared
    ids = list(Log.objects.values_list("request_id", flat=True))
    assert len(ids) == len(set(ids)) == rounds * (shared + 100)


@pytest.fixture
def slow_user_insert():
    """Makes the creation of the user named "c2" sleep 0.3 s inside its transaction."""
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE FUNCTION test_slow_user() RETURNS trigger LANGUAGE plpgsql AS $$ "
            "BEGIN PERFORM pg_sleep(0.3); RETURN NEW; END $$"
        )
        cursor.execute(
            "CREATE TRIGGER test_slow_user BEFORE INSERT ON users FOR EACH ROW "
            "WHEN (NEW.username = 'c2') EXECUTE FUNCTION test_slow_user()"
        )
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DROP TRIGGER test_slow_user ON users")
            cursor.execute("DROP FUNCTION test_slow_user()")


@pytest.mark.postgres("SQLite serializes writers")
@pytest.mark.django_db(transaction=True)
def test_concurrent_batches_creating_the_same_users_do_not_deadlock(request, ingest_api):
    request.getfixturevalue("slow_user_insert")
    token = ingest_api.token.secret  # type: ignore[union-attr]
    users = [event(user_id=70 + i, username=f"c{i}") for i in range(5)]
    batches = [users, users[::-1]]  # the second gateway names them in the opposite order
    barrier = threading.Barrier(2)
    answers: list[Any] = [None, None]

    def send(slot: int) -> None:
        try:
            client = Client()
            barrier.wait(timeout=10)
            answers[slot] = client.post(
                URL, batches[slot], content_type="application/json",
                headers={"Authorization": f"Bearer {token}"},
            )  # fmt: skip
        finally:
            connection.close()

    threads = [threading.Thread(target=send, args=(slot,)) for slot in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert [answer.status_code for answer in answers] == [200, 200]
    assert dict(User.objects.filter(id__gte=70, id__lt=75).values_list("id", "username")) == {
        70 + i: f"c{i}" for i in range(5)
    }
    assert Log.objects.count() == 10
