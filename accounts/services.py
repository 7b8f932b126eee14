"""Writes of the accounts app."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from accounts.models import AccessToken, Scope, User, hash_token


@transaction.atomic
def access_token_create(
    *, user: User, scope: str = Scope.READ, name: str = ""
) -> tuple[AccessToken, str]:
    """Create a token for `user`. Returns the row and the secret, which is not stored and cannot
    be shown again."""
    if scope not in Scope.values:
        raise ValueError(f"scope must be one of {', '.join(Scope.values)}")
    secret = AccessToken.generate_secret()
    token = AccessToken.objects.create(
        user=user, scope=scope, name=name[:64], key_hash=hash_token(secret), prefix=secret[:10]
    )
    return token, secret


def access_token_revoke(*, token: AccessToken) -> None:
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
