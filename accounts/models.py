"""Users (the gateway's users and local accounts), access tokens and upstream channels."""

from __future__ import annotations

import hashlib
import secrets
from typing import Any, ClassVar

from django.contrib.auth.models import AbstractBaseUser, BaseUserManager
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.models import Max, Q
from django.utils import timezone

from accounts.ids import LOCAL_ID_MAX, LOCAL_ID_MIN

# Marks our secrets so that secret scanners and people recognise a leaked one.
TOKEN_PREFIX = "tl_"  # noqa: S105 (a public prefix, not a secret)


class Role(models.IntegerChoices):
    # new-api's codes (common/constants.go).
    GUEST = 0, "guest"
    COMMON = 1, "common"
    ADMIN = 10, "admin"
    ROOT = 100, "root"


class Status(models.IntegerChoices):
    ENABLED = 1, "enabled"
    DISABLED = 2, "disabled"


# "<name>#<id>" is how ingestion disambiguates a gateway user's name (usage.services), so a local
# account's name never contains "#": a disambiguated gateway name can never equal it.
LOCAL_NAME_FORBIDDEN = "#"
MSG_LOCAL_NAME = "A local account's username may not contain “#” (it marks gateway names)."


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def next_local_id(self) -> int:
        """The id of the next local account: after the largest id in the local range (ids below
        it belong to the gateways; docs/auth.md "Users")."""
        largest = self.filter(id__gte=LOCAL_ID_MIN).aggregate(m=Max("id"))["m"]
        next_id = LOCAL_ID_MIN if largest is None else int(largest) + 1
        if next_id > LOCAL_ID_MAX:
            raise ValueError("the local account id range is exhausted")
        return next_id

    def create_user(self, username: str, password: str | None = None, **extra: Any) -> User:
        """Create a local account (never a gateway user: those are provisioned by ingestion)."""
        if not username:
            raise ValueError("username is required")
        if LOCAL_NAME_FORBIDDEN in username:
            raise ValidationError(MSG_LOCAL_NAME, code="local_name")
        extra["is_local"] = True
        with transaction.atomic():
            if extra.get("id") is None:
                extra["id"] = self.next_local_id()
            elif not LOCAL_ID_MIN <= extra["id"] <= LOCAL_ID_MAX:
                raise ValueError(f"local accounts take ids from {LOCAL_ID_MIN} to {LOCAL_ID_MAX}")
            user = self.model(username=username, **extra)
            if password:
                user.set_password(password)
            else:
                user.set_unusable_password()
            user.save(using=self._db)
        return user

    def create_superuser(self, username: str, password: str | None = None, **extra: Any) -> User:
        extra["role"] = Role.ROOT
        extra.setdefault("status", Status.ENABLED)
        return self.create_user(username, password, **extra)


class User(AbstractBaseUser):
    """A gateway user or a local account (docs/auth.md "Users").

    A gateway user is provisioned by ingestion; `id` is the gateway's user id (new-api
    `users.id`), below `LOCAL_ID_MIN`, and the gateway's events name it. A local account
    (`is_local`: createsuperuser, the admin, the demo login) has an id in the local range, which
    events may not carry, so no event creates, renames or logs in as one."""

    id = models.BigIntegerField(primary_key=True)
    username = models.CharField(max_length=64, unique=True)
    display_name = models.CharField(max_length=128, blank=True, default="")
    role = models.IntegerField(choices=Role.choices, default=Role.COMMON)
    status = models.IntegerField(choices=Status.choices, default=Status.ENABLED)
    group = models.CharField(max_length=64, blank=True, default="default")
    date_joined = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(null=True, blank=True)
    is_local = models.BooleanField(
        "local account",
        default=False,
        editable=False,
        help_text="Made here (createsuperuser, the admin), not by a gateway's events.",
    )

    objects: ClassVar[UserManager] = UserManager()

    USERNAME_FIELD = "username"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    class Meta:
        db_table = "users"
        ordering = ("id",)
        constraints = [
            models.CheckConstraint(condition=Q(role__in=Role.values), name="users_role_valid"),
            models.CheckConstraint(
                condition=Q(status__in=Status.values), name="users_status_valid"
            ),
            models.CheckConstraint(condition=Q(id__gt=0), name="users_id_positive"),
            # What lets ingestion refuse local accounts by the id alone, with no query: an event
            # may carry only ids below LOCAL_ID_MIN (logs.events).
            models.CheckConstraint(
                condition=Q(is_local=False) | Q(id__gte=LOCAL_ID_MIN, id__lte=LOCAL_ID_MAX),
                name="users_local_id_range",
            ),
        ]

    def __str__(self) -> str:
        return self.username

    # Django's auth machinery reads these; they are derived from the gateway's role and status.
    @property
    def is_active(self) -> bool:  # type: ignore[override]
        return self.status == Status.ENABLED

    @property
    def is_staff(self) -> bool:
        return self.role >= Role.ADMIN

    @property
    def is_superuser(self) -> bool:
        return self.role >= Role.ROOT

    # The Django admin is for operators: admins and roots may do everything there.
    def has_perm(self, perm: str, obj: object = None) -> bool:
        return self.is_active and self.is_staff

    def has_perms(self, perm_list: object, obj: object = None) -> bool:
        return self.is_active and self.is_staff

    def has_module_perms(self, app_label: str) -> bool:
        return self.is_active and self.is_staff

    @property
    def is_admin(self) -> bool:
        return self.role >= Role.ADMIN


class Scope(models.TextChoices):
    READ = "read", "read"
    INGEST = "ingest", "ingest"


def hash_token(raw: str) -> str:
    # Tokens are 256-bit random strings, so a fast hash is enough (no password stretching needed).
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


class AccessTokenQuerySet(models.QuerySet["AccessToken"]):
    def active(self) -> AccessTokenQuerySet:
        return self.filter(revoked_at__isnull=True)


class AccessToken(models.Model):
    """A credential for the API. The secret is shown once; only its SHA-256 is stored."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="access_tokens")
    name = models.CharField(max_length=64, blank=True, default="")
    scope = models.CharField(max_length=8, choices=Scope.choices, default=Scope.READ)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    prefix = models.CharField(
        max_length=12, editable=False, help_text="First characters, to recognise a token"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = AccessTokenQuerySet.as_manager()

    class Meta:
        db_table = "access_tokens"
        ordering = ("-created_at", "-id")
        constraints = [
            models.CheckConstraint(
                condition=Q(scope__in=Scope.values), name="access_tokens_scope_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name or 'token'} ({self.prefix}…, {self.scope})"

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None

    @staticmethod
    def generate_secret() -> str:
        return TOKEN_PREFIX + secrets.token_urlsafe(32)


class Channel(models.Model):
    """An upstream channel (account) of the gateway, named as the logs name it."""

    id = models.BigIntegerField(primary_key=True)
    name = models.CharField(max_length=128, blank=True, default="")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "channels"
        ordering = ("id",)
        constraints = [
            models.CheckConstraint(condition=Q(id__gte=0), name="channels_id_nonnegative")
        ]

    def __str__(self) -> str:
        return f"#{self.id} {self.name}".strip()
