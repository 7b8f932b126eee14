"""API.md section 1, new-api family, through the HTTP client with real credentials.

Routes used: `GET /api/user/self` (UserAuth: any enabled user with a read credential),
`GET /api/log/` (AdminAuth: refused for a common user before the method is looked at) and
`POST /api/log/` (ingest token only)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.http import HttpRequest  # axes refuses a password login without a request
from django.test import Client

from accounts.models import AccessToken, Status
from accounts.services import access_token_create, access_token_revoke
from tests.factories import UserFactory

SELF = "/api/user/self"
LOGS = "/api/log/"
ONE_EVENT = {"logs": [{"user_id": 7, "username": "alice", "model_name": "gpt-4o"}]}


def refusal(message: str) -> dict[str, object]:
    return {"success": False, "message": message}


@pytest.fixture
def user(db):
    return UserFactory.create(id=1000, username="user1000")


@pytest.fixture
def secret(user) -> str:
    return access_token_create(user=user)[1]


def get(path: str, **headers: str):
    return Client().get(path, headers=headers)


def test_no_credentials_is_401_with_new_apis_body(user):
    response = get(SELF, **{"New-Api-User": "1000"})

    assert response.status_code == 401
    assert response.json() == refusal("Unauthorized: not logged in and no access token provided")
    assert response["WWW-Authenticate"] == 'Bearer realm="tokenledger"'


def test_unknown_token_is_401(user):
    response = get(SELF, Authorization="Bearer tl_not-a-token", **{"New-Api-User": "1000"})

    assert response.status_code == 401
    assert response.json() == refusal("Unauthorized: invalid access token")


def test_revoked_token_is_401(user):
    token, secret = access_token_create(user=user)
    access_token_revoke(token=token)

    response = get(SELF, Authorization=f"Bearer {secret}", **{"New-Api-User": "1000"})

    assert response.status_code == 401
    assert response.json() == refusal("Unauthorized: invalid access token")


def test_bearer_token_reads_the_users_own_record(secret):
    response = get(SELF, Authorization=f"Bearer {secret}", **{"New-Api-User": "1000"})

    assert response.status_code == 200
    assert response.json() == {
        "success": True,
        "message": "",
        "data": {
            "id": 1000,
            "username": "user1000",
            "display_name": "",
            "role": 1,
            "status": 1,
            "group": "default",
            # no logs yet; the keys new-api's frontend reads besides (tests/accounts/test_api.py)
            "quota": 0,
            "used_quota": 0,
            "request_count": 0,
            "email": "",
            "github_id": "",
            "discord_id": "",
            "oidc_id": "",
            "wechat_id": "",
            "telegram_id": "",
            "linux_do_id": "",
            "aff_code": "",
            "aff_count": 0,
            "aff_quota": 0,
            "aff_history_quota": 0,
            "inviter_id": 0,
            "setting": "",
            "stripe_customer": "",
            "sidebar_modules": "",
            "permissions": {"sidebar_settings": True, "sidebar_modules": {"admin": False}},
        },
    }


def test_bare_token_without_bearer_is_accepted(secret):
    response = get(SELF, Authorization=secret, **{"New-Api-User": "1000"})

    assert response.status_code == 200
    assert response.json()["data"]["id"] == 1000


def test_new_api_user_in_the_seeds_bearer_form_is_accepted(secret):
    response = get(SELF, Authorization=f"Bearer {secret}", **{"New-Api-User": "Bearer 1000"})

    assert response.status_code == 200
    assert response.json()["data"]["username"] == "user1000"


@pytest.mark.parametrize(
    ("header", "message"),
    [
        (None, "Unauthorized: New-Api-User header missing"),
        ("", "Unauthorized: New-Api-User header missing"),
        ("abc", "Unauthorized: New-Api-User format error"),
        ("10.5", "Unauthorized: New-Api-User format error"),
        ("99999999999999999999999", "Unauthorized: New-Api-User format error"),
        ("1001", "Unauthorized: New-Api-User does not match the logged-in user"),
        ("Bearer 1001", "Unauthorized: New-Api-User does not match the logged-in user"),
    ],
)
def test_new_api_user_header_must_name_the_credentials_user(secret, header, message):
    headers = {"Authorization": f"Bearer {secret}"}
    if header is not None:
        headers["New-Api-User"] = header

    response = get(SELF, **headers)

    assert response.status_code == 401
    assert response.json() == refusal(message)


def test_disabled_users_token_is_refused_as_banned(user, secret):
    user.status = Status.DISABLED
    user.save()

    response = get(SELF, Authorization=f"Bearer {secret}", **{"New-Api-User": "1000"})

    assert response.status_code == 403
    assert response.json() == refusal("User has been banned")


def test_header_is_checked_before_the_ban_as_in_new_api(user, secret):
    user.status = Status.DISABLED
    user.save()

    response = get(SELF, Authorization=f"Bearer {secret}", **{"New-Api-User": "1"})

    assert response.status_code == 401
    assert response.json() == refusal(
        "Unauthorized: New-Api-User does not match the logged-in user"
    )


def test_session_login_reads_with_new_api_user(user):
    client = Client()
    assert client.login(request=HttpRequest(), username="user1000", password="pw-for-tests-1")

    response = client.get(SELF, headers={"New-Api-User": "1000"})

    assert response.status_code == 200
    assert response.json()["data"]["id"] == 1000


def test_session_needs_new_api_user_too(user):
    client = Client()
    client.force_login(user)

    response = client.get(SELF)

    assert response.status_code == 401
    assert response.json() == refusal("Unauthorized: New-Api-User header missing")


def test_session_of_a_user_disabled_after_login_is_refused_as_banned(user):
    client = Client()
    assert client.login(request=HttpRequest(), username="user1000", password="pw-for-tests-1")
    user.status = Status.DISABLED
    user.save()

    response = client.get(SELF, headers={"New-Api-User": "1000"})

    assert response.status_code == 403
    assert response.json() == refusal("User has been banned")


def test_disabled_user_cannot_log_in(user):
    user.status = Status.DISABLED
    user.save()

    assert not Client().login(request=HttpRequest(), username="user1000", password="pw-for-tests-1")


def test_common_user_is_refused_on_an_admin_route(user_api):
    response = user_api.get(LOGS)

    assert response.status_code == 403
    assert response.json() == refusal("Unauthorized: insufficient privileges")


def test_common_user_is_refused_on_an_admin_route_before_the_method_is_looked_at(user_api):
    response = user_api.delete(LOGS)

    assert response.status_code == 403
    assert response.json() == refusal("Unauthorized: insufficient privileges")


def test_bad_token_is_refused_even_with_a_valid_session(user):
    client = Client()
    client.force_login(user)

    response = client.get(
        SELF, headers={"Authorization": "Bearer tl_wrong", "New-Api-User": "1000"}
    )

    assert response.status_code == 401
    assert response.json() == refusal("Unauthorized: invalid access token")


def test_common_users_session_is_refused_on_an_admin_route(user):
    client = Client()
    client.force_login(user)

    response = client.get(LOGS, headers={"New-Api-User": "1000"})

    assert response.status_code == 403
    assert response.json() == refusal("Unauthorized: insufficient privileges")


def test_admin_passes_user_routes_with_its_role(admin_api):
    response = admin_api.get(SELF)

    assert response.status_code == 200
    assert (response.json()["data"]["id"], response.json()["data"]["role"]) == (1, 10)


def test_ingest_token_cannot_read(ingest_api):
    response = ingest_api.get(SELF)

    assert response.status_code == 403
    assert response.json() == refusal(
        "Unauthorized: this access token has the ingest scope and may only write logs"
    )


def test_ingest_token_of_an_admin_cannot_read_admin_routes(ingest_api):
    response = ingest_api.get(LOGS)

    assert response.status_code == 403
    assert response.json() == refusal(
        "Unauthorized: this access token has the ingest scope and may only write logs"
    )


def test_ingest_token_writes_logs_without_new_api_user(ingest_api):
    response = ingest_api.post(LOGS, ONE_EVENT, new_api_user=False)

    assert response.status_code == 200
    assert response.json()["data"]["accepted"] == 1


def test_read_token_cannot_write_logs(root_api):
    response = root_api.post(LOGS, ONE_EVENT)

    assert response.status_code == 403
    assert response.json() == refusal(
        "Unauthorized: writing logs requires an access token with the ingest scope"
    )


def test_session_cannot_write_logs(db):
    root = UserFactory.create(id=2, username="root", role=100)
    client = Client()
    client.force_login(root)

    response = client.post(
        LOGS, ONE_EVENT, content_type="application/json", headers={"New-Api-User": "2"}
    )

    assert response.status_code == 403
    assert response.json() == refusal(
        "Unauthorized: writing logs requires an access token with the ingest scope"
    )


def test_session_needs_the_csrf_token_for_unsafe_methods(user):
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)

    response = client.delete(LOGS, headers={"New-Api-User": "1000"})

    assert response.status_code == 403
    assert response.json() == refusal("CSRF Failed: CSRF cookie not set.")


def test_disabled_owner_of_an_ingest_token_cannot_write(ingest_api):
    ingest_api.user.status = Status.DISABLED
    ingest_api.user.save()

    response = ingest_api.post(LOGS, ONE_EVENT, new_api_user=False)

    assert response.status_code == 403
    assert response.json() == refusal("User has been banned")


def test_token_use_is_recorded_at_most_once_a_minute(user, secret):
    headers = {"Authorization": f"Bearer {secret}", "New-Api-User": "1000"}
    start = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)

    def last_used() -> datetime | None:
        return AccessToken.objects.get(user=user).last_used_at

    assert last_used() is None
    with time_machine.travel(start, tick=False):
        get(SELF, **headers)
    assert last_used() == start
    with time_machine.travel(start + timedelta(seconds=59), tick=False):
        get(SELF, **headers)
    assert last_used() == start
    with time_machine.travel(start + timedelta(seconds=61), tick=False):
        get(SELF, **headers)
    assert last_used() == start + timedelta(seconds=61)


def test_token_use_is_recorded_even_when_a_later_check_refuses(user, secret):
    get(SELF, Authorization=f"Bearer {secret}", **{"New-Api-User": "1001"})

    # The credential was valid, so it was used, even though the request was refused later.
    assert AccessToken.objects.get(user=user).last_used_at is not None


def test_token_is_stored_as_its_sha256_only(user):
    token, secret = access_token_create(user=user, name="dashboard")

    row = AccessToken.objects.filter(pk=token.pk).values().get()

    assert row["key_hash"] == hashlib.sha256(secret.encode()).hexdigest()
    assert not [name for name, value in row.items() if isinstance(value, str) and secret in value]
    assert row["prefix"] == secret[:10]
