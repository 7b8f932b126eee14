"""`python manage.py purge_logs`: apply LOG_RETENTION_DAYS (run it from cron or a systemd timer,
e.g. hourly; docs/logs-api.md)."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from logs.events import DAY
from logs.models import Log
from logs.services import DELETE_BATCH, logs_delete_before


class Command(BaseCommand):
    help = (
        "Delete the raw logs older than LOG_RETENTION_DAYS days (created_at < now - days * "
        "86400), in short batches; usage statistics are kept. Does nothing when the setting is "
        "unset. Safe to interrupt and to run again."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--days", type=int, help="Retention in days (default: LOG_RETENTION_DAYS)."
        )
        parser.add_argument(
            "--batch-size", type=int, default=DELETE_BATCH, help="Rows deleted per transaction."
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="Count what would be deleted, delete nothing."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        days = options["days"] if options["days"] is not None else settings.LOG_RETENTION_DAYS
        if days is None:
            self.stdout.write("LOG_RETENTION_DAYS is not set: logs are kept forever, none deleted.")
            return
        if days < 1:
            raise CommandError(f"the retention must be at least 1 day, got {days}")
        if options["batch_size"] < 1:
            raise CommandError("--batch-size must be at least 1")
        cutoff = int(time.time()) - days * DAY
        when = datetime.fromtimestamp(cutoff, tz=UTC).isoformat(timespec="seconds")
        if options["dry_run"]:
            count = Log.objects.filter(created_at__lt=cutoff).count()
            self.stdout.write(f"would delete {count} logs created before {when} ({days} days)")
            return
        progress = [0]
        try:
            deleted = logs_delete_before(
                before=cutoff,
                batch_size=options["batch_size"],
                on_batch=lambda total: progress.__setitem__(0, total),
            )
        except KeyboardInterrupt:
            raise CommandError(
                f"interrupted after deleting {progress[0]} logs (each batch is committed); "
                "run purge_logs again to finish"
            ) from None
        self.stdout.write(f"deleted {deleted} logs created before {when} ({days} days)")
