"""Login, logout and the account page in a real browser, at both widths, with axe."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from accounts.models import AccessToken, Role, Status
from tests.browser.conftest import BROWSER_ZONE, PASSWORD
from tests.typed_factories import user_make

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def alice():
    return user_make(id=1000, username="alice", password=PASSWORD, group="vip")


def test_login_page_logs_in_and_out(page, alice, shoot, assert_accessible):
    page.goto("/")
    page.wait_for_url(re.compile(r"/login/\?next=/$"))
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    shoot("login")
    assert_accessible()

    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill("wrong password")
    page.get_by_role("button", name="Log in").click()
    assert page.get_by_role("alert").inner_text().startswith("Please enter a correct username")
    shoot("login-error")

    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(r"^[^?]*/$"))
    assert page.locator(".user-name").inner_text() == "alice"
    # The browser's zone was remembered and is shown in the header.
    assert page.locator(".tz-name").inner_text() == BROWSER_ZONE

    page.get_by_role("button", name="Log out").click()
    page.wait_for_url(re.compile(r"/login/$"))
    page.goto("/account/")
    page.wait_for_url(re.compile(r"/login/\?next=/account/$"))


def test_disabled_user_is_told_why_login_fails(page, alice):
    alice.status = Status.DISABLED
    alice.save()
    page.goto("/login/")
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    assert "This account is disabled" in page.get_by_role("alert").inner_text()
    assert page.url.endswith("/login/")


def test_account_page_creates_a_token_shown_once_and_revokes_it(
    page, login, alice, shoot, assert_accessible
):
    login(alice)
    page.get_by_role("link", name="Account").first.click()
    page.wait_for_url(re.compile(r"/account/$"))
    expect(page.get_by_text("No access tokens yet")).to_be_visible()
    shoot("account-empty")
    assert_accessible()

    # A missing name is reported beside the field.
    page.get_by_role("button", name="Create token").click()
    assert page.locator("#id_name_error").inner_text() == "This field is required."

    page.get_by_label("Name").fill("grafana")
    page.get_by_role("button", name="Create token").click()
    secret = page.get_by_label(re.compile("Secret of")).input_value()
    token = AccessToken.objects.get(user=alice)
    assert secret.startswith(token.prefix) and token.scope == "read"
    assert "only time the secret is shown" in page.get_by_role("alert").inner_text()
    page.get_by_role("button", name="Copy").click()
    shoot("token-created")
    assert_accessible()

    page.get_by_role("link", name="Back to account").click()
    row = page.get_by_role("row", name=re.compile("grafana"))
    assert token.prefix in row.inner_text() and "active" in row.inner_text()
    assert secret not in page.content()
    shoot("account-tokens")

    row.get_by_role("link", name="Revoke grafana").click()
    expect(page.get_by_role("heading", name="Revoke “grafana”?")).to_be_visible()
    shoot("token-revoke")
    assert_accessible()
    page.get_by_role("button", name="Revoke token").click()
    page.wait_for_url(re.compile(r"/account/$"))
    assert "was revoked" in page.get_by_role("status").first.inner_text()
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert "revoked" in page.get_by_role("row", name=re.compile("grafana")).inner_text()


def test_narrow_screen_hides_navigation_behind_the_menu_button(page, login):
    admin = user_make(id=1, username="admin", password=PASSWORD, role=Role.ADMIN)
    login(admin)
    page.set_viewport_size({"width": 390, "height": 844})
    nav_link = page.get_by_role("link", name="Site logs")
    expect(nav_link).to_be_hidden()
    page.get_by_role("button", name="Menu").click()
    expect(nav_link).to_be_visible()
    expect(page.get_by_role("link", name="Admin")).to_be_visible()
