"""The new-api family's edge: its envelope, its error shape and the base view of its routes.

It lives in `accounts`, the lowest app, because routes of every app speak it: `/api/user/self`
(accounts), `/api/log/...` (logs, usage) and `/api/data/...` (usage).

Envelope: `{"success": true, "message": "", "data": ...}`. Refusals keep new-api's body with a
401/403 status; business and validation errors are HTTP 200 with `success: false`, which is what
new-api's clients read (API.md section 1)."""

from __future__ import annotations

import logging
from typing import Any

from django.db import DatabaseError
from django.http import Http404
from drf_spectacular.utils import PolymorphicProxySerializer, extend_schema_field, inline_serializer
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import Role, Scope
from accounts.permissions import GatewayPermission

logger = logging.getLogger(__name__)

# --- OpenAPI ---------------------------------------------------------------------------------
# A new-api 200 is either the success envelope or an error (bad input is HTTP 200 with
# `success: false`), so the schema gives `success` one value in each: the two shapes of a
# `oneOf` then never both match one body.


# The choice sets of the two, so that drf-spectacular names their enum components
# (SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"]) instead of warning about two sets both named
# "success".
SUCCESS_CHOICES = [(True, True)]
FAILURE_CHOICES = [(False, False)]


@extend_schema_field({"type": "boolean", "enum": [True]})
class SuccessField(serializers.BooleanField):
    """`success` of the success envelope: always true."""


@extend_schema_field({"type": "boolean", "enum": [False]})
class FailureField(serializers.BooleanField):
    """`success` of an error: always false."""


# The body of every refusal and business error.
NEW_API_ERROR = inline_serializer(
    "NewApiError",
    {"success": FailureField(), "message": serializers.CharField(help_text="the reason")},
)


def envelope_schema(name: str, data: serializers.Field) -> serializers.Serializer:
    """A success body: `{"success": true, "message": "", "data": <data>}`."""
    return inline_serializer(
        name, {"success": SuccessField(), "message": serializers.CharField(), "data": data}
    )


def or_error(name: str, success: serializers.Serializer) -> PolymorphicProxySerializer:
    """A 200 of the family: the success body or the error shape (exactly one of them)."""
    return PolymorphicProxySerializer(
        component_name=name,
        serializers=[success, NEW_API_ERROR],
        resource_type_field_name=None,
    )


def ok(data: Any = None) -> Response:
    return Response({"success": True, "message": "", "data": data})


def fail(message: str, http_status: int = status.HTTP_200_OK) -> Response:
    return Response({"success": False, "message": message}, status=http_status)


class NewApiError(exceptions.APIException):
    """A business or validation error: HTTP 200, `success: false`, the message as given."""

    status_code = status.HTTP_200_OK


def _message(detail: Any) -> str:
    if isinstance(detail, list):
        return "; ".join(_message(item) for item in detail)
    if isinstance(detail, dict):
        return "; ".join(f"{key}: {_message(value)}" for key, value in detail.items())
    return str(detail)


# A read the database refused: typically READ_STATEMENT_TIMEOUT_MS on a huge match, or a
# replica that is down. Every family answers it with HTTP 503 in its own shape, never a 500.
DATABASE_UNAVAILABLE = (
    "the database did not answer this read (it took too long or is unavailable); narrow the "
    "filters, for example with a time range, and retry"
)


def new_api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, DatabaseError):
        logger.exception("read failed in the database")
        return fail(DATABASE_UNAVAILABLE, status.HTTP_503_SERVICE_UNAVAILABLE)
    if isinstance(exc, Http404):
        return fail("not found", status.HTTP_404_NOT_FOUND)
    if isinstance(exc, exceptions.ValidationError):
        return fail(_message(exc.detail))
    if not isinstance(exc, exceptions.APIException):
        return None
    response = fail(_message(exc.detail), exc.status_code)
    if isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
        response["WWW-Authenticate"] = 'Bearer realm="tokenledger"'
    # getattr: the DRF stubs do not declare Throttled.wait (seconds, or None when unknown).
    wait = getattr(exc, "wait", None) if isinstance(exc, exceptions.Throttled) else None
    if wait is not None:
        response["Retry-After"] = str(int(wait))
    return response


class NewApiView(APIView):
    """Base of `/api/log/...` and `/api/data/...`: new-api's UserAuth (min_role common) or
    AdminAuth (min_role admin), with the `New-Api-User` header required."""

    permission_classes = [GatewayPermission]
    requires_new_api_user = True
    required_scope = Scope.READ
    min_role = Role.COMMON

    def get_exception_handler(self) -> Any:
        return new_api_exception_handler
