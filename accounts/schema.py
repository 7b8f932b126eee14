"""The OpenAPI schema: the descriptions of Tokenledger's credentials (drf-spectacular
extensions), and the public views that serve the schema and its documentation pages."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.views import (
    SpectacularAPIView,
    SpectacularRedocView,
    SpectacularSwaggerSplitView,
)
from rest_framework.authentication import BaseAuthentication
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.newapi import new_api_exception_handler


class AccessTokenScheme(OpenApiAuthenticationExtension):
    """An access token; on the new-api family's routes together with the `New-Api-User` header.

    The header requirement is read from the view's `requires_new_api_user`. A view that changes
    it per request in `initial()` states its operation's credentials with
    `extend_schema(auth=[...])` (POST /api/log/ does)."""

    target_class = "accounts.authentication.AccessTokenAuthentication"
    name = ["accessToken", "newApiUser"]

    def get_security_requirement(self, auto_schema: AutoSchema) -> dict[str, list[Any]]:
        if getattr(auto_schema.view, "requires_new_api_user", False):
            return {"accessToken": [], "newApiUser": []}
        return {"accessToken": []}

    def get_security_definition(self, auto_schema: AutoSchema) -> list[dict[str, Any]]:
        return [
            {
                "type": "http",
                "scheme": "bearer",
                "description": (
                    "`Authorization: Bearer <token>` (the bare token is accepted too). Create one "
                    "with `manage.py create_credential <username> --scope read|ingest`. A `read` "
                    "token reads its user's data (site-wide for admins); an `ingest` token may "
                    "only POST /api/log/."
                ),
            },
            {
                "type": "apiKey",
                "in": "header",
                "name": "New-Api-User",
                "description": (
                    "new-api family (`/api/log/...`, `/api/data/...`, `/api/user/self`): the "
                    "caller's user id, `123` or `Bearer 123`; it must match the credential's user."
                ),
            },
        ]


class SessionScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.authentication.SessionAuthentication"
    name = "session"

    def get_security_requirement(self, auto_schema: AutoSchema) -> dict[str, list[Any]]:
        # new-api checks New-Api-User for sessions too (its definition comes with accessToken).
        if getattr(auto_schema.view, "requires_new_api_user", False):
            return {"session": [], "newApiUser": []}
        return {"session": []}

    def get_security_definition(self, auto_schema: AutoSchema) -> dict[str, Any]:
        return {
            "type": "apiKey",
            "in": "cookie",
            "name": settings.SESSION_COOKIE_NAME,
            "description": (
                "The dashboard's login session. Unsafe methods also need the CSRF token "
                "(`X-CSRFToken` header)."
            ),
        }


def request_truths(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """drf-spectacular postprocessing hook: what DRF does with a request that the declarations
    alone do not tell drf-spectacular.

    - An optional query parameter sent empty (`?start_date=`) counts as absent: DRF's fields
      read "" from a query string as "not given". So each gets `allowEmptyValue: true`.
    - Every request body of this API is required (both POSTs refuse an empty body), including a
      body given as a plain schema, which drf-spectacular leaves optional."""
    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            if not isinstance(operation, dict):
                continue
            for parameter in operation.get("parameters", []):
                if parameter.get("in") == "query" and not parameter.get("required"):
                    parameter["allowEmptyValue"] = True
            if "requestBody" in operation:
                operation["requestBody"]["required"] = True
    return result


class PublicDocsMixin(APIView):
    """What the schema and documentation views share: they are public, so no credential is read
    (a stale or revoked token sent out of habit is ignored rather than refused), and everything
    but the document itself, an OPTIONS answer or an error such as a wrong method, is JSON in
    the `/api/` family's shape (docs/auth.md: no API path answers HTML)."""

    authentication_classes: list[type[BaseAuthentication]] = []
    permission_classes = [AllowAny]

    def get_exception_handler(self) -> Any:
        return new_api_exception_handler

    def finalize_response(
        self, request: Request, response: Response, *args: Any, **kwargs: Any
    ) -> Response:
        if request.method not in ("GET", "HEAD") or getattr(response, "exception", False):
            # The negotiated renderer is the HTML template or the YAML document, which cannot
            # render metadata or an error body (the template one fails with a 500).
            request.accepted_renderer = JSONRenderer()
            request.accepted_media_type = JSONRenderer.media_type
        return super().finalize_response(request, response, *args, **kwargs)


class SchemaView(PublicDocsMixin, SpectacularAPIView):
    """`/api/schema/`: the OpenAPI document (YAML, or JSON by content negotiation)."""


class SwaggerView(PublicDocsMixin, SpectacularSwaggerSplitView):
    """`/api/docs/`: Swagger UI over `/api/schema/`, in its split form: the start-up script is
    a second request (`?script`), not an inline <script>, which the Content-Security-Policy
    refuses."""


class RedocView(PublicDocsMixin, SpectacularRedocView):
    """`/api/redoc/`: ReDoc over `/api/schema/`."""
