"""Latency of the log search (`logs_search`, GET /api/log/search and /self/search) on a loaded
PostgreSQL database.

    python -m bench load --rows 1000000 --fresh --pg-url postgres://postgres@127.0.0.1:5432/tl_x_bench
    python -m bench search --pg-url postgres://postgres@127.0.0.1:5432/tl_x_bench

Calls the selector in-process (no HTTP: the search's cost is its one query) `--repeat` times per
scenario after `--warmup` untimed calls, and reports the median and p95 in ms, the number of
logs found, and which indexes the plan reads. The scenarios are picked from the data: the
busiest user, a request id of a log in the oldest tenth of the table (one match that a
newest-first scan reaches only at the end), keywords that match nothing, and 2-character
keywords (too short for a trigram). Read-only: works on a shared database too."""

from __future__ import annotations

import argparse
import os
import re
import time
from dataclasses import dataclass
from typing import Any

from bench.core import Report, log, median, percentile

SUITE = "search"
DEFAULT_PG_URL = os.environ.get(
    "BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432/tl_search_bench"
)
PLAN_INDEX = re.compile(r"(?:Index (?:Only )?Scan(?: Backward)? using|Bitmap Index Scan on) (\S+)")
COLUMNS = ["scenario", "keyword", "found", "median_ms", "p95_ms", "indexes"]


@dataclass(frozen=True)
class Scenario:
    name: str
    keyword: str
    user_id: int | None = None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--pg-url", default=DEFAULT_PG_URL, help="a loaded database (read only)")
    parser.add_argument("--repeat", type=int, default=20, help="timed calls per scenario")
    parser.add_argument("--warmup", type=int, default=2, help="untimed calls per scenario")
    parser.add_argument("--only", help="run the scenarios whose name contains this")


def scenarios() -> list[Scenario]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT user_id FROM logs GROUP BY user_id ORDER BY count(*) DESC LIMIT 1")
        heavy = int(cursor.fetchone()[0])
        cursor.execute("SELECT min(created_at), max(created_at) FROM logs")
        low, high = cursor.fetchone()
        old = low + (high - low) // 10
        # One old log of anyone, and one of the busiest user: their request ids are the "rare"
        # keywords (a 16-character piece of the middle, as a person would paste it).
        cursor.execute(
            "SELECT request_id FROM logs WHERE created_at >= %s AND request_id <> '' "
            "ORDER BY created_at, id LIMIT 1",
            [old],
        )
        rare = cursor.fetchone()[0]
        cursor.execute(
            "SELECT request_id, username FROM logs WHERE user_id = %s AND created_at >= %s "
            "AND request_id <> '' ORDER BY created_at, id LIMIT 1",
            [heavy, old],
        )
        heavy_rare, heavy_name = cursor.fetchone()
    middle = slice(4, 20)
    return [
        Scenario("admin, common (gpt)", "gpt"),
        Scenario("admin, medium (rate limit)", "Rate limit"),
        Scenario("admin, rare (old request id)", rare[middle]),
        Scenario("admin, nothing", "no-such-keyword"),
        Scenario("admin, 2 chars, common", "o3"),
        Scenario("admin, 2 chars, nothing", "zq"),
        Scenario("self heavy, common (gpt)", "gpt", heavy),
        Scenario("self heavy, rare (old request id)", heavy_rare[middle], heavy),
        Scenario("self heavy, nothing", "no-such-keyword", heavy),
        Scenario("self heavy, own username", heavy_name, heavy),
        Scenario("self heavy, 2 chars, common", "o3", heavy),
    ]


def plan_indexes(sql: str) -> str:
    """The distinct indexes the plan of `sql` reads (or "seq scan")."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN {sql}")
        text = "\n".join(row[0] for row in cursor.fetchall())
    # Partition indexes are named <partition>_<columns>_idx (or _search_trgm): drop the
    # partition's name, and call the trigram index's partitions "trigram".
    names = sorted(
        {
            "trigram" if "upper_upper1" in name or "search_trgm" in name else name
            for name in (
                re.sub(r"^logs_p[0-9_]+_", "", found) for found in PLAN_INDEX.findall(text)
            )
        }
    )
    if "Seq Scan" in text:
        names.append("seq scan")
    return ", ".join(names)


def measure(scenario: Scenario, args: argparse.Namespace) -> dict[str, Any]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from logs.selectors import logs_search

    def call() -> int:
        return len(logs_search(keyword=scenario.keyword, user_id=scenario.user_id))

    with CaptureQueriesContext(connection) as queries:
        found = call()
    for _ in range(max(0, args.warmup - 1)):
        call()
    samples = []
    for _ in range(args.repeat):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    indexes = plan_indexes(queries.captured_queries[-1]["sql"]) if queries.captured_queries else ""
    row = {
        "scenario": scenario.name,
        "keyword": scenario.keyword,
        "found": found,
        "median_ms": round(median(samples), 1),
        "p95_ms": round(percentile(samples, 95), 1),
        "indexes": indexes,
    }
    log(f"[search] {row}")
    return row


def run(args: argparse.Namespace) -> Report:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ["DATABASE_URL"] = args.pg_url
    import django

    django.setup()
    from logs.search_index import search_index_status

    status = search_index_status()
    index = "absent"
    if status is not None and status.exists:
        index = f"{'valid' if status.valid else 'INVALID'}, {status.size_bytes / 2**20:.0f} MiB"
    log(f"[search] trigram search index: {index}")
    report = Report(SUITE, columns=COLUMNS, meta={**vars(args), "search_index": index})
    for scenario in scenarios():
        if args.only and args.only not in scenario.name:
            continue
        report.rows.append(measure(scenario, args))
    return report
