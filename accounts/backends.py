"""The session login backend."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.backends import ModelBackend

from accounts.models import User


class GatewayUserBackend(ModelBackend):
    """Django's ModelBackend, except for sessions of users disabled after they logged in.

    A password login still refuses a disabled user (ModelBackend.authenticate). But ModelBackend
    would also turn an existing session of a since-disabled user into an anonymous one; new-api
    identifies that user and refuses them with 403 "User has been banned", and so do we
    (`accounts.permissions.GatewayPermission`; the pages check `user.is_active`)."""

    def get_user(self, user_id: Any) -> User | None:
        return User.objects.filter(pk=user_id).first()

    async def aget_user(self, user_id: Any) -> User | None:
        return await User.objects.filter(pk=user_id).afirst()
