"""Read replica routing (`DATABASE_REPLICA_URL`).

Reads of logs and usage made while serving a read-only request (GET/HEAD outside the Django
admin, and the POST endpoints that only read) go to the replica; everything else, and every
write, goes to the primary. Accounts, tokens and sessions are always read from the primary, so a
token created a moment ago works even when the replica lags."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from contextvars import ContextVar
from typing import Any

from django.conf import settings
from django.db import connections
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.urls import Resolver404, resolve

REPLICA = "replica"
PRIMARY = "default"
REPLICA_APPS = frozenset({"logs", "usage"})
READ_METHODS = frozenset({"GET", "HEAD"})
# POST endpoints that only read (their parameters are a JSON body), by URL name (config/urls.py):
# sub2api's cost of a list of API keys, all time.
READ_ONLY_POSTS = frozenset({"sub2api-dashboard-api-keys-usage"})

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
    if request.method in READ_METHODS:
        return not request.path.startswith("/admin/")
    if request.method != "POST":
        return False
    try:
        return resolve(request.path_info).url_name in READ_ONLY_POSTS
    except Resolver404:
        return False


class ReadOnlyRequestMiddleware:
    """Routes read-only requests' reads to the replica and, on PostgreSQL, bounds every statement
    they run with `READ_STATEMENT_TIMEOUT_MS`, so one slow report cannot pile up on the server.

    The bound is set just before the request's first statement (a request that runs no query
    opens no connection) and reset when the response is finished (after streaming, for exports).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not is_read_only(request):
            return self.get_response(request)
        connection = connections[REPLICA if replica_configured() else PRIMARY]
        timeout = int(settings.READ_STATEMENT_TIMEOUT_MS or 0)
        bound = _StatementBound(timeout) if timeout and connection.vendor == "postgresql" else None
        with read_only_request(), _bounded(connection, bound):
            try:
                response = self.get_response(request)
            except BaseException:
                _lift(connection, bound)
                raise
        if isinstance(response, StreamingHttpResponse):
            # The export's later chunks are read while the body streams, after this call has
            # returned: they too read the replica, under the bound (set by their first query if
            # none ran before), and the bound is lifted when the response is closed.
            def stream_read_only(content: Any) -> Iterator[Any]:
                with read_only_request(), _bounded(connection, bound):
                    yield from content

            response.streaming_content = stream_read_only(response.streaming_content)
            response._resource_closers.append(lambda: _lift(connection, bound))
            return response
        _lift(connection, bound)
        return response


def _bounded(connection: Any, bound: _StatementBound | None) -> AbstractContextManager[Any]:
    return connection.execute_wrapper(bound) if bound is not None else nullcontext()


def _lift(connection: Any, bound: _StatementBound | None) -> None:
    if bound is not None:
        bound.reset(connection)


class _StatementBound:
    """An execute wrapper that sets `statement_timeout` once, before the first statement."""

    def __init__(self, timeout_ms: int) -> None:
        self.timeout_ms = timeout_ms
        self.active = False

    def __call__(
        self,
        execute: Callable[..., Any],
        sql: str,
        params: Any,
        many: bool,
        context: dict[str, Any],
    ) -> Any:
        if not self.active:
            self.active = True
            # The driver's connection, like the RESET: bypasses the wrappers (no recursion), and
            # not the statement's cursor, which may be a server-side one (QuerySet.iterator())
            # that can only DECLARE a query.
            context["connection"].connection.execute(
                f"SET statement_timeout = {int(self.timeout_ms)}"
            )
        return execute(sql, params, many, context)

    def reset(self, connection: Any) -> None:
        if not self.active or connection.connection is None:
            return
        self.active = False
        try:
            # The driver's connection: like the SET, outside Django's query log and wrappers.
            connection.connection.execute("RESET statement_timeout")
        except Exception:
            # Broken connection or aborted transaction: do not reuse it with the bound.
            if not connection.in_atomic_block:
                connection.close()
