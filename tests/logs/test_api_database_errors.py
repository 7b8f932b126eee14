"""A database that refuses a log query (the read statement timeout on a huge match, a lost
connection) gives a 503 in new-api's error shape, never a 500."""

from __future__ import annotations

import pytest
from django.db import OperationalError, connection

from logs.models import Log
from tests.factories import log_event
from tests.logs.logdata import T0, store

pytestmark = pytest.mark.django_db

READ_REFUSED = {
    "success": False,
    "message": "the database did not answer this read (it took too long or is unavailable); "
    "narrow the filters, for example with a time range, and retry",
}


def refuse_log_queries(execute, sql, params, many, context):
    if 'FROM "logs"' in sql:
        raise OperationalError("canceling statement due to statement timeout")
    return execute(sql, params, many, context)


@pytest.mark.parametrize(
    ("role", "path"),
    [
        ("admin", "/api/log/"),
        ("admin", "/api/log/stat"),
        ("admin", "/api/log/search?keyword=timeout"),
        ("admin", "/api/log/export"),
        ("user", "/api/log/self"),
        ("user", "/api/log/self/stat"),
        ("user", "/api/log/self/search?keyword=timeout"),
        ("user", "/api/log/self/export"),
    ],
)
def test_a_refused_read_is_a_503_in_the_new_api_shape(admin_api, user_api, role, path):
    store(log_event(created_at=T0))
    client = admin_api if role == "admin" else user_api
    client.get("/api/log/self")  # token lookups are not log queries; record the last use first

    with connection.execute_wrapper(refuse_log_queries):
        response = client.get(path)

    assert response.status_code == 503
    assert response.json() == READ_REFUSED


def test_a_refused_delete_says_how_much_was_deleted(admin_api):
    store(log_event(created_at=T0))
    admin_api.get("/api/log/self")

    with connection.execute_wrapper(refuse_log_queries):
        response = admin_api.delete(f"/api/log/?target_timestamp={T0 + 1}")

    assert response.status_code == 503
    assert response.json() == {
        "success": False,
        "message": "the database stopped the delete after 0 logs (those stay deleted); "
        "retry to delete the rest",
    }
    assert Log.objects.count() == 1
