"""Browser tests: Playwright driving Debian's Chromium against pytest-django's live server.

Run with `pytest -m browser` (the Makefile's `test` target runs them after `npm ci`). Each test
gets a fresh page; `login` logs in through the real login form; `shoot` saves full-page
screenshots at 1280 and 390 px under var/screenshots/; `assert_accessible` injects axe-core
from node_modules and fails on any serious or critical violation."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings

# Playwright's sync API runs an event loop in the test thread; the ORM calls the tests make
# around it (fixtures, assertions) are ordinary blocking calls.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
AXE_JS = Path(settings.BASE_DIR) / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = Path(settings.BASE_DIR) / "var" / "screenshots"
WIDTHS = {"desktop": (1280, 800), "mobile": (390, 844)}
PASSWORD = "pw-for-browser-tests-1"
# ICU's canonical name for it is the IANA one (unlike Asia/Kolkata, reported as Asia/Calcutta).
BROWSER_ZONE = "America/St_Johns"


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    playwright_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}: apt-get install chromium")
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Any, live_server: Any) -> Iterator[Any]:
    """A page in a fresh context (no cookies), viewport 1280 px, zone America/St_Johns (-03:30
    with DST, to catch code that assumes UTC or whole-hour offsets), failing the test on any
    JavaScript error."""
    context = browser.new_context(
        viewport={"width": 1280, "height": 800},
        timezone_id=BROWSER_ZONE,
        locale="en-US",
        base_url=live_server.url,
    )
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on(
        "console",
        lambda msg: (
            errors.append(f"{msg.text} ({msg.location.get('url')})")
            if msg.type == "error"
            else None
        ),
    )
    page.set_default_timeout(10_000)
    page.js_errors = errors  # a test expecting an error removes it from here
    yield page
    context.close()
    assert errors == [], f"JavaScript errors on the page: {errors}"


@pytest.fixture
def login(page: Any) -> Callable[[Any], Any]:
    """Log `user` in through the login page (its password must be PASSWORD); returns the page
    on the dashboard."""

    def _login(user: Any) -> Any:
        page.goto("/login/")
        page.get_by_label("Username").fill(user.username)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url(re.compile(r"^[^?]*/$"))
        return page

    return _login


@pytest.fixture
def shoot(page: Any) -> Callable[[str], list[Path]]:
    """Save full-page screenshots of the current page at both widths; returns the paths."""

    def _shoot(name: str, dark: bool = False) -> list[Path]:
        """With dark=True, also a desktop shot in the dark colour scheme."""
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        original = page.viewport_size
        paths = []
        shots = list(WIDTHS.items())
        if dark:
            shots.append(("desktop-dark", WIDTHS["desktop"]))
        for label, (width, height) in shots:
            page.emulate_media(color_scheme="dark" if label.endswith("dark") else "light")
            page.set_viewport_size({"width": width, "height": height})
            page.wait_for_timeout(150)  # charts resize on the next animation frame
            target = SCREENSHOTS / f"{name}-{label}.png"
            page.screenshot(path=str(target), full_page=True)
            paths.append(target)
        page.emulate_media(color_scheme="light")
        page.set_viewport_size(original)
        return paths

    return _shoot


def axe_violations(page: Any) -> list[dict[str, Any]]:
    if not AXE_JS.exists():
        pytest.fail("axe-core is not installed: run `npm ci` (make assets)")
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE_JS))
    result = page.evaluate(
        """async () => {
            const r = await window.axe.run(document, {resultTypes: ['violations']});
            return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.slice(0, 5).map(n => n.target.join(' '))}));
        }"""
    )
    return list(result)


@pytest.fixture
def assert_accessible(page: Any) -> Callable[[], None]:
    """axe-core on the current page, at 1280 and 390 px: no serious or critical violation."""

    def _check() -> None:
        original = page.viewport_size
        for width, height in WIDTHS.values():
            page.set_viewport_size({"width": width, "height": height})
            bad = [v for v in axe_violations(page) if v["impact"] in ("serious", "critical")]
            assert bad == [], json.dumps(bad, indent=2)
        page.set_viewport_size(original)

    return _check
