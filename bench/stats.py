"""Benchmark of the usage aggregates on PostgreSQL: load N realistic logs, build the rollups with
rebuild_usage's code, report rollup row counts against the logs, the median and p95 latency of
the `usage_rows`/`usage_totals` calls the statistics endpoints make, and the ingest throughput
with and without the rollup upserts.

    python -m bench stats --logs 1000000                 # load (if needed) and measure
    python -m bench.stats --logs 10000000 --days 365 --json var/bench-stats-10m.json

The database is --pg-url, else DATABASE_URL, else postgres://postgres@127.0.0.1:5432/
tl_bench_stats; it is created if missing and its log and rollup tables are REPLACED when they do
not hold exactly the requested data set. A suite of the `python -m bench` harness (`SUITE`,
`add_arguments`, `run`); `stats_bench(...)` runs it with Django already set up.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any
from unittest import mock
from zoneinfo import ZoneInfo

from bench.core import percentile
from logs.events import DAY

SUITE = "stats"
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/tl_bench_stats"
# The data set ends here (2026-11-01 00:00 UTC); reads end 137 s before it, mid-quarter, as a
# dashboard's "now" does.
END = 1_793_491_200
NOW = END - 137
MODELS = (
    "gpt-4o",
    "gpt-4o-mini",
    "claude-3-5-sonnet-20241022",
    "claude-3-5-haiku-20241022",
    "gemini-1.5-pro",
    "gemini-1.5-flash",
    "deepseek-chat",
    "deepseek-reasoner",
    "qwen-max",
    "qwen-plus",
    "text-embedding-3-small",
    "text-embedding-3-large",
    "o1-mini",
    "o3-mini",
    "gpt-4-turbo",
    "claude-3-opus-20240229",
    "llama-3.1-70b",
    "llama-3.1-8b",
    "mistral-large",
    "mixtral-8x7b",
    "glm-4",
    "moonshot-v1-8k",
    "moonshot-v1-32k",
    "yi-large",
    "doubao-pro-32k",
    "ernie-4.0",
    "hunyuan-pro",
    "spark-max",
    "dall-e-3",
    "whisper-1",
    "tts-1",
    "gpt-3.5-turbo",
    "claude-3-sonnet-20240229",
    "gemini-1.0-pro",
    "command-r-plus",
    "grok-2",
    "qwen-turbo",
    "abab6.5s",
    "baichuan4",
    "step-1v-8k",
)
USERS = 5000


def _load_sql(count: int, days: int) -> str:
    """One INSERT ... SELECT generate_series producing `count` logs over `days` days in time
    order: 5000 users with skewed traffic (the top one ~6 %), 1-3 keys each; each user calls a
    favourite model (70 %, among the 12 popular ones), 4 others (27 %) and any of the 40 (3 %);
    2 channels per model, 3 groups, 92 % consume / 6 % error / 2 % refund and topup, endpoints
    by model (20 % of Claude calls through /v1/messages)."""
    models = "ARRAY[" + ", ".join(f"'{name}'" for name in MODELS) + "]"
    span = days * DAY
    return f"""
    INSERT INTO logs (created_at, type, content, user_id, username, token_id, token_name,
        model_name, quota, prompt_tokens, completion_tokens, cache_read_tokens,
        cache_creation_tokens, use_time, duration_ms, first_token_ms, is_stream, channel_id,
        channel_name, "group", ip, request_id, endpoint, other)
    SELECT created_at, type, '', user_id, 'user' || user_id, token_id, 'key-' || (token_id %% 10),
        CASE WHEN type = 1 THEN '' ELSE ({models})[model + 1] END,
        (prompt + completion * 3) * 2, prompt, completion, cache_read, 0,
        duration / 1000, duration, first_token, first_token IS NOT NULL,
        1 + (model * 3 + (random() < 0.5)::int) %% 60, '',
        CASE user_id %% 10 WHEN 0 THEN 'vip' WHEN 1 THEN 'svip' ELSE 'default' END,
        NULL, 'b-' || i,
        CASE WHEN model IN (10, 11) THEN '/v1/embeddings'
             WHEN model IN (2, 3, 15, 32) AND random() < 0.2 THEN '/v1/messages'
             WHEN model = 28 THEN '/v1/images/generations'
             ELSE '/v1/chat/completions' END,
        '{{}}'::jsonb
    FROM (
        SELECT i, user_id,
            {END} - {span} + (i::bigint * {span}) / %(count)s AS created_at,
            user_id * 10 + floor(power(random(), 2) * 3)::int AS token_id,
            CASE WHEN rm < 0.7 THEN (user_id * 7) %% 12
                 WHEN rm < 0.97 THEN (user_id * 7 + 1 + floor(random() * 4)::int * 3) %% 40
                 ELSE floor(40 * random())::int END AS model,
            CASE WHEN r < 0.92 THEN 2 WHEN r < 0.98 THEN 5 WHEN r < 0.99 THEN 6 ELSE 1 END
                AS type,
            floor(exp(random() * 8))::bigint AS prompt,
            floor(exp(random() * 7))::bigint AS completion,
            CASE WHEN random() < 0.3 THEN floor(random() * 2000)::bigint ELSE 0 END
                AS cache_read,
            200 + floor(random() * 20000)::bigint AS duration,
            CASE WHEN random() < 0.6 THEN floor(random() * 3000)::bigint END AS first_token
        FROM (
            SELECT i, 1 + floor({USERS} * power(random(), 3))::int AS user_id, random() AS r,
                random() AS rm
            FROM generate_series(%(first)s, %(last)s) AS i
        ) AS base
    ) AS shaped
    """  # noqa: S608 (constants only)


def _timed(label: str, function: Callable[[], Any]) -> tuple[Any, float]:
    began = time.perf_counter()
    value = function()
    elapsed = time.perf_counter() - began
    print(f"  {label}: {elapsed:.1f} s", flush=True)
    return value, elapsed


def data_load(*, count: int, days: int, chunk: int = 1_000_000) -> dict[str, float]:
    """Replace the logs with the synthetic data set (indexes dropped during the load and rebuilt
    after, as a bulk load does), then build the rollups with usage_rebuild."""
    from django.db import connection

    from usage.rollups import FAMILIES
    from usage.services import usage_rebuild

    timings: dict[str, float] = {}
    with connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit = off")
        cursor.execute("SET maintenance_work_mem = '512MB'")
        tables = ", ".join(["logs", "ingest_keys", *(family.table for family in FAMILIES)])
        cursor.execute(f"TRUNCATE {tables}")
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'logs' "
            "AND indexname NOT LIKE '%%pkey'"
        )
        indexes = cursor.fetchall()
        for name, _ in indexes:
            cursor.execute(f'DROP INDEX "{name}"')

        try:  # a time-partitioned `logs` (logs/partitions.py) needs its partitions first
            from logs.partitions import partitions_ensure  # type: ignore[import-not-found]
        except ImportError:
            pass
        else:
            partitions_ensure(start=END - days * DAY, end=END)

        def load() -> None:
            for first in range(0, count, chunk):
                last = min(first + chunk, count) - 1
                cursor.execute(
                    _load_sql(count, days), {"count": count, "first": first, "last": last}
                )
                print(f"    {last + 1} logs", flush=True)

        _, timings["load_logs_s"] = _timed(f"insert {count} logs", load)

        def index() -> None:
            for _, definition in indexes:
                # A partitioned table's index reads "ON ONLY logs": build it on every partition.
                cursor.execute(definition.replace(" ON ONLY ", " ON "))

        _, timings["index_logs_s"] = _timed("recreate the log indexes", index)
        cursor.execute("ANALYZE logs")
        cursor.execute("RESET synchronous_commit")
    _, timings["rebuild_usage_s"] = _timed(
        "rebuild_usage (all days, 7-day chunks)", lambda: usage_rebuild(chunk_days=7)
    )
    with connection.cursor() as cursor:
        for family in FAMILIES:
            cursor.execute(f"VACUUM ANALYZE {family.table}")
    return timings


def row_counts() -> dict[str, Any]:
    """Rows and on-disk size (heap + indexes) of the logs and of each rollup table by span."""
    from django.db import connection

    from usage.rollups import FAMILIES

    counts: dict[str, Any] = {}
    with connection.cursor() as cursor:
        for table in ["logs", *(family.table for family in FAMILIES)]:
            # A partitioned table's own size is 0: add its partitions'.
            cursor.execute(
                "SELECT pg_total_relation_size(%s::regclass) + COALESCE(("
                "SELECT sum(pg_total_relation_size(inhrelid)) FROM pg_inherits "
                "WHERE inhparent = %s::regclass), 0)",
                [table, table],
            )
            size = int(cursor.fetchone()[0])  # type: ignore[index]
            if table == "logs":
                cursor.execute("SELECT count(*) FROM logs")
                counts["logs"] = {"rows": cursor.fetchone()[0], "mb": size // 2**20}  # type: ignore[index]
                continue
            cursor.execute(
                f"SELECT span, count(*) FROM {table} GROUP BY span ORDER BY span"  # noqa: S608
            )
            spans = {str(span): rows for span, rows in cursor.fetchall()}
            counts[table] = {"rows": sum(spans.values()), "by_span": spans, "mb": size // 2**20}
    return counts


@dataclass(frozen=True)
class Read:
    name: str
    call: Callable[[], object]


def _reads(top_user: int, median_user: int) -> list[Read]:
    from usage.selectors import (
        UsageFilter,
        usage_rows,
        usage_top_endpoints,
        usage_totals,
    )

    reads: list[Read] = []
    site = UsageFilter()
    for zone in ("UTC", "Asia/Kolkata"):
        tz = ZoneInfo(zone)
        short = "kol" if zone != "UTC" else "utc"
        for days in (1, 30, 365):
            start = NOW - days * DAY + 1
            for granularity in ("hour", "day"):
                if granularity == "hour" and days == 365:
                    continue  # 8760 buckets x 40 models: no endpoint asks for it
                reads.append(
                    Read(
                        f"site per model by {granularity}, {days} d, {short}",
                        partial(
                            usage_rows,
                            start=start,
                            end=NOW,
                            where=site,
                            group_by=("model_name",),
                            granularity=granularity,
                            tz=tz,
                        ),
                    )
                )
            for label, user in (("top user", top_user), ("median user", median_user)):
                reads.append(
                    Read(
                        f"{label} per model by day, {days} d, {short}",
                        partial(
                            usage_rows,
                            start=start,
                            end=NOW,
                            where=UsageFilter(user_id=user),
                            group_by=("model_name",),
                            granularity="day",
                            tz=tz,
                        ),
                    )
                )
        reads.append(
            Read(
                f"top user per model by hour, 30 d, {short}",
                partial(
                    usage_rows,
                    start=NOW - 30 * DAY + 1,
                    end=NOW,
                    where=UsageFilter(user_id=top_user),
                    group_by=("model_name",),
                    granularity="hour",
                    tz=tz,
                ),
            )
        )
    year = NOW - 365 * DAY + 1
    month = NOW - 30 * DAY + 1
    reads += [
        Read(
            "site totals, 365 d",
            lambda: usage_totals(start=year, end=NOW, where=site),
        ),
        Read(
            "top user totals, 365 d (sub2api stats year)",
            lambda: usage_totals(start=year, end=NOW, where=UsageFilter(user_id=top_user)),
        ),
        Read(
            "top user totals, all time",
            lambda: usage_totals(start=0, end=NOW, where=UsageFilter(user_id=top_user)),
        ),
        Read(
            "top user by key, all time (distinct keys)",
            lambda: usage_rows(
                start=0, end=NOW, where=UsageFilter(user_id=top_user), group_by=("token_id",)
            ),
        ),
        Read(
            "top user rpm/tpm window (5 min, raw logs)",
            lambda: usage_totals(start=NOW - 299, end=NOW, where=UsageFilter(user_id=top_user)),
        ),
        Read(
            "site rpm/tpm window (5 min, raw logs)",
            lambda: usage_totals(start=NOW - 299, end=NOW, where=site),
        ),
        Read(
            "top user endpoint per model, 30 d (AceData api_map)",
            lambda: usage_top_endpoints(start=month, end=NOW, where=UsageFilter(user_id=top_user)),
        ),
        Read(
            "username filter per model by hour, 30 d (/api/data/?username=)",
            lambda: usage_rows(
                start=month,
                end=NOW,
                where=UsageFilter(username=f"user{median_user}"),
                group_by=("model_name",),
                granularity="hour",
                tz=ZoneInfo("UTC"),
            ),
        ),
        Read(
            "site per channel, 30 d",
            lambda: usage_rows(start=month, end=NOW, where=site, group_by=("channel_id",)),
        ),
        Read(
            "one channel per model by day, 30 d",
            lambda: usage_rows(
                start=month,
                end=NOW,
                where=UsageFilter(channel_id=7),
                group_by=("model_name",),
                granularity="day",
                tz=ZoneInfo("UTC"),
            ),
        ),
        Read(
            "top user totals by day, 30 d, kol (sub2api trend)",
            lambda: usage_rows(
                start=month,
                end=NOW,
                where=UsageFilter(user_id=top_user),
                granularity="day",
                tz=ZoneInfo("Asia/Kolkata"),
            ),
        ),
        Read(
            "top users by quota, 30 d",
            lambda: usage_rows(start=month, end=NOW, where=site, group_by=("user_id",)),
        ),
    ]
    return reads


def reads_measure(*, repeat: int) -> list[dict[str, Any]]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT user_id, count(*) FROM logs WHERE created_at >= %s GROUP BY user_id "
            "ORDER BY count(*) DESC",
            [NOW - 30 * DAY],
        )
        ranked = [user for user, _ in cursor.fetchall()]
    top_user, median_user = ranked[0], ranked[len(ranked) // 2]
    results = []
    for read in _reads(top_user, median_user):
        value = read.call()  # warm-up (and the row count)
        samples = []
        for _ in range(repeat):
            began = time.perf_counter()
            read.call()
            samples.append((time.perf_counter() - began) * 1000)
        rows = len(value) if isinstance(value, list | dict) else 1
        result = {
            "read": read.name,
            "median_ms": round(statistics.median(samples), 1),
            "p95_ms": round(percentile(samples, 95), 1),
            "rows": rows,
        }
        print(
            f"  {result['median_ms']:8.1f} {result['p95_ms']:8.1f}  {rows:6d}  {read.name}",
            flush=True,
        )
        results.append(result)
    return results


def _ingest_events(rng: random.Random, count: int, serial: int) -> list[Any]:
    from logs.events import LogEvent

    events = []
    for n in range(count):
        user = 1 + int(USERS * rng.random() ** 3)
        roll = rng.random()
        if roll < 0.7:
            model = (user * 7) % 12
        elif roll < 0.97:
            model = (user * 7 + 1 + rng.randint(0, 3) * 3) % 40
        else:
            model = rng.randint(0, 39)
        prompt, completion = int(2.718 ** (rng.random() * 8)), int(2.718 ** (rng.random() * 7))
        events.append(
            LogEvent(
                created_at=NOW - 3600 + rng.randint(0, 3600),
                user_id=user,
                username=f"user{user}",
                request_id=f"bench-ingest-{serial}-{n}",
                token_id=user * 10 + int(rng.random() ** 2 * 3),
                token_name=f"key-{user % 10}",
                model_name=MODELS[model],
                quota=(prompt + completion * 3) * 2,
                prompt_tokens=prompt,
                completion_tokens=completion,
                duration_ms=rng.randint(200, 20000),
                first_token_ms=rng.randint(0, 3000) if rng.random() < 0.6 else None,
                channel_id=1 + (model * 3 + rng.randint(0, 1)) % 60,
                group="default",
                endpoint="/v1/chat/completions",
            )
        )
    return events


def ingest_measure(*, batches: int, size: int = 1000) -> dict[str, Any]:
    """Events/s through logs_ingest with the rollups and with usage_rollup_apply stubbed out,
    alternating batch by batch; afterwards the bench events are deleted and their days rebuilt,
    so the rollups match the logs again."""
    from django.db import connection

    from logs.models import IngestKey, Log
    from usage.services import logs_ingest, usage_rebuild

    rng = random.Random(11)
    seconds: dict[str, list[float]] = {"with_rollups": [], "without_rollups": []}
    for serial in range(2 * batches):
        events = _ingest_events(rng, size, serial)
        variant = "with_rollups" if serial % 2 == 0 else "without_rollups"
        began = time.perf_counter()
        if variant == "with_rollups":
            logs_ingest(events=events)
        else:
            with mock.patch("usage.services.usage_rollup_apply"):
                logs_ingest(events=events)
        seconds[variant].append(time.perf_counter() - began)
    Log.objects.filter(request_id__startswith="bench-ingest-").delete()
    IngestKey.objects.filter(request_id__startswith="bench-ingest-").delete()
    usage_rebuild(since=NOW - 2 * DAY)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE logs")
    result: dict[str, Any] = {"batch_size": size, "batches": batches}
    for variant, samples in seconds.items():
        result[variant] = {
            "events_per_s": round(size * len(samples) / sum(samples)),
            "batch_median_ms": round(statistics.median(samples) * 1000, 1),
            "batch_p95_ms": round(percentile(samples, 95) * 1000, 1),
        }
        print(f"  {variant}: {result[variant]}", flush=True)
    return result


def stats_bench(
    *,
    logs: int,
    days: int = 365,
    repeat: int = 20,
    reload: bool = False,
    rebuild: bool = False,
    ingest_batches: int = 20,
) -> dict[str, Any]:
    """Run the benchmark against the configured (PostgreSQL) database; returns the figures."""
    from django.db import connection

    from usage.rollups import FAMILIES
    from usage.services import usage_rebuild

    if connection.vendor != "postgresql":
        raise SystemExit("bench.stats needs PostgreSQL (set DATABASE_URL)")
    report: dict[str, Any] = {"logs": logs, "days": days, "repeat": repeat}
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*), min(created_at), max(created_at) FROM logs")
        present, first, last = cursor.fetchone()  # type: ignore[misc]
    if reload or present != logs or first is None or last >= END or first < END - days * DAY:
        print(f"loading {logs} logs over {days} days", flush=True)
        report["load"] = data_load(count=logs, days=days)
    else:
        print(f"reusing the {present} logs already loaded", flush=True)
        if rebuild:
            _, seconds = _timed(
                "rebuild_usage (all days, 7-day chunks)", lambda: usage_rebuild(chunk_days=7)
            )
            report["load"] = {"rebuild_usage_s": seconds}
            with connection.cursor() as cursor:
                for family in FAMILIES:
                    cursor.execute(f"VACUUM ANALYZE {family.table}")
    report["rows"] = row_counts()
    print(json.dumps(report["rows"], indent=1), flush=True)
    print("  median      p95    rows  read (ms)", flush=True)
    report["reads"] = reads_measure(repeat=repeat)
    if ingest_batches:
        print("ingest throughput (1000-event batches)", flush=True)
        report["ingest"] = ingest_measure(batches=ingest_batches)
    return report


def _database_create(url: str) -> None:
    import psycopg
    from psycopg import sql

    from config.settings import database_from_url

    config = database_from_url(url)
    params: dict[str, Any] = {
        "dbname": "postgres",
        "host": config["HOST"] or None,
        "port": config["PORT"] or None,
        "user": config["USER"] or None,
        "password": config["PASSWORD"] or None,
    }
    with psycopg.connect(**{k: v for k, v in params.items() if v}, autocommit=True) as conn:
        exists = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [config["NAME"]]
        ).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(str(config["NAME"]))))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--logs", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--reload", action="store_true", help="reload even if the data fits")
    parser.add_argument("--rebuild", action="store_true", help="rebuild the rollups first")
    parser.add_argument("--ingest-batches", type=int, default=20, help="0 skips the ingest run")
    parser.add_argument(
        "--pg-url", default=None, help=f"the database (default DATABASE_URL, else {DEFAULT_URL})"
    )
    parser.add_argument("--json", help="also write the figures to this file")


def run(args: argparse.Namespace) -> Any:
    """The `python -m bench stats` suite: returns a bench.core.Report (one row per read; row
    counts, load, rebuild and ingest figures in `meta`)."""
    from bench.core import Report

    url = args.pg_url or os.environ.get("DATABASE_URL") or DEFAULT_URL
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("REQUEST_LOG", "0")
    _database_create(url)
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    figures = stats_bench(
        logs=args.logs,
        days=args.days,
        repeat=args.repeat,
        reload=args.reload,
        rebuild=args.rebuild,
        ingest_batches=args.ingest_batches,
    )
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(figures, handle, indent=1)
    report = Report(suite=SUITE, columns=["read", "median_ms", "p95_ms", "rows"])
    for read in figures["reads"]:
        report.add(**read)
    report.meta.update({key: value for key, value in figures.items() if key != "reads"})
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.stats", description=__doc__)
    add_arguments(parser)
    run(parser.parse_args(argv))
    return 0


if __name__ == "__main__":
    sys.exit(main())
