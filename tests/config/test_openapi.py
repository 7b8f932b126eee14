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
