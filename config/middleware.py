"""Structured request logging (one JSON line per request on the `tokenledger.request` logger), and
the trailing-slash rule every route follows."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime

from django.http import HttpRequest, HttpResponse, HttpResponsePermanentRedirect
from django.urls import is_valid_path
from django.utils.encoding import escape_uri_path, iri_to_uri
from django.utils.http import escape_leading_slashes

request_logger = logging.getLogger("tokenledger.request")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, tz=UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        extra = getattr(record, "fields", None)
        if isinstance(extra, dict):
            payload.update(extra)
        if record.exc_info:
            payload["exc"] = self.formatException(record.exc_info)
        return json.dumps(payload, default=str)


class RequestLogMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        user = getattr(request, "user", None)
        request_logger.info(
            "request",
            extra={
                "fields": {
                    "method": request.method,
                    "path": request.path,
                    "status": response.status_code,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                    "user_id": getattr(user, "pk", None),
                    "remote": request.META.get("REMOTE_ADDR"),
                }
            },
        )
        return response


class TrailingSlashMiddleware:
    """Every route answers with and without its trailing slash (API.md section 4).

    new-api's clients disagree about the slash (its classic theme calls `/api/data/self/`, its
    default theme `/api/data`) because new-api, on Gin, redirects either form to the route. A
    path that no route matches is tried with its trailing slash added or removed. Under `/api/`
    the request is then served by that route as it stands: an API client cannot be relied on to
    follow a redirect with its method, body and headers. A page is redirected there instead (301,
    308 for methods other than GET and HEAD, the query string kept), so that it has one address
    and its relative links resolve. Django's APPEND_SLASH (CommonMiddleware) only ever adds a
    slash, and only by redirecting; this runs first."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        path = request.path_info
        urlconf = getattr(request, "urlconf", None)
        if path != "/" and not is_valid_path(path, urlconf):
            other = path[:-1] if path.endswith("/") else f"{path}/"
            if is_valid_path(other, urlconf):
                if path.startswith("/api/"):
                    request.path_info = other
                else:
                    return _redirect(request, path, other)
        return self.get_response(request)


def _redirect(request: HttpRequest, path: str, other: str) -> HttpResponse:
    script_prefix = request.path[: len(request.path) - len(path)]
    location = escape_leading_slashes(escape_uri_path(script_prefix + other))
    query = request.META.get("QUERY_STRING", "")
    if query:
        location = f"{location}?{iri_to_uri(query)}"
    return HttpResponsePermanentRedirect(
        location, preserve_request=request.method not in ("GET", "HEAD")
    )
