"""No `Server: gunicorn` header (docs/deploy.md, "Security headers").

gunicorn writes `Server: gunicorn` into every response itself, after the application's headers
are set, and has no setting to leave it out. `config/wsgi.py` calls `hide_server_header()` when it
is loaded inside gunicorn (in each worker, or in the master with --preload: before any request in
both cases), so every way of starting it (the Makefile, docs/deploy.md, a config file) is covered.
tests/config/test_gunicorn.py checks it against a real gunicorn process; gunicorn is pinned to a
major version (pyproject.toml) because this replaces one of its methods."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any


def hide_server_header() -> None:
    """Drop the `Server:` line from gunicorn's default response headers; idempotent. Does nothing
    outside gunicorn."""
    module = sys.modules.get("gunicorn.http.wsgi")
    if module is None:
        return
    response_class: Any = module.Response
    if getattr(response_class, "_tokenledger_no_server_header", False):
        return
    default_headers: Callable[[Any], list[str]] = response_class.default_headers

    def headers_without_server(self: Any) -> list[str]:
        return [line for line in default_headers(self) if not line.lower().startswith("server:")]

    response_class.default_headers = headers_without_server
    response_class._tokenledger_no_server_header = True
