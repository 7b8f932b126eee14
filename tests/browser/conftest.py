"""Browser tests: Playwright driving Debian's Chromium against pytest-django's live server.

Run with `pytest -m browser` (the Makefile's `test` target runs them after `npm ci`). Each test
gets a fresh page, which fails the test on any JavaScript error and on any Content-Security-Policy
violation; `login` logs in through the real login form; `shoot` saves full-page screenshots at
1280 and 390 px under var/screenshots/; `assert_accessible` injects axe-core from node_modules
and fails on any serious or critical violation."""

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
# axe-core is served to the page from its own origin (a route), so that the page's
# Content-Security-Policy (script-src 'self') lets it run: an injected inline script would not.
AXE_URL = "/__browser-tests__/axe.min.js"
# Reports every violation of the page's Content-Security-Policy, including those a console
# message would not name (run by Playwright before the page's own scripts, outside its policy).
CSP_LISTENER = """
document.addEventListener("securitypolicyviolation", (event) => {
  window.__tlCspViolation(`${event.effectiveDirective} refused ${event.blockedURI || "inline"}` +
    ` (${event.sourceFile || document.location.href}:${event.lineNumber})`);
});
"""
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


def is_about_csp(text: str) -> bool:
    text = text.lower()
    return "content security policy" in text or "content-security-policy" in text


def record_violation(violations: list[str], text: str) -> None:
    # axe-core itself adds a <style> element for some of its checks, which the page's policy
    # refuses: that is the test tool's, not the page's.
    if AXE_URL not in text:
        violations.append(text)


@pytest.fixture
def page(browser: Any, live_server: Any) -> Iterator[Any]:
    """A page in a fresh context (no cookies), viewport 1280 px, zone America/St_Johns (-03:30
    with DST, to catch code that assumes UTC or whole-hour offsets), failing the test on any
    JavaScript error and on any Content-Security-Policy violation (a `securitypolicyviolation`
    event, or a console message of any level about the policy)."""
    context = browser.new_context(
        viewport={"width": 1280, "height": 800},
        timezone_id=BROWSER_ZONE,
        locale="en-US",
        base_url=live_server.url,
    )
    violations: list[str] = []
    context.expose_function("__tlCspViolation", lambda text: record_violation(violations, text))
    context.add_init_script(CSP_LISTENER)
    page = context.new_page()
    errors: list[str] = []

    def on_console(msg: Any) -> None:
        where = f"{msg.text} ({msg.location.get('url')})"
        if is_about_csp(msg.text):
            record_violation(violations, where)
        elif msg.type == "error":
            errors.append(where)

    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", on_console)
    page.route(
        f"**{AXE_URL}",
        lambda route: route.fulfill(path=str(AXE_JS), content_type="text/javascript"),
    )
    page.set_default_timeout(10_000)
    page.js_errors = errors  # a test expecting an error removes it from here
    page.csp_violations = violations  # never expected: no test removes any
    yield page
    context.close()
    assert violations == [], f"Content-Security-Policy violations: {violations}"
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
        page.add_script_tag(url=AXE_URL)
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
