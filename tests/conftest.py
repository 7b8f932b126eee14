"""Shared fixtures: users of each role with read tokens, an API client that authenticates like a
gateway dashboard does (Bearer token + New-Api-User), and ingestion through the real service."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import pytest
from django.db import connection
from django.test import Client

from accounts.models import AccessToken, Role, Scope, User
from logs.events import LogEvent
from tests.factories import AccessTokenFactory, UserFactory
from usage.services import IngestResult, logs_ingest


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """`@pytest.mark.postgres(reason)`: the test is skipped on any other database."""
    if connection.vendor == "postgresql":
        return
    for item in items:
        marker = item.get_closest_marker("postgres")
        if marker is not None:
            reason = marker.args[0] if marker.args else "PostgreSQL only"
            item.add_marker(pytest.mark.skip(reason=f"needs PostgreSQL: {reason}"))


@pytest.fixture(autouse=True)
def fast_password_hashing(settings: Any) -> None:
    """Users get passwords (the factory, logins); PBKDF2's million iterations cost ~0.3 s per
    user created, and no test needs them."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


class ApiClient:
    """A Django test client that sends a token and, for the new-api family, New-Api-User."""

    def __init__(self, user: User | None, token: AccessToken | None) -> None:
        self.user = user
        self.token = token
        self.client = Client()

    def headers(self, new_api_user: bool = True, **extra: str) -> dict[str, str]:
        headers: dict[str, str] = {}
        if self.token is not None:
            headers["Authorization"] = f"Bearer {self.token.secret}"  # type: ignore[attr-defined]
        if new_api_user and self.user is not None:
            headers["New-Api-User"] = str(self.user.id)
        headers.update(extra)
        return headers

    def get(self, path: str, data: dict[str, Any] | None = None, **kwargs: Any) -> Any:
        new_api_user = kwargs.pop("new_api_user", True)
        return self.client.get(path, data, headers=self.headers(new_api_user), **kwargs)

    def post(self, path: str, data: Any = None, **kwargs: Any) -> Any:
        new_api_user = kwargs.pop("new_api_user", True)
        kwargs.setdefault("content_type", "application/json")
        return self.client.post(path, data, headers=self.headers(new_api_user), **kwargs)

    def delete(self, path: str, **kwargs: Any) -> Any:
        new_api_user = kwargs.pop("new_api_user", True)
        return self.client.delete(path, headers=self.headers(new_api_user), **kwargs)


def _client_for(role: int, user_id: int, username: str, scope: str = Scope.READ) -> ApiClient:
    user = UserFactory.create(id=user_id, username=username, role=role)
    token = AccessTokenFactory.create(user=user, scope=scope)
    return ApiClient(user, token)


@pytest.fixture
def user_api(db: None) -> ApiClient:
    """A common user (id 1000, "user1000") with a read token."""
    return _client_for(Role.COMMON, 1000, "user1000")


@pytest.fixture
def other_api(db: None) -> ApiClient:
    """A second common user (id 1001, "user1001")."""
    return _client_for(Role.COMMON, 1001, "user1001")


@pytest.fixture
def admin_api(db: None) -> ApiClient:
    """An admin (id 1, "admin") with a read token."""
    return _client_for(Role.ADMIN, 1, "admin")


@pytest.fixture
def root_api(db: None) -> ApiClient:
    return _client_for(Role.ROOT, 2, "root")


@pytest.fixture
def ingest_api(db: None) -> ApiClient:
    """A gateway's ingest credential (owned by a root user, id 3)."""
    return _client_for(Role.ROOT, 3, "gateway", scope=Scope.INGEST)


@pytest.fixture
def ingest(db: None) -> Callable[[Iterable[LogEvent]], IngestResult]:
    """Store events through the real ingest service (logs and aggregates in one transaction)."""

    def _ingest(events: Iterable[LogEvent]) -> IngestResult:
        return logs_ingest(events=list(events))

    return _ingest
