"""Read benchmark of the new-api log API over HTTP (list, self, stat, search, export).

    python -m bench.reads [--rows 1000000] [--repeat 30] [--pg-url URL] [--reuse]

Loads `--rows` synthetic logs into a PostgreSQL database whose name contains "bench" (one
`INSERT ... SELECT FROM generate_series` per 100 000 rows, then VACUUM ANALYZE), serves it with
gunicorn on 127.0.0.1, and times each scenario `--repeat` times, sequentially, over one
keep-alive connection: median and p95 latency in ms, plus rows/s and the server's memory for
the exports. `--reuse` keeps an already loaded database of the same size (no reload).

Standalone on purpose (its own loader and server start); `main()` is the CLI, `run(args)` the
suite entry point (`SUITE`, `add_arguments`, `run`) for the `python -m bench` harness."""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import sys
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bench.core import ROOT, Report, log, percentile
from bench.server import Database, Server
from logs.events import DAY

SUITE = "reads"
DEFAULT_PG_URL = os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432/tl_i3_bench")
SPAN_DAYS = 30
LOAD_CHUNK = 100_000
HEAVY_USER = 1  # owns 30% of the logs, as the one big consumer of many deployments
LIGHT_USER = 150
USERS = 200
MODELS = [
    "gpt-4o",
    "gpt-4o-mini",
    "claude-3-5-sonnet",
    "claude-3-5-haiku",
    "deepseek-v3",
    "deepseek-r1",
    "qwen-max",
    "o1",
    "o3-mini",
    "gemini-1.5-pro",
    "llama-3.1-70b",
    "text-embedding-3-small",
]
COLUMNS = (
    "created_at, type, content, user_id, username, token_id, token_name, model_name, quota, "
    "prompt_tokens, completion_tokens, cache_read_tokens, cache_creation_tokens, use_time, "
    'duration_ms, first_token_ms, is_stream, channel_id, channel_name, "group", ip, '
    "request_id, endpoint, other"
)
# Row g of n, spread evenly over the SPAN_DAYS before %(now)s; deterministic pseudo-random
# fields from multiplicative hashes of g.
SELECT_ROWS = """
SELECT
  %(start)s::bigint + (g - 1)::bigint * %(span)s / %(rows)s AS created_at,
  CASE WHEN g %% 53 = 0 THEN 5 WHEN g %% 997 = 1 THEN 1 WHEN g %% 991 = 2 THEN 3
       WHEN g %% 983 = 3 THEN 4 WHEN g %% 977 = 4 THEN 6 ELSE 2 END,
  CASE WHEN g %% 53 = 0 THEN 'upstream timeout after 30s (request ' || g || ')' ELSE '' END,
  u.user_id, 'user' || u.user_id, u.user_id * 10 + g %% 3, 'key-' || (g %% 3),
  (%(models)s::text[])[1 + (g * 7) %% %(model_count)s],
  (g * 7919) %% 20000, (g * 31) %% 4000, (g * 17) %% 1500, (g * 13) %% 500, 0,
  (g * 7) %% 30, (g * 7) %% 30000 + 120, (g * 3) %% 3000, g %% 3 = 0,
  1 + (g * 13) %% 20, 'channel-' || (1 + (g * 13) %% 20),
  CASE WHEN g %% 100 < 85 THEN 'default' WHEN g %% 100 < 97 THEN 'vip' ELSE 'svip' END,
  ('10.0.' || (g %% 256) || '.' || ((g * 7) %% 256))::inet,
  'req-' || g, '/v1/chat/completions',
  jsonb_build_object(
    'model_ratio', 2.5, 'group_ratio', 1, 'completion_ratio', 4, 'cache_tokens', 0,
    'frt', (g * 3) %% 3000, 'request_path', '/v1/chat/completions',
    'admin_info', jsonb_build_object('use_channel', jsonb_build_array((1 + (g * 13) %% 20)::text))
  )
FROM generate_series(%(first)s::bigint, %(last)s::bigint) AS g,
LATERAL (SELECT CASE WHEN g %% 10 < 3 THEN %(heavy)s
                     ELSE 2 + (g * 2654435761) %% %(others)s END AS user_id) AS u
"""


# --- database ------------------------------------------------------------------------------


def database_name(url: str) -> str:
    name = urllib.parse.urlsplit(url).path.lstrip("/")
    if "bench" not in name:
        raise SystemExit(f"refusing to use {name!r}: benchmark databases contain 'bench'")
    return name


def database_ensure(url: str, *, recreate: bool) -> None:
    import psycopg
    from psycopg import sql

    name = database_name(url)
    parts = urllib.parse.urlsplit(url)
    admin = urllib.parse.urlunsplit(("postgresql", parts.netloc, "/postgres", parts.query, ""))
    with psycopg.connect(admin, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if exists and recreate:
            conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
            exists = None
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def django_setup(url: str) -> None:
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def logs_load(rows: int, now: int) -> float:
    """Insert `rows` logs spread over the SPAN_DAYS before `now`; returns the seconds taken."""
    from django.db import connection

    started = time.perf_counter()
    span = SPAN_DAYS * DAY
    params: dict[str, Any] = {
        "start": now - span,
        "span": span,
        "rows": rows,
        "models": MODELS,
        "model_count": len(MODELS),
        "heavy": HEAVY_USER,
        "others": USERS - 1,
    }
    for first in range(1, rows + 1, LOAD_CHUNK):
        last = min(rows, first + LOAD_CHUNK - 1)
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO logs ({COLUMNS}) {SELECT_ROWS}",
                {**params, "first": first, "last": last},
            )
        log(f"  loaded {last:,} / {rows:,} logs")
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE logs")
    return time.perf_counter() - started


ROLLUP_TABLES = "usage_site, usage_channel, usage_user_total, usage_user"


def rollups_ensure(count: int) -> float | None:
    """Build the usage rollups from the loaded logs unless they count exactly those logs (the
    log stat reads them: docs/logs-api.md); returns the seconds taken, None when nothing was
    done. This loader writes the logs table alone, so the rollups are rebuilt with
    rebuild_usage's code and analysed (the benchmark server runs without autovacuum)."""
    from django.db import connection

    from usage.services import usage_rebuild

    with connection.cursor() as cursor:
        cursor.execute("SELECT COALESCE(SUM(requests), 0) FROM usage_site WHERE span = %s", [DAY])
        if cursor.fetchone()[0] == count:
            return None
    started = time.perf_counter()
    log("building the usage rollups (rebuild_usage)")
    with connection.cursor() as cursor:
        # A private benchmark database: the old rollups and marks described other logs.
        cursor.execute(f"TRUNCATE {ROLLUP_TABLES}, retention_marks")
    usage_rebuild(chunk_days=7)
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {ROLLUP_TABLES}")
    return round(time.perf_counter() - started, 1)


def fixture_ensure(rows: int, *, reuse: bool) -> tuple[str, str, dict[str, Any]]:
    """The loaded database and two read tokens: (admin token, heavy user's token, facts)."""
    from django.core.management import call_command
    from django.db import connection

    from accounts.models import Role, User
    from accounts.services import access_token_create

    call_command("migrate", "--noinput", verbosity=0)
    facts: dict[str, Any] = {}
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*), min(created_at), max(created_at) FROM logs")
        count, oldest, newest = cursor.fetchone()
    if reuse and count == rows:
        log(f"reusing the {count:,} loaded logs")
    else:
        with connection.cursor() as cursor:
            cursor.execute(f"TRUNCATE logs, {ROLLUP_TABLES}, retention_marks")
        log(f"loading {rows:,} logs")
        facts["load_seconds"] = round(logs_load(rows, int(time.time())), 1)
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*), min(created_at), max(created_at) FROM logs")
            count, oldest, newest = cursor.fetchone()
    facts["rollup_seconds"] = rollups_ensure(count)
    facts |= {"rows": count, "oldest": oldest, "newest": newest}
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_total_relation_size('logs'), pg_relation_size('logs')")
        total, heap = cursor.fetchone()
    facts |= {"table_mb": round(heap / 2**20), "table_with_indexes_mb": round(total / 2**20)}
    admin, _ = User.objects.update_or_create(
        id=10_000_001, defaults={"username": "bench-admin", "role": Role.ROOT}
    )
    heavy, _ = User.objects.update_or_create(
        id=HEAVY_USER, defaults={"username": f"user{HEAVY_USER}", "role": Role.COMMON}
    )
    User.objects.update_or_create(
        id=LIGHT_USER, defaults={"username": f"user{LIGHT_USER}", "role": Role.COMMON}
    )
    _, admin_secret = access_token_create(user=admin, name="bench-reads")
    _, heavy_secret = access_token_create(user=heavy, name="bench-reads")
    return admin_secret, heavy_secret, facts


# --- server and client ---------------------------------------------------------------------


class Client:
    def __init__(self, port: int, token: str, user_id: int) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
        self.headers = {"Authorization": f"Bearer {token}", "New-Api-User": str(user_id)}

    def get(self, path: str, params: dict[str, Any]) -> tuple[float, bytes]:
        """(seconds to the last byte, body)."""
        url = f"{path}?{urllib.parse.urlencode(params)}" if params else path
        started = time.perf_counter()
        self.conn.request("GET", url, headers=self.headers)
        response = self.conn.getresponse()
        body = response.read()
        elapsed = time.perf_counter() - started
        if response.status != 200:
            raise RuntimeError(f"GET {url}: HTTP {response.status} {body[:300]!r}")
        return elapsed, body


def json_ok(body: bytes) -> Any:
    payload = json.loads(body)
    if not payload.get("success"):
        raise RuntimeError(f"success: false: {payload.get('message')}")
    return payload["data"]


# --- scenarios -----------------------------------------------------------------------------


@dataclass
class Scenario:
    name: str
    role: str  # "admin" | "user"
    path: str
    params: dict[str, Any] | Callable[[], dict[str, Any]]
    note: str = ""


def scenarios(newest: int, middle_cursor: str) -> list[Scenario]:
    day_ago = newest - DAY
    week_ago = newest - 7 * DAY
    return [
        Scenario("list, no filter", "admin", "/api/log/", {}),
        Scenario("list, last 24 h", "admin", "/api/log/", {"start_timestamp": day_ago}),
        Scenario("list, model exact", "admin", "/api/log/", {"model_name": "o1"}),
        Scenario(
            "list, model %pattern%, 7 d",
            "admin",
            "/api/log/",
            {"model_name": "%mini%", "start_timestamp": week_ago},
        ),
        Scenario("list, channel", "admin", "/api/log/", {"channel": 7}),
        Scenario("list, username", "admin", "/api/log/", {"username": f"user{LIGHT_USER}"}),
        Scenario("list, type=5 (1.9%)", "admin", "/api/log/", {"type": 5}),
        Scenario("list, group=svip (3%)", "admin", "/api/log/", {"group": "svip"}),
        Scenario("list, request_id", "admin", "/api/log/", {"request_id": "req-123457"}),
        Scenario("list, p=1000 ps=10 (offset 9990)", "admin", "/api/log/", {"p": 1000, "ps": 10}),
        Scenario("list, cursor mid-table", "admin", "/api/log/", {"cursor": middle_cursor}),
        Scenario("list, page_size=100", "admin", "/api/log/", {"page_size": 100}),
        Scenario("self, heavy user", "user", "/api/log/self", {}),
        Scenario(
            "self, heavy user, model + 7 d",
            "user",
            "/api/log/self",
            {"model_name": "gpt-4o", "start_timestamp": week_ago},
        ),
        Scenario("self, heavy user, type=5", "user", "/api/log/self", {"type": 5}),
        Scenario("stat, all time", "admin", "/api/log/stat", {}),
        Scenario("stat, last 24 h", "admin", "/api/log/stat", {"start_timestamp": day_ago}),
        Scenario("stat, model, all time", "admin", "/api/log/stat", {"model_name": "o1"}),
        Scenario(
            "stat, channel, 7 d",
            "admin",
            "/api/log/stat",
            {"channel": 3, "start_timestamp": week_ago},
        ),
        Scenario("self stat, heavy user, all time", "user", "/api/log/self/stat", {}),
        Scenario(
            "self stat, heavy user, 24 h",
            "user",
            "/api/log/self/stat",
            {"start_timestamp": day_ago},
        ),
        Scenario("search, text (newest 100)", "admin", "/api/log/search", {"keyword": "timeout"}),
        Scenario("search, rare text", "admin", "/api/log/search", {"keyword": "request 777753)"}),
        Scenario("search, type code", "admin", "/api/log/search", {"keyword": "6"}),
        Scenario("self search, heavy user", "user", "/api/log/self/search", {"keyword": "gpt"}),
    ]


def run(args: argparse.Namespace) -> Report:
    """The suite: load (or reuse), serve, measure; returns the report."""
    database_ensure(args.pg_url, recreate=not args.reuse)
    django_setup(args.pg_url)
    admin_token, user_token, facts = fixture_ensure(args.rows, reuse=args.reuse)
    report = Report(
        SUITE,
        ["scenario", "n", "median_ms", "p95_ms", "items", "note"],
        meta={**facts, "repeat": args.repeat, "workers": args.workers, "pg_url": args.pg_url},
    )
    with Server(
        Database("postgres", args.pg_url), workers=args.workers, request_log=False, timeout=600
    ) as server:
        clients = {
            "admin": Client(server.port, admin_token, 10_000_001),
            "user": Client(server.port, user_token, HEAVY_USER),
        }
        middle = json_ok(
            clients["admin"].get("/api/log/", {"end_timestamp": facts["newest"] - 15 * DAY})[1]
        )
        cursor = middle["items"][0]
        middle_cursor = f"{cursor['created_at']}.{cursor['id']}"
        for scenario in scenarios(facts["newest"], middle_cursor):
            client = clients[scenario.role]
            params = scenario.params() if callable(scenario.params) else scenario.params
            for _ in range(args.warmup):
                client.get(scenario.path, params)
            timings, items = [], 0
            for _ in range(args.repeat):
                elapsed, body = client.get(scenario.path, params)
                timings.append(elapsed * 1000)
            data = json_ok(body)
            items = len(data["items"]) if isinstance(data, dict) and "items" in data else 0
            if isinstance(data, list):
                items = len(data)
            report.add(
                scenario=scenario.name,
                n=len(timings),
                median_ms=round(statistics.median(timings), 2),
                p95_ms=round(percentile(timings, 95), 2),
                items=items,
                note=f"total {data['total']}" if isinstance(data, dict) and "total" in data
                else "",
            )  # fmt: skip
            log(f"  {scenario.name}: median {statistics.median(timings):.1f} ms")
        exports = [
            (
                "export, 1 day (admin)",
                "admin",
                "/api/log/export",
                {"start_timestamp": facts["newest"] - DAY},
            ),
            (
                "self export, heavy user, 7 d",
                "user",
                "/api/log/self/export",
                {"start_timestamp": facts["newest"] - 7 * DAY},
            ),
        ]
        if not args.skip_full_export:
            exports.append(("export, every log (admin)", "admin", "/api/log/export", {}))
        rss_before = server.worker_rss_kb()
        for name, role, path, params in exports:
            repeat = 1 if not params else args.export_repeat
            timings, lines, size = [], 0, 0
            for _ in range(repeat):
                elapsed, body = clients[role].get(path, params)
                timings.append(elapsed * 1000)
                lines, size = body.count(b"\r\n") - 1, len(body)
            median_ms = statistics.median(timings)
            report.add(
                scenario=name,
                n=repeat,
                median_ms=round(median_ms, 1),
                p95_ms=round(percentile(timings, 95), 1),
                items=lines,
                note=f"{lines / (median_ms / 1000):,.0f} rows/s, {size / 2**20:,.0f} MiB",
            )
            log(f"  {name}: {lines:,} rows in {median_ms / 1000:.1f} s")
        report.meta["worker_peak_rss_mb_before_exports"] = round(rss_before / 1024)
        report.meta["worker_peak_rss_mb_after_exports"] = round(server.worker_rss_kb() / 1024)
    return report


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--pg-url", default=DEFAULT_PG_URL, help="its database name must contain 'bench'"
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=30, help="timed requests per scenario")
    parser.add_argument("--warmup", type=int, default=3, help="untimed requests per scenario")
    parser.add_argument("--export-repeat", type=int, default=3)
    parser.add_argument("--skip-full-export", action="store_true")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--reuse", action="store_true", help="keep a loaded database of --rows")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.reads",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_arguments(parser)
    parser.add_argument("--no-write", action="store_true", help="do not write the JSON result")
    args = parser.parse_args(argv)
    report = run(args)
    print(report.table())
    print(json.dumps(report.meta, indent=2))
    if not args.no_write:
        log(f"wrote {report.write()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
