"""new-api's data statistics (API.md section 4, seed 000): `GET /api/data/` (admin, site-wide),
`GET /api/data/self` (the caller's) and `GET /api/data/users` (admin, per user), in new-api's
envelope (`accounts.newapi`).

Rows are one per (model, bucket), or (username, bucket) for `/users`, with at least one consume
log, ordered by bucket then model or username, buckets aligned to the `tz` calendar. Unlike
new-api's own `quota_data`, nothing is lost on a restart and no row is duplicated: the numbers
are the selectors' exact aggregates.
"""

from __future__ import annotations

import time
from typing import Any, cast

from django.core.validators import MaxValueValidator, MinValueValidator
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.errors import detail_message
from accounts.models import Role, User
from accounts.newapi import (
    NEW_API_ERROR,
    NewApiError,
    NewApiView,
    envelope_schema,
    ok,
    or_error,
)
from accounts.renderers import FastJSONRenderer
from usage.api.fields import UnixSecondsField, ZoneField, choice_field, request_now
from usage.buckets import DAY, MAX_TIMESTAMP, BucketError
from usage.selectors import UsageFilter, usage_records

# --- new-api: GET /api/data/ and /api/data/self (API.md section 4) ------------------------------

DATA_DEFAULT_SPAN = 30 * DAY
DATA_SELF_MAX_SPAN = 31 * DAY
DATA_GRANULARITIES = ("hour", "day", "week")


class TimestampParam(UnixSecondsField):
    """Unix seconds in new-api's wording, the same as the log routes' (docs/logs-api.md,
    "Wording of errors"): the message starts with the parameter's name."""

    def bind(self, field_name: str, parent: Any) -> None:
        super().bind(field_name, parent)
        self.error_messages.update(
            invalid=f"invalid {field_name}", max_string_length=f"invalid {field_name}"
        )
        # IntegerField words its range validators in __init__, before the name is known.
        self.validators = [
            validator
            for validator in self.validators
            if not isinstance(validator, MinValueValidator | MaxValueValidator)
        ] + [
            MinValueValidator(0, message=f"{field_name} must be >= 0"),
            MaxValueValidator(MAX_TIMESTAMP, message=f"{field_name} must be <= {MAX_TIMESTAMP}"),
        ]


class DataSelfQuery(serializers.Serializer[Any]):
    start_timestamp = TimestampParam(
        required=False,
        help_text="Unix seconds, inclusive; absent or 0: `end_timestamp` minus 30 days.",
    )
    end_timestamp = TimestampParam(
        required=False, help_text="Unix seconds, inclusive; absent or 0: now."
    )
    granularity = choice_field(
        DATA_GRANULARITIES,
        default="hour",
        help_text="Bucket size, aligned to `tz`'s calendar (weeks start on Monday).",
    )
    tz = ZoneField()

    max_span: int | None = DATA_SELF_MAX_SPAN

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        # 0 is new-api's "not given".
        end = attrs.get("end_timestamp") or request_now(self)
        start = attrs.get("start_timestamp") or max(0, end - DATA_DEFAULT_SPAN)
        attrs["start"], attrs["end"] = start, end
        if start > end:
            raise serializers.ValidationError(
                f"start_timestamp ({start}) is after end_timestamp ({end})"
            )
        if self.max_span is not None and end - start > self.max_span:
            raise serializers.ValidationError("time span cannot exceed 1 month")
        return attrs


class DataQuery(DataSelfQuery):
    username = serializers.CharField(
        required=False,
        max_length=64,
        help_text="Only this user's logs (the username the logs were recorded under).",
    )

    max_span = None  # new-api puts no limit on admins


# --- Response shapes (documentation only; the views build the same keys as plain dicts) --------


class DataRowOut(serializers.Serializer[Any]):
    model_name = serializers.CharField()
    count = serializers.IntegerField(help_text="Consume logs (type 2).")
    quota = serializers.IntegerField()
    token_used = serializers.IntegerField(help_text="prompt_tokens + completion_tokens.")
    created_at = serializers.IntegerField(help_text="Bucket start, Unix seconds.")
    user_id = serializers.IntegerField()
    username = serializers.CharField()


class DataUserRowOut(serializers.Serializer[Any]):
    username = serializers.CharField(help_text="The username the logs were recorded under.")
    created_at = serializers.IntegerField(help_text="Bucket start, Unix seconds.")
    count = serializers.IntegerField(help_text="Consume logs (type 2).")
    quota = serializers.IntegerField()
    token_used = serializers.IntegerField(help_text="prompt_tokens + completion_tokens.")


# --- OpenAPI -------------------------------------------------------------------------------

DATA_RESPONSES = {
    # Bad parameters are HTTP 200 with success: false (new-api), so a 200 is either shape.
    (200, "application/json"): or_error(
        "NewApiDataOrError", envelope_schema("NewApiDataResponse", DataRowOut(many=True))
    ),
    (401, "application/json"): NEW_API_ERROR,
    (403, "application/json"): NEW_API_ERROR,
    (503, "application/json"): NEW_API_ERROR,
}
DATA_USERS_RESPONSES = {
    **DATA_RESPONSES,
    (200, "application/json"): or_error(
        "NewApiDataUsersOrError",
        envelope_schema("NewApiDataUsersResponse", DataUserRowOut(many=True)),
    ),
}
DATA_EXAMPLE = OpenApiExample(
    "one model, one hour",
    response_only=True,
    value={
        "success": True,
        "message": "",
        "data": [
            {
                "model_name": "gpt-4",
                "count": 10,
                "quota": 30000,
                "token_used": 1500,
                "created_at": 1640995200,
                "user_id": 1,
                "username": "testuser",
            }
        ],
    },
)
ERRORS_NOTE = (
    " Bad parameters (not an integer, an unknown `granularity` or `tz`, start after end) "
    'are HTTP 200 with `{"success": false, "message": ...}`, as new-api answers them.'
)


def _query(serializer_class: type[DataSelfQuery], request: Request) -> Any:
    serializer = serializer_class(
        data=request.query_params, context={"now": int(time.time()), "request": request}
    )
    if not serializer.is_valid():
        raise NewApiError(detail_message(serializer.errors))
    return serializer.validated_data


# What a row shows: requests, quota, and prompt + completion tokens (token_used).
ROW_MEASURES = ("requests", "quota", "prompt_tokens", "completion_tokens")


def _records(query: Any, where: UsageFilter, group_by: tuple[str, ...]) -> list[tuple[Any, ...]]:
    """(bucket, *group_by values, *ROW_MEASURES) per row. A month of hours is tens of thousands of
    rows, so they stay tuples until they become the response's dicts."""
    try:
        return usage_records(
            start=query["start"],
            end=query["end"],
            where=where,
            group_by=group_by,
            granularity=query["granularity"],
            tz=query["tz"],
            measures=ROW_MEASURES,
        )
    except BucketError as exc:
        raise NewApiError(str(exc)) from None


def _rows(
    records: list[tuple[Any, ...]], *, user_id: int | None, username: str
) -> list[dict[str, object]]:
    """new-api's rows. `user_id` None: each record holds its user id after the model name."""
    if user_id is None:
        return [
            {
                "model_name": model_name,
                "count": requests,
                "quota": quota,
                "token_used": prompt_tokens + completion_tokens,
                "created_at": bucket,
                "user_id": record_user_id,
                "username": username,
            }
            for (
                bucket,
                model_name,
                record_user_id,
                requests,
                quota,
                prompt_tokens,
                completion_tokens,
            ) in records
        ]
    return [
        {
            "model_name": model_name,
            "count": requests,
            "quota": quota,
            "token_used": prompt_tokens + completion_tokens,
            "created_at": bucket,
            "user_id": user_id,
            "username": username,
        }
        for bucket, model_name, requests, quota, prompt_tokens, completion_tokens in records
    ]


class DataBaseView(NewApiView):
    # A month of hours is tens of thousands of rows of ints and strings (no float).
    renderer_classes = [FastJSONRenderer]


class DataSelfView(DataBaseView):
    """`GET /api/data/self`: the caller's usage per (model, bucket)."""

    @extend_schema(
        operation_id="data_self",
        tags=["new-api"],
        summary="My usage per model and bucket (new-api)",
        description=(
            "Consume logs of the caller, one row per (model, bucket) with at least one log, "
            "ordered by bucket then model. A span over 31 days is refused "
            '(`"time span cannot exceed 1 month"`).' + ERRORS_NOTE
        ),
        parameters=[DataSelfQuery],
        responses=DATA_RESPONSES,
        examples=[DATA_EXAMPLE],
    )
    def get(self, request: Request) -> Response:
        query = _query(DataSelfQuery, request)
        user = cast(User, request.user)
        records = _records(query, UsageFilter(user_id=user.pk), ("model_name",))
        return ok(_rows(records, user_id=user.pk, username=user.username))


class DataView(DataBaseView):
    """`GET /api/data/`: site-wide usage per (model, bucket), or one user's with `username`."""

    min_role = Role.ADMIN

    @extend_schema(
        operation_id="data_all",
        tags=["new-api"],
        summary="Site-wide usage per model and bucket (new-api, admin)",
        description=(
            "Consume logs of every user (or of the logs recorded under `username`), one row per "
            "(model, bucket) with at least one log, ordered by bucket then model. `user_id` and "
            '`username` are 0 and "" unless `username` is given.' + ERRORS_NOTE
        ),
        parameters=[DataQuery],
        responses=DATA_RESPONSES,
        examples=[DATA_EXAMPLE],
    )
    def get(self, request: Request) -> Response:
        query = _query(DataQuery, request)
        username = query.get("username") or None
        if username is None:
            records = _records(query, UsageFilter(), ("model_name",))
            return ok(_rows(records, user_id=0, username=""))
        # Grouped by user id too: a name reused after a rename belongs to two users.
        records = _records(query, UsageFilter(username=username), ("model_name", "user_id"))
        return ok(_rows(records, user_id=None, username=username))


class DataUsersView(DataBaseView):
    """`GET /api/data/users`: usage per (username, bucket), for new-api's "user consumption
    ranking" and "user consumption trend" (new-api since 2026-04)."""

    min_role = Role.ADMIN

    @extend_schema(
        operation_id="data_users",
        tags=["new-api"],
        summary="Usage per username and bucket (new-api, admin)",
        description=(
            "Consume logs of every user (or of the logs recorded under `username`), one row per "
            "(username, bucket) with at least one log, ordered by bucket then username. Grouped "
            "by the username the logs were recorded under, as new-api groups them: two users who "
            "held one name in turn share its rows." + ERRORS_NOTE
        ),
        parameters=[DataQuery],
        responses=DATA_USERS_RESPONSES,
        examples=[
            OpenApiExample(
                "one user, one hour",
                response_only=True,
                value={
                    "success": True,
                    "message": "",
                    "data": [
                        {
                            "username": "alice",
                            "created_at": 1640995200,
                            "count": 10,
                            "quota": 30000,
                            "token_used": 1500,
                        }
                    ],
                },
            )
        ],
    )
    def get(self, request: Request) -> Response:
        query = _query(DataQuery, request)
        records = _records(
            query, UsageFilter(username=query.get("username") or None), ("username",)
        )
        return ok(
            [
                {
                    "username": username,
                    "created_at": bucket,
                    "count": requests,
                    "quota": quota,
                    "token_used": prompt_tokens + completion_tokens,
                }
                for bucket, username, requests, quota, prompt_tokens, completion_tokens in records
            ]
        )
