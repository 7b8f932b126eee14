"""The OpenAPI schema tells the truth: real answers of every family conform to it (validated by
schemathesis, as `make test-schema` does), its `oneOf`s are exclusive, the refusals the server
sends are documented, and it is no looser than the server (time zones, dates, bodies)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any
from zoneinfo import available_timezones

import jsonschema
import pytest
from django.test import Client

from tests.conformance import Conformance
from tests.factories import log_event
from usage.buckets import zone_get

ZONES = available_timezones()  # the IANA zones of this machine's database

NOW = datetime(2025, 3, 10, 12, tzinfo=UTC)
NOW_TS = int(NOW.timestamp())


@pytest.fixture(scope="module")
def conformance(django_db_blocker) -> Conformance:
    with django_db_blocker.unblock():
        return Conformance()


@pytest.fixture
def schema(conformance) -> dict[str, Any]:
    return conformance.document


@pytest.fixture
def frozen(time_machine) -> None:
    time_machine.move_to(NOW, tick=False)


@pytest.fixture
def logs(frozen, admin_api, user_api, ingest) -> None:
    """Two logs of the common user (the admin reads them site-wide)."""
    ingest(
        [
            log_event(created_at=NOW_TS - 120, request_id="u1"),
            log_event(created_at=NOW_TS - 60, request_id="u2", model_name="gpt-4o-mini"),
        ]
    )


def component(schema: dict[str, Any], ref: dict[str, str]) -> dict[str, Any]:
    return schema["components"]["schemas"][ref["$ref"].rsplit("/", 1)[1]]


# --- new-api: a 200 is the success envelope or the error, never both ---------------------------

NEW_API_READS = [
    ("get", "/api/log/", "/api/log/", {}, "admin"),
    ("get", "/api/log/self", "/api/log/self", {}, "user"),
    ("get", "/api/log/stat", "/api/log/stat", {}, "admin"),
    ("get", "/api/log/self/stat", "/api/log/self/stat", {}, "user"),
    ("get", "/api/log/search", "/api/log/search", {"keyword": "gpt"}, "admin"),
    ("get", "/api/log/self/search", "/api/log/self/search", {"keyword": "gpt"}, "user"),
    ("delete", "/api/log/", "/api/log/", {"target_timestamp": NOW_TS - 90}, "admin"),
    ("get", "/api/data/", "/api/data/", {}, "admin"),
    ("get", "/api/data/self", "/api/data/self", {}, "user"),
    ("get", "/api/user/self", "/api/user/self", {}, "user"),
]


def _call(api, method: str, url: str, params: dict[str, Any]):
    if method == "delete":
        query = "&".join(f"{name}={value}" for name, value in params.items())
        return api.client.delete(f"{url}?{query}", headers=api.headers())
    return api.get(url, params)


@pytest.mark.parametrize(("method", "path", "url", "params", "who"), NEW_API_READS)
def test_new_api_successes_conform_to_exactly_one_branch(
    conformance, logs, admin_api, user_api, method, path, url, params, who
):
    api = admin_api if who == "admin" else user_api
    response = _call(api, method, url, params)

    assert response.status_code == 200
    assert response.json()["success"] is True
    conformance.check(method, path, response)


BAD_INPUT = [
    ("get", "/api/log/", {"type": "null"}, "admin", "invalid type"),
    ("get", "/api/log/self", {"start_timestamp": "x"}, "user", "invalid start_timestamp"),
    ("get", "/api/log/stat", {"type": "9"}, "admin", "type must be between 0 and 6"),
    ("get", "/api/log/search", {"keyword": ""}, "admin", "keyword is required"),
    ("delete", "/api/log/", {"target_timestamp": "null"}, "admin", "invalid target_timestamp"),
    (
        "get",
        "/api/data/self",
        {"start_timestamp": "-1"},
        "user",
        "start_timestamp must be >= 0",
    ),
    (
        "get",
        "/api/data/",
        {"granularity": "year"},
        "admin",
        "granularity: must be one of hour, day, week",
    ),
    ("get", "/api/log/export", {"type": "null"}, "admin", "invalid type"),
    ("get", "/api/log/self/export", {"type": "null"}, "user", "invalid type"),
]


@pytest.mark.parametrize(("method", "path", "params", "who", "message"), BAD_INPUT)
def test_new_api_refusals_are_documented_200s(
    conformance, frozen, admin_api, user_api, method, path, params, who, message
):
    api = admin_api if who == "admin" else user_api
    response = _call(api, method, path, params)

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"success": False, "message": message}
    conformance.check(method, path, response)


def test_new_api_success_and_error_shapes_exclude_each_other(schema):
    error = schema["components"]["schemas"]["NewApiError"]
    assert component(schema, error["properties"]["success"]) == {
        "type": "boolean",
        "enum": [False],
    }
    for name, shape in schema["components"]["schemas"].items():
        if (
            "oneOf" not in shape
            or {"$ref": "#/components/schemas/NewApiError"} not in shape["oneOf"]
        ):
            continue
        success = component(schema, shape["oneOf"][0])
        assert component(schema, success["properties"]["success"]) == {
            "type": "boolean",
            "enum": [True],
        }, name


@pytest.mark.parametrize("path", ["/api/log/export", "/api/log/self/export"])
def test_exports_document_their_json_refusal(schema, path):
    content = schema["paths"][path]["get"]["responses"]["200"]["content"]

    assert set(content) == {"text/csv", "application/json"}
    assert content["application/json"]["schema"] == {"$ref": "#/components/schemas/NewApiError"}


# --- sub2api, AceData, r9s: the answers conform -------------------------------------------------

FAMILY_READS = [
    ("get", "/api/v1/usage", "/api/v1/usage", {"timezone": "Asia/Kolkata"}),
    ("get", "/api/v1/usage/stats", "/api/v1/usage/stats", {"period": "week"}),
    ("get", "/api/v1/usage/dashboard/stats", "/api/v1/usage/dashboard/stats", {}),
    ("get", "/api/v1/usage/dashboard/trend", "/api/v1/usage/dashboard/trend", {}),
    ("get", "/api/v1/usage/dashboard/models", "/api/v1/usage/dashboard/models", {}),
    ("get", "/api/v1/usage/apis/aggregate/", "/api/v1/usage/apis/aggregate/", {}),
    (
        "get",
        "/api/v1/portal/management/usage",
        "/api/v1/portal/management/usage",
        {"start_time": NOW_TS - 3600, "end_time": NOW_TS},
    ),
    ("get", "/api/v1/usage/{usage_id}", "/api/v1/usage/999999", {}),
    ("get", "/api/v1/usage/stats", "/api/v1/usage/stats", {"timezone": "Mars/Olympus"}),
    ("get", "/api/v1/usage/apis/aggregate/", "/api/v1/usage/apis/aggregate/", {"timezone": "x"}),
    ("get", "/api/v1/portal/management/usage", "/api/v1/portal/management/usage", {}),
]


@pytest.mark.parametrize(("method", "path", "url", "params"), FAMILY_READS)
def test_statistics_answers_conform(conformance, logs, user_api, method, path, url, params):
    response = user_api.get(url, params, new_api_user=False)

    assert response.status_code in (200, 400, 404)
    conformance.check(method, path, response)


def test_api_keys_usage_answer_conforms(conformance, logs, user_api):
    response = user_api.post(
        "/api/v1/usage/dashboard/api-keys-usage", {"api_key_ids": [1]}, new_api_user=False
    )

    assert response.status_code == 200
    conformance.check("post", "/api/v1/usage/dashboard/api-keys-usage", response)


def test_ingest_answer_conforms(conformance, frozen, ingest_api):
    response = ingest_api.post(
        "/api/log/",
        {"logs": [{"request_id": "r", "created_at": NOW_TS, "user_id": 5, "username": "u"}, 7]},
        new_api_user=False,
    )

    assert response.status_code == 200
    assert response.json()["data"]["rejected"] == 1
    conformance.check("post", "/api/log/", response)


# --- the schema is no looser than the server ----------------------------------------------------


def _parameters(schema: dict[str, Any], name: str) -> list[tuple[str, dict[str, Any]]]:
    return [
        (f"{method.upper()} {path}", parameter)
        for path, operations in schema["paths"].items()
        for method, operation in operations.items()
        for parameter in operation.get("parameters", [])
        if parameter["name"] == name
    ]


def test_every_time_zone_parameter_is_the_enum_of_the_zones_the_server_accepts(schema):
    zones = [*_parameters(schema, "timezone"), *_parameters(schema, "tz")]
    assert len(zones) == 12  # 7 sub2api operations, AceData, r9s, new-api's three /api/data/

    for where, parameter in zones:
        assert parameter["schema"] == {"allOf": [{"$ref": "#/components/schemas/TimeZone"}]}, where
    enum = schema["components"]["schemas"]["TimeZone"]["enum"]
    assert enum == sorted(ZONES)
    assert {"UTC", "Asia/Kolkata", "America/New_York", "Australia/Lord_Howe"} <= set(enum)
    for name in enum:
        assert str(zone_get(name, "UTC")) == name


@pytest.mark.parametrize("name", ["posix/Asia/Kolkata", "right/UTC", "Mars/Base"])
def test_a_zone_outside_the_enum_is_refused(frozen, user_api, name):
    assert name not in ZONES

    response = user_api.get("/api/v1/usage/dashboard/stats", {"timezone": name})

    assert response.status_code == 400
    assert response.json() == {
        "code": 400,
        "message": f"timezone: unknown timezone {name!r} (use an IANA name such as Asia/Kolkata)",
    }


def date_patterns(schema: dict[str, Any]) -> list[str]:
    """The patterns of the documented dates: sub2api's days and AceData's instants."""
    patterns = []
    for where, parameter in [
        *_parameters(schema, "start_date"),
        *_parameters(schema, "end_date"),
        *_parameters(schema, "created_at_from"),
        *_parameters(schema, "created_at_to"),
    ]:
        for branch in parameter["schema"].get("anyOf", [parameter["schema"]]):
            assert "pattern" in branch, where
            patterns.append(branch["pattern"])
    return patterns


def test_documented_dates_are_of_exactly_the_accepted_years(schema):
    patterns = date_patterns(schema)
    assert len(patterns) == 12  # 4 sub2api routes x 2, AceData's two instants x 2 forms

    for pattern in set(patterns):
        years = [year for year in range(10_000) if re.match(pattern, f"{year:04d}-01-01")]
        assert years == list(range(1970, 9999)), pattern


@pytest.mark.parametrize(
    ("path", "name"),
    [
        ("/api/v1/usage", "start_date"),
        ("/api/v1/usage/stats", "end_date"),
        ("/api/v1/usage/dashboard/trend", "start_date"),
        ("/api/v1/usage/dashboard/models", "end_date"),
    ],
)
def test_sub2api_dates_are_iso_days_of_the_accepted_years(schema, user_api, frozen, path, name):
    parameter = next(p for p in schema["paths"][path]["get"]["parameters"] if p["name"] == name)
    date_schema = parameter["schema"]
    assert date_schema["format"] == "date"
    assert re.fullmatch(date_schema["pattern"].strip("^$"), "2025-03-01")

    for value in ("1969-12-31", "9999-01-01", "2025-3-1"):
        assert not re.search(date_schema["pattern"], value), value
        response = user_api.get(path, {name: value})
        assert response.status_code == 400, value


@pytest.mark.parametrize("name", ["created_at_from", "created_at_to"])
def test_acedata_instants_are_iso_dates_or_date_times(schema, name):
    operation = schema["paths"]["/api/v1/usage/apis/aggregate/"]["get"]
    parameter = next(p for p in operation["parameters"] if p["name"] == name)

    assert [branch["format"] for branch in parameter["schema"]["anyOf"]] == ["date", "date-time"]
    assert parameter["schema"]["maxLength"] == 64


def test_sub2api_usage_id_is_a_non_negative_bigint(schema):
    operation = schema["paths"]["/api/v1/usage/{usage_id}"]["get"]
    usage_id = next(p for p in operation["parameters"] if p["name"] == "usage_id")

    assert usage_id["schema"] == {"type": "integer", "minimum": 0, "maximum": 2**63 - 1}


def test_an_empty_optional_query_parameter_is_documented_as_absent(schema, user_api, frozen):
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            for parameter in operation.get("parameters", []):
                if parameter["in"] == "query":
                    expected = None if parameter.get("required") else True
                    assert parameter.get("allowEmptyValue") is expected, (method, path, parameter)

    response = user_api.get("/api/v1/usage/dashboard/trend?start_date=&timezone=")

    assert response.status_code == 200


def test_ingest_body_is_documented_as_the_server_reads_it(schema):
    body = schema["paths"]["/api/log/"]["post"]["requestBody"]
    assert body["required"] is True
    validator = jsonschema.Draft4Validator(body["content"]["application/json"]["schema"])

    assert validator.is_valid({"logs": [{"request_id": "x"}]})
    assert validator.is_valid([{"request_id": "x"}, None])  # each item is judged on its own
    refusals: list[object] = [
        {"logs": [], "x": 1},
        {"logs": []},
        {},
        [],
        {"logs": [{}] * 1001},
        "x",
    ]
    for refused in refusals:
        assert not validator.is_valid(refused), refused


def test_ingest_refuses_what_the_schema_refuses(frozen, ingest_api):
    response = ingest_api.post("/api/log/", {"logs": [{"request_id": "x"}], "extra": 1})

    assert response.status_code == 400
    assert response.json() == {
        "success": False,
        "message": "unknown top-level field(s): 'extra'; expected only \"logs\"",
    }


def test_api_keys_usage_documents_a_json_body_only(schema):
    body = schema["paths"]["/api/v1/usage/dashboard/api-keys-usage"]["post"]["requestBody"]

    assert set(body["content"]) == {"application/json"}
    assert body["required"] is True


def test_schema_is_served_the_same_to_every_client():
    assert Client().get("/api/schema/").status_code == 200
