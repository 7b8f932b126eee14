"""How far back deletions have reached: the marks of `logs.models.RetentionMark`.

The usage rollups count every log ever ingested until `purge_usage` deletes them; the logs are
deleted on their own schedule. A read that must count what the LOGS hold (the log stat) can use
the rollups only where neither side lost anything: from `retention_marks().since` on. Every
path that deletes logs or rollup rows calls `retention_advance` first, outside any transaction
of its own, so the mark is committed before the first row goes (a crash in between leaves the
mark ahead of the data, which only costs reads of raw logs, never a wrong sum). Inside a
caller's transaction the mark and the deletion commit together.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from django.db import connection

from logs.events import MAX_FUTURE_SECONDS
from logs.models import RetentionMark

# Ingest refuses created_at past now + MAX_FUTURE_SECONDS, so nothing at or after now + this
# exists when a deletion starts (an hour of slack for clocks that disagree between workers): a
# mark is capped there, and `DELETE /api/log/?target_timestamp=<far future>` does not make every
# later stat read raw logs.
FUTURE_BOUND = MAX_FUTURE_SECONDS + 3600


@dataclass(frozen=True, slots=True)
class RetentionMarks:
    logs_before: int = 0
    rollups_before: int = 0

    @property
    def since(self) -> int:
        """The instant from which the rollups count exactly the logs the table holds."""
        return max(self.logs_before, self.rollups_before)


def retention_marks() -> RetentionMarks:
    """The current marks (zeros before the first deletion). One query."""
    row = RetentionMark.objects.filter(pk=1).values_list("logs_before", "rollups_before").first()
    return RetentionMarks(*row) if row else RetentionMarks()


def retention_advance(*, logs_before: int = 0, rollups_before: int = 0) -> None:
    """Raise the marks to at least these values (Unix seconds; a mark never goes down, 0 leaves
    it alone). Call it before deleting: logs with `created_at < logs_before`, rollup rows with
    `bucket < rollups_before`. One statement, safe against concurrent callers (an upsert that
    keeps the larger value)."""
    cap = int(time.time()) + FUTURE_BOUND
    logs_before, rollups_before = min(logs_before, cap), min(rollups_before, cap)
    if logs_before <= 0 and rollups_before <= 0:
        return
    table = RetentionMark._meta.db_table
    larger = "GREATEST" if connection.vendor == "postgresql" else "MAX"
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (id, logs_before, rollups_before) VALUES (1, %s, %s) "  # noqa: S608
            f"ON CONFLICT (id) DO UPDATE SET "
            f"logs_before = {larger}({table}.logs_before, excluded.logs_before), "
            f"rollups_before = {larger}({table}.rollups_before, excluded.rollups_before)",
            [max(logs_before, 0), max(rollups_before, 0)],
        )
