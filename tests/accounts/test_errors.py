"""API paths answer every error in JSON, in the shape of the family that owns the path; pages
outside `/api/` keep Django's HTML error pages."""

from __future__ import annotations

import pytest
from django.http import HttpRequest, HttpResponse
from django.test import Client
from django.urls import path

from config import urls as config_urls


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/nothing-here", {"success": False, "message": "not found: /api/nothing-here"}),
        (
            "/api/log/self/unknown",
            {"success": False, "message": "not found: /api/log/self/unknown"},
        ),
        ("/api/v1/nothing", {"code": 404, "message": "not found: /api/v1/nothing"}),
        ("/api/v1/usage/apis/nothing", {"detail": "not found: /api/v1/usage/apis/nothing"}),
    ],
)
def test_unrouted_api_path_is_a_json_404_in_its_familys_shape(db, path, body):
    response = Client().get(path)

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == body


def test_unrouted_r9s_path_carries_its_meta_envelope(db):
    response = Client().get("/api/v1/portal/nothing")

    assert response.status_code == 404
    body = response.json()
    assert body["data"] is None
    assert (body["meta"]["code"], body["meta"]["message"]) == (
        404,
        "not found: /api/v1/portal/nothing",
    )
    assert len(body["meta"]["request_id"]) == 36


def test_unrouted_page_outside_the_api_stays_html(db):
    response = Client().get("/no-such-page")

    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_unsupported_method_on_an_api_route_is_a_json_405(user_api, method):
    response = getattr(user_api.client, method)(
        "/api/user/self", headers=user_api.headers(), content_type="application/json"
    )

    assert response.status_code == 405
    assert response.json() == {
        "success": False,
        "message": f'Method "{method.upper()}" not allowed.',
    }


def test_refusals_and_errors_on_api_paths_are_never_html(db, user_api, ingest_api):
    responses = [
        Client().get("/api/user/self"),  # 401
        user_api.get("/api/log/"),  # 403
        ingest_api.post("/api/log/", "not json", new_api_user=False),  # 400
        Client().get("/api/nope/"),  # 404
        user_api.post("/api/user/self"),  # 405
        Client().post("/healthz"),  # 405
    ]

    assert [r.status_code for r in responses] == [401, 403, 400, 404, 405, 405]
    for response in responses:
        assert response["Content-Type"] == "application/json"
        assert isinstance(response.json(), dict)


def crash(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("secret detail: password=hunter2")


# This module doubles as the URLconf of the 500 test: config's routes and error handlers plus
# one route that crashes (no real view does so on purpose).
urlpatterns = [*config_urls.urlpatterns, path("api/crash", crash), path("crash", crash)]
handler404 = config_urls.handler404
handler500 = config_urls.handler500


@pytest.mark.urls(__name__)
def test_unhandled_exception_on_an_api_path_is_a_json_500_without_details(db):
    response = Client(raise_request_exception=False).get("/api/crash")

    assert response.status_code == 500
    assert response.json() == {"success": False, "message": "internal server error"}
    assert b"hunter2" not in response.content


@pytest.mark.urls(__name__)
def test_unhandled_exception_on_a_page_stays_html(db):
    response = Client(raise_request_exception=False).get("/crash")

    assert response.status_code == 500
    assert response["Content-Type"].startswith("text/html")
    assert b"hunter2" not in response.content
