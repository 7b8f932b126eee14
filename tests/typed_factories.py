"""The factories of tests/factories.py with the types mypy cannot infer from factory-boy's
metaclass (calling a factory class returns a model instance, not the factory)."""

from __future__ import annotations

from typing import Any, cast

from accounts.models import AccessToken, User
from tests.factories import AccessTokenFactory, UserFactory


def user_make(**fields: Any) -> User:
    return cast(User, UserFactory(**fields))


def token_make(**fields: Any) -> tuple[AccessToken, str]:
    """A stored token and its secret."""
    token = cast(Any, AccessTokenFactory(**fields))
    return cast(AccessToken, token), str(token.secret)
