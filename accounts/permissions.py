"""The access rules every API view shares (API.md section 1)."""

from __future__ import annotations

from typing import Any

from rest_framework import exceptions
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from accounts.authentication import (
    MSG_BANNED,
    MSG_HEADER_FORMAT,
    MSG_HEADER_MISMATCH,
    MSG_HEADER_MISSING,
    MSG_INGEST_ONLY,
    MSG_INGEST_OWNER,
    MSG_INGEST_REQUIRED,
    MSG_INSUFFICIENT,
    MSG_NOT_LOGGED_IN,
)
from accounts.models import AccessToken, Role, Scope, Status, User


class HeaderRefused(exceptions.NotAuthenticated):
    """A 401 about the New-Api-User header (new-api answers 401 for these)."""


def new_api_user_header(value: str | None) -> int | None:
    """Parse `New-Api-User: 123` or the seed's `New-Api-User: Bearer 123`.

    Returns the id; raises HeaderRefused with new-api's message otherwise."""
    if value is None or not value.strip():
        raise HeaderRefused(MSG_HEADER_MISSING)
    text = value.strip()
    if text[:7].lower() == "bearer ":
        text = text[7:].strip()
    if not text.lstrip("-").isdigit() or len(text) > 19:
        raise HeaderRefused(MSG_HEADER_FORMAT)
    return int(text)


class GatewayPermission(BasePermission):
    """Checks, in new-api's order: logged in, New-Api-User (new-api family only), banned, scope
    (and an ingest token's owner role), role. Views declare `min_role`, `required_scope` and
    `requires_new_api_user`."""

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        # Nobody authenticated: UNAUTHENTICATED_USER is None, so request.user is None.
        if not isinstance(user, User):
            raise exceptions.NotAuthenticated(MSG_NOT_LOGGED_IN)
        if getattr(view, "requires_new_api_user", False):
            header_id = new_api_user_header(request.META.get("HTTP_NEW_API_USER"))
            if header_id != user.pk:
                raise HeaderRefused(MSG_HEADER_MISMATCH)
        if user.status != Status.ENABLED:
            raise exceptions.PermissionDenied(MSG_BANNED)
        required_scope = getattr(view, "required_scope", Scope.READ)
        token = request.auth if isinstance(request.auth, AccessToken) else None
        if required_scope == Scope.INGEST:
            if token is None or token.scope != Scope.INGEST:
                raise exceptions.PermissionDenied(MSG_INGEST_REQUIRED)
            # An ingest token writes logs for every user id: checked on each request, so a
            # token made before its owner's demotion (or by an old create_credential) is dead.
            if user.role < Role.ADMIN:
                raise exceptions.PermissionDenied(MSG_INGEST_OWNER)
        elif token is not None and token.scope != Scope.READ:
            raise exceptions.PermissionDenied(MSG_INGEST_ONLY)
        if user.role < getattr(view, "min_role", Role.COMMON):
            raise exceptions.PermissionDenied(MSG_INSUFFICIENT)
        return True


def gateway_user(request: Request) -> User:
    """The authenticated user of a view guarded by GatewayPermission, typed as our User."""
    user = request.user
    if not isinstance(user, User):
        raise exceptions.NotAuthenticated(MSG_NOT_LOGGED_IN)
    return user
