"""The login and account pages through the test client."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from accounts.forms import MSG_DISABLED
from accounts.models import AccessToken, Role, Status
from tests.typed_factories import token_make, user_make

pytestmark = pytest.mark.django_db

PASSWORD = "pw-for-tests-1"  # tests.factories.UserFactory's


@pytest.fixture
def alice():
    return user_make(id=1000, username="alice")


@pytest.fixture
def alice_client(alice) -> Client:
    client = Client()
    client.force_login(alice)
    return client


@pytest.mark.parametrize("path", ["/", "/logs/", "/account/", "/site/", "/site/logs/"])
def test_pages_redirect_anonymous_visitors_to_login(client, path):
    response = client.get(path)
    assert (response.status_code, response["Location"]) == (302, f"/login/?next={path}")


def test_login_with_the_right_password_goes_to_the_dashboard(client, alice):
    response = client.post("/login/", {"username": "alice", "password": PASSWORD})
    assert (response.status_code, response["Location"]) == (302, "/")


def test_login_of_a_disabled_user_says_the_account_is_disabled(client, alice):
    alice.status = Status.DISABLED
    alice.save()
    response = client.post("/login/", {"username": "alice", "password": PASSWORD})
    assert response.status_code == 200
    assert response.context["form"].non_field_errors() == [MSG_DISABLED]


def test_login_of_a_disabled_user_with_a_wrong_password_reveals_nothing(client, alice):
    alice.status = Status.DISABLED
    alice.save()
    response = client.post("/login/", {"username": "alice", "password": "guess"})
    [error] = response.context["form"].non_field_errors()
    assert error.startswith("Please enter a correct username and password")


def test_a_disabled_user_session_stops_working(alice_client, alice):
    alice.status = Status.DISABLED
    alice.save()
    assert alice_client.get("/account/")["Location"] == "/login/?next=/account/"


def test_logout_is_a_post(alice_client):
    assert alice_client.post("/logout/").status_code == 302
    assert alice_client.get("/account/").status_code == 302


def test_account_lists_only_own_tokens(alice_client, alice, django_assert_num_queries):
    mine, _ = token_make(user=alice, name="mine")
    token_make(user=user_make(id=1001), name="someone-elses")
    # 1 session, 2 user, 3 the tokens
    with django_assert_num_queries(3):
        response = alice_client.get("/account/")
    page = response.content.decode()
    assert "mine" in page and mine.prefix in page and "someone-elses" not in page
    assert mine.key_hash not in page


def test_token_create_shows_the_secret_once(alice_client, alice):
    response = alice_client.post("/account/tokens/", {"name": "ci", "scope": "read"})
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    match = re.search(r'value="(tl_[^"]+)"', response.content.decode())
    assert match is not None
    secret = match.group(1)
    token = AccessToken.objects.get(user=alice)
    assert (token.name, token.scope) == ("ci", "read")
    assert secret.startswith(token.prefix)
    assert secret not in alice_client.get("/account/").content.decode()
    api = Client(headers={"Authorization": f"Bearer {secret}", "New-Api-User": "1000"})
    refused = api.get("/api/log/")  # an admin route: the token is valid, the role too low
    assert refused.status_code == 403
    assert refused.json()["message"] == "Unauthorized: insufficient privileges"


def test_token_create_errors_are_shown_beside_the_fields(alice_client):
    response = alice_client.post("/account/tokens/", {"name": "  ", "scope": "admin"})
    form = response.context["form"]
    assert form.errors == {
        "name": ["This field is required."],
        "scope": ["Select a valid choice. admin is not one of the available choices."],
    }
    assert 'id="id_name_error"' in response.content.decode()
    assert not AccessToken.objects.exists()


def test_common_users_cannot_create_ingest_tokens(alice_client):
    response = alice_client.post("/account/tokens/", {"name": "gw", "scope": "ingest"})
    assert "scope" in response.context["form"].errors
    assert not AccessToken.objects.exists()


def test_admins_can_create_ingest_tokens():
    client = Client()
    client.force_login(user_make(id=1, username="admin", role=Role.ADMIN))
    client.post("/account/tokens/", {"name": "gateway", "scope": "ingest"})
    assert AccessToken.objects.get().scope == "ingest"


def test_revoke_asks_for_confirmation_then_revokes(alice_client, alice):
    token, _ = token_make(user=alice, name="old")
    page = alice_client.get(f"/account/tokens/{token.pk}/revoke/")
    assert "Revoke “old”?" in page.content.decode()
    token.refresh_from_db()
    assert token.revoked_at is None

    response = alice_client.post(f"/account/tokens/{token.pk}/revoke/")

    assert (response.status_code, response["Location"]) == (302, "/account/")
    token.refresh_from_db()
    assert token.revoked_at is not None


def test_revoke_needs_the_csrf_token(alice):
    token, _ = token_make(user=alice)
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    assert client.post(f"/account/tokens/{token.pk}/revoke/").status_code == 403
    token.refresh_from_db()
    assert token.revoked_at is None


def test_users_cannot_revoke_tokens_of_others(alice_client):
    other, _ = token_make(user=user_make(id=1001))
    assert alice_client.post(f"/account/tokens/{other.pk}/revoke/").status_code == 404
    other.refresh_from_db()
    assert other.revoked_at is None


def test_site_pages_are_for_admins_only(alice_client):
    assert alice_client.get("/site/").status_code == 403
    assert alice_client.get("/site/logs/").status_code == 403


def test_navigation_shows_admin_links_to_admins_only(alice_client):
    page = alice_client.get("/account/").content.decode()
    assert 'href="/site/"' not in page and 'href="/admin/"' not in page
    admin = Client()
    admin.force_login(user_make(id=1, username="admin", role=Role.ADMIN))
    page = admin.get("/account/").content.decode()
    assert 'href="/site/"' in page and 'href="/site/logs/"' in page and 'href="/admin/"' in page


def test_refusals_and_missing_pages_use_the_layout(alice_client):
    forbidden = alice_client.get("/site/")
    assert forbidden.status_code == 403 and "This page is for administrators." in (
        forbidden.content.decode()
    )
    missing = alice_client.get("/no-such-page/")
    assert missing.status_code == 404 and "Page not found" in missing.content.decode()
