"""Structured request logging: one JSON line per request (config/middleware.py)."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest


@pytest.fixture
def request_log() -> Iterator[io.StringIO]:
    """What the configured handler of `tokenledger.request` writes (LOGGING in settings)."""
    (handler,) = logging.getLogger("tokenledger.request").handlers
    assert isinstance(handler, logging.StreamHandler)
    buffer = io.StringIO()
    previous = handler.setStream(buffer)
    yield buffer
    handler.setStream(previous)


def test_each_request_logs_one_json_line(user_api, request_log):
    response = user_api.get("/api/user/self", {"q": "secret-looking-query"})
    assert response.status_code == 200

    (line,) = request_log.getvalue().splitlines()
    entry = json.loads(line)
    assert {key: entry[key] for key in ("level", "logger", "method", "path", "status")} == {
        "level": "info",
        "logger": "tokenledger.request",
        "method": "GET",
        "path": "/api/user/self",
        "status": 200,
    }
    assert isinstance(entry["duration_ms"], float) and entry["duration_ms"] >= 0
    assert entry["user_id"] == 1000  # DRF hands the authenticated user back to Django
    assert "secret-looking-query" not in line  # the path only, never the query string
    assert "Authorization" not in line and "tl_" not in line


def test_refused_requests_are_logged_with_their_status(db, client, request_log):
    client.get("/api/user/self")

    entry = json.loads(request_log.getvalue().splitlines()[-1])
    assert (entry["method"], entry["path"], entry["status"]) == ("GET", "/api/user/self", 401)
