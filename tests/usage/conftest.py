"""Fixtures of the statistics API tests: more callers (banned, ingest-only, session) and the
error shapes of each family."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, cast

import pytest

from accounts.models import AccessToken, Role, Scope, Status, User
from tests.conftest import ApiClient
from tests.factories import AccessTokenFactory, UserFactory


@pytest.fixture
def banned_api(db: None) -> ApiClient:
    """A disabled user (id 1002) whose read token is still valid."""
    user = cast(User, UserFactory(id=1002, username="banned", status=Status.DISABLED))
    return ApiClient(user, cast(AccessToken, AccessTokenFactory(user=user, scope=Scope.READ)))


@pytest.fixture
def ingest_only_api(db: None) -> ApiClient:
    """A common user (id 1003) whose only credential is an ingest token."""
    user = cast(User, UserFactory(id=1003, username="writer", role=Role.COMMON))
    return ApiClient(user, cast(AccessToken, AccessTokenFactory(user=user, scope=Scope.INGEST)))


def at(text: str) -> int:
    """Unix seconds of an ISO 8601 instant: `at("2025-03-10T12:00:00Z")`."""
    return int(datetime.fromisoformat(text).timestamp())


def family_error(family: str, status: int, message: str) -> Any:
    """The error body each family answers with (the r9s request id is checked separately)."""
    if family == "newapi":
        return {"success": False, "message": message}
    if family == "sub2api":
        return {"code": status, "message": message}
    if family == "acedata":
        return {"detail": message}
    return {"meta": {"code": status, "message": message, "request_id": AnyUuid()}, "data": None}


class AnyUuid:
    def __eq__(self, other: object) -> bool:
        try:
            uuid.UUID(str(other))
        except ValueError:
            return False
        return True

    def __repr__(self) -> str:
        return "<any uuid>"
