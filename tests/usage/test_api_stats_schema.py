"""The OpenAPI document describes every statistics endpoint with the parameters the views
validate, and the documented response shapes match what the views send."""

from __future__ import annotations

import pytest
from drf_spectacular.generators import SchemaGenerator

from tests.factories import log_event
from usage.api.acedata import AceDataAggregateOut, AceDataApiOut, AceDataResultOut
from usage.api.newapi import DataRowOut, DataUserRowOut
from usage.api.r9s import R9sRecordOut, R9sUsageOut
from usage.api.sub2api import (
    ApiKeyRefOut,
    ApiKeysUsageOut,
    ApiKeyUsageOut,
    DashboardStatsOut,
    ModelsOut,
    ModelStatOut,
    TrendOut,
    TrendPointOut,
    UsageLogOut,
    UsagePageOut,
    UsageStatsOut,
)

# operation path -> (method, query parameters, or the request body's fields)
EXPECTED = {
    "/api/data/": ("get", {"start_timestamp", "end_timestamp", "granularity", "tz", "username"}),
    "/api/data/self": ("get", {"start_timestamp", "end_timestamp", "granularity", "tz"}),
    "/api/data/users": (
        "get",
        {"start_timestamp", "end_timestamp", "granularity", "tz", "username"},
    ),
    "/api/v1/usage": (
        "get",
        {
            "page",
            "page_size",
            "limit",
            "api_key_id",
            "model",
            "stream",
            "start_date",
            "end_date",
            "timezone",
        },
    ),
    "/api/v1/usage/{usage_id}": ("get", {"usage_id", "timezone"}),
    "/api/v1/usage/stats": ("get", {"period", "start_date", "end_date", "api_key_id", "timezone"}),
    "/api/v1/usage/dashboard/stats": ("get", {"timezone"}),
    "/api/v1/usage/dashboard/trend": ("get", {"start_date", "end_date", "granularity", "timezone"}),
    "/api/v1/usage/dashboard/models": ("get", {"start_date", "end_date", "timezone"}),
    "/api/v1/usage/dashboard/api-keys-usage": ("post", {"timezone"}),
    "/api/v1/usage/apis/aggregate/": (
        "get",
        {"application_id", "api_id", "created_at_from", "created_at_to", "timezone"},
    ),
    "/api/v1/portal/management/usage": ("get", {"start_time", "end_time", "timezone"}),
}


@pytest.fixture(scope="module")
def schema():
    return SchemaGenerator().get_schema(request=None, public=True)


@pytest.mark.parametrize("path", sorted(EXPECTED))
def test_every_parameter_is_documented(schema, path):
    method, parameters = EXPECTED[path]
    operation = schema["paths"][path][method]

    assert {p["name"] for p in operation["parameters"]} == parameters
    # new-api answers bad parameters with HTTP 200 and success: false, the others with a 400
    statuses = (
        {"200", "401", "403"} if path.startswith("/api/data") else {"200", "400", "401", "403"}
    )
    assert statuses <= set(operation["responses"])


def test_repeatable_api_id_is_an_array(schema):
    operation = schema["paths"]["/api/v1/usage/apis/aggregate/"]["get"]
    api_id = next(p for p in operation["parameters"] if p["name"] == "api_id")

    assert api_id["schema"]["type"] == "array"


def test_api_keys_usage_body_is_documented(schema):
    body = schema["paths"]["/api/v1/usage/dashboard/api-keys-usage"]["post"]["requestBody"]
    ref = body["content"]["application/json"]["schema"]["$ref"].split("/")[-1]

    assert schema["components"]["schemas"][ref]["properties"]["api_key_ids"]["maxItems"] == 100


def fields(serializer_class):
    return set(serializer_class().fields)


def test_documented_shapes_match_the_responses(user_api, admin_api, ingest):
    ingest([log_event(endpoint="/v1/chat/completions")])
    v1 = {"new_api_user": False}

    assert set(user_api.get("/api/data/self").json()["data"][0]) == fields(DataRowOut)
    assert set(admin_api.get("/api/data/users").json()["data"][0]) == fields(DataUserRowOut)
    page = user_api.get("/api/v1/usage", **v1).json()["data"]
    assert set(page) | {"total_is_capped"} == fields(UsagePageOut)
    assert set(page["items"][0]) == fields(UsageLogOut)
    assert set(page["items"][0]["api_key"]) == fields(ApiKeyRefOut)
    assert set(user_api.get("/api/v1/usage/stats", **v1).json()["data"]) == fields(UsageStatsOut)
    dashboard = user_api.get("/api/v1/usage/dashboard/stats", **v1).json()["data"]
    assert set(dashboard) == fields(DashboardStatsOut)
    trend = user_api.get("/api/v1/usage/dashboard/trend", **v1).json()["data"]
    assert set(trend) == fields(TrendOut)
    assert set(trend["trend"][0]) == fields(TrendPointOut)
    models = user_api.get("/api/v1/usage/dashboard/models", **v1).json()["data"]
    assert set(models) == fields(ModelsOut)
    assert set(models["models"][0]) == fields(ModelStatOut)
    keys = user_api.post(
        "/api/v1/usage/dashboard/api-keys-usage", {"api_key_ids": [1]}, **v1
    ).json()["data"]
    assert set(keys) == fields(ApiKeysUsageOut)
    assert set(keys["stats"]["1"]) == fields(ApiKeyUsageOut)
    ace = user_api.get("/api/v1/usage/apis/aggregate/", **v1).json()
    assert set(ace) == fields(AceDataAggregateOut)
    assert set(ace["results"][0]) == fields(AceDataResultOut)
    assert set(ace["api_map"]["gpt-4o"]) == fields(AceDataApiOut)
    r9s = user_api.get(
        "/api/v1/portal/management/usage", {"start_time": 0, "end_time": 2**37}, **v1
    ).json()["data"]
    assert set(r9s) == fields(R9sUsageOut)
    assert set(r9s["records"][0]) == fields(R9sRecordOut)
