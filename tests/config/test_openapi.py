"""The OpenAPI schema and its Swagger UI: served offline, and complete for every API route."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib.admindocs.views import simplify_regex
from django.contrib.staticfiles import finders
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from accounts.services import access_token_revoke

DOCUMENTATION_VIEWS = (SpectacularAPIView, SpectacularSwaggerView, SpectacularRedocView)
UNDOCUMENTED_METHODS = {"options", "head", "trace"}


@pytest.fixture
def schema(db) -> dict:
    response = Client().get("/api/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    return response.json()


def api_routes() -> Iterator[tuple[str, Any]]:
    """(OpenAPI path, view class) of every URL pattern under /api/ in config/urls.py."""

    def walk(patterns: list, prefix: str) -> Iterator[tuple[str, object]]:
        for pattern in patterns:
            route = prefix + str(pattern.pattern)
            if isinstance(pattern, URLResolver):
                yield from walk(pattern.url_patterns, route)
            elif isinstance(pattern, URLPattern):
                yield route, pattern.callback

    for route, callback in walk(get_resolver().url_patterns, ""):
        path = simplify_regex(route)  # "^api/x/(?P<pk>[0-9]+)$" and "api/x/<int:pk>" -> /api/x/<pk>
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", path)
        view_class = getattr(callback, "view_class", None) or getattr(callback, "cls", None)
        if path.startswith("/api/") and not (
            isinstance(view_class, type) and issubclass(view_class, DOCUMENTATION_VIEWS)
        ):
            yield path, view_class


def test_schema_is_openapi_3_and_names_the_credentials(schema):
    assert schema["openapi"].startswith("3.")
    assert schema["info"]["title"] == "Tokenledger API"
    schemes = schema["components"]["securitySchemes"]
    assert schemes["accessToken"]["scheme"] == "bearer"
    assert (schemes["newApiUser"]["in"], schemes["newApiUser"]["name"]) == (
        "header",
        "New-Api-User",
    )
    assert schemes["session"]["in"] == "cookie"


def test_every_api_route_and_method_is_in_the_schema(schema):
    routes = list(api_routes())
    assert {"/api/log/", "/api/user/self"} <= {path for path, _ in routes}  # the walk works
    missing = []
    for path, view_class in routes:
        operations = schema["paths"].get(path)
        if operations is None:
            missing.append(path)
            continue
        methods = [
            name
            for name in getattr(view_class, "http_method_names", [])
            if name not in UNDOCUMENTED_METHODS and hasattr(view_class, name)
        ]
        missing += [f"{method.upper()} {path}" for method in methods if method not in operations]
    assert missing == [], "routes missing from the OpenAPI schema (document them)"


def test_new_api_routes_require_new_api_user_but_ingestion_does_not(schema):
    user_self = schema["paths"]["/api/user/self"]["get"]
    ingest = schema["paths"]["/api/log/"]["post"]

    assert {"accessToken": [], "newApiUser": []} in user_self["security"]
    assert {"session": [], "newApiUser": []} in user_self["security"]
    assert ingest["security"] == [{"accessToken": []}]


def test_swagger_ui_loads_only_assets_shipped_with_the_project(db):
    response = Client().get("/api/docs/")

    assert response.status_code == 200
    page = response.content.decode()
    assets = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert assets, "the page references its scripts and styles"
    assert not [url for url in assets if "://" in url or url.startswith("//")], "no CDN"
    # The start-up script is the page's own second request (no inline script: the CSP).
    assets.remove("/api/docs/?script=")
    for url in assets:
        assert url.startswith("/static/")
        assert finders.find(url.removeprefix("/static/")), f"{url} is not shipped"
    script = Client().get("/api/docs/?script=")
    assert script.status_code == 200
    assert script["Content-Type"] == "application/javascript"
    assert 'url: "/api/schema/"' in script.content.decode()


# --- the schema and its pages are public and never answer HTML but the pages themselves -------

DOCS = ["/api/schema/", "/api/docs/", "/api/redoc/"]
DOCUMENT_TYPES = {
    "/api/schema/": "application/vnd.oai.openapi; charset=utf-8",
    "/api/docs/": "text/html; charset=utf-8",
    "/api/redoc/": "text/html; charset=utf-8",
}


@pytest.mark.django_db
@pytest.mark.parametrize("path", DOCS)
def test_options_on_the_schema_and_its_pages_is_json_with_the_allowed_methods(path, user_api):
    anonymous: dict[str, str] = {}
    for headers in (anonymous, user_api.headers()):
        response = Client().options(path, headers=headers)

        assert response.status_code == 200
        assert response["Content-Type"] == "application/json"
        assert response["Allow"] == "GET, HEAD, OPTIONS"
        body = response.json()
        assert set(body) == {"name", "description", "renders", "parses"}
        assert body["parses"] == ["application/json"]


@pytest.mark.django_db
@pytest.mark.parametrize("path", DOCS)
@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_other_methods_on_the_schema_and_its_pages_are_a_json_405(path, method):
    response = getattr(Client(), method)(path)

    assert response.status_code == 405
    assert response["Content-Type"] == "application/json"
    assert response["Allow"] == "GET, HEAD, OPTIONS"
    assert response.json() == {
        "success": False,
        "message": f'Method "{method.upper()}" not allowed.',
    }


@pytest.mark.django_db
@pytest.mark.parametrize("path", DOCS)
def test_a_stale_or_revoked_token_is_ignored_on_the_public_schema_and_pages(path, user_api):
    revoked = user_api.token
    access_token_revoke(token=revoked)

    for authorization in ("Bearer tl_bad", f"Bearer {revoked.secret}"):
        response = Client().get(path, headers={"Authorization": authorization})

        assert response.status_code == 200, authorization
        assert response["Content-Type"] == DOCUMENT_TYPES[path]


@pytest.mark.django_db
def test_the_schema_is_the_same_for_a_stale_token_and_for_nobody():
    anonymous = Client().get("/api/schema/", HTTP_ACCEPT="application/json")
    stale = Client().get(
        "/api/schema/", HTTP_ACCEPT="application/json", HTTP_AUTHORIZATION="Bearer tl_bad"
    )

    assert stale.status_code == 200
    assert stale.json() == anonymous.json()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("path", "accept"), [("/api/docs/", "application/json"), ("/api/schema/", "text/html")]
)
def test_an_unsatisfiable_accept_on_the_docs_is_a_json_406(path, accept):
    response = Client().get(path, HTTP_ACCEPT=accept)

    assert response.status_code == 406
    assert response["Content-Type"] == "application/json"
    assert response.json() == {
        "success": False,
        "message": "Could not satisfy the request Accept header.",
    }
