from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from logs.partitions import (
    DAY,
    MAXVALUE,
    MINVALUE,
    is_partitioned,
    partitions_drop_before,
    partitions_ensure,
    partitions_list,
)


def _when(ts: int) -> str:
    if ts in (MINVALUE, MAXVALUE):
        return "unbounded"
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%SZ")


class Command(BaseCommand):
    help = (
        "PostgreSQL: create the log partitions for the coming days and, with "
        "--drop-before-retention, apply LOG_RETENTION_DAYS by dropping the partitions that lie "
        "entirely before the cut-off. Run it daily (docs/partitioning.md). Does nothing on SQLite."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--ahead",
            type=int,
            default=7,
            metavar="DAYS",
            help="create partitions up to this many days from now (default 7; ingest creates "
            "any partition still missing, and every all-time query plans the empty ones too)",
        )
        parser.add_argument(
            "--drop-before-retention",
            action="store_true",
            help="drop the partitions lying entirely before now - LOG_RETENTION_DAYS",
        )
        parser.add_argument("--list", action="store_true", help="print the partitions afterwards")

    def handle(self, *args: Any, **options: Any) -> None:
        ahead = options["ahead"]
        if ahead < 0:
            raise CommandError("--ahead must be 0 or more days")
        if not is_partitioned():
            self.stdout.write("The logs table is not partitioned (not PostgreSQL): nothing to do.")
            return
        now = int(time.time())
        end = now + ahead * DAY
        created = partitions_ensure(start=now, end=end)
        reach = next(p.upper for p in partitions_list() if p.lower <= end < p.upper)
        self.stdout.write(
            f"Created {len(created)} partition(s)"
            + (f": {', '.join(created)}" if created else "")
            + f"; partitions reach {_when(reach)}."
        )
        if options["drop_before_retention"]:
            self._apply_retention(now)
        if options["list"]:
            for partition in partitions_list():
                rows = "?" if partition.rows is None else f"~{partition.rows}"
                self.stdout.write(
                    f"{partition.name}  {_when(partition.lower)} .. {_when(partition.upper)}  "
                    f"{rows} rows"
                )

    def _apply_retention(self, now: int) -> None:
        days = settings.LOG_RETENTION_DAYS
        if not days:
            self.stdout.write(
                "LOG_RETENTION_DAYS is unset: logs are kept forever, nothing dropped."
            )
            return
        cut = now - days * DAY
        before = {p.name for p in partitions_list()}
        rows = partitions_drop_before(before=cut)
        dropped = sorted(before - {p.name for p in partitions_list()})
        self.stdout.write(
            f"Dropped {len(dropped)} partition(s) lying entirely before {_when(cut)} "
            f"({rows} logs)" + (f": {', '.join(dropped)}" if dropped else "") + "."
        )
