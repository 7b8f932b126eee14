"""Read replica routing (`DATABASE_REPLICA_URL`).

Reads of logs and usage made while serving a read-only request (GET/HEAD outside the Django
admin) go to the replica; everything else, and every write, goes to the primary. Accounts,
tokens and sessions are always read from the primary, so a token created a moment ago works
even when the replica lags."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connections
from django.http import HttpRequest, HttpResponse

REPLICA = "replica"
PRIMARY = "default"
REPLICA_APPS = frozenset({"logs", "usage"})
READ_METHODS = frozenset({"GET", "HEAD"})

_read_only: ContextVar[bool] = ContextVar("tokenledger_read_only", default=False)


@contextmanager
def read_only_request() -> Iterator[None]:
    """Mark the current request (or block) as read-only: its log/usage reads may use the replica."""
    token = _read_only.set(True)
    try:
        yield
    finally:
        _read_only.reset(token)


def replica_configured() -> bool:
    return REPLICA in settings.DATABASES


class ReplicaRouter:
    def db_for_read(self, model: type[Any], **hints: Any) -> str:
        if _read_only.get() and model._meta.app_label in REPLICA_APPS and replica_configured():
            return REPLICA
        return PRIMARY

    def db_for_write(self, model: type[Any], **hints: Any) -> str:
        return PRIMARY

    def allow_relation(self, obj1: Any, obj2: Any, **hints: Any) -> bool:
        return True

    def allow_migrate(self, db: str, app_label: str, **hints: Any) -> bool:
        # The replica is a copy of the primary: migrations run on the primary only.
        return db == PRIMARY


def is_read_only(request: HttpRequest) -> bool:
    return request.method in READ_METHODS and not request.path.startswith("/admin/")


class ReadOnlyRequestMiddleware:
    """Routes read-only requests' reads to the replica and, on PostgreSQL, bounds every statement
    they run with `READ_STATEMENT_TIMEOUT_MS`, so one slow report cannot pile up on the server."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not is_read_only(request):
            return self.get_response(request)
        with read_only_request():
            alias = REPLICA if replica_configured() else PRIMARY
            timeout = settings.READ_STATEMENT_TIMEOUT_MS
            bounded = bool(timeout) and connections[alias].vendor == "postgresql"
            if bounded:
                with connections[alias].cursor() as cursor:
                    cursor.execute("SET statement_timeout = %s", [int(timeout)])
            try:
                response = self.get_response(request)
                if response.streaming:
                    # A streamed export runs after this returns; leave the bound in place for it
                    # and reset it when the response is closed.
                    response._resource_closers.append(lambda: _reset_timeout(alias, bounded))
                    return response
            except BaseException:
                _reset_timeout(alias, bounded)
                raise
            _reset_timeout(alias, bounded)
            return response


def _reset_timeout(alias: str, bounded: bool) -> None:
    connection = connections[alias]
    if not bounded or connection.connection is None:
        return
    try:
        with connection.cursor() as cursor:
            cursor.execute("RESET statement_timeout")
    except DatabaseError:
        # The connection is broken or its transaction aborted: do not reuse it with the bound.
        if not connection.in_atomic_block:
            connection.close()
