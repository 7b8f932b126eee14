"""`python manage.py verify_usage [--since DATE|TS]`: compare the usage rollups with the raw logs;
exit status 1 on any difference (docs/aggregates.md)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from usage.management.commands.rebuild_usage import day_text, instant_parse
from usage.rollups import MEASURES
from usage.selectors import RollupDifference, usage_verify

SHOWN = 50


def _sums(values: tuple[int, ...] | None) -> str:
    if values is None:
        return "no row"
    return ", ".join(f"{name}={value}" for name, value in zip(MEASURES, values, strict=True))


def difference_text(difference: RollupDifference) -> str:
    dims = ", ".join(f"{name}={value!r}" for name, value in difference.dims.items())
    return (
        f"{difference.table} span={difference.span} bucket={difference.bucket} "
        f"({day_text(difference.bucket)}) {dims}\n"
        f"    rollup: {_sums(difference.rollup)}\n    logs:   {_sums(difference.logs)}"
    )


class Command(BaseCommand):
    help = (
        "Compare every usage rollup row with a GROUP BY over the raw logs, from --since (default: "
        "the oldest day whose logs are all still stored). Exits 1 on any difference."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--since", type=instant_parse, default=None, metavar="DATE|TS")
        parser.add_argument("--chunk-days", type=int, default=7, metavar="N")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["chunk_days"] < 1:
            raise CommandError("--chunk-days must be >= 1")
        result = usage_verify(since=options["since"], chunk_days=options["chunk_days"])
        if result.since is None or result.until is None:
            self.stdout.write("No raw logs: nothing to compare the rollups with.")
            return
        span = f"{day_text(result.since)} .. {day_text(result.until - 1)} (UTC)"
        if not result.differences and not result.beyond_bounds:
            self.stdout.write(f"OK: {result.rows} rollup rows match the raw logs, {span}.")
            return
        for difference in result.differences[:SHOWN]:
            self.stdout.write(difference_text(difference))
        more = len(result.differences) - SHOWN
        if more > 0:
            self.stdout.write(f"... and {more} more")
        problems = []
        if result.differences:
            problems.append(f"{len(result.differences)} rollup rows differ from the raw logs")
        if result.beyond_bounds:
            ids = ", ".join(str(log_id) for log_id in result.beyond_bounds_ids)
            shown = len(result.beyond_bounds_ids)
            self.stdout.write(
                f"{result.beyond_bounds} logs hold counters past the ingest bounds (stored "
                f"before them; docs/ingest.md, Bounds), ids {ids}"
                + (" ..." if result.beyond_bounds > shown else "")
            )
            problems.append(
                f"{result.beyond_bounds} logs are past the ingest bounds (correct or delete "
                "them first)"
            )
        raise CommandError(
            f"{'; '.join(problems)}, {span}; "
            "python manage.py rebuild_usage --since <day> recomputes the rollups."
        )
