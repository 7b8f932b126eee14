"""Benchmark of the time-partitioned logs table (docs/partitioning.md).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/tl_i6 python -m bench.partitions

Two measurements, both on PostgreSQL at a loopback address, inside a scratch schema
(`bench_partitions`, dropped at the end) so that the database's own tables are untouched:

* planning: planning and execution time of the list queries against a copy of `logs` split into
  N partitions (and unpartitioned), to choose the partition width;
* retention: dropping one day's partition of ~170 000 logs while an ingest loop runs, against a
  batched DELETE of the same rows, with the longest ingest stall during each.

Prints a table and writes the figures as JSON (--json). Bounded: a few minutes at the defaults.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench.core import percentile
from logs.events import DAY

SCHEMA = "bench_partitions"
LOOPBACK = {"", "127.0.0.1", "localhost", "::1"}
# A day far in the past, so no real partition is near it.
RETENTION_DAY = 978_307_200  # 2001-01-01 00:00 UTC
PLAN_BASE = 1_577_836_800  # 2020-01-01 00:00 UTC, a partition window start for any width


def setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django
    from django.conf import settings

    database: dict[str, Any] = settings.DATABASES["default"]
    if database["ENGINE"] != "config.postgresql":
        sys.exit("bench.partitions needs DATABASE_URL=postgres://...")
    if database["HOST"] not in LOOPBACK:
        sys.exit(f"bench.partitions runs against a loopback database only, not {database['HOST']}")
    # Every session of the benchmark (including the ingest thread's) works inside the schema.
    options = dict(database.get("OPTIONS", {}))
    options["options"] = f"-c search_path={SCHEMA}"
    database["OPTIONS"] = options
    database["CONN_MAX_AGE"] = 0
    django.setup()


def summary(values: list[float]) -> dict[str, float]:
    return {
        "median": round(statistics.median(values), 3) if values else float("nan"),
        "p95": round(percentile(values, 95), 3),
        "max": round(max(values), 3) if values else float("nan"),
        "n": len(values),
    }


@contextmanager
def scratch_schema(keep: bool) -> Iterator[None]:
    from django.core.management import call_command
    from django.db import connection

    drop_scratch_schema()
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE SCHEMA {SCHEMA}")
    call_command("migrate", verbosity=0)
    try:
        yield
    finally:
        if not keep:
            from django.db import connections

            connections.close_all()
            drop_scratch_schema()


def drop_scratch_schema() -> None:
    # Partitions first, one per transaction (see drop_partitioned).
    for (name,) in sql(
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = %s AND c.relispartition AND c.relkind = 'r'",
        [SCHEMA],
    ):
        sql(f'DROP TABLE IF EXISTS {SCHEMA}."{name}"')
    sql(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")


def sql(statement: str, params: Any = None) -> list[tuple[Any, ...]]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        return cursor.fetchall() if cursor.description else []


# Rows shaped like a gateway's: 500 users, 8 models, 40 channels, a small `other`.
FILL = """
INSERT INTO {table} (created_at, type, content, user_id, username, token_id, token_name,
    model_name, quota, prompt_tokens, completion_tokens, cache_read_tokens, cache_creation_tokens,
    use_time, duration_ms, first_token_ms, is_stream, channel_id, channel_name, "group", ip,
    request_id, endpoint, other)
SELECT %(start)s + (g * %(span)s::bigint / %(rows)s), 2, '', 1 + g %% 500, 'user' || (1 + g %% 500),
    1 + g %% 1500, 'key-' || (g %% 3), (ARRAY['gpt-4o','gpt-4o-mini','claude-sonnet-4',
    'claude-haiku-4','gemini-2.5-pro','deepseek-v3','qwen3-max','o3'])[1 + g %% 8],
    1000 + g %% 5000, 200 + g %% 3000, 50 + g %% 900, g %% 400, 0, 1 + g %% 9, 300 + g %% 9000,
    80 + g %% 700, g %% 2 = 0, 1 + g %% 40, 'channel-' || (1 + g %% 40), 'default', NULL,
    'bench-' || %(tag)s || '-' || g, '/v1/chat/completions',
    '{{"model_ratio": 2.5, "group_ratio": 1}}'::jsonb
FROM generate_series(0, %(rows)s - 1) AS g
"""


# --- planning ---------------------------------------------------------------------------------


def locks_taken(statement: str) -> int:
    """How many locks the statement holds at its end (relations and indexes it opened)."""
    from django.db import transaction

    with transaction.atomic():
        sql(statement)
        count = sql("SELECT count(*) FROM pg_locks WHERE pid = pg_backend_pid()")[0][0]
        transaction.set_rollback(True)
    return int(count)


def measure_query(statement: str, repeat: int) -> dict[str, Any]:
    planning, execution, wall = [], [], []
    for _ in range(repeat):
        plan = sql(f"EXPLAIN (ANALYZE, TIMING OFF, FORMAT JSON) {statement}")[0][0]
        planning.append(plan[0]["Planning Time"])
        execution.append(plan[0]["Execution Time"])
        started = time.perf_counter()
        sql(statement)
        wall.append((time.perf_counter() - started) * 1000)
    return {
        "planning_ms": summary(planning),
        "execution_ms": summary(execution),
        "wall_ms": summary(wall),
        "locks": locks_taken(statement),
    }


def plan_queries(table: str, newest: int) -> dict[str, str]:
    from django.db import connection

    from logs.models import Log

    def text(queryset: Any) -> str:
        # PostgreSQL's operations render a statement with its parameters inlined.
        rendered: str = connection.ops.compose_sql(*queryset.query.sql_with_params())  # type: ignore[attr-defined]
        return rendered.replace('"logs"', f'"{table}"')

    return {
        # GET /api/log/ (admin, no filter): newest first, first page.
        "admin list, all time": text(Log.objects.newest_first()[:10]),
        # GET /api/log/self: a busy user's newest page.
        "user list, all time": text(Log.objects.for_user(7).newest_first()[:10]),
        # A user whose only logs are the oldest: the scan walks every partition.
        "rare user, all time": text(Log.objects.for_user(999_999).newest_first()[:10]),
        # The usual UI range: the last 7 days (plan-time pruning).
        "admin list, last 7 days": text(
            Log.objects.between(newest - 7 * DAY, newest).newest_first()[:10]
        ),
        "user list, last 7 days": text(
            Log.objects.for_user(7).between(newest - 7 * DAY, newest).newest_first()[:10]
        ),
    }


def measure_insert(table: str, newest: int, repeat: int) -> dict[str, float]:
    """A 1000-row batch of the latest hour, as ingest writes it: tuple routing plus the indexes."""
    timings = []
    for attempt in range(repeat):
        fill = {"start": newest - 3600, "span": 3600, "rows": 1000, "tag": f"i{attempt}"}
        started = time.perf_counter()
        sql(FILL.format(table=f'"{table}"'), fill)
        timings.append((time.perf_counter() - started) * 1000)
    return summary(timings)


def drop_partitioned(table: str) -> None:
    """Drop a table's partitions one by one: dropping hundreds in one transaction would need a
    lock per partition and per index at once."""
    for (name,) in sql(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "WHERE i.inhparent = to_regclass(%s)",
        [table],
    ):
        sql(f'DROP TABLE "{name}"')
    sql(f'DROP TABLE IF EXISTS "{table}"')


def bench_planning(counts: list[int], rows: int, repeat: int) -> list[dict[str, Any]]:
    results = []
    for count in [0, *counts]:
        table = "plan_plain" if count == 0 else f"plan_{count}"
        span = max(count, 1) * DAY
        sql(f'DROP TABLE IF EXISTS "{table}"')
        partition = " PARTITION BY RANGE (created_at)" if count else ""
        sql(f'CREATE TABLE "{table}" (LIKE logs INCLUDING ALL){partition}')
        started = time.perf_counter()
        for day in range(count):
            lower = PLAN_BASE + day * DAY
            sql(
                f'CREATE TABLE "{table}_{day}" PARTITION OF "{table}" FOR VALUES FROM (%s) TO (%s)',
                [lower, lower + DAY],
            )
        create_s = time.perf_counter() - started
        fill = {"start": PLAN_BASE, "span": span, "rows": rows, "tag": table}
        sql(FILL.format(table=f'"{table}"'), fill)
        # The oldest row belongs to a user with no other log: the "rare user".
        sql(
            f'UPDATE "{table}" SET user_id = 999999 '  # noqa: S608 (our own table name)
            f'WHERE created_at = (SELECT min(created_at) FROM "{table}")'
        )
        sql(f'ANALYZE "{table}"')
        newest = PLAN_BASE + span - 1
        row: dict[str, Any] = {"partitions": count, "rows": rows, "create_s": round(create_s, 2)}
        for name, statement in plan_queries(table, newest).items():
            measure_query(statement, 3)  # warm the caches
            row[name] = measure_query(statement, repeat)
        row["insert_1000_ms"] = measure_insert(table, newest, repeat)
        results.append(row)
        drop_partitioned(table)
        print(f"  planning: {count or 'no'} partitions measured", file=sys.stderr)
    return results


# --- retention --------------------------------------------------------------------------------


class IngestLoop:
    """Posts batches of current events through the real ingest service in a thread, recording
    when each batch started and how long it took."""

    def __init__(self, batch: int) -> None:
        self.batch = batch
        self.samples: list[tuple[float, float]] = []
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._serial = 0

    def _run(self) -> None:
        from django.db import connections

        from logs.events import LogEvent
        from usage.services import logs_ingest

        try:
            while not self._stop.is_set():
                now = int(time.time())
                events = []
                for i in range(self.batch):
                    self._serial += 1
                    events.append(
                        LogEvent(
                            created_at=now,
                            user_id=1 + i % 500,
                            username=f"user{1 + i % 500}",
                            model_name="gpt-4o",
                            quota=1000,
                            prompt_tokens=300,
                            completion_tokens=90,
                            request_id=f"loop-{id(self)}-{self._serial}",
                        )
                    )
                started = time.perf_counter()
                try:
                    logs_ingest(events=events)
                except Exception as exc:  # counted and reported, the loop goes on
                    self.errors.append(repr(exc))
                self.samples.append((started, (time.perf_counter() - started) * 1000))
        finally:
            connections.close_all()

    def start(self) -> IngestLoop:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(60)

    def during(self, start: float, end: float) -> list[float]:
        """Latencies of the batches that were running at some point in [start, end]."""
        return [ms for began, ms in self.samples if began <= end and began + ms / 1000 >= start]

    def before(self, start: float) -> list[float]:
        return [ms for began, ms in self.samples if began + ms / 1000 < start]


def fill_day(rows: int, tag: str) -> None:
    from django.db import connection

    from logs.partitions import partitions_ensure

    partitions_ensure(start=RETENTION_DAY, end=RETENTION_DAY + DAY - 1)
    sql(FILL.format(table="logs"), {"start": RETENTION_DAY, "span": DAY, "rows": rows, "tag": tag})
    previous = connection.get_autocommit()
    connection.set_autocommit(True)
    sql("VACUUM ANALYZE logs")
    connection.set_autocommit(previous)


def delete_in_batches(before: int, batch_size: int) -> int:
    """The log API's batched DELETE, as `purge_logs` and `DELETE /api/log/` run it."""
    from logs.services import logs_delete_before

    return int(logs_delete_before(before=before, batch_size=batch_size))


class LockProbe:
    """Samples pg_stat_activity every 5 ms from its own session and records every other session
    of the database found waiting on a lock (latency alone cannot tell blocking from CPU
    contention on a shared machine)."""

    def __init__(self, exclude_pid: int) -> None:
        self.exclude_pid = exclude_pid
        self.waits: dict[tuple[int, str, str], list[float]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        from django.db import connection

        session = connection.get_new_connection(connection.get_connection_params())
        session.autocommit = True
        try:
            while not self._stop.is_set():
                for pid, event, query in session.execute(
                    "SELECT pid, wait_event, left(query, 50) FROM pg_stat_activity "
                    "WHERE wait_event_type = 'Lock' AND datname = current_database() "
                    "AND pid <> %s",
                    [self.exclude_pid],
                ).fetchall():
                    self.waits.setdefault((pid, event, query), []).append(time.perf_counter())
                time.sleep(0.005)
        finally:
            session.close()

    def start(self) -> LockProbe:
        self._thread.start()
        return self

    def stop(self) -> list[dict[str, Any]]:
        self._stop.set()
        self._thread.join(10)
        return [
            {
                "pid": pid,
                "waiting_on": event,
                "query": query,
                "seen_ms": round((v[-1] - v[0]) * 1000, 1),
            }
            for (pid, event, query), v in self.waits.items()
        ]


def timed_under_ingest(action: Callable[[], int], batch: int, settle: float) -> dict[str, Any]:
    from django.db import connection

    loop = IngestLoop(batch).start()
    time.sleep(settle)
    connection.ensure_connection()
    probe = LockProbe(exclude_pid=connection.connection.info.backend_pid).start()
    started = time.perf_counter()
    rows = action()
    ended = time.perf_counter()
    waits = probe.stop()
    time.sleep(settle)
    loop.stop()
    during = loop.during(started, ended)
    return {
        "seconds": round(ended - started, 3),
        "rows": rows,
        "ingest_ms_before": summary(loop.before(started)),
        "ingest_ms_during": summary(during),
        "longest_stall_ms": round(max(during), 1) if during else 0.0,
        # Sessions other than the one running the operation seen waiting on a lock meanwhile.
        "others_waiting_on_locks": waits,
        "ingest_errors": loop.errors[:3],
    }


def bench_retention(rows: int, rounds: int, batch: int, delete_batch: int) -> dict[str, Any]:
    from django.conf import settings

    from logs.partitions import partitions_drop_before

    # One day per partition, whatever LOG_RETENTION_DAYS would choose.
    settings.LOG_PARTITION_DAYS = 1
    drops, deletes = [], []
    for round_ in range(rounds):
        fill_day(rows, f"drop{round_}")
        drops.append(
            timed_under_ingest(
                lambda: partitions_drop_before(before=RETENTION_DAY + DAY), batch, 1.5
            )
        )
        fill_day(rows, f"delete{round_}")
        deletes.append(
            timed_under_ingest(
                lambda: delete_in_batches(RETENTION_DAY + DAY, delete_batch), batch, 1.5
            )
        )
        # The deleted rows' partition is empty now; drop it so the next round starts the same.
        partitions_drop_before(before=RETENTION_DAY + DAY)
        if drops[-1]["rows"] != rows or deletes[-1]["rows"] != rows:
            sys.exit(f"expected {rows} rows removed, got {drops[-1]} / {deletes[-1]}")
        print(f"  retention: round {round_ + 1}/{rounds} measured", file=sys.stderr)
    return {
        "rows": rows,
        "ingest_batch": batch,
        "delete_batch": delete_batch,
        "drop": {
            "seconds": summary([d["seconds"] for d in drops]),
            "longest_stall_ms": summary([d["longest_stall_ms"] for d in drops]),
            "rounds": drops,
        },
        "delete": {
            "seconds": summary([d["seconds"] for d in deletes]),
            "longest_stall_ms": summary([d["longest_stall_ms"] for d in deletes]),
            "rounds": deletes,
        },
    }


# --- report -----------------------------------------------------------------------------------


def print_report(report: dict[str, Any]) -> None:
    planning = report.get("planning")
    if planning:
        names = [
            k
            for k in planning[0]
            if isinstance(planning[0][k], dict) and "planning_ms" in planning[0][k]
        ]
        print("\nList queries against N partitions (ms; median / p95 over the repeats)")
        print(
            f"{'query':<26}{'partitions':>11}{'planning':>17}{'execution':>17}{'wall':>17}"
            f"{'locks':>7}"
        )
        for name in names:
            for row in planning:
                m = row[name]
                cells = [
                    f"{m[k]['median']:>8.2f} /{m[k]['p95']:>7.2f}"
                    for k in ("planning_ms", "execution_ms", "wall_ms")
                ]
                label = row["partitions"] or "none"
                print(
                    f"{name:<26}{label:>11}{cells[0]:>17}{cells[1]:>17}{cells[2]:>17}"
                    f"{m['locks']:>7}"
                )
    if planning:
        print("\nInsert of a 1000-row batch (ms; median / p95)")
        for row in planning:
            m = row["insert_1000_ms"]
            label = row["partitions"] or "none"
            print(f"{label:>11} partitions {m['median']:>8.2f} /{m['p95']:>7.2f}")
    retention = report.get("retention")
    if retention:
        print(
            f"\nRetention of one day ({retention['rows']} logs) while ingest runs "
            f"(batches of {retention['ingest_batch']}); median / max over the rounds"
        )
        for label, key in (("drop partition", "drop"), ("batched DELETE", "delete")):
            part = retention[key]
            print(
                f"{label:<16} {part['seconds']['median']:>8.2f} s /{part['seconds']['max']:>7.2f} s"
                f"   longest ingest stall {part['longest_stall_ms']['median']:>8.1f} ms /"
                f"{part['longest_stall_ms']['max']:>7.1f} ms"
            )
        for key in ("drop", "delete"):
            waits = [w for r in retention[key]["rounds"] for w in r["others_waiting_on_locks"]]
            longest = max((w["seen_ms"] for w in waits), default=0.0)
            print(
                f"  {key}: other sessions seen waiting on a lock: {len(waits)} "
                f"(longest seen {longest} ms)"
            )
            first = retention[key]["rounds"][0]
            print(
                f"  {key}: ingest batch ms before p50 {first['ingest_ms_before']['median']}, "
                f"p95 {first['ingest_ms_before']['p95']}; during p50 "
                f"{first['ingest_ms_during']['median']}, p95 {first['ingest_ms_during']['p95']}"
            )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.partitions", description=__doc__)
    parser.add_argument("--only", choices=("planning", "retention"), help="run one measurement")
    parser.add_argument(
        "--partitions",
        default="7,30,60,120,365",
        help="partition counts for planning (beware: an all-time query over N partitions holds "
        "about 9 N locks; the server's lock table is shared by every session)",
    )
    parser.add_argument("--plan-rows", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=25)
    parser.add_argument("--rows", type=int, default=170_000, help="logs in the dropped day")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--ingest-batch", type=int, default=100)
    parser.add_argument("--delete-batch", type=int, default=5_000)
    parser.add_argument("--json", default="var/bench/partitions.json")
    parser.add_argument("--keep", action="store_true", help="keep the scratch schema")
    args = parser.parse_args(argv)
    setup_django()

    report: dict[str, Any] = {"conditions": conditions()}
    with scratch_schema(args.keep):
        if args.only in (None, "planning"):
            counts = [int(c) for c in args.partitions.split(",") if c.strip()]
            report["planning"] = bench_planning(counts, args.plan_rows, args.repeat)
        if args.only in (None, "retention"):
            report["retention"] = bench_retention(
                args.rows, args.rounds, args.ingest_batch, args.delete_batch
            )
        report["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
        print_report(report)
        path = Path(args.json)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(report, indent=2))
        print(f"\nwritten to {path}")


def conditions() -> dict[str, Any]:
    from django.conf import settings

    version = sql("SHOW server_version")[0][0]
    locks = sql(
        "SELECT current_setting('max_locks_per_transaction')::int * "
        "(current_setting('max_connections')::int + "
        "current_setting('max_prepared_transactions')::int)"
    )[0][0]
    return {
        "postgresql": version,
        "shared_lock_table_slots": locks,
        "cpus": os.cpu_count(),
        "log_partition_days": settings.LOG_PARTITION_DAYS,
        "when": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        # Other work on the machine skews every figure; this is the 1/5/15-minute load.
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


if __name__ == "__main__":
    main()
