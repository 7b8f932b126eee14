"""`python manage.py purge_usage [--days N]`: delete usage rollup rows older than
USAGE_RETENTION_DAYS (docs/aggregates.md). Schedule it daily, like purge_logs."""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from usage.buckets import DAY
from usage.management.commands.rebuild_usage import day_text
from usage.services import usage_purge


class Command(BaseCommand):
    help = (
        "Delete the usage rollup rows of the UTC days that ended more than --days (default "
        "USAGE_RETENTION_DAYS) days ago, a day at a time. Raw logs are not touched."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--days", type=int, default=None, metavar="N")
        parser.add_argument("--chunk-days", type=int, default=1, metavar="N")

    def handle(self, *args: Any, **options: Any) -> None:
        days = options["days"] if options["days"] is not None else settings.USAGE_RETENTION_DAYS
        if days is None:
            self.stdout.write("USAGE_RETENTION_DAYS is not set: usage aggregates are kept forever.")
            return
        if days < 1:
            raise CommandError("the retention must be at least 1 day")
        if options["chunk_days"] < 1:
            raise CommandError("--chunk-days must be >= 1")
        before = int(time.time()) - days * DAY
        deleted = usage_purge(before=before, chunk_days=options["chunk_days"])
        cutoff = before - before % DAY
        self.stdout.write(f"Deleted {deleted} usage rollup rows before {day_text(cutoff)} (UTC).")
