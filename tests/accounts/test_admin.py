"""The Django admin for operators: tokens shown once, revocation, disabling users."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from accounts.authentication import MSG_BANNED, MSG_INVALID_TOKEN
from accounts.ids import LOCAL_ID_MIN
from accounts.models import AccessToken, Channel, Role, Scope, Status, User
from tests.factories import log_event
from tests.typed_factories import token_make, user_make

pytestmark = pytest.mark.django_db

SECRET_RE = re.compile(r'id="token-secret"[^>]*value="(tl_[^"]+)"')


@pytest.fixture
def root_client() -> Client:
    root = user_make(id=2, username="root", role=Role.ROOT)
    client = Client()
    client.force_login(root)
    return client


def test_root_creates_a_read_token_shown_once_then_revokes_it(root_client):
    admin_user = user_make(id=1, username="admin", role=Role.ADMIN)

    response = root_client.post(
        "/admin/accounts/accesstoken/add/",
        {"user": admin_user.pk, "name": "exporter", "scope": "read"},
    )

    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    match = SECRET_RE.search(response.content.decode())
    assert match is not None
    secret = match.group(1)
    token = AccessToken.objects.get(user=admin_user)
    assert (token.name, token.scope, token.revoked_at) == ("exporter", "read", None)
    assert secret.startswith(token.prefix)
    # The secret works on the API...
    api = Client(headers={"Authorization": f"Bearer {secret}", "New-Api-User": "1"})
    assert api.get("/api/log/").status_code not in (401, 403)
    # ...and is never shown again; neither is its hash.
    for path in (
        "/admin/accounts/accesstoken/",
        f"/admin/accounts/accesstoken/{token.pk}/change/",
    ):
        page = root_client.get(path).content.decode()
        assert token.prefix in page
        assert secret not in page and token.key_hash not in page

    response = root_client.post(
        "/admin/accounts/accesstoken/",
        {"action": "revoke_tokens", "_selected_action": [token.pk]},
        follow=True,
    )

    assert "Revoked 1 token(s)." in response.content.decode()
    token.refresh_from_db()
    assert token.revoked_at is not None
    refused = api.get("/api/log/")
    assert (refused.status_code, refused.json()) == (
        401,
        {"success": False, "message": MSG_INVALID_TOKEN},
    )


def test_admin_token_form_requires_a_user(root_client):
    response = root_client.post("/admin/accounts/accesstoken/add/", {"name": "x", "scope": "read"})
    assert response.status_code == 200
    assert "This field is required." in response.content.decode()
    assert not AccessToken.objects.exists()


def test_disabled_user_tokens_stop_working(root_client):
    operator = user_make(id=1, username="admin", role=Role.ADMIN)
    _, read_secret = token_make(user=operator, scope=Scope.READ)
    _, ingest_secret = token_make(user=operator, scope=Scope.INGEST)
    read_api = Client(headers={"Authorization": f"Bearer {read_secret}", "New-Api-User": "1"})
    ingest_api = Client(headers={"Authorization": f"Bearer {ingest_secret}"})
    event = {"created_at": 1_735_689_600, "user_id": 1000, "username": "u", "quota": 5}
    before = ingest_api.post("/api/log/", {"logs": [event]}, content_type="application/json")
    assert before.json()["data"]["accepted"] == 1
    assert read_api.get("/api/log/").status_code not in (401, 403)

    response = root_client.post(
        "/admin/accounts/user/",
        {"action": "disable_users", "_selected_action": [operator.pk]},
        follow=True,
    )

    assert "Disabled 1 user(s)." in response.content.decode()
    operator.refresh_from_db()
    assert operator.status == Status.DISABLED
    banned = {"success": False, "message": MSG_BANNED}
    refused = read_api.get("/api/log/")
    assert (refused.status_code, refused.json()) == (403, banned)
    refused = ingest_api.post("/api/log/", {"logs": [event]}, content_type="application/json")
    assert (refused.status_code, refused.json()) == (403, banned)

    root_client.post(
        "/admin/accounts/user/",
        {"action": "enable_users", "_selected_action": [operator.pk]},
    )
    operator.refresh_from_db()
    assert operator.status == Status.ENABLED
    assert read_api.get("/api/log/").status_code not in (401, 403)


def test_root_cannot_disable_themself(root_client):
    response = root_client.post(
        "/admin/accounts/user/",
        {"action": "disable_users", "_selected_action": [2]},
        follow=True,
    )
    assert "You cannot disable yourself." in response.content.decode()
    assert user_make(id=2).status == Status.ENABLED


def test_user_list_filters_and_searches(root_client):
    user_make(id=1000, username="alice", group="vip")
    user_make(id=1001, username="bob", status=Status.DISABLED)
    user_make(id=1002, username="alicia", role=Role.ADMIN)

    def names(query: str) -> list[str]:
        response = root_client.get(f"/admin/accounts/user/?{query}")
        return [u.username for u in response.context["cl"].result_list]

    assert names("q=ali") == ["alice", "alicia"]
    assert names("q=lic") == []  # a prefix search, never a substring scan
    assert names("status__exact=2") == ["bob"]
    assert names("role__exact=10") == ["alicia"]
    assert names("group=vip") == ["alice"]


def test_admin_creates_a_local_account_with_an_id_in_the_local_range(root_client):
    user_make(id=41, username="gateway-user")

    response = root_client.post(
        "/admin/accounts/user/add/",
        {
            "username": "carol",
            "usable_password": "true",
            "password1": "a-long-pass-phrase-9",
            "password2": "a-long-pass-phrase-9",
        },
    )
    assert response.status_code == 302
    carol = User.objects.get(username="carol")
    assert (carol.pk, carol.is_local) == (LOCAL_ID_MIN, True)
    assert carol.check_password("a-long-pass-phrase-9")


def test_channel_names_are_editable_in_the_list(root_client, ingest):
    ingest([log_event(channel_id=7, channel_name="openai-main")])
    response = root_client.post(
        "/admin/accounts/channel/",
        {
            "form-TOTAL_FORMS": "1",
            "form-INITIAL_FORMS": "1",
            "form-0-id": "7",
            "form-0-name": "OpenAI (primary)",
            "_save": "Save",
        },
    )
    assert response.status_code == 302
    assert Channel.objects.get(pk=7).name == "OpenAI (primary)"


def test_common_users_cannot_open_the_admin():
    user = user_make(id=1000)
    client = Client()
    client.force_login(user)
    response = client.get("/admin/")
    assert response.status_code == 302 and response["Location"].startswith("/admin/login/")
