"""The new-api log API (API.md section 3): thin views over `logs.selectors` and
`logs.services`, in new-api's envelope (`logs.newapi`).

`GET /api/log/` and `DELETE /api/log/` are methods of `usage.api.LogCollectionView` (the route
also ingests); they delegate to `log_list_response` and `log_delete_response` here, decorated
with `LOG_LIST_SCHEMA` and `LOG_DELETE_SCHEMA`. The stat views are `usage.api.LogStatView` and
`LogSelfStatView` (the stat reads the rollups), with `log_stat_filter` and `LOG_STAT_SCHEMA`,
`LOG_SELF_STAT_SCHEMA` from here."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any, TypeVar

from django.db import DatabaseError
from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiResponse,
    extend_schema,
    inline_serializer,
)
from rest_framework import serializers, status
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.models import Role
from accounts.newapi import DATABASE_UNAVAILABLE
from logs.export import csv_response
from logs.filters import (
    LogDeleteParams,
    LogFilter,
    LogFilterParams,
    LogPageParams,
    LogSearchParams,
    LogSelfFilterParams,
    LogSelfPageParams,
    errors_message,
)
from logs.newapi import (
    NEW_API_ERROR,
    NewApiError,
    NewApiView,
    envelope_schema,
    fail,
    ok,
    or_error,
)
from logs.selectors import PageTooDeep, logs_page, logs_search
from logs.serializers import LogItemSerializer, LogUserItemSerializer
from logs.services import logs_delete_before

Params = TypeVar("Params", bound=serializers.Serializer)
Answer = TypeVar("Answer", Response, StreamingHttpResponse)
logger = logging.getLogger(__name__)
MSG_DATABASE = DATABASE_UNAVAILABLE


def database_refusal(view: Callable[..., Answer]) -> Callable[..., Answer | Response]:
    """A database failure while reading (typically the read statement timeout on a huge match)
    answers HTTP 503 in the new-api error shape instead of a 500."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Answer | Response:
        try:
            return view(*args, **kwargs)
        except DatabaseError:
            logger.exception("log read failed in the database")
            return fail(MSG_DATABASE, status.HTTP_503_SERVICE_UNAVAILABLE)

    return wrapper


def _params(request: Request, params_class: type[Params]) -> Params:
    """Validated query parameters, or a new-api error naming every problem."""
    params = params_class(data=request.query_params)
    if not params.is_valid():
        raise NewApiError(errors_message(params.errors))
    return params


def _scope(request: Request, admin: bool) -> int | None:
    return None if admin else int(request.user.pk or 0)


# --- OpenAPI -------------------------------------------------------------------------------


def _page_schema(name: str, item: type[serializers.Serializer]) -> serializers.Serializer:
    return envelope_schema(
        f"{name}Response",
        inline_serializer(
            f"{name}Data",
            {
                "page": serializers.IntegerField(),
                "page_size": serializers.IntegerField(),
                "total": serializers.IntegerField(help_text=f"at most {10_000}"),
                "items": item(many=True),
                "total_is_capped": serializers.BooleanField(
                    required=False, help_text="present (true) when total stopped at 10000"
                ),
                "next_cursor": serializers.CharField(
                    allow_null=True,
                    help_text="pass as `cursor` for the next page; null on the last page",
                ),
            },
        ),
    )


REFUSALS: dict[int | tuple[int, str], Any] = {
    401: OpenApiResponse(NEW_API_ERROR, description="not logged in, bad New-Api-User"),
    403: OpenApiResponse(NEW_API_ERROR, description="banned, or role too low"),
    503: OpenApiResponse(NEW_API_ERROR, description="the database did not answer in time"),
}
ERROR_EXAMPLE = OpenApiExample(
    "bad input",
    value={"success": False, "message": "invalid start_timestamp"},
    response_only=True,
)
STAT_DATA = inline_serializer(
    "LogStat",
    {
        "quota": serializers.IntegerField(),
        "rpm": serializers.IntegerField(help_text="logs in the last 60 s"),
        "tpm": serializers.IntegerField(help_text="their prompt + completion tokens"),
    },
)
CSV_RESPONSE = OpenApiResponse(
    OpenApiTypes.STR,
    description="text/csv, UTF-8, header row, newest first, every match (streamed). "
    "Bad input: HTTP 200 with the JSON error shape (application/json).",
)
# Bad input on an export: no CSV but new-api's error, still HTTP 200.
EXPORT_RESPONSES: dict[int | tuple[int, str], Any] = {
    (200, "text/csv"): CSV_RESPONSE,
    (200, "application/json"): NEW_API_ERROR,
    **REFUSALS,
}

LOG_LIST_SCHEMA = extend_schema(
    operation_id="logs_list",
    summary="All logs, newest first, paginated (admin)",
    description="Items in new-api's admin shape (`channel` = channel id, `other` as a JSON "
    "string). `total` stops at 10000 (then `total_is_capped: true`); `p` reaches the first "
    "10000 matches, `cursor` (the previous page's `next_cursor`) any depth. Bad input: HTTP 200 "
    "with `success: false` and the reason.",
    parameters=[LogPageParams],
    responses={
        200: or_error("LogPageOrError", _page_schema("LogPage", LogItemSerializer)),
        **REFUSALS,
    },
    examples=[ERROR_EXAMPLE],
)
LOG_DELETE_SCHEMA = extend_schema(
    operation_id="logs_delete_before",
    summary="Delete the logs with created_at < target_timestamp (admin); data: the count",
    description="Strictly before the target, oldest first, in short batches (an interrupted "
    "delete keeps what it deleted; run it again to finish). Usage statistics are not reduced.",
    parameters=[LogDeleteParams],
    responses={
        200: or_error(
            "LogDeleteOrError", envelope_schema("LogDeleteResponse", serializers.IntegerField())
        ),
        **REFUSALS,
    },
    examples=[
        OpenApiExample(
            "deleted", value={"success": True, "message": "", "data": 1500}, response_only=True
        ),
        OpenApiExample(
            "missing",
            value={"success": False, "message": "target timestamp is required"},
            response_only=True,
        ),
    ],
)


# --- GET /api/log/ and /api/log/self -------------------------------------------------------


@database_refusal
def log_list_response(
    request: Request,
    *,
    admin: bool,
    count: Callable[[LogFilter], tuple[int, bool]] | None = None,
) -> Response:
    """The list answer; `count` gives the (capped) total of the filters when the caller has a
    cheaper way than counting the matching logs (`usage.api` reads it from the rollups)."""
    params = _params(request, LogPageParams if admin else LogSelfPageParams)
    page, page_size, cursor = params.paging()
    filters = params.log_filter(user_id=_scope(request, admin))
    try:
        result = logs_page(
            filters=filters,
            page=page,
            page_size=page_size,
            cursor=cursor,
            counted=None if count is None else count(filters),
        )
    except PageTooDeep as exc:
        raise NewApiError(str(exc)) from None
    item_serializer = LogItemSerializer if admin else LogUserItemSerializer
    data: dict[str, Any] = {
        "page": result.page,
        "page_size": result.page_size,
        "total": result.total,
        "items": item_serializer(result.items, many=True).data,
    }
    if result.total_is_capped:
        data["total_is_capped"] = True
    data["next_cursor"] = result.next_cursor.encode() if result.next_cursor else None
    return ok(data)


# `GET /api/log/self` is `usage.api.LogSelfListView`: its total comes from the rollups.
LOG_SELF_LIST_SCHEMA = extend_schema(
    operation_id="logs_self_list",
    summary="The caller's logs, newest first, paginated",
    parameters=[LogSelfPageParams],
    responses={
        200: or_error("LogSelfPageOrError", _page_schema("LogSelfPage", LogUserItemSerializer)),
        **REFUSALS,
    },
    examples=[ERROR_EXAMPLE],
)


# --- stat ----------------------------------------------------------------------------------
# The views are `usage.api.LogStatView` and `LogSelfStatView`: the stat reads the usage rollups
# (`usage.selectors.usage_log_stat`), which this app cannot import.


def log_stat_filter(request: Request, *, admin: bool) -> LogFilter:
    """The validated filters of a stat request, scoped to the caller for the user variant
    (raises NewApiError, answered in new-api's error shape, on bad input)."""
    params = _params(request, LogFilterParams if admin else LogSelfFilterParams)
    return params.log_filter(user_id=_scope(request, admin))


STAT_DESCRIPTION = (
    "`quota`: quota sum of the consume logs (type 2) over the time range and the other filters; "
    "`type` is accepted and ignored, as new-api does (its log page sends the selected type and "
    "expects the consumption figures). `rpm`/`tpm`: those logs in the last 60 seconds "
    "(created_at >= now - 60) whatever the time range, and their prompt + completion tokens."
)
LOG_STAT_SCHEMA = extend_schema(
    operation_id="logs_stat",
    summary="Quota, RPM and TPM of the filtered logs (admin)",
    description=STAT_DESCRIPTION,
    parameters=[LogFilterParams],
    responses={
        200: or_error("LogStatOrError", envelope_schema("LogStatResponse", STAT_DATA)),
        **REFUSALS,
    },
    examples=[ERROR_EXAMPLE],
)
LOG_SELF_STAT_SCHEMA = extend_schema(
    operation_id="logs_self_stat",
    summary="Quota, RPM and TPM of the caller's filtered logs",
    description=STAT_DESCRIPTION,
    parameters=[LogSelfFilterParams],
    responses={
        200: or_error("LogSelfStatOrError", envelope_schema("LogSelfStatResponse", STAT_DATA)),
        **REFUSALS,
    },
    examples=[ERROR_EXAMPLE],
)


# --- search --------------------------------------------------------------------------------


@database_refusal
def _search_response(request: Request, *, admin: bool) -> Response:
    params = _params(request, LogSearchParams)
    logs = logs_search(keyword=params.validated_data["keyword"], user_id=_scope(request, admin))
    item_serializer = LogItemSerializer if admin else LogUserItemSerializer
    return ok(item_serializer(logs, many=True).data)


SEARCH_ERROR = OpenApiExample(
    "missing keyword",
    value={"success": False, "message": "keyword is required"},
    response_only=True,
)


class LogSearchView(NewApiView):
    """`GET /api/log/search` (admin)."""

    min_role = Role.ADMIN

    @extend_schema(
        operation_id="logs_search",
        summary="At most 100 logs matching a keyword, newest first (admin)",
        parameters=[LogSearchParams],
        responses={
            200: or_error(
                "LogSearchOrError",
                envelope_schema("LogSearchResponse", LogItemSerializer(many=True)),
            ),
            **REFUSALS,
        },
        examples=[SEARCH_ERROR],
    )
    def get(self, request: Request) -> Response:
        return _search_response(request, admin=True)


class LogSelfSearchView(NewApiView):
    """`GET /api/log/self/search`."""

    @extend_schema(
        operation_id="logs_self_search",
        summary="At most 100 of the caller's logs matching a keyword, newest first",
        parameters=[LogSearchParams],
        responses={
            200: or_error(
                "LogSelfSearchOrError",
                envelope_schema("LogSelfSearchResponse", LogUserItemSerializer(many=True)),
            ),
            **REFUSALS,
        },
        examples=[SEARCH_ERROR],
    )
    def get(self, request: Request) -> Response:
        return _search_response(request, admin=False)


# --- DELETE /api/log/ ----------------------------------------------------------------------


def log_delete_response(request: Request) -> Response:
    params = _params(request, LogDeleteParams)
    progress = [0]
    try:
        deleted = logs_delete_before(
            before=params.validated_data["target_timestamp"],
            on_batch=lambda total: progress.__setitem__(0, total),
        )
    except DatabaseError:
        logger.exception("log delete stopped by the database")
        return fail(
            f"the database stopped the delete after {progress[0]} logs (those stay deleted); "
            "retry to delete the rest",
            status.HTTP_503_SERVICE_UNAVAILABLE,
        )
    return ok(deleted)


# --- export --------------------------------------------------------------------------------


@database_refusal
def _export_response(request: Request, *, admin: bool) -> StreamingHttpResponse:
    params = _params(request, LogFilterParams if admin else LogSelfFilterParams)
    return csv_response(filters=params.log_filter(user_id=_scope(request, admin)), admin=admin)


class IgnoreAcceptNegotiation(BaseContentNegotiation):
    """The exports answer CSV (or the JSON error) whatever `Accept` says: a client asking for
    text/csv must not get DRF's 406."""

    def select_parser(self, request: Request, parsers: Any) -> Any:
        return parsers[0] if parsers else None

    def select_renderer(self, request: Request, renderers: Any, format_suffix: Any = None) -> Any:
        return renderers[0], renderers[0].media_type


class LogExportView(NewApiView):
    """`GET /api/log/export` (admin)."""

    min_role = Role.ADMIN
    content_negotiation_class = IgnoreAcceptNegotiation

    @extend_schema(
        operation_id="logs_export",
        summary="Every filtered log as CSV, streamed (admin)",
        parameters=[LogFilterParams],
        responses=EXPORT_RESPONSES,
    )
    def get(self, request: Request) -> StreamingHttpResponse | Response:
        return _export_response(request, admin=True)


class LogSelfExportView(NewApiView):
    """`GET /api/log/self/export`."""

    content_negotiation_class = IgnoreAcceptNegotiation

    @extend_schema(
        operation_id="logs_self_export",
        summary="Every filtered log of the caller as CSV, streamed (no channel or IP columns)",
        parameters=[LogSelfFilterParams],
        responses=EXPORT_RESPONSES,
    )
    def get(self, request: Request) -> StreamingHttpResponse | Response:
        return _export_response(request, admin=False)
