"""Writes of the accounts app.

Who may change whom (docs/auth.md "Who may change users") is decided here, not in the admin's
forms, so every path that changes a user (the admin's change form, its bulk actions, deletion,
tokens) applies the same rules:
- only admins and roots change users; an admin changes no admin and no root (nor their
  password, name or tokens), only a root does;
- only a root grants or removes the admin or root role;
- nobody changes their own role or status;
- nobody deletes themselves or a user of their own role or higher (a root demotes a root first).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from accounts.models import (
    LOCAL_NAME_FORBIDDEN,
    MSG_LOCAL_NAME,
    AccessToken,
    Role,
    Scope,
    Status,
    User,
    hash_token,
)

# The fields `user_update` changes; the rest is the gateway's (id) or Django's (password).
USER_FIELDS = frozenset({"username", "display_name", "role", "status", "group"})

MSG_NOT_OPERATOR = "Only admins and roots may change users."
MSG_ABOVE = "Only a root may change an admin or a root."
MSG_GRANT = "Only a root may grant or remove the admin or root role."
MSG_OWN_ROLE = "You cannot change your own role; another root can."
MSG_OWN_STATUS = "You cannot disable yourself."
MSG_DELETE_SELF = "You cannot delete yourself."
MSG_DELETE_ADMIN = "Only a root may delete an admin."
MSG_DELETE_ROOT = "A root cannot be deleted: another root must first change its role."
MSG_INGEST_OWNER = (
    "Ingest tokens are only for admins and roots: an ingest token writes logs for every user."
)


class UserChangeRefused(PermissionDenied):
    """The actor may not make this change. `field` names the form field it concerns (None: the
    user as a whole). A PermissionDenied, so that a caller that does not catch it answers 403."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class AccessTokenRefused(ValueError):
    """This user may not hold a token of this scope (or the actor may not make it)."""


def _is_operator(actor: User) -> bool:
    return actor.is_active and actor.role >= Role.ADMIN


def user_manage_check(*, actor: User, user: User) -> None:
    """Raise UserChangeRefused unless `actor` may change `user` at all (any field, its password,
    its tokens). Everyone may change their own profile; their role and status are apart
    (`user_change_check`)."""
    if actor.pk == user.pk:
        return
    if not _is_operator(actor):
        raise UserChangeRefused(MSG_NOT_OPERATOR)
    if actor.role < Role.ROOT and user.role >= actor.role:
        raise UserChangeRefused(MSG_ABOVE)


def user_change_check(*, actor: User, user: User, data: Mapping[str, Any]) -> None:
    """Raise UserChangeRefused unless `actor` may give `user` the values in `data` (field ->
    new value, USER_FIELDS only; values equal to the stored ones change nothing and are
    allowed). `user` holds the stored values."""
    unknown = set(data) - USER_FIELDS
    if unknown:
        raise ValueError(f"not a field user_update changes: {', '.join(sorted(unknown))}")
    changes = {name: value for name, value in data.items() if getattr(user, name) != value}
    if not changes:
        return
    if not _is_operator(actor):
        raise UserChangeRefused(MSG_NOT_OPERATOR)
    user_manage_check(actor=actor, user=user)
    if "role" in changes:
        role = changes["role"]
        if role not in Role.values:
            raise ValueError(f"role must be one of {Role.values}")
        if actor.pk == user.pk:
            raise UserChangeRefused(MSG_OWN_ROLE, field="role")
        if actor.role < Role.ROOT and max(role, user.role) >= Role.ADMIN:
            raise UserChangeRefused(MSG_GRANT, field="role")
    if "status" in changes:
        if changes["status"] not in Status.values:
            raise ValueError(f"status must be one of {Status.values}")
        if actor.pk == user.pk:
            raise UserChangeRefused(MSG_OWN_STATUS, field="status")
    if user.is_local and LOCAL_NAME_FORBIDDEN in changes.get("username", ""):
        raise UserChangeRefused(MSG_LOCAL_NAME, field="username")


@transaction.atomic
def user_update(*, actor: User, user: User, data: Mapping[str, Any]) -> User:
    """Apply `data` (field -> value, USER_FIELDS only) to `user` as `actor` may
    (`user_change_check`, against the stored row, locked). Returns the stored user; raises
    UserChangeRefused and changes nothing when a rule refuses any of it."""
    stored = User.objects.select_for_update().get(pk=user.pk)
    user_change_check(actor=actor, user=stored, data=data)
    changed = [name for name, value in data.items() if getattr(stored, name) != value]
    for name in changed:
        setattr(stored, name, data[name])
    if changed:
        stored.save(update_fields=changed)
    return stored


@dataclass
class StatusResult:
    changed: int = 0
    refused: list[tuple[User, str]] = field(default_factory=list)


@transaction.atomic
def users_status_set(*, actor: User, users: Iterable[User], status: int) -> StatusResult:
    """Enable or disable each of `users` that `actor` may (`user_change_check`); the others are
    returned with the reason, unchanged."""
    result = StatusResult()
    ids = [user.pk for user in users]
    for stored in User.objects.select_for_update().filter(pk__in=ids).order_by("pk"):
        if stored.status == status:
            continue
        try:
            user_change_check(actor=actor, user=stored, data={"status": status})
        except UserChangeRefused as refusal:
            result.refused.append((stored, refusal.message))
            continue
        stored.status = status
        stored.save(update_fields=["status"])
        result.changed += 1
    return result


def user_delete_check(*, actor: User, user: User) -> None:
    """Raise UserChangeRefused unless `actor` may delete `user`."""
    if actor.pk == user.pk:
        raise UserChangeRefused(MSG_DELETE_SELF)
    if not _is_operator(actor):
        raise UserChangeRefused(MSG_NOT_OPERATOR)
    if user.role >= actor.role:
        raise UserChangeRefused(MSG_DELETE_ROOT if user.role >= Role.ROOT else MSG_DELETE_ADMIN)


@transaction.atomic
def user_delete(*, actor: User, user: User) -> None:
    """Delete `user` (and its tokens) if `actor` may (`user_delete_check`, on the stored row).
    Its logs stay: they are the gateway's history."""
    stored = User.objects.select_for_update().get(pk=user.pk)
    user_delete_check(actor=actor, user=stored)
    stored.delete()


def access_token_check(*, user: User, scope: str, actor: User | None = None) -> None:
    """Raise AccessTokenRefused unless `user` may hold a token of `scope`, made by `actor`
    (None: an operator at the shell, who may make any token a user may hold)."""
    if scope not in Scope.values:
        raise AccessTokenRefused(f"scope must be one of {', '.join(Scope.values)}")
    if scope == Scope.INGEST and user.role < Role.ADMIN:
        raise AccessTokenRefused(
            f"{MSG_INGEST_OWNER} {user.username!r} is a {user.get_role_display()} user."
        )
    if actor is not None:
        try:
            user_manage_check(actor=actor, user=user)
        except UserChangeRefused as refusal:
            raise AccessTokenRefused(refusal.message) from None


@transaction.atomic
def access_token_create(
    *, user: User, scope: str = Scope.READ, name: str = "", actor: User | None = None
) -> tuple[AccessToken, str]:
    """Create a token for `user` (`access_token_check`; raises AccessTokenRefused). Returns
    the row and the secret, which is not stored and cannot be shown again.

    The ingest scope needs an admin or root owner here and again on every request
    (`accounts.permissions.GatewayPermission`): a token kept after a demotion stops working."""
    access_token_check(user=user, scope=scope, actor=actor)
    secret = AccessToken.generate_secret()
    token = AccessToken.objects.create(
        user=user, scope=scope, name=name[:64], key_hash=hash_token(secret), prefix=secret[:10]
    )
    return token, secret


def access_token_revoke(*, token: AccessToken) -> None:
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
