"""Authentication for every API family (API.md section 1).

Authentication only establishes who is calling; `accounts.permissions.GatewayPermission` then
applies new-api's checks in new-api's order (New-Api-User header, banned, role) plus the token
scopes. Messages are new-api's, in English; each family wraps them in its own error shape.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.http import HttpRequest
from django.utils import timezone
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from accounts.models import AccessToken, User, hash_token

MSG_NOT_LOGGED_IN = "Unauthorized: not logged in and no access token provided"
MSG_INVALID_TOKEN = "Unauthorized: invalid access token"  # noqa: S105 (a message, not a secret)
MSG_HEADER_MISSING = "Unauthorized: New-Api-User header missing"
MSG_HEADER_FORMAT = "Unauthorized: New-Api-User format error"
MSG_HEADER_MISMATCH = "Unauthorized: New-Api-User does not match the logged-in user"
MSG_BANNED = "User has been banned"
MSG_INSUFFICIENT = "Unauthorized: insufficient privileges"
MSG_INGEST_ONLY = "Unauthorized: this access token has the ingest scope and may only write logs"
MSG_INGEST_REQUIRED = "Unauthorized: writing logs requires an access token with the ingest scope"
MSG_INGEST_OWNER = (
    "Unauthorized: this ingest token's owner is not an admin or root; ingest tokens work only "
    "for admins and roots"
)

# last_used_at is informational; writing it at most once a minute keeps reads read-only.
LAST_USED_RESOLUTION = timedelta(seconds=60)


def token_from_header(value: str) -> str:
    """`Authorization: Bearer <token>` or the bare token (new-api accepts both)."""
    value = value.strip()
    if value[:7].lower() == "bearer ":
        value = value[7:].strip()
    return value


def access_token_lookup(raw: str) -> AccessToken | None:
    """The live (not revoked) token for a raw secret, with its user, or None."""
    if not raw or len(raw) > 256:
        return None
    token = (
        AccessToken.objects.select_related("user")
        .filter(key_hash=hash_token(raw), revoked_at__isnull=True)
        .first()
    )
    if token is None:
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
        AccessToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token


class AccessTokenAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request: Request) -> tuple[User, AccessToken] | None:
        header = request.META.get("HTTP_AUTHORIZATION", "")
        raw = token_from_header(header) if header else ""
        if not raw:
            return None
        token = access_token_lookup(raw)
        if token is None:
            raise exceptions.AuthenticationFailed(MSG_INVALID_TOKEN, code="invalid_token")
        return token.user, token

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="tokenledger"'


class SessionAuthentication(authentication.SessionAuthentication):
    """DRF's session authentication, but a disabled user is still identified (and then refused
    as banned by the permission check) instead of looking logged out."""

    def authenticate(self, request: Request) -> tuple[User, None] | None:
        django_request: HttpRequest = request._request
        user: Any = getattr(django_request, "user", None)
        if user is None or not getattr(user, "pk", None):
            return None
        self.enforce_csrf(request)
        return user, None
