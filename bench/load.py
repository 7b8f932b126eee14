"""Load N realistic logs into PostgreSQL quickly with COPY (not over HTTP), for the read benchmarks.

`python -m bench load --rows 1000000 [--fresh] [--pg-url URL] [--days 60] [--seed 42]`

The events are usage/demo.py's (the same as `seed_demo` and the ingest benchmark), generated in
parallel worker processes, each COPYing its chunks over its own connection. On an empty logs
table the secondary indexes (and the ingest_keys primary key) are dropped first and rebuilt at
the end, which is several times faster than maintaining them row by row. Then every request id
goes into ingest_keys (so that re-ingesting them is refused as duplicates, as in production),
users and channels are provisioned by the ingest service's own functions, the tables are
VACUUM ANALYZEd, and the aggregates are built (the AFTER-LOAD HOOK below).

Other suites call `load_logs(...)` directly; it returns the same figures the table shows."""

from __future__ import annotations

import argparse
import dataclasses
import multiprocessing
import os
import queue
import time
from dataclasses import dataclass, field
from typing import Any

import orjson

from bench.core import Report, log
from bench.server import DEFAULT_PG_URL, Database, fresh_database, manage

SUITE = "load"
COMMIT_EVERY = 25  # chunks of usage.demo.CHUNK events per transaction (about 100 000 rows)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rows", type=int, default=1_000_000, help="logs to load (1000000)")
    parser.add_argument("--pg-url", default=DEFAULT_PG_URL, help="the PostgreSQL database")
    parser.add_argument(
        "--fresh", action="store_true", help="drop and recreate the database first (its name "
        "must contain 'bench')"
    )  # fmt: skip
    parser.add_argument("--days", type=float, default=60, help="history length (60)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--users", type=int, default=1000, help="distinct gateway users (1000)")
    parser.add_argument("--now", type=int, default=None, help="end of the history (now)")
    parser.add_argument("--workers", type=int, default=max(1, (os.cpu_count() or 2)))
    parser.add_argument("--no-aggregates", action="store_true", help="skip the after-load hook")


@dataclass
class LoadStats:
    rows: int = 0
    copy_seconds: float = 0.0
    index_seconds: float = 0.0
    vacuum_seconds: float = 0.0
    aggregates_seconds: float | None = None
    aggregates_step: str = ""
    table_bytes: int = 0
    phases: dict[str, float] = field(default_factory=dict)

    @property
    def copy_rows_per_s(self) -> float:
        return self.rows / self.copy_seconds if self.copy_seconds else 0.0


def _pg_url(url: str) -> str:
    return url.replace("postgres://", "postgresql://", 1)


def _worker_main(results: Any, *args: Any) -> None:
    results.put(_worker(*args))


def _log_columns_and_defaults() -> tuple[tuple[str, ...], list[tuple[str, Any]]]:
    """The ingest service's column order, and each column's default (from LogEvent)."""
    from logs.events import LogEvent
    from logs.models import LOG_COLUMNS

    defaults: dict[str, Any] = {}
    for item in dataclasses.fields(LogEvent):
        if item.default is not dataclasses.MISSING:
            defaults[item.name] = item.default
    return LOG_COLUMNS, [(name, defaults.get(name)) for name in LOG_COLUMNS if name != "other"]


def _worker(
    url: str, seed: int, days: float, rows: int, now: int, users: int, worker: int, workers: int,
    progress: Any,
) -> dict[str, Any]:  # fmt: skip
    """Generate and COPY the chunks k with k % workers == worker; returns what the parent needs
    to provision users and channels (each user's and channel's newest name)."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ["DATABASE_URL"] = url
    import django

    django.setup()
    import psycopg

    from usage.demo import DemoGenerator

    columns, getters = _log_columns_and_defaults()
    if columns[-1] != "other":
        raise RuntimeError("LOG_COLUMNS must end with `other`")
    quoted = ", ".join(f'"{name}"' for name in columns)
    copy_logs = f"COPY logs ({quoted}) FROM STDIN"
    generator = DemoGenerator(seed=seed, days=days, events=rows, now=now, users=users)
    newest_user: dict[int, tuple[int, str]] = {}
    newest_channel: dict[int, tuple[int, str]] = {}
    dumps = orjson.dumps
    with psycopg.connect(_pg_url(url)) as conn:
        conn.execute("SET synchronous_commit = off")  # a benchmark load: speed over durability
        for done, k in enumerate(range(worker, generator.chunks, workers), start=1):
            events = generator.chunk(k)
            with conn.cursor() as cursor:
                with cursor.copy(copy_logs) as copy:
                    for event in events:
                        get = event.get
                        copy.write_row(
                            (*[get(name, default) for name, default in getters],
                             dumps(get("other") or {}).decode())
                        )  # fmt: skip
                with cursor.copy("COPY ingest_keys (request_id, created_at) FROM STDIN") as copy:
                    for event in events:
                        copy.write_row((event["request_id"], event["created_at"]))
            for event in events:
                ts = event["created_at"]
                user = newest_user.get(event["user_id"])
                if user is None or ts >= user[0]:
                    newest_user[event["user_id"]] = (ts, event["username"])
                if event.get("channel_id"):
                    channel = newest_channel.get(event["channel_id"])
                    if channel is None or ts >= channel[0]:
                        newest_channel[event["channel_id"]] = (ts, event["channel_name"])
            if done % COMMIT_EVERY == 0:
                conn.commit()
            with progress.get_lock():
                progress.value += len(events)
        conn.commit()
    return {"users": newest_user, "channels": newest_channel}


def _defer_indexes(conn: Any) -> list[str]:
    """Drop the logs' secondary indexes and ingest_keys' primary key; returns the statements
    that recreate them."""
    recreate: list[str] = []
    rows = conn.execute(
        "SELECT i.indexname, i.indexdef FROM pg_indexes i "
        "WHERE i.schemaname = current_schema() AND i.tablename = 'logs' AND NOT EXISTS "
        "(SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)"
    ).fetchall()
    for name, definition in rows:
        conn.execute(f'DROP INDEX "{name}"')
        # A partitioned table's index reads "ON ONLY logs": recreated so, it would stay an
        # invalid index without its partitions' indexes.
        recreate.append(definition.replace(" ON ONLY ", " ON ", 1))
    for name, definition in conn.execute(
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE conrelid = 'ingest_keys'::regclass AND contype = 'p'"
    ).fetchall():
        conn.execute(f'ALTER TABLE ingest_keys DROP CONSTRAINT "{name}"')
        recreate.append(f'ALTER TABLE ingest_keys ADD CONSTRAINT "{name}" {definition}')
    return recreate


def after_load(database: Database) -> tuple[str, float | None]:
    """AFTER-LOAD HOOK: build the usage aggregates from the loaded logs with the project's own
    command, so that the read benchmarks measure the same tables ingest maintains. Returns
    (what ran, seconds), or ("", None) when the project has no such command yet."""
    from django.core.management import get_commands

    if "rebuild_usage" not in get_commands():
        return "", None
    started = time.perf_counter()
    manage(database, "rebuild_usage", timeout=6 * 3600)
    # Statistics for the new rows (autovacuum may be off, or not have run yet): without them the
    # planner takes a rollup range for one row (the site's 30 days of hours: 9 345 rows read,
    # 1 estimated) and the reads are measured with plans a live database would not choose.
    import psycopg

    with psycopg.connect(_pg_url(database.url), autocommit=True) as conn:
        for table in ("usage_site", "usage_channel", "usage_user_total", "usage_user"):
            conn.execute(f"VACUUM (ANALYZE) {table}")
    return "manage.py rebuild_usage, VACUUM (ANALYZE) usage_*", time.perf_counter() - started


def load_logs(
    *, url: str = DEFAULT_PG_URL, rows: int, days: float = 60, seed: int = 42,
    now: int | None = None, users: int = 1000, workers: int = 2, fresh: bool = False,
    aggregates: bool = True,
) -> LoadStats:  # fmt: skip
    """Load `rows` demo logs spread over the `days` before `now` into the database at `url`."""
    database = fresh_database("postgres", pg_url=url) if fresh else Database("postgres", url)
    if not fresh:
        manage(database, "migrate", "--noinput")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ["DATABASE_URL"] = url
    import django

    django.setup()
    import psycopg

    from logs.partitions import partitions_ensure

    stats = LoadStats(rows=rows)
    now = int(time.time()) if now is None else now
    # A time-partitioned logs table (PostgreSQL) needs its partitions before the COPY.
    partitions_ensure(start=now - int(days * 86400) - 1, end=now)
    with psycopg.connect(_pg_url(url), autocommit=True) as conn:
        if conn.execute("SELECT EXISTS (SELECT 1 FROM logs)").fetchone()[0]:  # type: ignore[index]
            raise SystemExit("the logs table is not empty: pass --fresh to recreate the database")
        recreate = _defer_indexes(conn)

    started = time.perf_counter()
    context = multiprocessing.get_context("spawn")
    progress = context.Value("q", 0)
    results = context.Queue()
    processes = [
        context.Process(
            target=_worker_main,
            args=(results, url, seed, days, rows, now, users, w, workers, progress),
            daemon=True,
        )
        for w in range(workers)
    ]
    for process in processes:
        process.start()
    parts: list[dict[str, Any]] = []
    while len(parts) < workers:
        try:
            parts.append(results.get(timeout=5))
        except queue.Empty:
            if any(p.exitcode not in (None, 0) for p in processes):
                raise SystemExit("a load worker failed (see its traceback above)") from None
            done = progress.value
            elapsed = time.perf_counter() - started
            log(f"[load] {done:,}/{rows:,} rows, {done / max(elapsed, 1e-9):,.0f} rows/s")
    for process in processes:
        process.join()
    stats.copy_seconds = time.perf_counter() - started

    started = time.perf_counter()
    with psycopg.connect(_pg_url(url), autocommit=True) as conn:
        conn.execute("SET maintenance_work_mem = '512MB'")
        for statement in recreate:
            log(f"[load] {statement[:90]}")
            conn.execute(statement)
    stats.index_seconds = time.perf_counter() - started

    _provision(parts)

    started = time.perf_counter()
    with psycopg.connect(_pg_url(url), autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE) logs")
        conn.execute("VACUUM (ANALYZE) ingest_keys")
        # The table and, when it is partitioned, its partitions.
        stats.table_bytes = conn.execute(
            "SELECT pg_total_relation_size('logs') + COALESCE(sum(pg_total_relation_size("
            "inhrelid)), 0) FROM pg_inherits WHERE inhparent = 'logs'::regclass"
        ).fetchone()[0]  # type: ignore[index]
    stats.vacuum_seconds = time.perf_counter() - started

    if aggregates:
        stats.aggregates_step, stats.aggregates_seconds = after_load(database)
        if stats.aggregates_step:
            # Statistics for the planner: the benchmark server may run without autovacuum,
            # and the rollup tables were never analysed (the log stat and every statistics
            # endpoint plan on them).
            with psycopg.connect(_pg_url(url), autocommit=True) as conn:
                conn.execute("ANALYZE usage_site, usage_channel, usage_user_total, usage_user")
    return stats


def _provision(parts: list[dict[str, Any]]) -> None:
    """Users and channels through the ingest service's own functions, from each one's newest
    event (the same state ingesting the events one by one would leave)."""
    from django.db import transaction

    from logs.events import LogEvent
    from usage.services import channels_provision, users_provision

    users: dict[int, tuple[int, str]] = {}
    channels: dict[int, tuple[int, str]] = {}
    for part in parts:
        for target, found in ((users, part["users"]), (channels, part["channels"])):
            for ident, (ts, name) in found.items():
                if ident not in target or ts >= target[ident][0]:
                    target[ident] = (ts, name)
    with transaction.atomic():
        users_provision(
            events=[LogEvent(created_at=ts, user_id=uid, username=name)
                    for uid, (ts, name) in users.items()]
        )  # fmt: skip
        # channels_provision reads only the channel fields; the user fields are placeholders.
        channels_provision(
            events=[LogEvent(created_at=ts, user_id=1, username="-", channel_id=cid,
                             channel_name=name) for cid, (ts, name) in channels.items()]
        )  # fmt: skip


def run(args: argparse.Namespace) -> Report:
    started = time.time()
    stats = load_logs(
        url=args.pg_url, rows=args.rows, days=args.days, seed=args.seed, now=args.now,
        users=args.users, workers=args.workers, fresh=args.fresh,
        aggregates=not args.no_aggregates,
    )  # fmt: skip
    total = stats.copy_seconds + stats.index_seconds + stats.vacuum_seconds
    total += stats.aggregates_seconds or 0.0
    report = Report(
        SUITE,
        columns=["phase", "seconds", "rows_per_s"],
        meta={**vars(args), "table_bytes": stats.table_bytes, "workers": args.workers},
        started=started,
    )
    report.add(phase=f"generate + COPY {stats.rows:,} rows", seconds=round(stats.copy_seconds, 1),
               rows_per_s=round(stats.copy_rows_per_s))  # fmt: skip
    report.add(phase="rebuild indexes", seconds=round(stats.index_seconds, 1))
    report.add(phase="VACUUM ANALYZE", seconds=round(stats.vacuum_seconds, 1))
    report.add(
        phase=stats.aggregates_step or "aggregates (no rebuild_usage command yet)",
        seconds=None if stats.aggregates_seconds is None else round(stats.aggregates_seconds, 1),
    )
    report.add(phase="total", seconds=round(total, 1), rows_per_s=round(stats.rows / total))
    report.add(phase=f"logs table: {stats.table_bytes / 2**20:,.0f} MiB with indexes")
    return report
