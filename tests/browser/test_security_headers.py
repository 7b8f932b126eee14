"""The Content-Security-Policy in Chromium: the pages work under it (the conftest fails every test
on a violation), the violation check itself catches what the policy refuses, the Chart.js
fallback and the API docs still work, and the login lockout is readable."""

from __future__ import annotations

import time

import pytest
from django.conf import settings
from playwright.sync_api import expect

from tests.browser.conftest import PASSWORD
from tests.factories import log_event
from tests.typed_factories import user_make

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def alice():
    return user_make(id=1000, username="alice", password=PASSWORD)


@pytest.fixture
def some_usage(ingest, alice):
    now = int(time.time())
    ingest(
        [
            log_event(created_at=now - 3600 * hours, user_id=1000, username="alice", quota=2000)
            for hours in range(1, 48)
        ]
    )


def test_the_violation_check_catches_an_injected_inline_script(page):
    page.goto("/login/")

    page.evaluate(
        """() => {
            const script = document.createElement("script");
            script.textContent = "window.injected = true";
            document.body.appendChild(script);
        }"""
    )

    for _ in range(40):  # the report arrives asynchronously
        if page.csp_violations:
            break
        page.wait_for_timeout(50)
    assert page.evaluate("() => window.injected") is None
    assert any("script-src" in text for text in page.csp_violations), page.csp_violations
    page.csp_violations.clear()


def test_swagger_ui_shows_the_schema_under_its_policy(page):
    page.goto("/api/docs/")

    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Tokenledger API")
    expect(page.locator(".opblock-summary-path").first).to_be_visible()
    assert page.locator(".opblock").count() > 20


def test_redoc_shows_the_schema_under_its_policy(page):
    # No network here: Google's font service and Redocly's CDN (which the policy allows on this
    # page) answer an empty stylesheet and an empty image.
    page.route(
        "https://fonts.googleapis.com/**",
        lambda route: route.fulfill(body="", content_type="text/css"),
    )
    page.route(
        "https://cdn.redoc.ly/**",
        lambda route: route.fulfill(
            body="<svg xmlns='http://www.w3.org/2000/svg'/>", content_type="image/svg+xml"
        ),
    )
    page.goto("/api/redoc/")

    expect(page.locator("h1").first).to_contain_text("Tokenledger API")
    expect(page.get_by_text("/api/log/self/stat").first).to_be_attached()


def test_a_locked_out_login_says_why(page, alice, assert_accessible):
    page.goto("/login/")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        page.get_by_label("Username").fill("alice")
        page.get_by_label("Password").fill("wrong password")
        page.get_by_role("button", name="Log in").click()
        page.wait_for_load_state()

    page.get_by_label("Password").fill(PASSWORD)
    with page.expect_response(lambda response: response.url.endswith("/login/")) as answer:
        page.get_by_role("button", name="Log in").click()

    assert answer.value.status == 429
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("Too many failed logins for this account or from your address")
    expect(alert).to_contain_text("logins are locked for 15 minutes")
    assert page.url.endswith("/login/")
    assert_accessible()
    page.js_errors[:] = [error for error in page.js_errors if "429" not in error]
