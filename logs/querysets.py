"""Chainable filters over the log table. Timestamps are Unix seconds; bounds are inclusive."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db import models

if TYPE_CHECKING:
    from logs.models import Log  # noqa: F401


class LogQuerySet(models.QuerySet["Log"]):
    def for_user(self, user_id: int) -> LogQuerySet:
        return self.filter(user_id=user_id)

    def between(self, start: int | None = None, end: int | None = None) -> LogQuerySet:
        """Logs with start <= created_at <= end; None (or 0, new-api's "unset") is unbounded."""
        qs = self
        if start:
            qs = qs.filter(created_at__gte=start)
        if end:
            qs = qs.filter(created_at__lte=end)
        return qs

    def of_type(self, log_type: int | None) -> LogQuerySet:
        """0 or None means all types (new-api)."""
        return self.filter(type=log_type) if log_type else self

    def newest_first(self) -> LogQuerySet:
        return self.order_by("-created_at", "-id")
