"""JSON answers for the errors Django itself produces (no route, an unhandled exception, a bad
host) on API paths, so that an API client never receives an HTML page.

Each family has its own error shape (API.md sections 1, 5, 6, 7); a path that matched no route
still belongs to a family by its prefix, longest prefix first. Pages outside `/api/` keep
Django's HTML answers, which are meant for a person.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import defaults

ShapeFn = Callable[[int, str], dict[str, Any]]


def _new_api(status: int, message: str) -> dict[str, Any]:
    return {"success": False, "message": message}


def _sub2api(status: int, message: str) -> dict[str, Any]:
    return {"code": status, "message": message}


def _acedata(status: int, message: str) -> dict[str, Any]:
    return {"detail": message}


def _r9s(status: int, message: str) -> dict[str, Any]:
    return {
        "meta": {"code": status, "message": message, "request_id": str(uuid.uuid4())},
        "data": None,
    }


FAMILY_SHAPES: tuple[tuple[str, ShapeFn], ...] = (
    ("/api/v1/usage/apis/", _acedata),
    ("/api/v1/portal/", _r9s),
    ("/api/v1/", _sub2api),
    ("/api/", _new_api),
)


def api_error_body(path: str, status: int, message: str) -> dict[str, Any] | None:
    """The error body of the family that owns `path`, or None outside `/api/`."""
    for prefix, shape in FAMILY_SHAPES:
        if path.startswith(prefix):
            return shape(status, message)
    return None


def _answer(request: HttpRequest, status: int, message: str) -> JsonResponse | None:
    body = api_error_body(request.path, status, message)
    return None if body is None else JsonResponse(body, status=status)


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    return _answer(request, 400, "bad request") or defaults.bad_request(request, exception)


def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    return _answer(request, 403, "forbidden") or defaults.permission_denied(request, exception)


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    return _answer(request, 404, f"not found: {request.path}") or defaults.page_not_found(
        request, exception
    )


def server_error(request: HttpRequest) -> HttpResponse:
    # No details: the traceback goes to the log (django.request), never to the client.
    return _answer(request, 500, "internal server error") or defaults.server_error(request)
