"""A database that refuses a statistics read (the read statement timeout on a huge range, a lost
connection, a replica that is down) gives a 503 in each family's error shape, never a 500."""

from __future__ import annotations

import pytest
from django.db import OperationalError, connection

from tests.factories import log_event
from tests.logs.logdata import T0, store

pytestmark = pytest.mark.django_db

MESSAGE = (
    "the database did not answer this read (it took too long or is unavailable); narrow the "
    "filters, for example with a time range, and retry"
)


def refuse_usage_reads(execute, sql, params, many, context):
    if '"logs"' in sql or "logs AS" in sql or "usage_" in sql:
        raise OperationalError("canceling statement due to statement timeout")
    return execute(sql, params, many, context)


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/data/self", {"success": False, "message": MESSAGE}),
        ("/api/v1/usage", {"code": 503, "message": MESSAGE}),
        ("/api/v1/usage/stats", {"code": 503, "message": MESSAGE}),
        ("/api/v1/usage/dashboard/trend", {"code": 503, "message": MESSAGE}),
        ("/api/v1/usage/apis/aggregate/", {"detail": MESSAGE}),
        (
            "/api/v1/portal/management/usage?start_time=1735689600&end_time=1735776000",
            {"meta": {"code": 503, "message": MESSAGE}, "data": None},
        ),
    ],
)
def test_a_refused_read_is_a_503_in_the_family_shape(user_api, path, body):
    store(log_event(created_at=T0, user_id=user_api.user.id, username=user_api.user.username))
    user_api.get("/api/user/self")  # record the token's last use before reads are refused

    with connection.execute_wrapper(refuse_usage_reads):
        response = user_api.get(path)

    assert response.status_code == 503
    payload = response.json()
    if "meta" in body:  # r9s.ai: the request id is new on every answer
        payload["meta"].pop("request_id")
    assert payload == body
