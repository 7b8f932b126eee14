"""The new-api dialect's envelope, its OpenAPI shapes and the base view of its routes
(`/api/user/self`, `/api/status`, `/api/log/...`, `/api/data/...`).

Envelope: `{"success": true, "message": "", "data": ...}`. Refusals keep new-api's body with a
401/403 status; business and validation errors are HTTP 200 with `success: false`, which is what
new-api's clients read (API.md section 1)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import PolymorphicProxySerializer, extend_schema_field, inline_serializer
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.errors import error_report, error_response, new_api_error_body
from accounts.models import Role, Scope
from accounts.permissions import GatewayPermission

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


def new_api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    report = error_report(exc)
    if report is None:
        return None
    http_status = status.HTTP_200_OK if report.bad_input else report.status
    return error_response(report, new_api_error_body(report), http_status)


class NewApiView(APIView):
    """Base of `/api/log/...` and `/api/data/...`: new-api's UserAuth (min_role common) or
    AdminAuth (min_role admin), with the `New-Api-User` header required."""

    permission_classes = [GatewayPermission]
    requires_new_api_user = True
    required_scope = Scope.READ
    min_role = Role.COMMON

    def get_exception_handler(self) -> Any:
        return new_api_exception_handler
