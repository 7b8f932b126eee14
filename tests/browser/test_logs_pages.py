"""The log pages in a real browser: filters, keyset pages, the stat line and the CSV download
equal what the log API answers for the same filters (fetched with a token, as a client would);
details of `other`; empty and error states; both widths; axe."""

from __future__ import annotations

import random
import re
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import expect

from accounts.models import Role
from logs.models import LogType
from tests.browser.conftest import PASSWORD
from tests.factories import log_event
from tests.typed_factories import token_make, user_make

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

MODELS = ("gpt-4o", "claude-3-5-sonnet", "gemini-1.5-pro")


@pytest.fixture
def alice():
    return user_make(id=1000, username="alice", password=PASSWORD)


@pytest.fixture
def admin():
    return user_make(id=1, username="admin", role=Role.ADMIN, password=PASSWORD)


@pytest.fixture
def logs(ingest, alice):
    rng = random.Random(7)
    now = int(time.time())
    events = []
    for i in range(45):
        events.append(
            log_event(
                created_at=now - 40 - rng.randint(0, 3 * 86_400),
                user_id=1000,
                username="alice",
                model_name=MODELS[i % 3],
                token_name=rng.choice(("prod", "notebook")),
                quota=rng.randint(100, 90_000),
                prompt_tokens=rng.randint(10, 3000),
                completion_tokens=rng.randint(5, 900),
                channel_id=rng.choice((3, 4)),
                channel_name="secret-channel",
                ip="10.9.8.7",
                group=rng.choice(("default", "vip")),
                request_id=f"req-{i}",
                other={"admin_info": {"use_channel": ["3"]}, "frt": 120 + i, "model_ratio": 2.5},
            )
        )
    events.append(
        log_event(created_at=now - 20, user_id=1000, username="alice", model_name="gpt-4o",
                  type=LogType.ERROR, quota=0, content="upstream said no", request_id="req-err",
                  other={"channel_id": 3, "channel_name": "secret-channel", "status_code": 502})
    )  # fmt: skip
    events.append(log_event(created_at=now - 30, user_id=1001, username="bob", quota=10**8))
    ingest(events)


def _api(page: Any, url: str, secret: str, user_id: int) -> Any:
    return page.request.get(
        url, headers={"Authorization": f"Bearer {secret}", "New-Api-User": str(user_id)}
    )


def _api_json(page: Any, path: str, params: dict[str, Any], secret: str, user_id: int) -> Any:
    query = "&".join(f"{k}={v}" for k, v in params.items())
    body = _api(page, f"{path}?{query}", secret, user_id).json()
    assert body["success"] is True, body
    return body["data"]


def _shown_ids(page: Any) -> list[int]:
    return [int(i) for i in page.locator("#log-table tbody tr").evaluate_all(
        "rows => rows.map(r => r.dataset.logId)")]  # fmt: skip


def _stat(page: Any, name: str) -> int:
    return int(page.locator(f'[data-stat="{name}"]').get_attribute("data-value"))


def _page_params(page: Any) -> dict[str, str]:
    """The API parameters of the page's filters, read from its Download CSV link."""
    href = page.locator("#download-csv").get_attribute("data-api-href")
    return {k: v[0] for k, v in parse_qs(urlsplit(href).query).items()}


def _download(page: Any) -> bytes:
    with page.expect_download() as info:
        page.get_by_role("link", name="Download CSV").click()
    path = info.value.path()
    with open(path, "rb") as handle:
        return handle.read()


def test_my_logs_filter_paginate_and_download_like_the_api(
    page, login, alice, logs, shoot, assert_accessible
):
    _, secret = token_make(user=alice)
    login(alice)
    page.get_by_role("link", name="My logs").click()
    page.wait_for_url(re.compile(r"/logs/$"))
    shoot("logs", dark=True)
    assert_accessible()

    api_page = _api_json(page, "/api/log/self", {"page_size": 20}, secret, 1000)
    assert _shown_ids(page) == [item["id"] for item in api_page["items"]]
    assert api_page["total"] == _stat(page, "total") == 46  # never bob's
    stat = _api_json(page, "/api/log/self/stat", {}, secret, 1000)
    assert (_stat(page, "quota"), _stat(page, "rpm"), _stat(page, "tpm")) == (
        stat["quota"], stat["rpm"], stat["tpm"],
    )  # fmt: skip
    text = page.locator("main").inner_text()
    assert "secret-channel" not in text and "10.9.8.7" not in text

    # The error log's details: its content and `other` without the channel keys.
    details = page.locator("tr", has_text="req-err").locator("details")
    details.locator("summary").click()
    expect(details.locator("pre.json")).to_contain_text('"status_code": 502')
    assert "channel" not in details.locator("pre.json").inner_text()
    expect(details).to_contain_text("upstream said no")
    details.locator("pre.json").scroll_into_view_if_needed()
    shoot("logs-details")

    # Filter by model and 10 rows a page; walk every page with "Older".
    page.get_by_label("Model").fill("gpt-4o")
    page.get_by_label("Rows").select_option("10")
    page.get_by_role("button", name="Apply").click()
    page.wait_for_url(re.compile(r"model_name=gpt-4o"))
    params = _page_params(page)
    assert params == {"model_name": "gpt-4o"}
    seen = _shown_ids(page)
    while page.get_by_role("link", name="Older").count():
        page.get_by_role("link", name="Older").click()
        page.wait_for_load_state()
        seen += _shown_ids(page)
    everything = _api_json(page, "/api/log/self", {**params, "page_size": 100}, secret, 1000)
    assert seen == [item["id"] for item in everything["items"]] and len(seen) == 16
    shoot("logs-last-page")
    stat = _api_json(page, "/api/log/self/stat", params, secret, 1000)
    assert _stat(page, "quota") == stat["quota"]

    # The CSV download is byte for byte the API's export of the same filters.
    body = _download(page)
    from_api = _api(
        page, page.locator("#download-csv").get_attribute("data-api-href"), secret, 1000
    )
    assert from_api.status == 200 and body == from_api.body()
    assert body.count(b"\r\n") == 17 and b"secret-channel" not in body

    # A date range in the browser's zone: the same instants as the API's timestamps.
    page.get_by_label("From", exact=True).fill("2020-01-01T00:00")
    page.get_by_label("To", exact=True).fill("2019-01-01T00:00")
    page.get_by_role("button", name="Apply").click()
    expect(page.locator("#id_end_error")).to_have_text("The end is before the start.")
    shoot("logs-error")
    assert_accessible()
    page.get_by_label("To", exact=True).fill("2020-01-02T00:00")
    page.get_by_role("button", name="Apply").click()
    expect(page.get_by_text("No logs for this filter")).to_be_visible()
    assert (
        _page_params(page)["start_timestamp"] == "1577849400"
    )  # 2020-01-01 00:00 -03:30 = 03:30 UTC
    shoot("logs-empty")
    assert_accessible()


def test_site_logs_show_admin_columns_and_download_like_the_api(
    page, login, admin, logs, shoot, assert_accessible
):
    _, secret = token_make(user=admin)
    login(admin)
    page.get_by_role("link", name="Site logs").click()
    page.wait_for_url(re.compile(r"/site/logs/$"))
    expect(page.locator("#log-table")).to_contain_text("secret-channel")
    expect(page.locator("#log-table")).to_contain_text("10.9.8.7")
    shoot("site-logs", dark=True)
    assert_accessible()

    page.get_by_label("Username").fill("alice")
    page.get_by_label("Channel").select_option("3")
    page.get_by_label("Type").select_option(str(LogType.CONSUME))
    page.get_by_role("button", name="Apply").click()
    page.wait_for_url(re.compile(r"channel=3"))
    params = _page_params(page)
    assert params == {"type": "2", "username": "alice", "channel": "3"}
    api_page = _api_json(page, "/api/log/", {**params, "page_size": 20}, secret, 1)
    assert _shown_ids(page) == [item["id"] for item in api_page["items"]] != []
    stat = _api_json(page, "/api/log/stat", params, secret, 1)
    assert (_stat(page, "quota"), _stat(page, "rpm"), _stat(page, "tpm")) == (
        stat["quota"], stat["rpm"], stat["tpm"],
    )  # fmt: skip
    body = _download(page)
    from_api = _api(page, page.locator("#download-csv").get_attribute("data-api-href"), secret, 1)
    assert body == from_api.body() and b"secret-channel" in body
    shoot("site-logs-filtered")
    assert_accessible()


def test_common_users_get_the_403_page_for_site_logs(page, login, alice, shoot, assert_accessible):
    login(alice)
    response = page.goto("/site/logs/")
    assert response.status == 403
    page.js_errors[:] = [e for e in page.js_errors if "403 (Forbidden)" not in e]
    shoot("site-logs-forbidden")
    assert_accessible()
