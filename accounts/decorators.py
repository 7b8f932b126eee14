"""Decorators for the HTML pages."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib.auth.decorators import user_passes_test


def _enabled(user: Any) -> bool:
    return bool(user.is_authenticated and user.is_active)


def login_required(view: Callable[..., Any]) -> Callable[..., Any]:
    """Django's `login_required`, but a user disabled since they logged in is sent to the login
    page too: sessions keep identifying such users (`accounts.backends`) so that the API can
    answer them "User has been banned", and the pages must not serve them."""
    return user_passes_test(_enabled)(view)
