"""Browser security headers (docs/deploy.md, "Security headers"): every HTML page answers with
the Content-Security-Policy and the Permissions-Policy, and no page carries a script or a style
that its policy would refuse (the browser tests check the same in Chromium)."""

from __future__ import annotations

from datetime import UTC, datetime
from html.parser import HTMLParser
from typing import Any, cast

import pytest
from csp.middleware import CSPMiddleware
from django.http import HttpResponse
from django.template import engines
from django.test import Client

from accounts.models import Role
from tests.factories import log_event
from tests.typed_factories import token_make, user_make

pytestmark = pytest.mark.django_db

NOW = datetime(2031, 3, 4, 10, 0, tzinfo=UTC)
CHART_CDN = "https://cdn.jsdelivr.net/npm/chart.js@4.6.1/dist/chart.umd.js"
POLICY = {
    "default-src": ["'self'"],
    "script-src": ["'self'", CHART_CDN],
    "style-src": ["'self'"],
    "img-src": ["'self'", "data:"],
    "font-src": ["'self'"],
    "connect-src": ["'self'"],
    "object-src": ["'none'"],
    "base-uri": ["'none'"],
    "form-action": ["'self'"],
    "frame-ancestors": ["'none'"],
}
# The API docs keep inline styles (config/urls.py); Redoc also loads Google's fonts and runs its
# search in a blob: worker.
DOCS_POLICIES = {
    "/api/docs/": {**POLICY, "style-src": ["'self'", "'unsafe-inline'"]},
    "/api/redoc/": {
        **POLICY,
        "style-src": ["'self'", "'unsafe-inline'", "https://fonts.googleapis.com"],
        "font-src": ["'self'", "https://fonts.gstatic.com"],
        "img-src": ["'self'", "data:", "https://cdn.redoc.ly"],
        "worker-src": ["blob:"],
    },
}
PERMISSIONS_POLICY = (
    "accelerometer=(), autoplay=(), bluetooth=(), camera=(), display-capture=(), "
    "encrypted-media=(), fullscreen=(), geolocation=(), gyroscope=(), hid=(), "
    "idle-detection=(), magnetometer=(), microphone=(), midi=(), payment=(), "
    "picture-in-picture=(), publickey-credentials-get=(), screen-wake-lock=(), serial=(), "
    "usb=(), xr-spatial-tracking=()"
)
# Types a browser executes (HTML's "JavaScript MIME type essence matches" plus module); other
# types, such as json_script's application/json, are data blocks that no policy governs.
SCRIPT_TYPES = {"", "text/javascript", "application/javascript", "module"}


def parse_policy(header: str) -> dict[str, list[str]]:
    directives = {}
    for part in header.split(";"):
        name, *sources = part.split()
        directives[name] = sources
    return directives


class PageInventory(HTMLParser):
    """What a policy decides on: inline scripts (with their nonce), event-handler and style
    attributes, javascript: URLs, <style> blocks."""

    def __init__(self) -> None:
        super().__init__()
        self.inline_scripts: list[str | None] = []  # their nonce, None when absent
        self.external_scripts: list[str] = []
        self.handlers: list[str] = []
        self.style_attributes: list[str] = []
        self.style_blocks = 0
        self.javascript_urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        for name, value in attrs:
            if name.startswith("on"):
                self.handlers.append(f"<{tag} {name}>")
            if name == "style":
                self.style_attributes.append(f"<{tag} style={value!r}>")
            if name in {"href", "src", "action", "formaction"} and (
                value or ""
            ).strip().lower().startswith("javascript:"):
                self.javascript_urls.append(f"<{tag} {name}={value!r}>")
        if tag == "style":
            self.style_blocks += 1
        if tag == "script" and (values.get("type") or "").strip().lower() in SCRIPT_TYPES:
            if values.get("src"):
                self.external_scripts.append(values["src"] or "")
            else:
                self.inline_scripts.append(values.get("nonce"))


def inventory(response: Any) -> PageInventory:
    parser = PageInventory()
    parser.feed(response.content.decode())
    return parser


@pytest.fixture
def site(ingest, time_machine):
    """A root user with a session and a token, a common user, and some logs."""
    time_machine.move_to(NOW, tick=False)
    root = user_make(id=2, username="root", role=Role.ROOT)
    user_make(id=1000, username="user1000")
    token, _ = token_make(user=root, name="exporter")
    ingest(
        [
            log_event(created_at=int(NOW.timestamp()) - 60 * minute, user_id=1000, quota=1000)
            for minute in range(1, 30)
        ]
    )
    client = Client()
    client.force_login(root)
    return {"client": client, "token": token}


def html_pages(site: dict[str, Any]) -> list[tuple[str, Any]]:
    """(name, response) for every HTML page of templates/ and of the admin and API docs."""
    client: Client = site["client"]
    common = Client()
    common.force_login(user_make(id=1001, username="common"))
    token = site["token"]
    pages = [
        (path, client.get(path))
        for path in (
            "/",
            "/?range=7d",
            "/logs/",
            "/account/",
            "/site/",
            "/site/logs/",
            f"/account/tokens/{token.pk}/revoke/",
            "/admin/",
            "/admin/accounts/user/",
            "/admin/accounts/user/2/change/",
            "/admin/accounts/user/add/",
            "/admin/accounts/accesstoken/",
            "/admin/accounts/accesstoken/add/",
            "/admin/accounts/channel/",
            "/admin/logs/log/",
            "/admin/logs/log/delete-before/",
            "/admin/axes/accessattempt/",
            "/api/docs/",
            "/api/redoc/",
        )
    ]
    pages += [
        ("/login/", Client().get("/login/")),
        ("/admin/login/", Client().get("/admin/login/")),
        ("failed /login/", Client().post("/login/", {"username": "x", "password": "y"})),
        ("token created", client.post("/account/tokens/", {"name": "ci", "scope": "read"})),
        (
            "admin token created",
            client.post(
                "/admin/accounts/accesstoken/add/", {"user": 2, "name": "x", "scope": "read"}
            ),
        ),
        ("403", common.get("/site/")),
        ("404", client.get("/no-such-page/")),
    ]
    return pages


def test_every_html_page_sends_the_policies(site):
    for name, response in html_pages(site):
        assert response.status_code in {200, 403, 404}, name
        assert response["Content-Type"].startswith("text/html"), name
        expected = DOCS_POLICIES.get(name, POLICY)
        policy = parse_policy(response["Content-Security-Policy"])
        assert {key: sorted(value) for key, value in policy.items()} == {
            key: sorted(value) for key, value in expected.items()
        }, name
        assert response["Permissions-Policy"] == PERMISSIONS_POLICY, name


def test_no_page_has_a_script_or_style_its_policy_refuses(site):
    for name, response in html_pages(site):
        page = inventory(response)
        policy = parse_policy(response["Content-Security-Policy"])
        nonces = {source for source in policy["script-src"] if source.startswith("'nonce-")}
        assert [f"'nonce-{nonce}'" in nonces for nonce in page.inline_scripts] == [
            True for _ in page.inline_scripts
        ], name
        assert page.handlers == [], name
        assert page.javascript_urls == [], name
        assert page.external_scripts, f"{name}: every page loads app.js or its bundles"
        for src in page.external_scripts:
            assert src.startswith("/") and not src.startswith("//"), (name, src)
        if "'unsafe-inline'" not in policy["style-src"]:
            assert (page.style_attributes, page.style_blocks) == ([], 0), name


def test_the_dashboard_data_block_is_not_a_script(site):
    page = site["client"].get("/").content.decode()

    assert '<script id="dashboard-data" type="application/json">' in page
    assert inventory(site["client"].get("/")).inline_scripts == []


def test_swagger_ui_starts_from_a_script_of_its_own(site):
    page = inventory(Client().get("/api/docs/"))

    assert page.inline_scripts == []
    assert page.external_scripts[-1] == "/api/docs/?script="


def test_api_answers_send_the_policies_too(site):
    response = Client().get("/healthz")

    assert response.status_code == 200
    assert parse_policy(response["Content-Security-Policy"]) == POLICY
    assert response["Permissions-Policy"] == PERMISSIONS_POLICY


def test_a_nonce_in_a_template_reaches_the_header(rf):
    """The way for a future inline script: `nonce="{{ request.csp_nonce }}"`; django-csp then
    adds exactly that nonce to script-src."""
    template = engines["django"].from_string('<script nonce="{{ request.csp_nonce }}"></script>')

    def view(request: Any) -> HttpResponse:
        return HttpResponse(template.render({}, request))

    request = rf.get("/")
    response = cast(HttpResponse, CSPMiddleware(view)(request))

    [nonce] = inventory(response).inline_scripts
    assert f"'nonce-{nonce}'" in parse_policy(response["Content-Security-Policy"])["script-src"]
