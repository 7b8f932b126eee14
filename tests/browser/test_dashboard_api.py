"""The dashboards' charts and cards against the statistics API, fetched with a token as a
client would: after each change of range, granularity or username, every (model, bucket) point
drawn equals `/api/data/self` (or `/api/data/` for the site) with the same range, granularity
and zone, and the live card equals `/api/log/self/stat` (`/api/log/stat`)."""

from __future__ import annotations

import random
import re
import time
from collections import Counter
from datetime import datetime
from typing import Any

import pytest
from playwright.sync_api import expect

from accounts.models import Role
from tests.browser.conftest import BROWSER_ZONE, PASSWORD
from tests.factories import log_event
from tests.typed_factories import token_make, user_make
from usage.templatetags.tokenledger import compact

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

MODELS = ("gpt-4o", "claude-3-5-sonnet", "gemini-1.5-pro")


@pytest.fixture
def alice():
    return user_make(id=1000, username="alice", password=PASSWORD)


@pytest.fixture
def usage(ingest, alice):
    rng = random.Random(11)
    now = int(time.time())
    events = [
        log_event(
            # Nothing between now - 120 and now - 6: the live window is unambiguous.
            created_at=now - 120 - rng.randint(0, 20 * 86_400),
            user_id=rng.choice((1000, 1000, 1001)),
            username="",
            model_name=rng.choice(MODELS),
            quota=rng.randint(100, 50_000),
            prompt_tokens=rng.randint(10, 2000),
            completion_tokens=rng.randint(5, 800),
            request_id=f"u-{i}",
        )
        for i in range(300)
    ]
    for event in events:
        event.username = "alice" if event.user_id == 1000 else "bob"
    events.append(log_event(created_at=now - 5, user_id=1000, username="alice", quota=777))
    ingest(events)


def _api(page: Any, path: str, params: dict[str, Any], secret: str, user_id: int) -> Any:
    query = "&".join(f"{k}={v}" for k, v in params.items())
    body = page.request.get(
        f"{path}?{query}",
        headers={"Authorization": f"Bearer {secret}", "New-Api-User": str(user_id)},
    ).json()
    assert body["success"] is True, body
    return body["data"]


def _drawn(page: Any) -> tuple[dict[str, Any], Counter[tuple[str, int]], Counter[tuple[str, int]]]:
    """(the page's chart data, requests and quota per (model, bucket start)) as drawn."""
    expect(page.locator("body[data-charts-ready]")).to_have_count(1)
    data = page.evaluate("() => JSON.parse(document.getElementById('dashboard-data').textContent)")
    drawn = page.evaluate(
        """() => ['chart-requests', 'chart-quota'].map(id => Chart.getChart(id).data.datasets
            .map(d => ({label: d.label, data: d.data})))"""
    )
    requests: Counter[tuple[str, int]] = Counter()
    quota: Counter[tuple[str, int]] = Counter()
    for series in drawn[0]:
        for bucket, value in zip(data["buckets"], series["data"], strict=True):
            if value:
                requests[(series["label"], bucket)] += value
    for series in drawn[1]:  # currency on the chart: back to quota
        for bucket, value in zip(data["buckets"], series["data"], strict=True):
            if value:
                quota[(series["label"], bucket)] += round(value * data["quota_per_unit"])
    return data, requests, quota


def _window(page: Any, index: int) -> int:
    """The range's start (0) or end (1) as the page states it (`<time datetime>`)."""
    stamp = page.locator("#range-line time").nth(index).get_attribute("datetime")
    return int(datetime.fromisoformat(stamp).timestamp())


def _check_against_api(page: Any, path: str, secret: str, user_id: int, **extra: str) -> None:
    data, requests, quota = _drawn(page)
    rows = _api(
        page,
        path,
        {
            # The window, not the first bucket: a week bucket may start before the range.
            "start_timestamp": _window(page, 0),
            "end_timestamp": _window(page, 1),
            "granularity": data["granularity"],
            "tz": BROWSER_ZONE,
            **extra,
        },
        secret,
        user_id,
    )
    assert requests == Counter({(r["model_name"], r["created_at"]): r["count"] for r in rows})
    assert quota == Counter({(r["model_name"], r["created_at"]): r["quota"] for r in rows})
    total = page.locator('[data-card="requests"] .card-value').get_attribute("title")
    assert int(total) == sum(r["count"] for r in rows) > 0


def _check_live_card(page: Any, path: str, secret: str, user_id: int, **extra: str) -> None:
    stat = _api(page, path, extra, secret, user_id)
    live = page.locator('[data-card="live-rate"] .card-value').inner_text()
    assert live == f"{compact(stat['rpm'])} / {compact(stat['tpm'])}"
    assert stat["rpm"] >= 1


def _refresh_live_card(page: Any) -> None:
    card = page.locator('[data-card="live-rate"]')
    before = card.get_attribute("data-live-refreshed")
    page.evaluate("() => document.querySelector('[data-live-url]').tlRefresh()")
    expect(card).not_to_have_attribute("data-live-refreshed", before or "none")
    expect(card).to_have_attribute("data-live-refreshed", re.compile(r"^[0-9]+$"))


def test_my_usage_charts_equal_the_data_api_for_each_range_and_granularity(
    page, login, alice, usage, ingest
):
    _, secret = token_make(user=alice)
    login(alice)
    _check_against_api(page, "/api/data/self", secret, 1000)
    assert _drawn(page)[0]["granularity"] == "day"
    _check_live_card(page, "/api/log/self/stat", secret, 1000)

    # The live card refreshes from the stat API with the session (no reload).
    live = page.locator('[data-card="live-rate"] .card-value')
    assert live.inner_text() == "1 / 150"
    now = int(time.time())
    ingest([log_event(created_at=now - 2, user_id=1000, username="alice", prompt_tokens=2000)])
    _refresh_live_card(page)
    expect(live).to_have_text("2 / 2.2 K")
    _check_live_card(page, "/api/log/self/stat", secret, 1000)

    page.get_by_text("Hour", exact=True).click()
    page.wait_for_url(re.compile(r"granularity=hour"))
    _check_against_api(page, "/api/data/self", secret, 1000)
    assert _drawn(page)[0]["granularity"] == "hour"

    page.get_by_text("14 days", exact=True).click()
    page.wait_for_url(re.compile(r"range=14d"))
    page.get_by_text("Day", exact=True).click()
    page.wait_for_url(re.compile(r"granularity=day"))
    _check_against_api(page, "/api/data/self", secret, 1000)
    assert len(_drawn(page)[0]["buckets"]) == 14

    page.get_by_text("Week", exact=True).click()
    page.wait_for_url(re.compile(r"granularity=week"))
    _check_against_api(page, "/api/data/self", secret, 1000)


def test_site_charts_equal_the_data_api_for_all_users_and_one(page, login, usage):
    admin = user_make(id=1, username="admin", role=Role.ADMIN, password=PASSWORD)
    _, secret = token_make(user=admin)
    login(admin)
    page.goto("/site/?range=30d&granularity=day")
    _check_against_api(page, "/api/data/", secret, 1)
    _check_live_card(page, "/api/log/stat", secret, 1)

    page.get_by_label("Username").fill("bob")
    page.get_by_role("button", name="Apply").click()
    page.wait_for_url(re.compile(r"username=bob"))
    _check_against_api(page, "/api/data/", secret, 1, username="bob")
    _refresh_live_card(page)
    assert page.locator('[data-card="live-rate"] .card-value').inner_text() == "0 / 0"
    assert page.evaluate("() => Chart.getChart('chart-users').data.labels") == ["bob"]
