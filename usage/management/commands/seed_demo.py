"""`python manage.py seed_demo [--days 30] [--events 50000] [--seed 42] [--now UNIX]`

Feeds realistic gateway events (usage/demo.py) through the real validation and ingest service,
in batches of 1000, with a progress bar on stderr. Repeatable: the request ids depend only on
the seed and the event's position, so running it again stores nothing twice."""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser, OutputWrapper

from logs.events import MAX_BATCH, LogEvent, event_parse
from usage.demo import DemoGenerator
from usage.services import logs_ingest


class ProgressBar:
    """`[#########...........]  45% 22,500/50,000 events` on one line (a new line per 10 % when
    stderr is not a terminal, so that logs stay readable)."""

    width = 30

    def __init__(self, total: int, stream: OutputWrapper) -> None:
        self.total = max(total, 1)
        self.stream = stream
        self.interactive = stream.isatty()
        self.last_decile = -1

    def update(self, done: int) -> None:
        share = min(done / self.total, 1.0)
        filled = int(share * self.width)
        line = (
            f"[{'#' * filled}{'.' * (self.width - filled)}] {share:4.0%} "
            f"{done:,}/{self.total:,} events"
        )
        if self.interactive:
            self.stream.write(f"\r{line}", style_func=str, ending="")
            self.stream.flush()
        elif int(share * 10) > self.last_decile:
            self.last_decile = int(share * 10)
            self.stream.write(line, style_func=str)

    def finish(self) -> None:
        if self.interactive:
            self.stream.write("", style_func=str)


class Command(BaseCommand):
    help = "Load a realistic, repeatable usage history through the ingest service."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--days", type=float, default=30, help="history length (30)")
        parser.add_argument("--events", type=int, default=50_000, help="events (50000)")
        parser.add_argument("--seed", type=int, default=42, help="random seed (42)")
        parser.add_argument(
            "--users", type=int, default=10, help="gateway users (10 named ones; more are "
            "added as user10001, ...)"
        )  # fmt: skip
        parser.add_argument(
            "--now", type=int, default=None, help="end of the history, Unix seconds (now)"
        )
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["events"] < 0 or options["days"] <= 0 or options["users"] < 10:
            raise CommandError("--events must be >= 0, --days > 0 and --users >= 10")
        now = options["now"] if options["now"] is not None else int(time.time())
        generator = DemoGenerator(
            seed=options["seed"], days=options["days"], events=options["events"], now=now,
            users=options["users"],
        )  # fmt: skip
        progress = None if options["no_progress"] else ProgressBar(options["events"], self.stderr)
        accepted = duplicates = rejected = done = 0
        first_problem = ""
        batch: list[Any] = []

        def flush() -> None:
            nonlocal accepted, duplicates, rejected, done, first_problem
            checked_at = int(time.time())
            events: list[LogEvent] = []
            for raw in batch:
                parsed = event_parse(raw, now=checked_at)
                if isinstance(parsed, LogEvent):
                    events.append(parsed)
                else:
                    rejected += 1
                    first_problem = first_problem or "; ".join(parsed)
            result = logs_ingest(events=events)
            accepted += result.accepted
            duplicates += result.duplicates
            done += len(batch)
            batch.clear()
            if progress:
                progress.update(done)

        for raw in generator.events():
            batch.append(raw)
            if len(batch) == MAX_BATCH:
                flush()
        if batch:
            flush()
        if progress:
            progress.finish()
        self.stdout.write(
            f"Demo data (seed {options['seed']}, {options['days']:g} days): {accepted:,} events "
            f"stored, {duplicates:,} already there, {rejected:,} rejected."
        )
        if first_problem:
            self.stderr.write(f"First rejection: {first_problem}")
