"""r9s.ai's Manager API usage (API.md section 7, seed 004):
`GET /api/v1/portal/management/usage`.

Envelope `{"meta": {"code": 200, "message": "success", "request_id": ...}, "data": ...}`;
errors carry the HTTP status in `meta.code` and `data: null`. The request id is a fresh UUID,
also sent as the `X-Request-ID` header so a report can quote either.
"""

from __future__ import annotations

from typing import Any, cast

from drf_spectacular.utils import OpenApiExample, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.errors import ErrorReport, r9s_error_body, r9s_meta
from accounts.models import User
from accounts.renderers import FastJSONRenderer
from usage.api.base import FamilyView
from usage.api.fields import UnixSecondsField, ZoneField, ordered
from usage.selectors import UsageFilter, usage_records

META = inline_serializer(
    "R9sMeta",
    {
        "code": serializers.IntegerField(help_text="The HTTP status."),
        "message": serializers.CharField(),
        "request_id": serializers.UUIDField(),
    },
)


# --- r9s.ai: GET /api/v1/portal/management/usage (API.md section 7) -----------------------------


class R9sUsageQuery(serializers.Serializer[Any]):
    start_time = UnixSecondsField(help_text="Unix seconds, inclusive.")
    end_time = UnixSecondsField(help_text="Unix seconds, inclusive.")
    timezone = ZoneField(
        help_text="IANA zone whose calendar days the records are; default: the server's TIME_ZONE."
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs["start"], attrs["end"] = attrs["start_time"], attrs["end_time"]
        ordered(attrs, "start_time", "end_time")
        return attrs


# --- Response shapes (documentation only; the views build the same keys as plain dicts) --------


class R9sRecordOut(serializers.Serializer[Any]):
    timestamp = serializers.IntegerField(help_text="Start of the day in `timezone`.")
    tokens = serializers.IntegerField(help_text="All four token classes.")
    model = serializers.CharField()


class R9sUsageOut(serializers.Serializer[Any]):
    records = R9sRecordOut(many=True)
    total_tokens = serializers.IntegerField()


def _envelope(name: str, data: Any) -> Any:
    return inline_serializer(name, {"meta": META, "data": data})


ERROR = _envelope("R9sError", serializers.JSONField(allow_null=True, help_text="Always null."))


# r9s.ai's `tokens`: all four token classes.
TOKEN_CLASSES = ("prompt_tokens", "completion_tokens", "cache_read_tokens", "cache_creation_tokens")


class R9sView(FamilyView):
    # A year of days per model is thousands of records of ints and strings (no float).
    renderer_classes = [FastJSONRenderer]

    def error_body(self, report: ErrorReport) -> Any:
        return r9s_error_body(report)

    def finalize_response(
        self, request: Request, response: Response, *args: Any, **kwargs: Any
    ) -> Response:
        body = getattr(response, "data", None)
        if isinstance(body, dict) and isinstance(body.get("meta"), dict):
            response["X-Request-ID"] = str(body["meta"]["request_id"])
        return super().finalize_response(request, response, *args, **kwargs)


class R9sUsageView(R9sView):
    @extend_schema(
        operation_id="r9s_usage",
        tags=["r9s.ai"],
        summary="My tokens per day and model (r9s.ai)",
        description=(
            "One record per (day of `timezone`, model) with at least one consume log in "
            "[start_time, end_time] (inclusive), ordered by day then model; `timestamp` is the "
            "day's start (even when the range starts later that day), `tokens` all four token "
            "classes."
        ),
        parameters=[R9sUsageQuery],
        responses={
            200: _envelope("R9sUsageResponse", R9sUsageOut()),
            400: ERROR,
            401: ERROR,
            403: ERROR,
        },
        examples=[
            OpenApiExample(
                "two days",
                response_only=True,
                value={
                    "meta": {"code": 200, "message": "success", "request_id": "8d6f..."},
                    "data": {
                        "records": [
                            {"timestamp": 1735689600, "tokens": 1500, "model": "gpt-4o-mini"},
                            {"timestamp": 1735776000, "tokens": 2300, "model": "gpt-4o-mini"},
                        ],
                        "total_tokens": 3800,
                    },
                },
            )
        ],
    )
    def get(self, request: Request) -> Response:
        query = self.validated(R9sUsageQuery, request.query_params)
        rows = usage_records(
            start=query["start"],
            end=query["end"],
            where=UsageFilter(user_id=cast(User, request.user).pk),
            group_by=("model_name",),
            granularity="day",
            tz=query["timezone"],
            measures=TOKEN_CLASSES,
        )
        records = [
            {"timestamp": bucket, "tokens": sum(tokens), "model": model}
            for bucket, model, *tokens in rows
        ]
        data = {"records": records, "total_tokens": sum(record["tokens"] for record in records)}
        return Response({"meta": r9s_meta(200, "success"), "data": data})
