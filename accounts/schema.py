"""OpenAPI descriptions of Tokenledger's credentials (drf-spectacular extensions)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema


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
