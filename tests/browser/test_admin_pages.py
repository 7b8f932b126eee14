"""The Django admin in a real browser: operators' flows at both widths, with axe."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from accounts.models import AccessToken, Role, Status, User
from logs.models import Log
from tests.browser.conftest import PASSWORD
from tests.factories import log_event
from tests.typed_factories import user_make

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

NOW = 1_767_268_800  # 2026-01-01 12:00 UTC
DAY = 86_400


@pytest.fixture
def root() -> User:
    return user_make(id=2, username="root", role=Role.ROOT, password=PASSWORD)


@pytest.fixture
def some_logs(ingest):
    events = [
        log_event(
            created_at=NOW - days * DAY,
            request_id=f"req-{days}",
            user_id=1000 + index % 3,
            username=f"user{1000 + index % 3}",
            model_name=("gpt-4o", "claude-3-5-sonnet", "gemini-1.5-pro")[index % 3],
            channel_id=1 + index % 2,
            channel_name=("openai-main", "anthropic")[index % 2],
            group=("default", "vip")[index % 2],
            first_token_ms=300 + days,
            duration_ms=1200 + 10 * days,
            ip="203.0.113.7",
        )
        for index, days in enumerate(range(0, 60, 3))
    ]
    ingest(events)


def test_root_manages_users_tokens_and_logs_in_the_admin(
    page, login, root, some_logs, shoot, assert_accessible
):
    login(root)
    page.get_by_role("link", name="Admin").click()
    expect(page.get_by_role("heading", name="Operators")).to_be_visible()
    shoot("admin-index")
    assert_accessible()

    # Users: list, filter, disable.
    page.get_by_role("link", name="Users").first.click()
    shoot("admin-users")
    assert_accessible()
    row = page.get_by_role("row", name=re.compile("user1001"))
    row.get_by_role("checkbox").check()
    page.get_by_label("Action:").select_option("disable_users")
    page.get_by_role("button", name="Go").click()
    expect(page.get_by_text("Disabled 1 user(s).")).to_be_visible()
    assert User.objects.get(username="user1001").status == Status.DISABLED

    # Access tokens: create one (secret shown once), then revoke it.
    page.goto("/admin/accounts/accesstoken/add/")
    page.get_by_label("User:").fill("1000")
    page.get_by_label("Name:").fill("exporter")
    page.get_by_label("Scope:").select_option("read")
    shoot("admin-token-add")
    page.get_by_role("button", name="Save", exact=True).click()
    secret = page.get_by_label("Secret").input_value()
    token = AccessToken.objects.get(name="exporter")
    assert secret.startswith(token.prefix)
    shoot("admin-token-created")
    assert_accessible()
    page.get_by_role("link", name="Back to access tokens").click()
    assert secret not in page.content()
    page.get_by_role("row", name=re.compile("exporter")).get_by_role("checkbox").check()
    page.get_by_label("Action:").select_option("revoke_tokens")
    page.get_by_role("button", name="Go").click()
    expect(page.get_by_text("Revoked 1 token(s).")).to_be_visible()
    shoot("admin-tokens")
    token.refresh_from_db()
    assert token.revoked_at is not None

    # Logs: read-only list with filters; delete the old ones.
    page.goto("/admin/logs/log/")
    expect(page.get_by_role("row", name=re.compile("req-0"))).to_be_visible()
    shoot("admin-logs")
    assert_accessible()
    page.get_by_label("Model").fill("gpt-4o")
    page.get_by_label("Model").press("Enter")
    page.wait_for_url(re.compile(r"model_name=gpt-4o"))
    shown = page.locator("#result_list tbody tr").count()
    assert shown == Log.objects.filter(model_name="gpt-4o").count()

    page.goto("/admin/logs/log/")
    page.get_by_role("link", name="Delete logs before…").click()
    page.get_by_label("Delete every log created before").fill("2025-12-01T00:00")
    shoot("admin-logs-delete-before")
    assert_accessible()
    page.get_by_role("button", name="Delete logs").click()
    message = page.locator(".messagelist").inner_text()
    # The browser's zone is America/St_Johns (-03:30): 2025-12-01 00:00 there is 03:30 UTC.
    cutoff = 1_764_559_800
    assert re.search(r"Deleted \d+ log\(s\) created before 2025-12-01 00:00", message)
    assert not Log.objects.filter(created_at__lt=cutoff).exists()
    assert Log.objects.filter(created_at__gte=cutoff).count() == 11
