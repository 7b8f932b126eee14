"""factory-boy factories for users, access tokens and log events."""

from __future__ import annotations

import time
from typing import Any

import factory

from accounts.models import AccessToken, Role, Scope, Status, User, hash_token
from logs.events import LogEvent


class UserFactory(factory.django.DjangoModelFactory[User]):
    class Meta:
        model = User
        django_get_or_create = ("id",)

    id = factory.Sequence(lambda n: 1000 + n)
    username = factory.LazyAttribute(lambda u: f"user{u.id}")
    role = Role.COMMON
    status = Status.ENABLED
    password = factory.django.Password("pw-for-tests-1")


class AccessTokenFactory(factory.django.DjangoModelFactory[AccessToken]):
    """`AccessTokenFactory(user=u, scope="read")`; the secret is on `token.secret`."""

    class Meta:
        model = AccessToken

    user = factory.SubFactory(UserFactory)
    name = factory.Sequence(lambda n: f"token-{n}")
    scope = Scope.READ

    @classmethod
    def _create(cls, model_class: type[AccessToken], *args: Any, **kwargs: Any) -> AccessToken:
        secret = AccessToken.generate_secret()
        kwargs["key_hash"] = hash_token(secret)
        kwargs["prefix"] = secret[:10]
        token = super()._create(model_class, *args, **kwargs)
        token.secret = secret  # type: ignore[attr-defined]
        return token


def log_event(**fields: Any) -> LogEvent:
    """A valid consume event with sensible defaults; override any field."""
    defaults: dict[str, Any] = {
        "created_at": int(time.time()) - 60,
        "user_id": 1000,
        "username": "user1000",
        "model_name": "gpt-4o",
        "token_id": 1,
        "token_name": "default-key",
        "quota": 1000,
        "prompt_tokens": 100,
        "completion_tokens": 50,
    }
    defaults.update(fields)
    return LogEvent(**defaults)
