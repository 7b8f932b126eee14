"""Garbage in every parameter of every statistics endpoint: always the family's error shape or
a correct result, never a 500 or an HTML page (API.md section 9)."""

from __future__ import annotations

import pytest

from tests.factories import log_event
from tests.usage.test_api_stats_schema import EXPECTED

GARBAGE = [
    "%ff%fe",  # not UTF-8
    "%00",
    "x" * 10_000,
    "-1",
    "1e309",
    "99999999999999999999999",
    "' OR 1=1 --",
    "%25%25_%5C",  # LIKE meta-characters
    "2025-03-01T00:00:00Z",
    "[]",
]
FAMILY = {
    "/api/data": lambda body: set(body) <= {"success", "message", "data"},
    "/api/v1/usage/apis": lambda body: (
        "detail" in body or set(body) == {"results", "total", "api_map"}
    ),
    "/api/v1/portal": lambda body: set(body) == {"meta", "data"},
    "/api/v1/usage": lambda body: set(body) in ({"code", "message"}, {"code", "message", "data"}),
}


def shape_ok(path, body):
    prefix = next(p for p in FAMILY if path.startswith(p))
    return FAMILY[prefix](body)


@pytest.mark.parametrize("path", sorted(EXPECTED))
def test_garbage_parameters_never_break_an_endpoint(admin_api, ingest, path):
    ingest([log_event(user_id=1, username="admin")])
    method, parameters = EXPECTED[path]
    concrete = path.replace("{usage_id}", "1")
    for name in sorted(parameters - {"usage_id"}):
        for value in GARBAGE:
            url = f"{concrete}?{name}={value}"
            if method == "post":
                response = admin_api.client.post(
                    url,
                    {"api_key_ids": [1]},
                    content_type="application/json",
                    headers=admin_api.headers(),
                )
            else:
                response = admin_api.client.get(url, headers=admin_api.headers())
            assert response.status_code in (200, 400), (url, response.content[:300])
            assert response["Content-Type"] == "application/json", url
            assert shape_ok(path, response.json()), (url, response.json())


@pytest.mark.parametrize(
    "path", ["/api/data/self", "/api/v1/usage/apis/aggregate/", "/api/v1/usage"]
)
def test_too_many_query_parameters_is_a_refusal_in_the_family_shape(user_api, path):
    query = "&".join(f"api_id=m{i}" for i in range(1200))
    response = user_api.client.get(f"{path}?{query}", headers=user_api.headers())

    assert response["Content-Type"] == "application/json"
    assert "too many parameters (at most 1000)" in str(response.json())
    assert response.status_code == (200 if path.startswith("/api/data") else 400)


# the last two: fullwidth and Arabic-Indic digits, which str.isdigit() and int() accept
@pytest.mark.parametrize("id_", ["%ff", "%00", "1%20", "0x10", "+1", "\uff11", "\u0661"])
def test_garbage_usage_ids(user_api, ingest, id_):
    ingest([log_event()])  # log id 1 exists on SQLite
    response = user_api.client.get(f"/api/v1/usage/{id_}", headers=user_api.headers())

    assert response.status_code == 400
    assert set(response.json()) == {"code", "message"}


@pytest.mark.parametrize(
    "body",
    [
        b"\xff\xfe",
        b"null",
        b'"text"',
        b'{"api_key_ids": null}',
        b'{"api_key_ids": [1.5]}',
        b'{"api_key_ids": [99999999999999999999999]}',
        b"{" * 5000,
    ],
)
def test_garbage_bodies_for_api_keys_usage(user_api, body):
    response = user_api.client.post(
        "/api/v1/usage/dashboard/api-keys-usage",
        body,
        content_type="application/json",
        headers=user_api.headers(),
    )

    assert response.status_code == 400
    assert set(response.json()) == {"code", "message"}
