"""The new-api log API (API.md section 3): every `/api/log/...` route, thin views over
`logs.selectors`, `logs.services` and the `usage` selectors and ingest service, in new-api's
envelope (`accounts.newapi`)."""

from __future__ import annotations

import logging
import time
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

from accounts.errors import detail_message
from accounts.models import Role, Scope
from accounts.newapi import (
    NEW_API_ERROR,
    NewApiError,
    NewApiView,
    envelope_schema,
    fail,
    ok,
    or_error,
)
from logs.events import (
    MAX_BATCH,
    MAX_BODY_BYTES,
    MAX_TOKENS,
    SUMMED_BOUNDS,
    TOKEN_FIELDS,
    BatchError,
    LogEvent,
    batch_parse,
    event_parse,
)
from logs.export import csv_response
from logs.filters import LogFilter
from logs.params import (
    LogDeleteParams,
    LogFilterParams,
    LogPageParams,
    LogSearchParams,
    LogSelfFilterParams,
    LogSelfPageParams,
)
from logs.selectors import PageTooDeep, logs_search
from logs.serializers import LogItemSerializer, LogUserItemSerializer
from logs.services import logs_delete_before
from usage.selectors import usage_log_stat, usage_logs_page
from usage.services import logs_ingest

Params = TypeVar("Params", bound=serializers.Serializer)
logger = logging.getLogger(__name__)


def _params(request: Request, params_class: type[Params]) -> Params:
    """Validated query parameters, or a new-api error naming every problem."""
    params = params_class(data=request.query_params)
    if not params.is_valid():
        raise NewApiError(detail_message(params.errors))
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


INGEST_RESULT = envelope_schema(
    "IngestResponse",
    inline_serializer(
        "IngestResult",
        {
            "accepted": serializers.IntegerField(),
            "duplicates": serializers.IntegerField(),
            "rejected": serializers.IntegerField(),
            "errors": inline_serializer(
                "IngestItemError",
                {"index": serializers.IntegerField(), "message": serializers.CharField()},
                many=True,
            ),
        },
    ),
)

# The bounds that keep every sum within 64 bits (docs/ingest.md, "Bounds").
INGEST_DESCRIPTION = (
    "Events are validated one by one: a bad item is listed in `errors` (its index and every "
    "problem) and the rest of the batch is stored. The summed counters are integers >= 0 with "
    "these maxima: "
    + ", ".join(f"`{name}` {bound}" for name, bound in SUMMED_BOUNDS.items())
    + f", and {' + '.join(f'`{name}`' for name in TOKEN_FIELDS)} <= {MAX_TOKENS} together."
)

# The body: `{"logs": [...]}` (nothing else at the top level) or the array alone, 1..1000 events.
# Each event is validated on its own: a bad one is reported in `errors` with its index while the
# others are stored, so the schema does not constrain the items (docs/ingest.md has their fields).
_EVENTS = {
    "type": "array",
    "minItems": 1,
    "maxItems": MAX_BATCH,
    "items": {"description": "an event (docs/ingest.md)"},
}
INGEST_BODY = {
    "oneOf": [
        {
            "type": "object",
            "properties": {"logs": _EVENTS},
            "required": ["logs"],
            "additionalProperties": False,
        },
        _EVENTS,
    ]
}


# --- /api/log/: ingest, list, delete --------------------------------------------------------


def _list_response(request: Request, *, admin: bool) -> Response:
    """The list answer; its capped total is read from the rollups (`usage_log_count`)."""
    params = _params(request, LogPageParams if admin else LogSelfPageParams)
    page, page_size, cursor = params.paging()
    filters = params.log_filter(user_id=_scope(request, admin))
    try:
        result = usage_logs_page(
            filters=filters,
            page=page,
            page_size=page_size,
            cursor=cursor,
            now=int(time.time()),
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


def _delete_response(request: Request) -> Response:
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


class LogCollectionView(NewApiView):
    """`/api/log/`: POST ingests (ingest token of an admin or root, no New-Api-User); GET lists
    and DELETE purges (admin, new-api rules)."""

    min_role = Role.ADMIN

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        if request.method == "POST":
            self.requires_new_api_user = False
            self.required_scope = Scope.INGEST
        super().initial(request, *args, **kwargs)

    @LOG_LIST_SCHEMA
    def get(self, request: Request) -> Response:
        return _list_response(request, admin=True)

    @LOG_DELETE_SCHEMA
    def delete(self, request: Request) -> Response:
        return _delete_response(request)

    @extend_schema(
        operation_id="logs_ingest",
        summary="Ingest a batch of 1..1000 log events (ingest token)",
        description=INGEST_DESCRIPTION,
        # An ingest token and no New-Api-User (see initial()). The list holds security
        # requirement objects; drf-spectacular's annotation says str, its code uses them as is.
        auth=[{"accessToken": []}],  # type: ignore[list-item]
        request={"application/json": INGEST_BODY},
        responses={
            200: INGEST_RESULT,
            400: NEW_API_ERROR,
            401: NEW_API_ERROR,
            403: NEW_API_ERROR,
            503: NEW_API_ERROR,
        },
        examples=[
            OpenApiExample(
                "batch",
                request_only=True,
                value={
                    "logs": [
                        {
                            "request_id": "req-1",
                            "created_at": 1735689600,
                            "user_id": 1,
                            "username": "alice",
                            "model_name": "gpt-4o",
                            "prompt_tokens": 120,
                            "completion_tokens": 80,
                            "quota": 1500,
                        }
                    ]
                },
            )
        ],
    )
    def post(self, request: Request) -> Response:
        length = request.META.get("CONTENT_LENGTH") or "0"
        if length.isdigit() and int(length) > MAX_BODY_BYTES:
            # Refused before reading: a huge body is never held in memory.
            return fail("request body exceeds 10 MiB", status.HTTP_400_BAD_REQUEST)
        try:
            items = batch_parse(request.body)
        except BatchError as exc:
            return fail(str(exc), status.HTTP_400_BAD_REQUEST)
        now = int(time.time())
        events: list[LogEvent] = []
        errors: list[dict[str, object]] = []
        for index, item in enumerate(items):
            parsed = event_parse(item, now=now)
            if type(parsed) is LogEvent:
                events.append(parsed)
            else:
                errors.append({"index": index, "message": "; ".join(parsed)})  # type: ignore[arg-type]
        try:
            result = logs_ingest(events=events)
        except DatabaseError:
            logger.exception("ingest batch failed; nothing of it was stored")
            return fail(
                "the database refused the batch; nothing of it was stored, retry it",
                status.HTTP_503_SERVICE_UNAVAILABLE,
            )
        return ok(
            {
                "accepted": result.accepted,
                "duplicates": result.duplicates,
                "rejected": len(errors),
                "errors": errors,
            }
        )


# --- GET /api/log/self ---------------------------------------------------------------------


class LogSelfListView(NewApiView):
    """`GET /api/log/self`: the caller's logs."""

    @LOG_SELF_LIST_SCHEMA
    def get(self, request: Request) -> Response:
        return _list_response(request, admin=False)


# --- stat ----------------------------------------------------------------------------------


def _stat_filter(request: Request, *, admin: bool) -> LogFilter:
    """The validated filters of a stat request, scoped to the caller for the user variant
    (raises NewApiError, answered in new-api's error shape, on bad input)."""
    params = _params(request, LogFilterParams if admin else LogSelfFilterParams)
    return params.log_filter(user_id=_scope(request, admin))


def _stat_response(request: Request, *, admin: bool) -> Response:
    stat = usage_log_stat(filters=_stat_filter(request, admin=admin), now=int(time.time()))
    return ok({"quota": stat.quota, "rpm": stat.rpm, "tpm": stat.tpm})


class LogStatView(NewApiView):
    """`GET /api/log/stat` (admin)."""

    min_role = Role.ADMIN

    @LOG_STAT_SCHEMA
    def get(self, request: Request) -> Response:
        return _stat_response(request, admin=True)


class LogSelfStatView(NewApiView):
    """`GET /api/log/self/stat`."""

    @LOG_SELF_STAT_SCHEMA
    def get(self, request: Request) -> Response:
        return _stat_response(request, admin=False)


# --- search --------------------------------------------------------------------------------


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


# --- export --------------------------------------------------------------------------------


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
