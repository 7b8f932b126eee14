"""sub2api's usage API (API.md section 5, seed 002), under `/api/v1`.

Envelope `{"code": 0, "message": "success", "data": ...}`; errors are HTTP 400/401/403/404 with
`{"code": <status>, "message": ...}`. Every endpoint reads only the caller's consume logs, admins
included. Where sub2api is inconsistent we pick one rule (docs/stats-api.md): dates, "today" and
buckets are all in the request's `timezone`, bad dates and zones are a 400, every trend bucket
is present, rpm/tpm have one definition, and "total" is all time.
"""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta
from typing import Any, cast
from zoneinfo import ZoneInfo

from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import exceptions, serializers
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.errors import ErrorReport, sub2api_error_body
from accounts.models import User
from logs.events import MAX_BIGINT
from logs.models import Log
from usage.api.base import FamilyView
from usage.api.fields import (
    MODEL_MAX_LENGTH,
    LocalDateField,
    ZoneField,
    choice_field,
    id_field,
    request_now,
)
from usage.buckets import DAY, bucket_starts, day_span, local_date, local_midnight, months_before
from usage.money import quota_to_cost
from usage.selectors import (
    UsageFilter,
    UsageTotals,
    usage_log_get,
    usage_log_page,
    usage_recent_totals,
    usage_records,
    usage_rows,
    usage_totals,
)

COUNT_CAP = 10_000  # the list counts at most this many matches (then `total_is_capped`)
RECENT_MINUTES = 5  # rpm/tpm: average per minute over the last 5 minutes (sub2api's dashboard)
ACTIVE_KEY_DAYS = 30

ERROR = inline_serializer(
    "Sub2ApiError", {"code": serializers.IntegerField(), "message": serializers.CharField()}
)


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


# --- Response shapes (documentation only; the views build the same keys as plain dicts) --------


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


def _envelope(name: str, data: Any) -> Any:
    return inline_serializer(
        name,
        {"code": serializers.IntegerField(), "message": serializers.CharField(), "data": data},
    )


def _responses(name: str, data: Any, *errors: int) -> dict[int, Any]:
    responses: dict[int, Any] = {200: _envelope(name, data)}
    for code in (400, 401, 403, *errors):
        responses[code] = ERROR
    return responses


def ok(data: Any) -> Response:
    return Response({"code": 0, "message": "success", "data": data})


def _caller(request: Request) -> User:
    return cast(User, request.user)


def _token_ids(key_id: int | None) -> tuple[int, ...] | None:
    return None if key_id is None else (key_id,)


class Sub2ApiView(FamilyView):
    def error_body(self, report: ErrorReport) -> Any:
        return sub2api_error_body(report)


def usage_log_item(log: Log, tz: ZoneInfo) -> dict[str, object]:
    """A log as sub2api's UsageLog. The upstream channel (`account_id`) is admin-only
    information, so it is null; the key secret is never known here."""
    spent = quota_to_cost(log.quota)
    return {
        "id": log.pk,
        "user_id": log.user_id,
        "api_key_id": log.token_id,
        "account_id": None,
        "request_id": log.request_id,
        "model": log.model_name,
        "group_id": None,
        "group": log.group,
        "input_tokens": log.prompt_tokens,
        "output_tokens": log.completion_tokens,
        "cache_creation_tokens": log.cache_creation_tokens,
        "cache_read_tokens": log.cache_read_tokens,
        "total_cost": spent,
        "actual_cost": spent,
        "rate_multiplier": 1,
        "billing_type": 0,
        "stream": log.is_stream,
        "duration_ms": log.duration_ms,
        "first_token_ms": log.first_token_ms,
        "created_at": datetime.fromtimestamp(log.created_at, tz).isoformat(),
        "api_key": {"id": log.token_id, "name": log.token_name},
    }


# What `token_classes` reads: a trend needs no more from the database.
TOKEN_CLASS_MEASURES = (
    "requests",
    "quota",
    "prompt_tokens",
    "completion_tokens",
    "cache_read_tokens",
    "cache_creation_tokens",
)


def token_classes(totals: UsageTotals) -> dict[str, object]:
    """The counters of a trend point or a model stat."""
    spent = quota_to_cost(totals.quota)
    return {
        "requests": totals.requests,
        "input_tokens": totals.prompt_tokens,
        "output_tokens": totals.completion_tokens,
        "cache_creation_tokens": totals.cache_creation_tokens,
        "cache_read_tokens": totals.cache_read_tokens,
        "total_tokens": totals.total_tokens,
        "cost": spent,
        "actual_cost": spent,
    }


def average_duration(totals: UsageTotals) -> float:
    return totals.duration_ms / totals.requests if totals.requests else 0.0


def bucket_label(start: int, tz: ZoneInfo, granularity: str) -> str:
    """sub2api's `date`: `YYYY-MM-DD`, or `YYYY-MM-DD HH:00` (local wall time of the bucket
    start; the repeated hour of a DST change appears twice, once per offset)."""
    if granularity == "hour":
        return datetime.fromtimestamp(start, tz).strftime("%Y-%m-%d %H:00")
    return local_date(start, tz).isoformat()


class UsageListView(Sub2ApiView):
    @extend_schema(
        operation_id="sub2api_usage_list",
        tags=["sub2api"],
        summary="My usage logs, newest first (sub2api)",
        description=(
            "Consume logs of the caller, newest first (created_at desc, id desc). `total` "
            "counts at most 10000 matches; beyond that it is 10000 and `total_is_capped` is "
            "true (pages past it are still served). A page past the end has no items."
        ),
        parameters=[UsageListQuery],
        responses=_responses("Sub2ApiUsagePage", UsagePageOut()),
    )
    def get(self, request: Request) -> Response:
        query = self.validated(UsageListQuery, request.query_params)
        model = query.get("model") or None
        where = UsageFilter(
            user_id=_caller(request).pk,
            token_ids=_token_ids(query.get("api_key_id")),
            model_names=None if model is None else (model,),
        )
        size = query["page_size"]
        page = usage_log_page(
            where=where,
            start=query["start"],
            end=query["end"],
            is_stream=query["stream"],
            offset=(query["page"] - 1) * size,
            limit=size,
            count_cap=COUNT_CAP,
        )
        tz = query["timezone"]
        data: dict[str, object] = {
            "items": [usage_log_item(log, tz) for log in page.items],
            "total": page.total,
            "page": query["page"],
            "page_size": size,
            "pages": max(1, math.ceil(page.total / size)),
        }
        if page.total_is_capped:
            data["total_is_capped"] = True
        return ok(data)


class UsageDetailView(Sub2ApiView):
    @extend_schema(
        operation_id="sub2api_usage_get",
        tags=["sub2api"],
        summary="One of my usage logs (sub2api)",
        description="404 when the id is not one of the caller's consume logs.",
        parameters=[
            OpenApiParameter(
                "usage_id",
                {"type": "integer", "minimum": 0, "maximum": MAX_BIGINT},
                OpenApiParameter.PATH,
                description="Log id.",
            ),
            ZoneQuery,
        ],
        responses=_responses("Sub2ApiUsageLog", UsageLogOut(), 404),
    )
    def get(self, request: Request, usage_id: str) -> Response:
        query = self.validated(ZoneQuery, request.query_params)
        # ASCII only: str.isdigit() and int() also take fullwidth and other scripts' digits.
        if not (usage_id.isascii() and usage_id.isdigit()) or int(usage_id) > MAX_BIGINT:
            raise serializers.ValidationError(f"invalid usage log id {usage_id[:32]!r}")
        log = usage_log_get(log_id=int(usage_id), where=UsageFilter(user_id=_caller(request).pk))
        if log is None:
            raise exceptions.NotFound("usage log not found")
        return ok(usage_log_item(log, query["timezone"]))


class UsageStatsView(Sub2ApiView):
    @extend_schema(
        operation_id="sub2api_usage_stats",
        tags=["sub2api"],
        summary="My usage totals over a period or a date range (sub2api)",
        parameters=[UsageStatsQuery],
        responses=_responses("Sub2ApiUsageStats", UsageStatsOut()),
    )
    def get(self, request: Request) -> Response:
        query = self.validated(UsageStatsQuery, request.query_params)
        where = UsageFilter(
            user_id=_caller(request).pk, token_ids=_token_ids(query.get("api_key_id"))
        )
        totals = usage_totals(start=query["start"], end=query["end"], where=where)
        spent = quota_to_cost(totals.quota)
        return ok(
            {
                "total_requests": totals.requests,
                "total_input_tokens": totals.prompt_tokens,
                "total_output_tokens": totals.completion_tokens,
                "total_cache_tokens": totals.cache_creation_tokens + totals.cache_read_tokens,
                "total_tokens": totals.total_tokens,
                "total_cost": spent,
                "total_actual_cost": spent,
                "average_duration_ms": average_duration(totals),
            }
        )


class DashboardStatsView(Sub2ApiView):
    @extend_schema(
        operation_id="sub2api_dashboard_stats",
        tags=["sub2api"],
        summary="My dashboard figures: all time, today, keys, rpm/tpm (sub2api)",
        description=(
            "`total_*`: all of the caller's consume logs up to now; `today_*`: since midnight "
            "in `timezone`; `total_api_keys`/`active_api_keys`: distinct non-zero token ids in "
            "those logs (all time / last 30 days); `rpm`/`tpm`: requests and input+output "
            "tokens of the last 5 minutes, divided by 5 (integer division)."
        ),
        parameters=[ZoneQuery],
        responses=_responses("Sub2ApiDashboardStats", DashboardStatsOut()),
    )
    def get(self, request: Request) -> Response:
        query = self.validated(ZoneQuery, request.query_params)
        tz, now = query["timezone"], self.now
        where = UsageFilter(user_id=_caller(request).pk)
        by_key = usage_rows(start=0, end=now, where=where, group_by=("token_id",))
        active = usage_rows(
            start=now - ACTIVE_KEY_DAYS * DAY, end=now, where=where, group_by=("token_id",)
        )
        today = usage_totals(start=local_midnight(local_date(now, tz), tz), end=now, where=where)
        recent = usage_recent_totals(where=where, since=now - RECENT_MINUTES * 60)
        total = UsageTotals()
        for row in by_key:
            total.add(row.totals)
        return ok(
            {
                "total_api_keys": sum(1 for row in by_key if row.dims["token_id"]),
                "active_api_keys": sum(1 for row in active if row.dims["token_id"]),
                "total_requests": total.requests,
                "total_input_tokens": total.prompt_tokens,
                "total_output_tokens": total.completion_tokens,
                "total_cache_creation_tokens": total.cache_creation_tokens,
                "total_cache_read_tokens": total.cache_read_tokens,
                "total_tokens": total.total_tokens,
                "total_cost": quota_to_cost(total.quota),
                "total_actual_cost": quota_to_cost(total.quota),
                "today_requests": today.requests,
                "today_input_tokens": today.prompt_tokens,
                "today_output_tokens": today.completion_tokens,
                "today_cache_creation_tokens": today.cache_creation_tokens,
                "today_cache_read_tokens": today.cache_read_tokens,
                "today_tokens": today.total_tokens,
                "today_cost": quota_to_cost(today.quota),
                "today_actual_cost": quota_to_cost(today.quota),
                "average_duration_ms": average_duration(total),
                "rpm": recent.requests // RECENT_MINUTES,
                "tpm": recent.token_used // RECENT_MINUTES,
            }
        )


class DashboardTrendView(Sub2ApiView):
    @extend_schema(
        operation_id="sub2api_dashboard_trend",
        tags=["sub2api"],
        summary="My usage per day or hour, every bucket present (sub2api)",
        description=(
            "Default range: the last 7 days and today in `timezone`. Every bucket of the range "
            "is present, with zeros where nothing was used. At most 10000 buckets."
        ),
        parameters=[TrendQuery],
        responses=_responses("Sub2ApiTrend", TrendOut()),
    )
    def get(self, request: Request) -> Response:
        query = self.validated(TrendQuery, request.query_params)
        tz, granularity = query["timezone"], query["granularity"]
        start, end = query["start"], query["end"]
        starts = bucket_starts(start, end, tz, granularity)  # the cap is checked before reading
        records = usage_records(
            start=start,
            end=end,
            where=UsageFilter(user_id=_caller(request).pk),
            granularity=granularity,
            tz=tz,
            measures=TOKEN_CLASS_MEASURES,
        )
        found = {
            bucket: UsageTotals(**dict(zip(TOKEN_CLASS_MEASURES, sums, strict=True)))
            for bucket, *sums in records
        }
        trend = [
            {
                "date": bucket_label(bucket, tz, granularity),
                **token_classes(found.get(bucket) or UsageTotals()),
            }
            for bucket in starts
        ]
        return ok(
            {
                "trend": trend,
                "start_date": query["start_date"].isoformat(),
                "end_date": query["end_date"].isoformat(),
                "granularity": granularity,
            }
        )


class DashboardModelsView(Sub2ApiView):
    @extend_schema(
        operation_id="sub2api_dashboard_models",
        tags=["sub2api"],
        summary="My usage per model, by total tokens (sub2api)",
        description="Default range: the last 7 days and today. Ordered by total_tokens desc.",
        parameters=[ModelsQuery],
        responses=_responses("Sub2ApiModels", ModelsOut()),
    )
    def get(self, request: Request) -> Response:
        query = self.validated(ModelsQuery, request.query_params)
        rows = usage_rows(
            start=query["start"],
            end=query["end"],
            where=UsageFilter(user_id=_caller(request).pk),
            group_by=("model_name",),
        )
        rows.sort(key=lambda row: (-row.totals.total_tokens, str(row.dims["model_name"])))
        return ok(
            {
                "models": [
                    {"model": row.dims["model_name"], **token_classes(row.totals)} for row in rows
                ],
                "start_date": query["start_date"].isoformat(),
                "end_date": query["end_date"].isoformat(),
            }
        )


class DashboardApiKeysUsageView(Sub2ApiView):
    @extend_schema(
        operation_id="sub2api_dashboard_api_keys_usage",
        tags=["sub2api"],
        summary="Today's and all-time cost of some of my API keys (sub2api)",
        description=(
            "At most 100 ids. An id is the caller's when it appears in the caller's consume "
            "logs; other ids are dropped. `today` starts at midnight in `timezone` (query "
            "parameter); `total` is all time."
        ),
        parameters=[ZoneQuery],
        request=ApiKeysUsageBody,
        responses=_responses("Sub2ApiApiKeysUsage", ApiKeysUsageOut()),
    )
    def post(self, request: Request) -> Response:
        tz = self.validated(ZoneQuery, request.query_params)["timezone"]
        body = self.validated(ApiKeysUsageBody, request.data)
        ids = tuple(sorted(set(body["api_key_ids"])))
        if not ids:
            return ok({"stats": {}})
        where = UsageFilter(user_id=_caller(request).pk, token_ids=ids)
        now = self.now
        total = usage_rows(start=0, end=now, where=where, group_by=("token_id",))
        today = usage_rows(
            start=local_midnight(local_date(now, tz), tz),
            end=now,
            where=where,
            group_by=("token_id",),
        )
        today_quota = {row.dims["token_id"]: row.totals.quota for row in today}
        stats = {
            str(key_id): {
                "api_key_id": key_id,
                "today_actual_cost": quota_to_cost(today_quota.get(key_id, 0)),
                "total_actual_cost": quota_to_cost(row.totals.quota),
            }
            for row in sorted(total, key=lambda row: cast(int, row.dims["token_id"]))
            for key_id in [cast(int, row.dims["token_id"])]
        }
        return ok({"stats": stats})
