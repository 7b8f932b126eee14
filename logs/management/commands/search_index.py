from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from logs.search_index import (
    search_index_create,
    search_index_drop,
    search_index_status,
)


class Command(BaseCommand):
    help = (
        "PostgreSQL: show, build (--create) or drop (--drop) the optional trigram index that "
        "makes a log search for a rare keyword fast, at about twice the database CPU per "
        "ingested log (docs/logs-api.md, Search). --create blocks neither ingest nor reads and "
        "may be run again after an interruption."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        action = parser.add_mutually_exclusive_group()
        action.add_argument("--create", action="store_true", help="build the index")
        action.add_argument("--drop", action="store_true", help="drop the index")

    def handle(self, *args: Any, **options: Any) -> None:
        if search_index_status() is None:
            if options["create"]:
                raise CommandError("the trigram search index needs PostgreSQL")
            self.stdout.write("Not PostgreSQL: there is no search index; nothing to do.")
            return
        if options["create"]:
            started = time.monotonic()
            indexed = search_index_create()
            self.stdout.write(
                f"Indexed {len(indexed)} partition(s) in {time.monotonic() - started:.1f} s"
                + (f": {', '.join(indexed)}" if indexed else "")
                + "."
            )
        elif options["drop"]:
            search_index_drop()
            self.stdout.write("Dropped the search index.")
        self._report()

    def _report(self) -> None:
        status = search_index_status()
        if status is None or not status.exists:
            self.stdout.write("Search index: absent (rare keywords scan the whole table).")
            return
        state = "valid" if status.valid else "INVALID (run --create to finish it)"
        self.stdout.write(
            f"Search index: {state}; {status.partitions_indexed} of {status.partitions} "
            f"partition(s) indexed; {status.size_bytes / 2**20:.1f} MiB."
        )
