"""DRF views of the usage app: ingestion and the log stat (the statistics families are in
`usage.families`)."""

from __future__ import annotations

import logging
import time
from typing import Any

from django.db import DatabaseError
from drf_spectacular.utils import OpenApiExample, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.models import Role, Scope
from logs.api import (
    LOG_DELETE_SCHEMA,
    LOG_LIST_SCHEMA,
    LOG_SELF_LIST_SCHEMA,
    LOG_SELF_STAT_SCHEMA,
    LOG_STAT_SCHEMA,
    database_refusal,
    log_delete_response,
    log_list_response,
    log_stat_filter,
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
from logs.filters import LogFilter
from logs.newapi import NEW_API_ERROR, NewApiView, envelope_schema, fail, ok
from usage.selectors import usage_log_count, usage_log_stat
from usage.services import logs_ingest

logger = logging.getLogger(__name__)

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
        return log_list_response(request, admin=True, count=log_count)

    @LOG_DELETE_SCHEMA
    def delete(self, request: Request) -> Response:
        return log_delete_response(request)

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


@database_refusal
def _stat_response(request: Request, *, admin: bool) -> Response:
    stat = usage_log_stat(filters=log_stat_filter(request, admin=admin), now=int(time.time()))
    return ok({"quota": stat.quota, "rpm": stat.rpm, "tpm": stat.tpm})


def log_count(filters: LogFilter) -> tuple[int, bool]:
    """The list's capped total, from the rollups (`usage_log_count`)."""
    return usage_log_count(filters=filters, now=int(time.time()))


class LogSelfListView(NewApiView):
    """`GET /api/log/self`: the caller's logs. Here rather than in `logs.api`: the total is
    read from the usage rollups (`usage_log_count`)."""

    @LOG_SELF_LIST_SCHEMA
    def get(self, request: Request) -> Response:
        return log_list_response(request, admin=False, count=log_count)


class LogStatView(NewApiView):
    """`GET /api/log/stat` (admin). Here rather than in `logs.api`: the stat reads the usage
    rollups (`usage_log_stat`)."""

    min_role = Role.ADMIN

    @LOG_STAT_SCHEMA
    def get(self, request: Request) -> Response:
        return _stat_response(request, admin=True)


class LogSelfStatView(NewApiView):
    """`GET /api/log/self/stat`."""

    @LOG_SELF_STAT_SCHEMA
    def get(self, request: Request) -> Response:
        return _stat_response(request, admin=False)
