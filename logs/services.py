"""Writes of the logs app (ingestion lives in usage.services)."""

from __future__ import annotations

from logs.models import Log

DELETE_BATCH = 5000


def logs_delete_before(*, before: int, batch_size: int = DELETE_BATCH) -> int:
    """Delete the logs with created_at < `before` (Unix seconds, strict), `batch_size` rows per
    statement so that no single transaction holds a huge lock, and return how many were
    deleted. Usage aggregates are not touched (they outlive the raw logs)."""
    deleted = 0
    while True:
        ids = list(
            Log.objects.filter(created_at__lt=before)
            .order_by()
            .values_list("id", flat=True)[:batch_size]
        )
        if not ids:
            return deleted
        count, _ = Log.objects.filter(id__in=ids).delete()
        deleted += count
