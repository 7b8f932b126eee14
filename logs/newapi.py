"""The new-api family's edge moved to `accounts.newapi` (accounts' own `/api/user/self` speaks it
and a lower app cannot import a higher one). Import from there; this name stays for old imports."""

from accounts.newapi import (
    NEW_API_ERROR,
    NewApiError,
    NewApiView,
    envelope_schema,
    fail,
    new_api_exception_handler,
    ok,
    or_error,
)

__all__ = [
    "NEW_API_ERROR",
    "NewApiError",
    "NewApiView",
    "envelope_schema",
    "fail",
    "new_api_exception_handler",
    "ok",
    "or_error",
]
