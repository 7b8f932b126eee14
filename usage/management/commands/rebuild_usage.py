"""`python manage.py rebuild_usage [--since DATE|TS] [--chunk-days N]`: recompute the usage
rollups from the raw logs (docs/aggregates.md)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from usage.services import usage_rebuild


def instant_parse(value: str) -> int:
    """Unix seconds, or a date / date-time in ISO 8601 (naive means UTC)."""
    text = value.strip()
    if text.lstrip("-").isdigit():
        return int(text)
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise CommandError(
            f"--since {value!r}: expected Unix seconds or an ISO date such as 2025-01-31"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return int(parsed.timestamp())


def day_text(ts: int) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d")


class Command(BaseCommand):
    help = (
        "Recompute the usage rollups from the raw logs, from --since (aligned down to a UTC "
        "midnight; default: the oldest day whose logs are all still stored). Rollup rows of "
        "days whose logs were purged are never touched."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--since", type=instant_parse, default=None, metavar="DATE|TS")
        parser.add_argument("--chunk-days", type=int, default=1, metavar="N")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["chunk_days"] < 1:
            raise CommandError("--chunk-days must be >= 1")
        verbose = options["verbosity"] >= 2

        def progress(lo: int, hi: int) -> None:
            if verbose:
                self.stdout.write(f"rebuilt {day_text(lo)} .. {day_text(hi - 1)}")

        result = usage_rebuild(
            since=options["since"], chunk_days=options["chunk_days"], progress=progress
        )
        if result.since is None or result.until is None:
            self.stdout.write("No raw logs: nothing to rebuild from (the rollups are kept).")
            return
        if result.clamped:
            self.stderr.write(
                f"--since moved to {day_text(result.since)}: the logs before it were purged, "
                "so the rollups of those days cannot be recomputed (they are kept)."
            )
        self.stdout.write(
            f"Rebuilt {day_text(result.since)} .. {day_text(result.until - 1)} (UTC): "
            f"{result.deleted} rollup rows deleted, {result.inserted} inserted."
        )
