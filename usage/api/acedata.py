"""AceData's aggregate (API.md section 6, seed 003): `GET /api/v1/usage/apis/aggregate/`.

No envelope; errors are `{"detail": ...}` (DRF's own shape, which AceData's API uses) with HTTP
400/401 (403 for a banned user or an ingest token). `api_id` is a model name, `application_id`
a token id, `amount` quota in currency units, `date` a calendar day of `timezone`.
"""

from __future__ import annotations

import math
from typing import Any, cast

from drf_spectacular.utils import OpenApiExample, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.errors import ErrorReport, acedata_error_body
from accounts.models import User
from usage.api.base import FamilyView
from usage.api.fields import MODEL_MAX_LENGTH, InstantField, ZoneField, id_field, request_now
from usage.buckets import DAY, instant_timestamp, local_date
from usage.money import quota_to_cost
from usage.selectors import UsageFilter, usage_records, usage_top_endpoints

# --- AceData: GET /api/v1/usage/apis/aggregate/ (API.md section 6) ------------------------------

ACEDATA_DEFAULT_SPAN = 30 * DAY
MAX_API_IDS = 100


class AceDataAggregateQuery(serializers.Serializer[Any]):
    application_id = id_field(required=False, help_text="Only this API key (token id).")
    api_id = serializers.ListField(
        child=serializers.CharField(max_length=MODEL_MAX_LENGTH, allow_blank=True),
        required=False,
        max_length=MAX_API_IDS,
        help_text="Model name; repeat the parameter for several.",
    )
    created_at_from = InstantField(
        required=False,
        help_text=(
            "ISO 8601, inclusive; a naive value or a bare date is read in `timezone`. "
            "Default: `created_at_to` minus 30 days."
        ),
    )
    created_at_to = InstantField(
        required=False,
        help_text="ISO 8601, inclusive (a bare date means its whole day). Default: now.",
    )
    timezone = ZoneField(
        help_text="IANA zone whose calendar days `date` names; default: the server's TIME_ZONE."
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        tz = attrs["timezone"]
        to, frm = attrs.get("created_at_to"), attrs.get("created_at_from")
        end: float = request_now(self) if to is None else instant_timestamp(to, tz, end=True)
        start: float = (
            max(0, math.floor(end) - ACEDATA_DEFAULT_SPAN)
            if frm is None
            else instant_timestamp(frm, tz, end=False)
        )
        if start > end:
            raise serializers.ValidationError("created_at_from is after created_at_to")
        # Whole seconds inside the bounds; a range within one second holds none (start > end).
        attrs["start"], attrs["end"] = math.ceil(start), math.floor(end)
        models = tuple(dict.fromkeys(name for name in attrs.get("api_id", ()) if name))
        attrs["model_names"] = models or None
        return attrs


# --- Response shapes (documentation only; the views build the same keys as plain dicts) --------


class AceDataResultOut(serializers.Serializer[Any]):
    date = serializers.DateField(help_text="Calendar day in `timezone`.")
    api_id = serializers.CharField(help_text="Model name.")
    amount = serializers.FloatField(help_text="quota / QUOTA_PER_UNIT.")


class AceDataApiOut(serializers.Serializer[Any]):
    name = serializers.CharField()
    path = serializers.CharField(help_text="Most used request path of the model; '' if unknown.")


class AceDataAggregateOut(serializers.Serializer[Any]):
    results = AceDataResultOut(many=True)
    total = serializers.FloatField()
    api_map = serializers.DictField(child=AceDataApiOut())


ERROR = inline_serializer("AceDataError", {"detail": serializers.CharField()})


class AceDataView(FamilyView):
    def error_body(self, report: ErrorReport) -> Any:
        return acedata_error_body(report)


class AceDataAggregateView(AceDataView):
    @extend_schema(
        operation_id="acedata_usage_aggregate",
        tags=["AceData"],
        summary="My spend per day and model (AceData)",
        description=(
            "One result per (date, model) of the caller's consume logs in the range (inclusive; "
            "default: the last 30 days), ordered by date then model. `api_map` names every "
            "model of the results, with `path` = its most used request path in the range."
        ),
        parameters=[AceDataAggregateQuery],
        responses={200: AceDataAggregateOut, 400: ERROR, 401: ERROR, 403: ERROR},
        examples=[
            OpenApiExample(
                "one day",
                response_only=True,
                value={
                    "results": [{"date": "2024-08-15", "api_id": "gpt-4", "amount": 45.5}],
                    "total": 45.5,
                    "api_map": {"gpt-4": {"name": "gpt-4", "path": "/v1/chat/completions"}},
                },
            )
        ],
    )
    def get(self, request: Request) -> Response:
        query = self.validated(AceDataAggregateQuery, request.query_params)
        key_id = query.get("application_id")
        where = UsageFilter(
            user_id=cast(User, request.user).pk,
            token_ids=None if key_id is None else (key_id,),
            model_names=query["model_names"],
        )
        start, end, tz = query["start"], query["end"], query["timezone"]
        rows = (
            usage_records(
                start=start,
                end=end,
                where=where,
                group_by=("model_name",),
                granularity="day",
                tz=tz,
                measures=("quota",),
            )
            if start <= end  # else a range inside one second, which holds no log
            else []
        )
        paths = usage_top_endpoints(start=start, end=end, where=where) if rows else {}
        dates = {bucket: local_date(bucket, tz).isoformat() for bucket, *_ in rows}
        models = sorted({model for _, model, _ in rows})
        return Response(
            {
                "results": [
                    {"date": dates[bucket], "api_id": model, "amount": quota_to_cost(quota)}
                    for bucket, model, quota in rows
                ],
                "total": quota_to_cost(sum(quota for *_, quota in rows)),
                "api_map": {
                    model: {"name": model, "path": paths.get(model, "")} for model in models
                },
            }
        )
