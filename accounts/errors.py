"""The one path from an exception to an error answer, for every API dialect.

`error_report` turns what a view may raise into (HTTP status, message, headers);
`detail_message` is the one flattener of DRF's error details into that message; each dialect's
`*_error_body` wraps a report in the dialect's error shape (API.md sections 1, 5, 6, 7), which
the dialect's exception handler answers with `error_response`. Django's own errors on API paths
(no route, an unhandled exception, a bad host) get the same bodies, the dialect chosen by URL
prefix, longest prefix first, so that an API client never receives an HTML page. Pages outside
`/api/` keep Django's HTML answers, which are meant for a person.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import SuspiciousOperation, TooManyFieldsSent
from django.db import DatabaseError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views import defaults
from rest_framework import exceptions, status
from rest_framework.response import Response

logger = logging.getLogger(__name__)

# A read the database refused: typically READ_STATEMENT_TIMEOUT_MS on a huge match, or a
# replica that is down. Every dialect answers it with HTTP 503 in its own shape, never a 500.
DATABASE_UNAVAILABLE = (
    "the database did not answer this read (it took too long or is unavailable); narrow the "
    "filters, for example with a time range, and retry"
)


@dataclass(slots=True)
class ErrorReport:
    status: int
    message: str
    headers: dict[str, str] = field(default_factory=dict)
    # Bad input (parameters, query string) rather than a refusal: new-api answers it with
    # HTTP 200 and `success: false`.
    bad_input: bool = False


def detail_message(detail: Any, name: str = "") -> str:
    """A DRF error detail as one line a person can act on: `field: problem` (nested fields as
    `field.0`), without the prefix when the message already starts by naming the field
    (`start_timestamp must be >= 0`, `invalid start_timestamp`: new-api's wording)."""
    if isinstance(detail, dict):
        return "; ".join(
            detail_message(value, _join(name, str(key))) for key, value in detail.items()
        )
    if isinstance(detail, list):
        parts = []
        for index, item in enumerate(detail):
            key = _join(name, str(index)) if isinstance(item, dict | list) else name
            parts.append(detail_message(item, key))
        return "; ".join(parts)
    message = str(detail)
    field_name = name.split(".")[0]
    if (
        not name
        or name == "non_field_errors"
        or message.startswith((field_name, f"invalid {field_name}"))
    ):
        return message
    return f"{name}: {message}"


def _join(prefix: str, key: str) -> str:
    return f"{prefix}.{key}" if prefix else key


def error_report(exc: Exception) -> ErrorReport | None:
    """The status and message for an exception a view may raise; None for anything else (a
    bug, which Django reports as a server error)."""
    if isinstance(exc, DatabaseError):
        logger.exception("read failed in the database")
        return ErrorReport(status.HTTP_503_SERVICE_UNAVAILABLE, DATABASE_UNAVAILABLE)
    if isinstance(exc, Http404):
        return ErrorReport(status.HTTP_404_NOT_FOUND, str(exc) or "not found")
    if isinstance(exc, DjangoPermissionDenied):
        return ErrorReport(status.HTTP_403_FORBIDDEN, str(exc) or "permission denied")
    if isinstance(exc, TooManyFieldsSent):
        return ErrorReport(
            status.HTTP_400_BAD_REQUEST,
            f"too many parameters (at most {settings.DATA_UPLOAD_MAX_NUMBER_FIELDS})",
            bad_input=True,
        )
    if isinstance(exc, SuspiciousOperation):
        return ErrorReport(status.HTTP_400_BAD_REQUEST, "bad request", bad_input=True)
    if isinstance(exc, exceptions.ValidationError):
        return ErrorReport(status.HTTP_400_BAD_REQUEST, detail_message(exc.detail), bad_input=True)
    if not isinstance(exc, exceptions.APIException):
        return None
    report = ErrorReport(exc.status_code, detail_message(exc.detail))
    if isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
        report.headers["WWW-Authenticate"] = 'Bearer realm="tokenledger"'
    # getattr: the DRF stubs do not declare Throttled.wait (seconds, or None when unknown).
    wait = getattr(exc, "wait", None)
    if isinstance(exc, exceptions.Throttled) and wait is not None:
        report.headers["Retry-After"] = str(int(wait))
    return report


# --- the error body of each dialect ------------------------------------------------------------


def new_api_error_body(report: ErrorReport) -> dict[str, Any]:
    return {"success": False, "message": report.message}


def sub2api_error_body(report: ErrorReport) -> dict[str, Any]:
    return {"code": report.status, "message": report.message}


def acedata_error_body(report: ErrorReport) -> dict[str, Any]:
    return {"detail": report.message}


def r9s_meta(code: int, message: str) -> dict[str, object]:
    """r9s.ai's `meta`: the status, the message and a fresh request id."""
    return {"code": code, "message": message, "request_id": str(uuid.uuid4())}


def r9s_error_body(report: ErrorReport) -> dict[str, Any]:
    return {"meta": r9s_meta(report.status, report.message), "data": None}


ErrorBody = Callable[[ErrorReport], dict[str, Any]]


def error_response(report: ErrorReport, body: dict[str, Any], http_status: int) -> Response:
    """A view's answer to a report: the dialect's body, the status and the report's headers."""
    response = Response(body, status=http_status)
    for name, value in report.headers.items():
        response[name] = value
    return response


# --- Django's own errors on API paths -----------------------------------------------------------

ERROR_BODIES: tuple[tuple[str, ErrorBody], ...] = (
    ("/api/v1/usage/apis/", acedata_error_body),
    ("/api/v1/portal/", r9s_error_body),
    ("/api/v1/", sub2api_error_body),
    ("/api/", new_api_error_body),
)


def api_error_body(path: str, status: int, message: str) -> dict[str, Any] | None:
    """The error body of the dialect that owns `path`, or None outside `/api/`."""
    for prefix, body in ERROR_BODIES:
        if path.startswith(prefix):
            return body(ErrorReport(status, message))
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
