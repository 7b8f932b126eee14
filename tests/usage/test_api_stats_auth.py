"""Who may call the statistics endpoints, and the refusals in each family's error shape
(API.md section 1): no credentials, a bad or revoked token, a banned user, an ingest token."""

from __future__ import annotations

import pytest
from django.test import Client
from django.utils import timezone

from accounts.authentication import (
    MSG_BANNED,
    MSG_INGEST_ONLY,
    MSG_INSUFFICIENT,
    MSG_INVALID_TOKEN,
    MSG_NOT_LOGGED_IN,
)
from tests.usage.conftest import family_error

# (family, method, path, body); every one answers 200 to a plain common user.
ENDPOINTS = [
    ("newapi", "get", "/api/data/self", None),
    ("sub2api", "get", "/api/v1/usage", None),
    ("sub2api", "get", "/api/v1/usage/stats", None),
    ("sub2api", "get", "/api/v1/usage/dashboard/stats", None),
    ("sub2api", "get", "/api/v1/usage/dashboard/trend", None),
    ("sub2api", "get", "/api/v1/usage/dashboard/models", None),
    ("sub2api", "post", "/api/v1/usage/dashboard/api-keys-usage", {"api_key_ids": [1]}),
    ("acedata", "get", "/api/v1/usage/apis/aggregate/", None),
    ("r9s", "get", "/api/v1/portal/management/usage?start_time=0&end_time=100", None),
]
ALL = [
    *ENDPOINTS,
    ("newapi", "get", "/api/data/", None),
    ("sub2api", "get", "/api/v1/usage/1", None),
]
IDS = [f"{method} {path.split('?')[0]}" for _, method, path, _ in ALL]


def call(client, method, path, body, **headers):
    if method == "post":
        return client.post(path, body, content_type="application/json", headers=headers)
    return client.get(path, headers=headers)


@pytest.mark.parametrize(("family", "method", "path", "body"), ALL, ids=IDS)
def test_no_credentials_is_a_401(db, family, method, path, body):
    response = call(Client(), method, path, body)

    assert response.status_code == 401
    assert response.json() == family_error(family, 401, MSG_NOT_LOGGED_IN)
    assert response["WWW-Authenticate"] == 'Bearer realm="tokenledger"'


@pytest.mark.parametrize(("family", "method", "path", "body"), ALL, ids=IDS)
def test_unknown_token_is_a_401(db, family, method, path, body):
    response = call(Client(), method, path, body, Authorization="Bearer tl_not-a-token")

    assert response.status_code == 401
    assert response.json() == family_error(family, 401, MSG_INVALID_TOKEN)


@pytest.mark.parametrize(("family", "method", "path", "body"), ENDPOINTS, ids=IDS[: len(ENDPOINTS)])
def test_revoked_token_is_a_401(user_api, family, method, path, body):
    user_api.token.revoked_at = timezone.now()
    user_api.token.save()

    response = call(user_api.client, method, path, body, **user_api.headers())

    assert response.status_code == 401
    assert response.json() == family_error(family, 401, MSG_INVALID_TOKEN)


@pytest.mark.parametrize(("family", "method", "path", "body"), ENDPOINTS, ids=IDS[: len(ENDPOINTS)])
def test_banned_user_is_a_403(banned_api, family, method, path, body):
    response = call(banned_api.client, method, path, body, **banned_api.headers())

    assert response.status_code == 403
    assert response.json() == family_error(family, 403, MSG_BANNED)


@pytest.mark.parametrize(("family", "method", "path", "body"), ENDPOINTS, ids=IDS[: len(ENDPOINTS)])
def test_ingest_token_cannot_read(ingest_only_api, family, method, path, body):
    response = call(ingest_only_api.client, method, path, body, **ingest_only_api.headers())

    assert response.status_code == 403
    assert response.json() == family_error(family, 403, MSG_INGEST_ONLY)


@pytest.mark.parametrize(("family", "method", "path", "body"), ENDPOINTS, ids=IDS[: len(ENDPOINTS)])
def test_read_token_works_bare_or_with_bearer(user_api, family, method, path, body):
    bare = {"Authorization": user_api.token.secret}
    if family == "newapi":
        bare["New-Api-User"] = "Bearer 1000"  # the seed's form

    assert call(user_api.client, method, path, body, **user_api.headers()).status_code == 200
    assert call(Client(), method, path, body, **bare).status_code == 200


@pytest.mark.parametrize(("family", "method", "path", "body"), ENDPOINTS, ids=IDS[: len(ENDPOINTS)])
def test_browser_session_works(user_api, family, method, path, body):
    browser = Client()
    browser.force_login(user_api.user)
    headers = {"New-Api-User": "1000"} if family == "newapi" else {}

    assert call(browser, method, path, body, **headers).status_code == 200


@pytest.mark.parametrize(
    ("family", "method", "path", "body"),
    [e for e in ENDPOINTS if e[0] != "newapi"],
    ids=[i for i, e in zip(IDS, ENDPOINTS, strict=False) if e[0] != "newapi"],
)
def test_other_families_ignore_the_new_api_user_header(user_api, family, method, path, body):
    headers = user_api.headers(new_api_user=False) | {"New-Api-User": "999"}

    assert call(user_api.client, method, path, body, **headers).status_code == 200


@pytest.mark.parametrize(("family", "method", "path", "body"), ENDPOINTS, ids=IDS[: len(ENDPOINTS)])
def test_admin_reads_through_the_user_endpoints(admin_api, family, method, path, body):
    assert call(admin_api.client, method, path, body, **admin_api.headers()).status_code == 200


def test_site_wide_data_needs_an_admin(user_api, root_api):
    refused = user_api.get("/api/data/")

    assert refused.status_code == 403
    assert refused.json() == family_error("newapi", 403, MSG_INSUFFICIENT)
    assert root_api.get("/api/data/").json()["success"] is True
