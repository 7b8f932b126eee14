"""Every DRF view reads JSON bodies with the project's parser (accounts/parsers.py): a body too
deep for any JSON reader is the family's 400, never a 500 (RecursionError), and only JSON is
read."""

from __future__ import annotations

import re

import orjson
import pytest

API_KEYS_USAGE = "/api/v1/usage/dashboard/api-keys-usage"


TOO_DEEP = "JSON parse error - nested more than 64 levels deep"


def orjson_refusal(body: bytes) -> str:
    """The refusal of a body orjson stops reading (past 1024 levels), in orjson's own words."""
    with pytest.raises(orjson.JSONDecodeError) as refused:
        orjson.loads(body)
    return f"JSON parse error - {refused.value}"


def deep_arrays(depth: int) -> bytes:
    return b'{"api_key_ids":' + b"[" * depth + b"]" * depth + b"}"


def deep_objects(depth: int) -> bytes:
    return b'{"api_key_ids":' + b'{"a":' * depth + b"1" + b"}" * depth + b"}"


def post_body(api, path: str, body: bytes | str, content_type: str = "application/json", **headers):
    return api.client.post(
        path, body, content_type=content_type, headers={**api.headers(), **headers}
    )


@pytest.mark.parametrize("depth", [64, 1000, 1024, 5000, 100_000])
def test_sub2api_body_nested_too_deep_is_its_400(user_api, depth):
    # 1000 was the reported 500 (a RecursionError); orjson itself stops reading at 1024 levels
    response = post_body(user_api, API_KEYS_USAGE, deep_arrays(depth))

    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    message = TOO_DEEP if depth < 1024 else orjson_refusal(deep_arrays(depth))
    assert response.json() == {"code": 400, "message": message}


def test_sub2api_body_of_deep_objects_is_its_400(user_api):
    response = post_body(user_api, API_KEYS_USAGE, deep_objects(100))

    assert response.status_code == 400
    assert response.json() == {"code": 400, "message": TOO_DEEP}


def test_sub2api_body_nested_within_the_limit_is_read_and_validated(user_api):
    # the top-level object and 63 levels of lists
    response = post_body(user_api, API_KEYS_USAGE, deep_arrays(63))

    assert response.status_code == 400
    assert response.json() == {
        "code": 400,
        "message": "api_key_ids.0: A valid integer is required.",
    }


@pytest.mark.parametrize(
    "content_type", ["multipart/form-data; boundary=x", "application/x-www-form-urlencoded"]
)
def test_sub2api_body_other_than_json_is_its_415(user_api, content_type):
    response = post_body(user_api, API_KEYS_USAGE, b"api_key_ids=1", content_type=content_type)

    assert response.status_code == 415
    assert response.json() == {
        "code": 415,
        "message": f'Unsupported media type "{content_type}" in request.',
    }


def test_sub2api_body_in_another_charset_is_decoded(user_api):
    body = '{"api_key_ids": [], "note": "é"}'  # the test client encodes it in the charset

    response = post_body(
        user_api, API_KEYS_USAGE, body, content_type="application/json; charset=latin-1"
    )

    assert response.status_code == 200
    assert response.json()["data"] == {"stats": {}}


def test_new_api_ingest_body_nested_too_deep_is_its_400(ingest_api):
    body = b'{"logs":[' + b"[" * 5000 + b"]" * 5000 + b"]}"

    response = post_body(ingest_api, "/api/log/", body)

    assert response.status_code == 400
    body = response.json()
    assert body["success"] is False
    assert set(body) == {"success", "message"}
    assert re.fullmatch(r"body is not valid JSON \(UTF-8\): [a-z ]+: line 1 .*", body["message"])
