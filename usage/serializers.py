"""Input serializers of the statistics APIs (API.md sections 4-7), and the shapes they answer.

Each endpoint's query parameters are declared once, here: the view validates with the class and
drf-spectacular documents the same class (`extend_schema(parameters=[...])`). `validate()`
resolves defaults, zones and inclusive ranges into Unix seconds, so a view receives `start`,
`end` (both inclusive) and `timezone` (a ZoneInfo) ready for the selectors.

The output serializers further down only document the responses (views build plain dicts,
which is much faster for thousands of rows); tests check the two agree.
"""

from __future__ import annotations

import math
import time
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import ResolvedComponent
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from usage.buckets import (
    DAY,
    MAX_TIMESTAMP,
    YEAR_PATTERN,
    BucketError,
    date_parse,
    day_span,
    instant_parse,
    instant_timestamp,
    local_date,
    local_midnight,
    months_before,
    zone_get,
    zone_names,
)

MAX_INT64 = 2**63 - 1
MODEL_MAX_LENGTH = 128  # logs.model_name


def server_zone() -> ZoneInfo:
    return zone_get(None, settings.TIME_ZONE)


def request_now(serializer: serializers.Serializer[Any]) -> int:
    """The instant a request is answered at: views pass one `now` in the context so that every
    part of a response ("today", "the last 5 minutes", defaults) agrees."""
    now = serializer.context.get("now")
    return int(now) if now is not None else int(time.time())


# --- Fields ------------------------------------------------------------------------------------


class ZoneField(serializers.Field):
    """An IANA time zone name (`Asia/Kolkata`); absent or blank: the server's TIME_ZONE. An
    unknown name is an error, never a silent fallback."""

    default_error_messages = {"invalid": "must be an IANA time zone name"}

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        kwargs.setdefault("default", server_zone)
        kwargs.setdefault(
            "help_text",
            "IANA time zone name, e.g. `Asia/Kolkata`; default: the server's TIME_ZONE.",
        )
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> ZoneInfo:
        if not isinstance(data, str):
            self.fail("invalid")
        try:
            return zone_get(data, settings.TIME_ZONE)
        except BucketError as exc:
            raise serializers.ValidationError(str(exc)) from None

    def to_representation(self, value: Any) -> str:
        return str(value)


class ZoneFieldSchema(OpenApiSerializerFieldExtension):
    """Every time zone parameter refers to one `TimeZone` component: the names `zone_get`
    accepts. (Sent empty, the parameter counts as absent: `allowEmptyValue`, accounts/schema.py.)"""

    target_class = ZoneField

    def map_serializer_field(self, auto_schema: AutoSchema, direction: str) -> dict[str, Any]:
        component = ResolvedComponent(
            name="TimeZone",
            type=ResolvedComponent.SCHEMA,
            object="TimeZone",
            schema={
                "type": "string",
                "enum": sorted(zone_names()),
                "description": "An IANA time zone name.",
            },
        )
        auto_schema.registry.register_on_missing(component)
        return component.ref


# A date as the schema states it: the layout, a real calendar day (`format`), years 1970..9998.
DATE_SCHEMA = {
    "type": "string",
    "format": "date",
    "pattern": f"^{YEAR_PATTERN}-[0-9]{{2}}-[0-9]{{2}}$",
}


@extend_schema_field(DATE_SCHEMA)
class LocalDateField(serializers.Field):
    """A calendar date written exactly `YYYY-MM-DD`, read in the request's zone later."""

    default_error_messages = {"invalid": "use YYYY-MM-DD, e.g. 2025-01-31"}

    def to_internal_value(self, data: Any) -> date:
        if not isinstance(data, str):
            self.fail("invalid")
        try:
            return date_parse(data)
        except BucketError as exc:
            raise serializers.ValidationError(str(exc)) from None

    def to_representation(self, value: Any) -> str:
        return value.isoformat()


@extend_schema_field(
    {
        "type": "string",
        "maxLength": 64,
        "anyOf": [
            DATE_SCHEMA,
            {"type": "string", "format": "date-time", "pattern": f"^{YEAR_PATTERN}-"},
        ],
    }
)
class InstantField(serializers.Field):
    """An ISO 8601 date or date-time; resolved against the request's zone in `validate()`."""

    default_error_messages = {"invalid": "use an ISO 8601 date-time, e.g. 2024-08-01T00:00:00Z"}

    def to_internal_value(self, data: Any) -> date | datetime:
        if not isinstance(data, str):
            self.fail("invalid")
        try:
            return instant_parse(data)
        except BucketError as exc:
            raise serializers.ValidationError(str(exc)) from None

    def to_representation(self, value: Any) -> str:
        return value.isoformat()


class UnixSecondsField(serializers.IntegerField):
    """Unix seconds, 0..MAX_TIMESTAMP (the end of year 9998). A value that is not an integer
    reads `invalid <name>`, as new-api words it."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("min_value", 0)
        kwargs.setdefault("max_value", MAX_TIMESTAMP)
        kwargs.setdefault(
            "error_messages",
            {
                "min_value": "must be >= 0 (Unix seconds)",
                "max_value": f"must be <= {MAX_TIMESTAMP} (Unix seconds)",
            },
        )
        super().__init__(**kwargs)

    def bind(self, field_name: str, parent: Any) -> None:
        super().bind(field_name, parent)
        self.error_messages["invalid"] = f"invalid {field_name}: use an integer (Unix seconds)"
        self.error_messages["max_string_length"] = self.error_messages["invalid"]


def id_field(**kwargs: Any) -> serializers.IntegerField:
    return serializers.IntegerField(min_value=0, max_value=MAX_INT64, **kwargs)


def choice_field(choices: tuple[str, ...], **kwargs: Any) -> serializers.ChoiceField:
    return serializers.ChoiceField(
        choices=choices,
        error_messages={"invalid_choice": f"must be one of {', '.join(choices)}"},
        **kwargs,
    )


def _ordered(attrs: dict[str, Any], first: str, second: str) -> None:
    if attrs["start"] > attrs["end"]:
        raise serializers.ValidationError(f"{first} is after {second}")


# --- new-api: GET /api/data/ and /api/data/self (API.md section 4) ------------------------------

DATA_DEFAULT_SPAN = 30 * DAY
DATA_SELF_MAX_SPAN = 31 * DAY
DATA_GRANULARITIES = ("hour", "day", "week")


class DataSelfQuery(serializers.Serializer[Any]):
    start_timestamp = UnixSecondsField(
        required=False,
        help_text="Unix seconds, inclusive; absent or 0: `end_timestamp` minus 30 days.",
    )
    end_timestamp = UnixSecondsField(
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
        _ordered(attrs, "start_timestamp", "end_timestamp")
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


# --- sub2api: /api/v1/usage... (API.md section 5) -----------------------------------------------

SUB2API_MAX_PAGE_SIZE = 1000
SUB2API_DEFAULT_PAGE_SIZE = 20
SUB2API_MAX_PAGE = 1_000_000
SUB2API_PERIODS = ("today", "week", "month", "year")
SUB2API_GRANULARITIES = ("day", "hour")
MAX_API_KEY_IDS = 100
TREND_DEFAULT_DAYS = 7


class Sub2ApiDatesQuery(serializers.Serializer[Any]):
    """`start_date`/`end_date` (YYYY-MM-DD, end inclusive) read in `timezone`."""

    start_date = LocalDateField(required=False, help_text="YYYY-MM-DD in `timezone`.")
    end_date = LocalDateField(
        required=False, help_text="YYYY-MM-DD in `timezone`, inclusive (the whole day)."
    )
    timezone = ZoneField()

    def _span(self, attrs: dict[str, Any], first: date, last: date) -> None:
        if first > last:
            raise serializers.ValidationError("start_date is after end_date")
        attrs["start_date"], attrs["end_date"] = first, last
        attrs["start"], attrs["end"] = day_span(first, last, attrs["timezone"])


class UsageListQuery(Sub2ApiDatesQuery):
    page = serializers.IntegerField(
        required=False,
        default=1,
        min_value=1,
        max_value=SUB2API_MAX_PAGE,
        help_text="1-based page number.",
    )
    page_size = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=SUB2API_MAX_PAGE_SIZE,
        help_text="Items per page, 1..1000 (default 20).",
    )
    limit = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=SUB2API_MAX_PAGE_SIZE,
        help_text="Alias of `page_size` (which wins when both are given).",
    )
    api_key_id = id_field(required=False, help_text="Only logs of this API key (token id).")
    model = serializers.CharField(
        required=False, max_length=MODEL_MAX_LENGTH, help_text="Exact model name."
    )
    stream = serializers.BooleanField(
        required=False, allow_null=True, default=None, help_text="Only stream (or non-stream)."
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs["page_size"] = (
            attrs.get("page_size") or attrs.pop("limit", None) or SUB2API_DEFAULT_PAGE_SIZE
        )
        attrs.pop("limit", None)
        tz = attrs["timezone"]
        first, last = attrs.get("start_date"), attrs.get("end_date")
        if first is not None and last is not None and first > last:
            raise serializers.ValidationError("start_date is after end_date")
        attrs["start"] = local_midnight(first, tz) if first is not None else None
        attrs["end"] = day_span(last, last, tz)[1] if last is not None else None
        return attrs


class UsageStatsQuery(Sub2ApiDatesQuery):
    period = choice_field(
        SUB2API_PERIODS,
        default="today",
        help_text=(
            "`today` (since midnight in `timezone`), or the rolling last `week` (7 days), "
            "`month` or `year`, up to now. Ignored when `start_date` and `end_date` are given."
        ),
    )
    api_key_id = id_field(required=False, help_text="Only logs of this API key (token id).")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        first, last = attrs.get("start_date"), attrs.get("end_date")
        if (first is None) != (last is None):
            raise serializers.ValidationError(
                "start_date and end_date go together; give both, or neither and a period"
            )
        if first is not None and last is not None:
            self._span(attrs, first, last)
            return attrs
        tz, now = attrs["timezone"], request_now(self)
        period = attrs["period"]
        if period == "today":
            start = local_midnight(local_date(now, tz), tz)
        elif period == "week":
            start = now - 7 * DAY
        else:
            start = months_before(now, tz, 1 if period == "month" else 12)
        attrs["start"], attrs["end"] = start, now
        return attrs


class ModelsQuery(Sub2ApiDatesQuery):
    """Default range: the last 7 days and today (sub2api's dashboard)."""

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        tz = attrs["timezone"]
        last = attrs.get("end_date") or local_date(request_now(self), tz)
        first = attrs.get("start_date") or last - timedelta(days=TREND_DEFAULT_DAYS)
        self._span(attrs, first, last)
        return attrs


class TrendQuery(ModelsQuery):
    granularity = choice_field(
        SUB2API_GRANULARITIES, default="day", help_text="`day` or `hour` buckets of `timezone`."
    )


class ZoneQuery(serializers.Serializer[Any]):
    timezone = ZoneField()


class ApiKeysUsageBody(serializers.Serializer[Any]):
    api_key_ids = serializers.ListField(
        child=id_field(),
        allow_empty=True,
        max_length=MAX_API_KEY_IDS,
        error_messages={
            "max_length": f"Too many API key IDs (maximum {MAX_API_KEY_IDS} allowed)",
            "not_a_list": "api_key_ids must be a list of integers",
        },
        help_text="Token ids, at most 100; ids not found in your logs are dropped.",
    )


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


# --- r9s.ai: GET /api/v1/portal/management/usage (API.md section 7) -----------------------------


class R9sUsageQuery(serializers.Serializer[Any]):
    start_time = UnixSecondsField(help_text="Unix seconds, inclusive.")
    end_time = UnixSecondsField(help_text="Unix seconds, inclusive.")
    timezone = ZoneField(
        help_text="IANA zone whose calendar days the records are; default: the server's TIME_ZONE."
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs["start"], attrs["end"] = attrs["start_time"], attrs["end_time"]
        _ordered(attrs, "start_time", "end_time")
        return attrs


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


class ApiKeyRefOut(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    name = serializers.CharField()


class UsageLogOut(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    user_id = serializers.IntegerField()
    api_key_id = serializers.IntegerField()
    account_id = serializers.IntegerField(
        allow_null=True, help_text="Always null: the upstream channel is admin-only."
    )
    request_id = serializers.CharField()
    model = serializers.CharField()
    group_id = serializers.IntegerField(allow_null=True)
    group = serializers.CharField()
    input_tokens = serializers.IntegerField()
    output_tokens = serializers.IntegerField()
    cache_creation_tokens = serializers.IntegerField()
    cache_read_tokens = serializers.IntegerField()
    total_cost = serializers.FloatField(help_text="quota / QUOTA_PER_UNIT.")
    actual_cost = serializers.FloatField(help_text="Same as total_cost.")
    rate_multiplier = serializers.FloatField()
    billing_type = serializers.IntegerField()
    stream = serializers.BooleanField()
    duration_ms = serializers.IntegerField()
    first_token_ms = serializers.IntegerField(allow_null=True)
    created_at = serializers.DateTimeField(help_text="RFC 3339 with the offset of `timezone`.")
    api_key = ApiKeyRefOut()


class UsagePageOut(serializers.Serializer[Any]):
    items = UsageLogOut(many=True)
    total = serializers.IntegerField()
    page = serializers.IntegerField()
    page_size = serializers.IntegerField()
    pages = serializers.IntegerField()
    total_is_capped = serializers.BooleanField(
        required=False, help_text="Present (true) when `total` stopped counting at 10000."
    )


class UsageStatsOut(serializers.Serializer[Any]):
    total_requests = serializers.IntegerField()
    total_input_tokens = serializers.IntegerField()
    total_output_tokens = serializers.IntegerField()
    total_cache_tokens = serializers.IntegerField()
    total_tokens = serializers.IntegerField()
    total_cost = serializers.FloatField()
    total_actual_cost = serializers.FloatField()
    average_duration_ms = serializers.FloatField()


class DashboardStatsOut(serializers.Serializer[Any]):
    total_api_keys = serializers.IntegerField()
    active_api_keys = serializers.IntegerField()
    total_requests = serializers.IntegerField()
    total_input_tokens = serializers.IntegerField()
    total_output_tokens = serializers.IntegerField()
    total_cache_creation_tokens = serializers.IntegerField()
    total_cache_read_tokens = serializers.IntegerField()
    total_tokens = serializers.IntegerField()
    total_cost = serializers.FloatField()
    total_actual_cost = serializers.FloatField()
    today_requests = serializers.IntegerField()
    today_input_tokens = serializers.IntegerField()
    today_output_tokens = serializers.IntegerField()
    today_cache_creation_tokens = serializers.IntegerField()
    today_cache_read_tokens = serializers.IntegerField()
    today_tokens = serializers.IntegerField()
    today_cost = serializers.FloatField()
    today_actual_cost = serializers.FloatField()
    average_duration_ms = serializers.FloatField()
    rpm = serializers.IntegerField()
    tpm = serializers.IntegerField()


class TokenClassesOut(serializers.Serializer[Any]):
    """The sums sub2api's trend points and model rows share."""

    requests = serializers.IntegerField()
    input_tokens = serializers.IntegerField()
    output_tokens = serializers.IntegerField()
    cache_creation_tokens = serializers.IntegerField()
    cache_read_tokens = serializers.IntegerField()
    total_tokens = serializers.IntegerField()
    cost = serializers.FloatField()
    actual_cost = serializers.FloatField()


class TrendPointOut(TokenClassesOut):
    date = serializers.CharField(help_text="`YYYY-MM-DD`, or `YYYY-MM-DD HH:00` for hours.")


class TrendOut(serializers.Serializer[Any]):
    trend = TrendPointOut(many=True)
    start_date = serializers.DateField()
    end_date = serializers.DateField()
    granularity = serializers.CharField()


class ModelStatOut(TokenClassesOut):
    model = serializers.CharField()


class ModelsOut(serializers.Serializer[Any]):
    models = ModelStatOut(many=True)
    start_date = serializers.DateField()
    end_date = serializers.DateField()


class ApiKeyUsageOut(serializers.Serializer[Any]):
    api_key_id = serializers.IntegerField()
    today_actual_cost = serializers.FloatField()
    total_actual_cost = serializers.FloatField(help_text="All time.")


class ApiKeysUsageOut(serializers.Serializer[Any]):
    stats = serializers.DictField(child=ApiKeyUsageOut(), help_text="Keyed by the id as a string.")


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


class R9sRecordOut(serializers.Serializer[Any]):
    timestamp = serializers.IntegerField(help_text="Start of the day in `timezone`.")
    tokens = serializers.IntegerField(help_text="All four token classes.")
    model = serializers.CharField()


class R9sUsageOut(serializers.Serializer[Any]):
    records = R9sRecordOut(many=True)
    total_tokens = serializers.IntegerField()
