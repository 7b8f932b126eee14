"""Every route answers with and without its trailing slash (API.md section 4), checked over the
URL resolver itself (config/urls.py and every module it includes, the admin's too), so that a
route added later is covered without touching this test.

For each route a path it matches is built from its pattern (as reverse() builds one, the
groups filled with sample values), then requested as it is and with its trailing slash
toggled. An API path must be served by the route either way, with no redirect (new-api's
clients call `/api/data/self/` and `/api/data`); a page may instead redirect once to the
route's own form, keeping the query string."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, resolve
from django.utils.regex_helper import normalize

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

QUERY = "probe=1&q=%C3%A9"


def routes() -> Iterator[tuple[str, URLPattern]]:
    """(full regex, pattern) of every URL pattern, included modules walked."""

    def walk(patterns: list[Any], prefix: str) -> Iterator[tuple[str, URLPattern]]:
        for pattern in patterns:
            regex = pattern.pattern.regex.pattern.removeprefix("^")
            if isinstance(pattern, URLResolver):
                yield from walk(pattern.url_patterns, prefix + regex)
            else:
                yield prefix + regex, pattern

    yield from walk(get_resolver().url_patterns, "")


def sample_path(regex: str) -> str:
    """A path the regex fully matches, e.g. `/api/v1/usage/0` for
    `api/v1/usage/(?P<usage_id>[^/]+)\\Z`: the form Django's reverse() builds from the regex,
    each group filled with the first value that makes the whole path match ("0", "x", or one
    of the group's alternatives, such as the admin's app labels)."""
    (form, names), *_ = normalize(regex)
    alternatives = dict(re.findall(r"\(\?P<(\w+)>([^()]*)\)", regex))
    candidates = [["0", "x", *alternatives.get(name, "").split("|")] for name in names]
    for values in itertools.product(*candidates):
        path = form % dict(zip(names, values, strict=True))
        if re.fullmatch(regex, path):
            return "/" + path
    raise AssertionError(f"no sample path for {regex}: teach sample_path its groups")


def toggled(path: str) -> str:
    return path[:-1] if path.endswith("/") else f"{path}/"


def view_of(path: str) -> tuple[Any, str | None]:
    match = resolve(path)
    return match.func, match.route


def served_by(response: Any) -> tuple[Any, str | None] | None:
    """The view (and route) the request was dispatched to, None when no view ran."""
    match = getattr(response.wsgi_request, "resolver_match", None)
    return None if match is None else (match.func, match.route)


@pytest.fixture
def client() -> Client:
    """A logged-in root: the admin's pages then answer with their own view (an anonymous
    visitor would be redirected to the login page first)."""
    client = Client()
    client.force_login(UserFactory.create(id=2, username="root", role=100))
    return client


def test_every_route_answers_with_and_without_its_trailing_slash(client):
    checked, problems = 0, []
    for regex, _pattern in routes():
        path = sample_path(regex)
        expected = view_of(path)
        forms = [path] if path == "/" else [path, toggled(path)]
        for form in forms:
            response = client.get(f"{form}?{QUERY}")
            checked += 1
            # The status is the view's business (a missing object is its 404): what counts is
            # which view answered.
            if served_by(response) == expected:
                continue
            if form.startswith("/api/"):
                problems.append(f"{form}: {response.status_code}, not served by its route")
            elif response.status_code not in (301, 308):
                problems.append(f"{form}: {response.status_code}, neither served nor redirected")
            elif response["Location"] != f"{path}?{QUERY}":
                problems.append(f"{form}: redirected to {response['Location']}")
    assert problems == []
    assert checked > 100  # every pattern was walked: the admin's included


@pytest.mark.parametrize(
    ("asked", "served"),
    [
        ("/api/data/self/", "/api/data/self"),  # new-api's classic theme
        ("/api/data", "/api/data/"),  # its default theme
        ("/api/data/users/", "/api/data/users"),
        ("/api/user/self/", "/api/user/self"),
        ("/api/status/", "/api/status"),
        ("/api/v1/usage/apis/aggregate", "/api/v1/usage/apis/aggregate/"),
        ("/api/v1/usage/7/", "/api/v1/usage/7"),
    ],
)
def test_api_paths_are_served_in_place(user_api, asked, served):
    response = user_api.get(asked)

    assert served_by(response) == view_of(served)


def test_a_post_to_a_page_without_its_slash_keeps_its_method():
    response = Client().post("/login?next=/site/", {"username": "x"})

    assert response.status_code == 308
    assert response["Location"] == "/login/?next=/site/"


def test_a_page_without_its_slash_is_redirected_permanently():
    response = Client().get("/logs")

    assert response.status_code == 301
    assert response["Location"] == "/logs/"


def test_an_unknown_path_stays_a_404_in_its_familys_shape():
    for path in ("/api/nothing", "/api/nothing/"):
        response = Client().get(path)

        assert response.status_code == 404
        assert response.json() == {"success": False, "message": f"not found: {path}"}
