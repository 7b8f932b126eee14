"""The My usage dashboard in a real browser: charts drawn with the expected series, numbers
equal to the selectors', range and granularity controls, both widths, axe."""

from __future__ import annotations

import random
import re
import time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from playwright.sync_api import expect

from accounts.models import Role
from tests.browser.conftest import BROWSER_ZONE, PASSWORD
from tests.factories import log_event
from tests.typed_factories import user_make
from usage.forms import preset_range
from usage.money import quota_to_money
from usage.selectors import UsageFilter, usage_rows, usage_totals
from usage.templatetags.tokenledger import compact, money

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

MODELS = ("gpt-4o", "claude-3-5-sonnet", "gemini-1.5-pro", "gpt-4o-mini")
KEYS = ((11, "prod-backend"), (12, "notebook"), (13, "ci-runner"))


@pytest.fixture
def alice():
    return user_make(id=1000, username="alice", password=PASSWORD)


@pytest.fixture
def week_of_usage(ingest, alice):
    rng = random.Random(5)
    now = int(time.time())
    events = []
    for i in range(400):
        key_id, key_name = rng.choice(KEYS)
        events.append(
            log_event(
                created_at=now - rng.randint(0, 9 * 86_400),
                user_id=1000,
                username="alice",
                model_name=rng.choice(MODELS),
                token_id=key_id,
                token_name=key_name,
                quota=rng.randint(200, 40_000),
                prompt_tokens=rng.randint(50, 4000),
                completion_tokens=rng.randint(10, 1500),
                cache_read_tokens=rng.choice((0, 0, 512, 2048)),
                duration_ms=rng.randint(300, 9000),
                first_token_ms=rng.randint(150, 900),
                request_id=f"req-{i}",
            )
        )
    events.append(log_event(created_at=now - 5, user_id=1000, username="alice", quota=1234))
    # Another user's usage never shows on alice's dashboard.
    events.append(log_event(created_at=now - 60, user_id=1001, username="bob", quota=10**9))
    ingest(events)


def _card(page, name: str) -> str:
    return page.locator(f'[data-card="{name}"] .card-value').inner_text()


def _series(page, canvas: str) -> list[str]:
    return page.evaluate(f"() => Chart.getChart('{canvas}').data.datasets.map(d => d.label)")


def test_dashboard_draws_the_charts_with_the_selectors_numbers(
    page, login, alice, week_of_usage, shoot, assert_accessible
):
    login(alice)
    expect(page.locator("body[data-charts-ready]")).to_have_count(1)
    zone = ZoneInfo(BROWSER_ZONE)

    start, end = preset_range("7d", int(time.time()), zone)
    totals = usage_totals(start=start, end=end, where=UsageFilter(user_id=1000))
    assert _card(page, "requests") == compact(totals.requests)
    assert _card(page, "quota") == money(quota_to_money(totals.quota))
    assert _card(page, "tokens") == compact(totals.total_tokens)

    per_model = usage_rows(
        start=start, end=end, where=UsageFilter(user_id=1000), group_by=("model_name",)
    )
    per_model.sort(key=lambda r: (-r.totals.quota, -r.totals.requests))
    expected_models = [str(r.dims["model_name"]) for r in per_model]
    assert _series(page, "chart-quota") == expected_models
    assert _series(page, "chart-requests") == expected_models
    assert _series(page, "chart-tokens") == ["Prompt", "Completion", "Cache read", "Cache write"]
    labels = page.evaluate("() => Chart.getChart('chart-quota').data.labels")
    assert len(labels) == 7  # seven local days, zero-filled
    quota_sum = page.evaluate(
        "() => Chart.getChart('chart-quota').data.datasets"
        ".reduce((a, d) => a + d.data.reduce((x, y) => x + y, 0), 0)"
    )
    assert round(quota_sum * 500_000) == totals.quota
    share = page.evaluate("() => Chart.getChart('chart-share').data.datasets[0].data")
    assert sum(share) == totals.requests
    rows = page.locator("#top-keys tbody tr")
    assert rows.count() == len(KEYS) + 1  # the three keys and the default key
    shoot("dashboard", dark=True)
    assert_accessible()
    page.emulate_media(color_scheme="dark")
    assert_accessible()  # the dark palette's contrast too
    page.emulate_media(color_scheme="light")

    # A preset and a granularity apply at once (no Apply click needed).
    page.get_by_text("Today", exact=True).click()
    page.wait_for_url(re.compile(r"range=today"))
    expect(page.locator("body[data-charts-ready]")).to_have_count(1)
    assert "by hour" in page.locator("#range-line").inner_text()
    page.get_by_text("Week", exact=True).click()
    page.wait_for_url(re.compile(r"granularity=week"))
    expect(page.locator("body[data-charts-ready]")).to_have_count(1)
    assert "by week" in page.locator("#range-line").inner_text()

    # Custom dates: errors beside the fields, then a valid range.
    page.get_by_text("Custom", exact=True).click()
    page.get_by_label("From", exact=True).fill("2025-03-10")
    page.get_by_label("To", exact=True).fill("2025-03-01")
    page.get_by_role("button", name="Apply").click()
    expect(page.locator("#id_end_error")).to_have_text("The last day is before the first day.")
    shoot("dashboard-custom-error")
    assert_accessible()
    page.get_by_label("To", exact=True).fill("2025-03-20")
    page.get_by_role("button", name="Apply").click()
    expect(page.get_by_text("No data for this filter").first).to_be_visible()
    shoot("dashboard-empty")
    assert_accessible()


def test_timezone_override_is_remembered(page, login, alice):
    login(alice)
    page.locator(".tz-menu summary").click()
    page.get_by_label("Timezone", exact=True).fill("Asia/Kolkata")
    page.get_by_role("button", name="Use this zone").click()
    expect(page.locator(".tz-name")).to_have_text("Asia/Kolkata")
    page.goto("/account/")
    expect(page.locator(".tz-name")).to_have_text("Asia/Kolkata")
    page.locator(".tz-menu summary").click()
    page.get_by_label("Timezone", exact=True).fill("Not/AZone")
    page.get_by_role("button", name="Use this zone").click()
    expect(page.locator("#tz-error")).to_contain_text("Unknown timezone")
    page.get_by_role("button", name="Follow browser").click()
    expect(page.locator(".tz-name")).to_have_text(BROWSER_ZONE)


def test_site_dashboard_for_admins(page, login, week_of_usage, shoot, assert_accessible):
    admin = user_make(id=1, username="admin", role=Role.ADMIN, password=PASSWORD)
    login(admin)
    page.get_by_role("link", name="Site", exact=True).click()
    page.wait_for_url(re.compile(r"/site/$"))
    expect(page.locator("body[data-charts-ready]")).to_have_count(1)
    assert page.evaluate("() => Chart.getChart('chart-users').data.labels") == ["bob", "alice"]
    start, end = preset_range("7d", int(time.time()), ZoneInfo(BROWSER_ZONE))
    totals = usage_totals(start=start, end=end, where=UsageFilter())
    assert _card(page, "requests") == compact(totals.requests)
    shoot("site", dark=True)
    assert_accessible()

    page.get_by_label("Username").fill("alice")
    page.get_by_role("button", name="Apply").click()
    page.wait_for_url(re.compile(r"username=alice"))
    alice_totals = usage_totals(start=start, end=end, where=UsageFilter(username="alice"))
    assert _card(page, "requests") == compact(alice_totals.requests)
    assert page.locator("#top-users tbody tr").count() == 1


def test_chart_js_falls_back_to_the_cdn_copy_with_its_sri_hash(page, login, alice, week_of_usage):
    """The local copy fails to load: the page loads the pinned CDN URL, whose bytes must match
    the SRI hash (served here from node_modules, as the machine has no internet)."""
    spec = settings.VENDOR_SCRIPTS["chart.js"]
    body = (Path(settings.BASE_DIR) / "node_modules/chart.js/dist/chart.umd.js").read_bytes()
    page.route("**/static/vendor/chart.js/*", lambda route: route.fulfill(status=404))
    page.route(
        spec["cdn"],
        lambda route: route.fulfill(
            body=body,
            content_type="text/javascript",
            headers={"Access-Control-Allow-Origin": "*"},
        ),
    )
    login(alice)
    # The policy allows the CDN copy by its exact URL, not the CDN's host (the conftest fails the
    # test on any policy violation).
    with page.expect_response(lambda response: response.url.endswith("/?range=7d")) as answer:
        page.goto("/?range=7d")
    policy = answer.value.headers["content-security-policy"]
    assert f"script-src 'self' {spec['cdn']}" in policy
    expect(page.locator("body[data-charts-ready]")).to_have_count(1)
    assert page.evaluate("() => Chart.version") == spec["version"]
    assert page.evaluate("() => Chart.getChart('chart-quota').data.datasets.length") >= 1
    page.js_errors[:] = [e for e in page.js_errors if "404" not in e]


def test_a_tampered_cdn_copy_is_refused(page, login, alice, week_of_usage):
    spec = settings.VENDOR_SCRIPTS["chart.js"]
    page.route("**/static/vendor/chart.js/*", lambda route: route.fulfill(status=404))
    page.route(
        spec["cdn"],
        lambda route: route.fulfill(
            body=b"window.Chart = function () {};",
            content_type="text/javascript",
            headers={"Access-Control-Allow-Origin": "*"},
        ),
    )
    login(alice)
    page.wait_for_timeout(500)
    assert page.evaluate("() => typeof window.Chart") == "undefined"
    assert any("integrity" in e for e in page.js_errors), page.js_errors
    page.js_errors.clear()
