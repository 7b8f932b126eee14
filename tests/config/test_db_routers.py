"""The read-replica router: which alias each read and write goes to."""

import pytest
from django.db import connection
from django.http import HttpResponse
from django.test import override_settings

from accounts.models import AccessToken
from config.db_routers import (
    ReadOnlyRequestMiddleware,
    ReplicaRouter,
    is_read_only,
    read_only_request,
)
from logs.models import Log

WITH_REPLICA = {
    "default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"},
    "replica": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"},
}
router = ReplicaRouter()


@override_settings(DATABASES=WITH_REPLICA)
def test_log_reads_of_read_only_requests_go_to_the_replica():
    assert router.db_for_read(Log) == "default"
    with read_only_request():
        assert router.db_for_read(Log) == "replica"
    assert router.db_for_read(Log) == "default"


@override_settings(DATABASES=WITH_REPLICA)
def test_writes_and_account_reads_always_go_to_the_primary():
    with read_only_request():
        assert router.db_for_write(Log) == "default"
        assert router.db_for_read(AccessToken) == "default"
    assert router.allow_migrate("replica", "logs") is False
    assert router.allow_migrate("default", "logs") is True


def test_without_a_replica_everything_uses_the_primary():
    with read_only_request():
        assert router.db_for_read(Log) == "default"


@pytest.mark.parametrize(
    ("method", "path", "expected"),
    [
        ("GET", "/api/log/self", True),
        ("HEAD", "/", True),
        ("POST", "/api/log/", False),
        ("POST", "/api/v1/usage/dashboard/api-keys-usage", True),
        ("POST", "/no/such/path", False),
        ("PUT", "/api/v1/usage/dashboard/api-keys-usage", False),
        ("DELETE", "/api/log/", False),
        ("GET", "/admin/logs/log/", False),
    ],
)
def test_which_requests_are_read_only(rf, method, path, expected):
    assert is_read_only(rf.generic(method, path)) is expected


@pytest.mark.postgres("statement_timeout is PostgreSQL's")
@pytest.mark.django_db
def test_read_requests_run_under_a_statement_timeout_that_is_reset_afterwards(rf):

    def view(request):
        with connection.cursor() as cursor:
            cursor.execute("SHOW statement_timeout")
            return HttpResponse(cursor.fetchone()[0])

    response = ReadOnlyRequestMiddleware(view)(rf.get("/api/log/self"))
    assert response.content == b"15s"
    with connection.cursor() as cursor:
        cursor.execute("SHOW statement_timeout")
        assert cursor.fetchone()[0] == "0"
    # Writes are not bounded.
    assert ReadOnlyRequestMiddleware(view)(rf.post("/api/log/")).content == b"0"


@pytest.mark.postgres("statement_timeout is PostgreSQL's")
@pytest.mark.django_db
def test_the_bound_is_set_when_the_first_query_uses_a_server_side_cursor(rf):

    def view(request):
        # QuerySet.iterator() reads through a named (server-side) cursor on PostgreSQL, which
        # can only DECLARE a query: the SET must not go through it.
        ids = list(AccessToken.objects.values_list("id", flat=True).iterator())
        with connection.cursor() as cursor:
            cursor.execute("SHOW statement_timeout")
            return HttpResponse(f"{ids} {cursor.fetchone()[0]}")

    response = ReadOnlyRequestMiddleware(view)(rf.get("/api/log/self"))
    assert response.content == b"[] 15s"
