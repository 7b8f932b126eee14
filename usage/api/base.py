"""What the edges of the sub2api, AceData and r9s.ai families share: the access rules, one
request-wide "now", input validation, and the translation of any refusal or bad input into
(HTTP status, message), which each family then wraps in its own error shape."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import SuspiciousOperation, TooManyFieldsSent
from django.db import DatabaseError
from django.http import Http404
from rest_framework import exceptions, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import Role, Scope
from accounts.newapi import DATABASE_UNAVAILABLE
from accounts.permissions import GatewayPermission
from usage.buckets import BucketError

logger = logging.getLogger(__name__)


def validation_message(detail: Any, name: str = "") -> str:
    """A DRF validation error as one line a person can act on: `field: problem` (nested fields
    as `field.0`), without the prefix when the message already starts by naming the field
    (`invalid start_timestamp: ...`, new-api's wording)."""
    if isinstance(detail, dict):
        return "; ".join(
            validation_message(value, _join(name, str(key))) for key, value in detail.items()
        )
    if isinstance(detail, list):
        parts = []
        for index, item in enumerate(detail):
            key = _join(name, str(index)) if isinstance(item, dict | list) else name
            parts.append(validation_message(item, key))
        return "; ".join(parts)
    message = str(detail)
    field_name = name.split(".")[0]
    if (
        not name
        or name == "non_field_errors"
        or message.startswith((field_name, f"invalid {field_name}"))
    ):
        return message
    return f"{name}: {message}"


def _join(prefix: str, key: str) -> str:
    return f"{prefix}.{key}" if prefix else key


@dataclass(slots=True)
class ErrorReport:
    status: int
    message: str
    headers: dict[str, str] = field(default_factory=dict)


def error_report(exc: Exception) -> ErrorReport | None:
    """The status and message for an exception a view may raise; None for anything else (a
    bug, which Django reports as a server error)."""
    if isinstance(exc, DatabaseError):
        logger.exception("read failed in the database")
        return ErrorReport(status.HTTP_503_SERVICE_UNAVAILABLE, DATABASE_UNAVAILABLE)
    if isinstance(exc, Http404):
        return ErrorReport(status.HTTP_404_NOT_FOUND, str(exc) or "not found")
    if isinstance(exc, DjangoPermissionDenied):
        return ErrorReport(status.HTTP_403_FORBIDDEN, str(exc) or "permission denied")
    if isinstance(exc, TooManyFieldsSent):
        return ErrorReport(
            status.HTTP_400_BAD_REQUEST,
            f"too many parameters (at most {settings.DATA_UPLOAD_MAX_NUMBER_FIELDS})",
        )
    if isinstance(exc, SuspiciousOperation):
        return ErrorReport(status.HTTP_400_BAD_REQUEST, "bad request")
    if isinstance(exc, BucketError):
        return ErrorReport(status.HTTP_400_BAD_REQUEST, str(exc))
    if isinstance(exc, exceptions.ValidationError):
        return ErrorReport(status.HTTP_400_BAD_REQUEST, validation_message(exc.detail))
    if not isinstance(exc, exceptions.APIException):
        return None
    report = ErrorReport(exc.status_code, validation_message(exc.detail))
    if isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
        report.headers["WWW-Authenticate"] = 'Bearer realm="tokenledger"'
    wait = getattr(exc, "wait", None)
    if isinstance(exc, exceptions.Throttled) and wait is not None:
        report.headers["Retry-After"] = str(int(wait))
    return report


class FamilyView(APIView):
    """Base of the sub2api, AceData and r9s.ai views: the same credentials as new-api's routes
    (a read token or a session) without the New-Api-User header; every user may call them, and
    each view scopes what it reads to the caller. Subclasses give `error_body`."""

    permission_classes = [GatewayPermission]
    requires_new_api_user = False
    required_scope = Scope.READ
    min_role = Role.COMMON

    now: int

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        self.now = int(time.time())
        super().initial(request, *args, **kwargs)

    def error_body(self, report: ErrorReport) -> Any:
        raise NotImplementedError

    def get_exception_handler(self) -> Callable[[Exception, dict[str, Any]], Response | None]:
        def handler(exc: Exception, context: dict[str, Any]) -> Response | None:
            report = error_report(exc)
            if report is None:
                return None
            response = Response(self.error_body(report), status=report.status)
            for name, value in report.headers.items():
                response[name] = value
            return response

        return handler

    def validated(self, serializer_class: type[serializers.Serializer[Any]], data: Any) -> Any:
        """The validated data of `serializer_class` over `data`; a ValidationError otherwise,
        which the family's handler turns into its 400."""
        serializer = serializer_class(data=data, context={"now": self.now, "request": self.request})
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data
