"""The OpenAPI schema documents every log route with every parameter and the error shape."""

from __future__ import annotations

import pytest
from django.test import Client

from logs.serializers import LogItemSerializer, LogUserItemSerializer
from tests.factories import log_event
from tests.logs.logdata import T0, store

FILTERS = {
    "start_timestamp",
    "end_timestamp",
    "type",
    "token_name",
    "model_name",
    "group",
    "request_id",
}
ADMIN_FILTERS = FILTERS | {"username", "channel"}
PAGING = {"p", "page_size", "ps", "size", "cursor"}

OPERATIONS = [
    ("/api/log/", "get", ADMIN_FILTERS | PAGING),
    ("/api/log/", "delete", {"target_timestamp"}),
    ("/api/log/self", "get", FILTERS | PAGING),
    ("/api/log/stat", "get", ADMIN_FILTERS),
    ("/api/log/self/stat", "get", FILTERS),
    ("/api/log/search", "get", {"keyword"}),
    ("/api/log/self/search", "get", {"keyword"}),
    ("/api/log/export", "get", ADMIN_FILTERS),
    ("/api/log/self/export", "get", FILTERS),
]


@pytest.fixture(scope="module")
def schema(django_db_blocker):
    with django_db_blocker.unblock():
        response = Client().get("/api/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    return response.json()


@pytest.mark.parametrize(("path", "method", "parameters"), OPERATIONS)
def test_every_log_operation_documents_its_parameters_and_refusals(
    schema, path, method, parameters
):
    operation = schema["paths"][path][method]

    assert {p["name"] for p in operation["parameters"] if p["in"] == "query"} == parameters
    assert all(p["description"] for p in operation["parameters"])
    assert operation["summary"]
    error = {"$ref": "#/components/schemas/NewApiError"}
    assert operation["responses"]["401"]["content"]["application/json"]["schema"] == error
    assert operation["responses"]["403"]["content"]["application/json"]["schema"] == error


@pytest.mark.parametrize(
    ("path", "method"), [(p, m) for p, m, _ in OPERATIONS if not p.endswith("export")]
)
def test_a_200_is_the_success_envelope_or_the_error_shape(schema, path, method):
    body = schema["paths"][path][method]["responses"]["200"]["content"]["application/json"]
    name = body["schema"]["$ref"].rsplit("/", 1)[1]

    one_of = schema["components"]["schemas"][name]["oneOf"]

    assert {"$ref": "#/components/schemas/NewApiError"} in one_of
    success = schema["components"]["schemas"][one_of[0]["$ref"].rsplit("/", 1)[1]]
    assert set(success["properties"]) == {"success", "message", "data"}


@pytest.mark.parametrize("path", ["/api/log/export", "/api/log/self/export"])
def test_exports_are_documented_as_csv(schema, path):
    assert "text/csv" in schema["paths"][path]["get"]["responses"]["200"]["content"]


def test_trailing_slash_aliases_are_not_documented_twice(schema):
    assert "/api/log/self/" not in schema["paths"]
    assert "/api/log" not in schema["paths"]


@pytest.mark.django_db
@pytest.mark.parametrize("serializer", [LogItemSerializer, LogUserItemSerializer])
def test_documented_item_fields_are_the_fields_sent(serializer):
    log = store(log_event(created_at=T0))[0]

    assert list(serializer(log).data) == list(serializer().fields)
