"""Writes to the log table other than ingestion (`usage.services.logs_ingest`, which writes the
aggregates in the same transaction)."""

from __future__ import annotations

import time
from collections.abc import Callable

from django.db import transaction

from logs.models import Log
from logs.partitions import partitions_drop_before
from logs.retention import retention_advance

DELETE_BATCH = 5000


def logs_delete_before(
    *,
    before: int,
    batch_size: int = DELETE_BATCH,
    on_batch: Callable[[int], None] | None = None,
) -> int:
    """Delete the logs with `created_at < before` (strict, Unix seconds); returns how many.

    Callers: `DELETE /api/log/`, `manage.py purge_logs` (LOG_RETENTION_DAYS) and the Django
    admin action. Deliberately NOT one transaction: each batch of `batch_size` rows, oldest
    first, is its own short transaction, so no lock is held for long and an interruption (a
    killed worker, Ctrl-C) leaves every committed batch deleted and the rest intact; running it
    again finishes the job. Only the `logs` table is touched: usage aggregates and the
    idempotency keys outlive the raw logs. `on_batch` receives the running total after each
    batch (progress reporting).

    On PostgreSQL the partitions lying entirely before `before` are dropped whole first
    (`logs.partitions.partitions_drop_before`: seconds instead of minutes for a day of logs, and
    no long lock); the batches then only touch the partition that straddles the cut-off.

    Before anything is deleted, the retention mark `logs_before` is raised to `before` and
    committed (`logs.retention`): the log stat then sums raw logs, not rollups, before it. A
    cut-off in the future is marked only up to shortly after now, so the mark is raised again
    before each batch: logs ingested meanwhile are deleted too."""
    if batch_size < 1:
        raise ValueError("batch_size must be >= 1")
    retention_advance(logs_before=before)
    total = partitions_drop_before(before=before)
    if total and on_batch is not None:
        on_batch(total)
    while True:
        if before > time.time():
            retention_advance(logs_before=before)
        with transaction.atomic():
            oldest = (
                Log.objects.filter(created_at__lt=before)
                .order_by("created_at", "id")
                .values("id")[:batch_size]
            )
            # DELETE ... WHERE created_at < T AND id IN (SELECT id ... LIMIT n): one statement,
            # served by the (created_at, id) index (the outer created_at lets a time-partitioned
            # table skip the newer partitions); Log has no dependants, so Django deletes
            # without fetching the rows first.
            deleted, _ = Log.objects.filter(created_at__lt=before, id__in=oldest).delete()
        total += deleted
        if on_batch is not None:
            on_batch(total)
        if deleted < batch_size:
            return total
