"""Scale: every endpoint and page at N million logs, with ingest, retention and export (issue 6).

`python -m bench scale --rows 1m,10m` (or `make bench BENCH_ARGS="scale --rows 1m,10m"`), for
each size:

1. data: a PostgreSQL database `tokenledger_bench_<size>` holding that many realistic logs over
   60 days, bulk-loaded with COPY and aggregated with the ingest path's own rollup code
   (`bench.load.load_logs`); reused when it already holds them (`--reload` reloads).
2. reads: every read endpoint of every API family and every dashboard page, for an admin and for
   a gateway user (the busiest one), over the last 1, 30 and 365 days, with and without filters,
   `--repeat` times each, first on a quiet server, then again while a steady ingest
   (`--ingest-rate` events/s) runs. Median and p95 milliseconds over HTTP, end to end.
3. throughput: ingest at full speed (`--ingest-clients` posting 1000-event batches) for
   `--ingest-seconds` while a reader loops over the reads; events/s and the reader's latency.
4. retention: a day's worth of logs is copied to an old day twice, then removed while the steady
   ingest runs, once by `DELETE /api/log/` at a partition boundary (whole partitions dropped)
   and once by `manage.py purge_logs` mid-partition (batched deletes): seconds, rows, and the
   ingest batches' latency during each.
5. export: the CSV export of one day (admin) and of the busy user's 30 days: rows/s, MB/s and
   the gunicorn workers' peak resident memory.
6. index audit: scans of every index of the logs and usage tables during the run (partitions
   summed into their parent index); an index no measured query used is listed.

The table is printed and written, with the data set's facts, to bench/results/scale-<time>.json.
Only databases whose name contains "bench" are ever created, written or dropped."""

from __future__ import annotations

import argparse
import contextlib
import http.client
import itertools
import re
import secrets
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import orjson

from bench.core import ROOT, Report, log, median, percentile
from bench.ingest import RUN_TAG, bodies
from bench.server import Database, Server, manage
from logs.events import DAY

SUITE = "scale"
AIM_MS = 50.0
RANGES = (1, 30, 365)
ROLLUP_TABLES = ("usage_site", "usage_channel", "usage_user", "usage_user_total")
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/tokenledger_bench_{size}"

COLUMNS = [
    "size",
    "read",
    "as",
    "days",
    "filter",
    "rows",
    "p50_ms",
    "p95_ms",
    "ingest_p50_ms",
    "ingest_p95_ms",
    "aim",
]


def size_label(rows: int) -> str:
    if rows % 1_000_000 == 0:
        return f"{rows // 1_000_000}m"
    if rows % 1000 == 0:
        return f"{rows // 1000}k"
    return str(rows)


def size_parse(text: str) -> int:
    match = re.fullmatch(r"\s*([0-9_.]+)\s*([kKmM]?)\s*", text)
    if not match:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (say 1000000, 500k or 10m)")
    number = float(match.group(1).replace("_", ""))
    scale = {"": 1, "k": 1000, "m": 1_000_000}[match.group(2).lower()]
    return int(number * scale)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--rows", default="1m", help="data set sizes, comma-separated (1m; e.g. 1m,10m)"
    )
    parser.add_argument(
        "--pg-url", default=DEFAULT_URL,
        help="PostgreSQL URL; {size} is replaced by 1m, 10m... (the name must contain 'bench')",
    )  # fmt: skip
    parser.add_argument("--reload", action="store_true", help="reload the data even if present")
    parser.add_argument("--days", type=float, default=60, help="history of the data set (60)")
    parser.add_argument("--users", type=int, default=1000, help="gateway users in the data (1000)")
    parser.add_argument("--workers", type=int, default=3, help="gunicorn workers (3)")
    parser.add_argument("--repeat", type=int, default=15, help="samples per read and phase (15)")
    parser.add_argument(
        "--ingest-rate", type=int, default=500,
        help="events/s posted during the 'under ingest' phases (500)",
    )  # fmt: skip
    parser.add_argument("--ingest-clients", type=int, default=4, help="throughput phase (4)")
    parser.add_argument("--ingest-seconds", type=float, default=40, help="throughput phase (40)")
    parser.add_argument(
        "--phases", default="reads,throughput,retention,export",
        help="which phases run (reads,throughput,retention,export)",
    )  # fmt: skip
    parser.add_argument("--only", default="", help="regular expression: the reads to measure")


# --- HTTP --------------------------------------------------------------------------------------


@dataclass
class Answer:
    status: int
    body: bytes
    ms: float
    content_type: str


class Client:
    """One request per connection (gunicorn's sync workers close them anyway)."""

    def __init__(self, port: int) -> None:
        self.port = port

    def request(
        self, method: str, path: str, *, headers: dict[str, str], body: bytes | None = None
    ) -> Answer:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=600)
        started = time.perf_counter()
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            payload = response.read()
        finally:
            connection.close()
        took = (time.perf_counter() - started) * 1000
        return Answer(response.status, payload, took, response.getheader("Content-Type") or "")


@dataclass
class Caller:
    """Who asks: a bearer token for the APIs and a session cookie for the pages."""

    name: str  # "admin" | "user"
    user_id: int
    token: str
    session: str

    def headers(self, page: bool) -> dict[str, str]:
        if page:
            return {"Cookie": f"sessionid={self.session}"}
        return {"Authorization": f"Bearer {self.token}", "New-Api-User": str(self.user_id)}


@dataclass(frozen=True)
class Ago:
    """A query parameter `days` before the moment of the request, spelled as `style` says:
    unix (seconds), date (YYYY-MM-DD, UTC), iso (ISO 8601), local (a datetime-local value)."""

    days: float
    style: str = "unix"

    def value(self, now: int) -> str | int:
        ts = int(now - self.days * DAY)
        moment = datetime.fromtimestamp(ts, tz=UTC)
        if self.style == "date":
            return moment.date().isoformat()
        if self.style == "iso":
            return moment.isoformat()
        if self.style == "local":
            return moment.strftime("%Y-%m-%dT%H:%M")
        return ts


@dataclass
class Read:
    name: str  # the method and path, e.g. "GET /api/log/"
    role: str  # "admin" | "user"
    days: int | None  # the range; None when the read has none
    filter: str  # "" or a description of the filters
    params: dict[str, Any]  # values may be Ago (relative to the request's moment)
    body: bytes | None = None

    @property
    def method(self) -> str:
        return self.name.split(" ", 1)[0]

    @property
    def label(self) -> str:
        days = "" if self.days is None else f" {self.days}d"
        extra = f" [{self.filter}]" if self.filter else ""
        return f"{self.role} {self.name}{days}{extra}"

    @property
    def page(self) -> bool:
        return not self.name.split(" ", 1)[1].startswith("/api/")

    def path(self, now: int) -> str:
        path = self.name.split(" ", 1)[1]
        params = {
            key: value.value(now) if isinstance(value, Ago) else value
            for key, value in self.params.items()
        }
        query = urlencode(params, doseq=True)
        return f"{path}?{query}" if query else path


def answer_rows(answer: Answer) -> int | None:
    """How many rows an answer holds (items, data points, CSV lines); None for a page."""
    if "csv" in answer.content_type:
        return max(0, answer.body.count(b"\n") - 1)
    if "json" not in answer.content_type:
        return None
    payload = orjson.loads(answer.body)
    return _largest_list(payload)


def _largest_list(value: Any, depth: int = 0) -> int:
    if isinstance(value, list):
        return len(value)
    if isinstance(value, dict) and depth < 3:
        found = [_largest_list(item, depth + 1) for item in value.values()]
        return max(found, default=1)
    return 1


def answer_error(answer: Answer) -> str | None:
    """Why an answer is not a success, in any family's shape; None when it is one."""
    if answer.status != 200:
        return f"HTTP {answer.status}: {answer.body[:200]!r}"
    if "json" not in answer.content_type:
        return None
    payload = orjson.loads(answer.body)
    if isinstance(payload, dict):
        if payload.get("success") is False:
            return f"success false: {payload.get('message')}"
        if "code" in payload and payload["code"] != 0:
            return f"code {payload['code']}: {payload.get('message')}"
        meta = payload.get("meta")
        if isinstance(meta, dict) and meta.get("code") != 200:
            return f"meta.code {meta.get('code')}: {meta.get('message')}"
    return None


# --- the data set ------------------------------------------------------------------------------


@dataclass
class Facts:
    """What the reads ask about, picked from the loaded data."""

    rows: int
    oldest: int
    newest: int
    heavy_user: int  # the busiest user (the "user" of the user reads)
    typical_user: str  # the logged username of a median user (an admin filter)
    model: str  # the most used model
    rare_model: str  # the least used model
    channel: int
    group: str  # the most used group but "default"
    token_name: str  # a token name of the heavy user
    token_id: int  # and its id (sub2api's api_key_id, AceData's application_id)
    request_id: str
    log_id: int  # one of the heavy user's logs (sub2api's /usage/{id})
    common_text: str
    rare_text: str
    extra: dict[str, Any] = field(default_factory=dict)


def django_setup(url: str) -> None:
    import os

    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    import django
    from django.conf import settings

    if not settings.configured or not getattr(django.apps.apps, "ready", False):
        django.setup()


def connect(url: str) -> Any:
    import psycopg

    return psycopg.connect(url.replace("postgres://", "postgresql://", 1), autocommit=True)


def data_ensure(url: str, rows: int, args: argparse.Namespace) -> dict[str, Any]:
    """Load `rows` logs into `url` unless it holds them already (the ingest of earlier runs may
    have added up to half as many again); returns what the load took, or that it was reused."""
    import psycopg

    from bench.load import load_logs

    held = None
    with contextlib.suppress(psycopg.OperationalError), connect(url) as conn:
        found = conn.execute("SELECT to_regclass('logs') IS NOT NULL").fetchone()
        if found and found[0]:
            counted = conn.execute("SELECT count(*) FROM logs").fetchone()
            held = int(counted[0]) if counted else 0
    if held is not None and rows <= held <= rows * 1.5 and not args.reload:
        log(f"[scale] reusing {url.rsplit('/', 1)[-1]}: {held:,} logs; migrating")
        started = time.perf_counter()
        manage(Database("postgres", url), "migrate", "--noinput", timeout=3600)
        return {
            "loaded": False,
            "logs_held": held,
            "migrate_seconds": round(time.perf_counter() - started, 1),
        }
    log(f"[scale] loading {rows:,} logs into {url.rsplit('/', 1)[-1]}")
    stats = load_logs(url=url, rows=rows, days=args.days, users=args.users, workers=2, fresh=True)
    return {
        "loaded": True,
        "copy_seconds": round(stats.copy_seconds, 1),
        "index_seconds": round(stats.index_seconds, 1),
        "aggregate_seconds": round(stats.aggregates_seconds or 0, 1),
        "logs_bytes": stats.table_bytes,
    }


def facts_pick(url: str) -> Facts:
    with connect(url) as conn:

        def one(sql: str, params: tuple[Any, ...] = ()) -> Any:
            found = conn.execute(sql, params).fetchone()
            return found[0] if found else None

        count, oldest, newest = conn.execute(
            "SELECT count(*), min(created_at), max(created_at) FROM logs"
        ).fetchone()
        users = conn.execute(
            "SELECT user_id, username, sum(requests) AS n FROM usage_user_total "
            "GROUP BY user_id, username ORDER BY n DESC, user_id"
        ).fetchall()
        heavy = users[0][0]
        typical = users[len(users) // 2][1]
        models = conn.execute(
            "SELECT model_name, sum(requests) AS n FROM usage_site WHERE span = 86400 "
            "GROUP BY model_name ORDER BY n DESC, model_name"
        ).fetchall()
        # The busiest channel of the busiest model (so that model + channel matches logs).
        channel = one(
            "SELECT channel_id FROM usage_channel WHERE span = 86400 AND model_name = %s "
            "GROUP BY channel_id ORDER BY sum(requests) DESC, channel_id LIMIT 1",
            (models[0][0],),
        )
        group = one(
            'SELECT "group" FROM usage_channel WHERE span = 86400 AND "group" <> %s '
            'GROUP BY "group" ORDER BY sum(requests) DESC LIMIT 1',
            ("default",),
        )
        token_name, token_id, log_id = conn.execute(
            "SELECT token_name, token_id, id FROM logs WHERE user_id = %s AND type = 2 "
            "AND token_name <> '' ORDER BY created_at DESC, id DESC LIMIT 1",
            (heavy,),
        ).fetchone()
        request_id = one(
            "SELECT request_id FROM logs WHERE created_at > %s AND request_id <> '' LIMIT 1",
            (oldest + (newest - oldest) // 2,),
        )
    return Facts(
        rows=count,
        oldest=oldest,
        newest=newest,
        heavy_user=heavy,
        typical_user=typical,
        model=models[0][0],
        rare_model=models[-1][0],
        channel=channel,
        group=group or "default",
        token_name=token_name,
        token_id=token_id,
        request_id=request_id,
        log_id=log_id,
        # The demo's failed requests say "... upstream request timed out"; a request id's tail
        # is in one log only.
        common_text="timed out",
        rare_text=request_id[-10:],
    )


def callers_make(facts: Facts) -> dict[str, Caller]:
    """A root admin and the busiest gateway user, each with a read token and a session."""
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore
    from django.db import connections

    from accounts.models import Role, User
    from accounts.services import access_token_create

    connections.close_all()
    admin, _ = User.objects.update_or_create(
        id=1_999_999_999, defaults={"username": "bench-admin", "role": Role.ROOT}
    )
    user = User.objects.get(id=facts.heavy_user)
    callers = {}
    for name, who in (("admin", admin), ("user", user)):
        _, secret = access_token_create(user=who, name=f"bench-scale-{secrets.token_hex(3)}")
        session = SessionStore()
        session[SESSION_KEY] = str(who.pk)
        session[BACKEND_SESSION_KEY] = "accounts.backends.GatewayUserBackend"
        session[HASH_SESSION_KEY] = who.get_session_auth_hash()
        session.create()
        callers[name] = Caller(name, who.pk, secret, str(session.session_key))
    _, ingest_secret = access_token_create(
        user=admin, scope="ingest", name=f"bench-scale-ingest-{secrets.token_hex(3)}"
    )
    callers["ingest"] = Caller("ingest", admin.pk, ingest_secret, "")
    connections.close_all()
    return callers


# --- the reads ---------------------------------------------------------------------------------


def reads_build(facts: Facts) -> list[Read]:
    """Every read endpoint and page, for the ranges and filters the issue lists."""
    reads: list[Read] = []

    def add(name: str, role: str, days: int | None, label: str = "", **params: Any) -> None:
        body = params.pop("body", None)
        reads.append(Read(name, role, days, label, params, body))

    # new-api's log API (admin): every filter of the list and the stat, over each range.
    log_filters: list[tuple[str, dict[str, Any]]] = [
        ("", {}),
        ("model", {"model_name": facts.model}),
        ("channel", {"channel": facts.channel}),
        ("model+channel", {"model_name": facts.model, "channel": facts.channel}),
        ("username", {"username": facts.typical_user}),
        ("token_name", {"token_name": facts.token_name}),
        ("group", {"group": facts.group}),
        ("type=5", {"type": 5}),
        ("model %pattern%", {"model_name": f"%{facts.model[1:-1]}%"}),
    ]
    for days in RANGES:
        for label, extra in log_filters:
            add("GET /api/log/", "admin", days, label, start_timestamp=Ago(days), **extra)
    add("GET /api/log/", "admin", None, "request_id", request_id=facts.request_id)
    add("GET /api/log/", "admin", None, "p=500 (offset 4990)", p=500)
    add("GET /api/log/", "admin", None, "page_size=100", page_size=100)
    for days in RANGES:
        for label, extra in log_filters[:7]:
            add("GET /api/log/stat", "admin", days, label, start_timestamp=Ago(days), **extra)
    add("GET /api/log/stat", "admin", None, "all time")
    add("GET /api/log/search", "admin", None, "common text", keyword=facts.common_text)
    add("GET /api/log/search", "admin", None, "rare text", keyword=facts.rare_text)
    add("GET /api/log/search", "admin", None, "type code", keyword="5")
    # new-api's log API (the busiest user)
    for days in RANGES:
        for label, extra in log_filters[:2]:
            add("GET /api/log/self", "user", days, label, start_timestamp=Ago(days), **extra)
            add("GET /api/log/self/stat", "user", days, label, start_timestamp=Ago(days),
                **extra)  # fmt: skip
    add("GET /api/log/self/search", "user", None, "common text", keyword=facts.common_text)
    # new-api's data API (the user variant refuses spans over a month)
    for days in RANGES:
        by = "day" if days > 31 else "hour"
        span = {"start_timestamp": Ago(days), "end_timestamp": Ago(0), "granularity": by}
        add("GET /api/data/", "admin", days, f"by {by}", **span)
        add("GET /api/data/", "admin", days, f"by {by}, username", **span,
            username=facts.typical_user)  # fmt: skip
        if days <= 31:
            add("GET /api/data/self", "user", days, f"by {by}", **span)
    # sub2api (the caller's own logs)
    for days in RANGES:
        dates = {"start_date": Ago(days - 1, "date"), "end_date": Ago(0, "date")}
        by = "hour" if days == 1 else "day"
        add("GET /api/v1/usage", "user", days, "", **dates)
        add("GET /api/v1/usage", "user", days, "model", **dates, model=facts.model)
        add("GET /api/v1/usage/dashboard/trend", "user", days, f"by {by}", **dates,
            granularity=by)  # fmt: skip
        add("GET /api/v1/usage/dashboard/models", "user", days, "", **dates)
    for period, days in (("today", 1), ("month", 30), ("year", 365)):
        add("GET /api/v1/usage/stats", "user", days, f"period={period}", period=period)
    add("GET /api/v1/usage/stats", "user", 30, "api_key_id", period="month",
        api_key_id=facts.token_id)  # fmt: skip
    add("GET /api/v1/usage/dashboard/stats", "user", None)
    add(f"GET /api/v1/usage/{facts.log_id}", "user", None)
    add("POST /api/v1/usage/dashboard/api-keys-usage", "user", None,
        body=orjson.dumps({"api_key_ids": [facts.token_id]}))  # fmt: skip
    # AceData, r9s.ai
    for days in RANGES:
        add("GET /api/v1/usage/apis/aggregate/", "user", days, "",
            created_at_from=Ago(days, "iso"), created_at_to=Ago(0, "iso"))  # fmt: skip
        add("GET /api/v1/portal/management/usage", "user", days, "",
            start_time=Ago(days), end_time=Ago(0))  # fmt: skip
    add("GET /api/v1/usage/apis/aggregate/", "user", 30, "api_id",
        created_at_from=Ago(30, "iso"), api_id=facts.model)  # fmt: skip
    add("GET /api/user/self", "user", None)
    # Pages
    for days, preset in ((1, "24h"), (30, "30d"), (365, "custom")):
        dashboard: dict[str, Any] = {"range": preset}
        if preset == "custom":
            dashboard |= {"start": Ago(days - 1, "date"), "end": Ago(0, "date")}
        add("GET /", "user", days, "", **dashboard)
        add("GET /site/", "admin", days, "", **dashboard)
        add("GET /logs/", "user", days, "", start=Ago(days, "local"))
        add("GET /site/logs/", "admin", days, "", start=Ago(days, "local"))
    add("GET /site/", "admin", 30, "username", range="30d", username=facts.typical_user)
    add("GET /logs/", "user", 30, "model", start=Ago(30, "local"), model_name=facts.model)
    add("GET /site/logs/", "admin", 30, "model+channel", start=Ago(30, "local"),
        model_name=facts.model, channel=facts.channel)  # fmt: skip
    add("GET /account/", "user", None)
    return reads


@dataclass
class Samples:
    ms: list[float] = field(default_factory=list)
    rows: int | None = None
    error: str | None = None


def measure(client: Client, callers: dict[str, Caller], read: Read, repeat: int) -> Samples:
    """`repeat` timed requests (after one untimed warm-up)."""
    samples = Samples()
    caller = callers[read.role]
    headers = caller.headers(read.page)
    body = read.body
    if body is not None:
        headers = {**headers, "Content-Type": "application/json"}
    for attempt in range(repeat + 1):
        path = read.path(int(time.time()))
        answer = client.request(read.method, path, headers=headers, body=body)
        error = answer_error(answer)
        if error:
            samples.error = f"{path}: {error}"
            return samples
        if attempt == 0:
            samples.rows = answer_rows(answer)
            continue
        samples.ms.append(answer.ms)
    return samples


# --- ingest running beside the reads -----------------------------------------------------------


class SteadyIngest:
    """Posts `rate` events/s in batches of `batch` from a background thread, each batch with
    request ids never used before; records each batch's (start time, latency ms)."""

    def __init__(self, client: Client, token: str, rate: int, batch: int = 100) -> None:
        self.client = client
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        self.rate = rate
        self.batch = batch
        self.payloads = bodies(batches=50, size=batch, seed=7, users=1000)
        self.batches: list[tuple[float, float]] = []
        self.accepted = 0
        self.failures: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        interval = self.batch / self.rate
        next_at = time.perf_counter()
        for index in itertools.count():
            if self._stop.is_set():
                return
            if index % len(self.payloads) == 0:
                tag = secrets.token_hex(3).encode()
            body = self.payloads[index % len(self.payloads)].replace(RUN_TAG, tag)
            started = time.perf_counter()
            try:
                answer = self.client.request("POST", "/api/log/", headers=self.headers, body=body)
            except (OSError, http.client.HTTPException) as exc:
                self.failures.append(repr(exc))
                continue
            self.batches.append((started, answer.ms))
            if answer.status == 200:
                self.accepted += orjson.loads(answer.body)["data"]["accepted"]
            else:
                self.failures.append(f"HTTP {answer.status}: {answer.body[:200]!r}")
            next_at = max(next_at + interval, time.perf_counter() - interval)
            self._stop.wait(max(0.0, next_at - time.perf_counter()))

    def __enter__(self) -> SteadyIngest:
        self._thread.start()
        time.sleep(1.0)  # let it settle
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=120)

    def latencies(self, start: float, end: float) -> list[float]:
        return [ms for at, ms in self.batches if start <= at <= end]


# --- phases ------------------------------------------------------------------------------------


def phase_reads(
    client: Client, callers: dict[str, Caller], reads: list[Read], args: argparse.Namespace,
    size: str,
) -> list[dict[str, Any]]:  # fmt: skip
    quiet: dict[str, Samples] = {}
    for number, read in enumerate(reads, 1):
        quiet[read.label] = measure(client, callers, read, args.repeat)
        result = quiet[read.label]
        shown = result.error or f"p50 {median(result.ms):.1f} ms"
        log(f"[scale {size}] quiet {number}/{len(reads)} {read.label}: {shown}")
    busy: dict[str, Samples] = {}
    with SteadyIngest(client, callers["ingest"].token, args.ingest_rate) as ingest:
        for number, read in enumerate(reads, 1):
            busy[read.label] = measure(client, callers, read, args.repeat)
            result = busy[read.label]
            shown = result.error or f"p50 {median(result.ms):.1f} ms"
            log(f"[scale {size}] ingest {number}/{len(reads)} {read.label}: {shown}")
        achieved = ingest.accepted
        seconds = (ingest.batches[-1][0] - ingest.batches[0][0]) if ingest.batches else 0
    rows = []
    for read in reads:
        calm, loaded = quiet[read.label], busy[read.label]
        p95s = [percentile(s.ms, 95) for s in (calm, loaded) if s.ms]
        rows.append(
            {
                "size": size,
                "read": read.name,
                "as": read.role,
                "days": read.days,
                "filter": read.filter,
                "rows": calm.rows,
                "p50_ms": round(median(calm.ms), 1) if calm.ms else None,
                "p95_ms": round(percentile(calm.ms, 95), 1) if calm.ms else None,
                "ingest_p50_ms": round(median(loaded.ms), 1) if loaded.ms else None,
                "ingest_p95_ms": round(percentile(loaded.ms, 95), 1) if loaded.ms else None,
                "aim": "error" if calm.error or loaded.error else
                ("met" if max(p95s) < AIM_MS else "missed"),
                "error": calm.error or loaded.error,
                "samples_ms": calm.ms,
                "ingest_samples_ms": loaded.ms,
            }
        )  # fmt: skip
    rows.append(
        {
            "size": size,
            "read": "(steady ingest during the reads)",
            "filter": f"{args.ingest_rate} events/s asked",
            "rows": achieved,
            "p50_ms": round(achieved / seconds) if seconds else None,
            "aim": "events/s achieved in p50_ms",
        }
    )
    return rows


def phase_throughput(
    client: Client, callers: dict[str, Caller], reads: list[Read], args: argparse.Namespace,
    size: str,
) -> list[dict[str, Any]]:  # fmt: skip
    """Ingest as fast as the server takes it while one reader loops over the API reads."""
    payloads = bodies(batches=40, size=1000, seed=11, users=1000)
    headers = {"Authorization": f"Bearer {callers['ingest'].token}",
               "Content-Type": "application/json"}  # fmt: skip
    stop = threading.Event()
    lock = threading.Lock()
    accepted = [0]
    latencies: list[float] = []
    failures: list[str] = []
    counter = itertools.count()

    def poster() -> None:
        while not stop.is_set():
            index = next(counter)
            body = payloads[index % len(payloads)].replace(
                RUN_TAG, f"{index // len(payloads):06x}".encode()
            )
            answer = client.request("POST", "/api/log/", headers=headers, body=body)
            with lock:
                latencies.append(answer.ms)
                if answer.status == 200:
                    accepted[0] += orjson.loads(answer.body)["data"]["accepted"]
                else:
                    failures.append(f"HTTP {answer.status}")

    api_reads = [r for r in reads if not r.page and r.method == "GET" and r.days in (1, 30)]
    read_ms: list[float] = []
    read_errors: list[str] = []

    def reader() -> None:
        for read in itertools.cycle(api_reads):
            if stop.is_set():
                return
            headers_read = callers[read.role].headers(False)
            answer = client.request("GET", read.path(int(time.time())), headers=headers_read)
            if answer_error(answer):
                read_errors.append(f"{read.label}: {answer_error(answer)}")
            read_ms.append(answer.ms)

    # A run-unique prefix in every request id: a second run must not meet the first's ids.
    prefix = secrets.token_hex(2).encode()
    payloads = [body.replace(RUN_TAG, RUN_TAG + prefix) for body in payloads]
    threads = [threading.Thread(target=poster) for _ in range(args.ingest_clients)]
    threads.append(threading.Thread(target=reader))
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    time.sleep(args.ingest_seconds)
    stop.set()
    for thread in threads:
        thread.join(timeout=300)
    elapsed = time.perf_counter() - started
    rate = accepted[0] / elapsed
    log(f"[scale {size}] throughput: {rate:,.0f} events/s, reads p95 {percentile(read_ms, 95):.0f}")
    return [
        {
            "size": size,
            "read": "POST /api/log/ at full speed",
            "as": "ingest",
            "filter": f"{args.ingest_clients} clients x 1000 events, one reader",
            "rows": accepted[0],
            "p50_ms": round(median(latencies), 1),
            "p95_ms": round(percentile(latencies, 95), 1),
            "aim": f"{rate:,.0f} events/s" + (f", {len(failures)} failed" if failures else ""),
            "events_per_s": round(rate),
        },
        {
            "size": size,
            "read": "API reads during full-speed ingest",
            "as": "both",
            "filter": f"{len(api_reads)} reads of 1 and 30 days, looped",
            "rows": len(read_ms),
            "p50_ms": round(median(read_ms), 1),
            "p95_ms": round(percentile(read_ms, 95), 1),
            "aim": "met" if percentile(read_ms, 95) < AIM_MS else "missed",
            "error": "; ".join(read_errors[:3]) or None,
        },
    ]


def _copy_day(url: str, source_start: int, target_start: int) -> int:
    """Copy the logs of the day starting at `source_start` to the day starting at
    `target_start` (its partitions created first); returns how many."""
    django_setup(url)
    from django.db import connection

    from logs.models import LOG_COLUMNS
    from logs.partitions import partitions_ensure

    partitions_ensure(start=target_start, end=target_start + DAY - 1)
    connection.close()
    quoted = [f'"{name}"' for name in LOG_COLUMNS]  # created_at first, then the rest
    shift = source_start - target_start
    with connect(url) as conn:
        cursor = conn.execute(
            f"INSERT INTO logs ({', '.join(quoted)}) SELECT created_at - %s, "  # noqa: S608
            f"{', '.join(quoted[1:])} FROM logs WHERE created_at >= %s AND created_at < %s",
            (shift, source_start, source_start + DAY),
        )
        return cursor.rowcount


def phase_retention(
    client: Client, callers: dict[str, Caller], url: str, facts: Facts, args: argparse.Namespace,
    size: str,
) -> list[dict[str, Any]]:  # fmt: skip
    django_setup(url)
    from logs.partitions import partition_width, window_start

    width = partition_width()
    with connect(url) as conn:
        oldest = conn.execute("SELECT min(created_at) FROM logs").fetchone()[0]
    # X: the last day of a partition window before the data; DELETE /api/log/ at the window's
    # end drops that partition whole. Y: a day inside the empty stretch between X and the data,
    # which purge_logs reaches mid-partition (batched deletes).
    boundary = window_start(oldest - 6 * DAY, width)
    day_x = boundary - DAY
    source = facts.newest - 7 * DAY
    source -= source % DAY
    copied_x = _copy_day(url, source, day_x)
    days = (int(time.time()) - oldest) // DAY + 2
    cutoff = int(time.time()) + 120 - days * DAY  # purge_logs runs within two minutes
    day_y = cutoff - 2 * DAY
    if day_y < boundary:
        raise SystemExit("the data set is too young for the retention phase")
    copied_y = _copy_day(url, source, day_y)
    with connect(url) as conn:
        conn.execute("VACUUM (ANALYZE) logs")
    log(f"[scale {size}] retention: copied {copied_x:,} + {copied_y:,} logs to old days")
    rows = []
    headers = callers["admin"].headers(False)
    with SteadyIngest(client, callers["ingest"].token, args.ingest_rate) as ingest:
        time.sleep(3)
        before_start = time.perf_counter()
        time.sleep(5)
        start = time.perf_counter()
        answer = client.request("DELETE", f"/api/log/?target_timestamp={boundary}", headers=headers)
        end = time.perf_counter()
        deleted = orjson.loads(answer.body).get("data") if answer.status == 200 else None
        during = ingest.latencies(start, end)
        baseline = ingest.latencies(before_start, start)
        error = answer_error(answer)
        name = "DELETE /api/log/ (whole partition)"
        rows.append(_retention_row(size, name, deleted, end - start, baseline, during, error))
        time.sleep(3)
        start = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "manage.py", "purge_logs", "--days", str(days)],
            cwd=ROOT, env=_env(url), capture_output=True, text=True, check=False,
        )  # fmt: skip
        end = time.perf_counter()
        found = re.search(r"deleted (\d+)", done.stdout)
        during = ingest.latencies(start, end)
        error = None if done.returncode == 0 else done.stderr[-300:]
        name = "manage.py purge_logs (batched, mid-partition)"
        purged = int(found.group(1)) if found else None
        rows.append(_retention_row(size, name, purged, end - start, baseline, during, error))
    for row, copied in zip(rows, (copied_x, copied_y), strict=True):
        row["filter"] += f" ({copied:,} copied)"
    return rows


def _env(url: str) -> dict[str, str]:
    import os

    return {**os.environ, "DATABASE_URL": url, "REQUEST_LOG": "0"}


def _retention_row(size: str, name: str, deleted: Any, seconds: float, baseline: list[float],
                   during: list[float], error: str | None) -> dict[str, Any]:  # fmt: skip
    return {
        "size": size,
        "read": name,
        "as": "admin",
        "days": 1,
        "filter": f"{seconds:.2f} s",
        "rows": deleted,
        "p50_ms": round(median(during), 1) if during else None,
        "p95_ms": round(max(during), 1) if during else None,
        "ingest_p50_ms": round(median(baseline), 1) if baseline else None,
        "ingest_p95_ms": round(max(baseline), 1) if baseline else None,
        "aim": "error" if error or deleted is None else "ingest batch ms: during / before",
        "seconds": round(seconds, 2),
        "error": error,
    }


class RssProbe:
    """The gunicorn workers' resident memory, sampled every 20 ms (Linux /proc)."""

    def __init__(self, pids: list[int]) -> None:
        self.pids = pids
        self.peak_kb = 0
        self.start_kb = self._total()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _rss(self, pid: int) -> int:
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def _total(self) -> int:
        return max((self._rss(pid) for pid in self.pids), default=0)

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            self.peak_kb = max(self.peak_kb, self._total())

    def __enter__(self) -> RssProbe:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def phase_export(
    client: Client, callers: dict[str, Caller], server: Server, size: str
) -> list[dict[str, Any]]:
    rows = []
    now = int(time.time())
    for name, role, days in (
        ("GET /api/log/export", "admin", 1),
        ("GET /api/log/self/export", "user", 30),
    ):
        path = f"{name.split(' ')[1]}?start_timestamp={now - days * DAY}"
        with RssProbe(server.worker_pids()) as probe:
            answer = client.request("GET", path, headers=callers[role].headers(False))
        lines = answer.body.count(b"\n") - 1
        seconds = answer.ms / 1000
        rows.append(
            {
                "size": size,
                "read": name,
                "as": role,
                "days": days,
                "filter": f"{len(answer.body) / 2**20:,.0f} MiB in {seconds:.1f} s",
                "rows": lines,
                "p50_ms": round(answer.ms, 1),
                "aim": f"{lines / seconds:,.0f} rows/s, worker RSS "
                f"{probe.start_kb / 1024:.0f} -> {probe.peak_kb / 1024:.0f} MB",
                "rows_per_s": round(lines / seconds),
                "mib_per_s": round(len(answer.body) / 2**20 / seconds, 1),
                "worker_rss_start_mb": round(probe.start_kb / 1024),
                "worker_rss_peak_mb": round(probe.peak_kb / 1024),
                "error": answer_error(answer),
            }
        )
        log(f"[scale {size}] export {name}: {lines:,} rows in {seconds:.1f} s")
    return rows


# --- the index audit ---------------------------------------------------------------------------

INDEX_SCANS = """
SELECT COALESCE(parent.relname, child.relname) AS index_name,
       COALESCE(parent_table.relname, s.relname) AS table_name,
       sum(s.idx_scan) AS scans,
       bool_or(ix.indisunique) AS is_unique
FROM pg_stat_user_indexes s
JOIN pg_class child ON child.oid = s.indexrelid
JOIN pg_index ix ON ix.indexrelid = s.indexrelid
LEFT JOIN pg_inherits inh ON inh.inhrelid = s.indexrelid
LEFT JOIN pg_class parent ON parent.oid = inh.inhparent
LEFT JOIN pg_index parent_ix ON parent_ix.indexrelid = inh.inhparent
LEFT JOIN pg_class parent_table ON parent_table.oid = parent_ix.indrelid
WHERE COALESCE(parent_table.relname, s.relname) LIKE ANY (ARRAY['logs', 'usage_%%',
      'ingest_keys'])
   OR s.relname LIKE 'logs_p%%'
GROUP BY 1, 2
"""


def index_scans(url: str) -> dict[str, tuple[str, int, bool]]:
    with connect(url) as conn:
        return {
            name: (table, int(scans), bool(unique))
            for name, table, scans, unique in conn.execute(INDEX_SCANS).fetchall()
        }


def index_audit(before: dict[str, tuple[str, int, bool]],
                after: dict[str, tuple[str, int, bool]]) -> list[dict[str, Any]]:  # fmt: skip
    audit = []
    for name, (table, scans, unique) in sorted(after.items(), key=lambda item: item[1][0]):
        used = scans - before.get(name, (table, 0, unique))[1]
        audit.append({"index": name, "table": table, "scans": used, "unique": unique})
    return audit


# --- the run -----------------------------------------------------------------------------------


@contextlib.contextmanager
def serving(url: str, workers: int) -> Iterator[Server]:
    with Server(Database("postgres", url), workers=workers, request_log=False) as server:
        yield server


def one_size(rows: int, args: argparse.Namespace, report: Report) -> None:
    size = size_label(rows)
    url = args.pg_url.format(size=size)
    if "bench" not in url.rsplit("/", 1)[-1]:
        raise SystemExit(f"refusing {url}: benchmark databases contain 'bench'")
    loaded = data_ensure(url, rows, args)
    django_setup(url)
    from django.conf import settings
    from django.db import connections

    if settings.DATABASES["default"]["NAME"] != url.rsplit("/", 1)[-1]:
        raise SystemExit("one database per process: run one size at a time with a new process")
    facts = facts_pick(url)
    age_hours = (time.time() - facts.newest) / 3600
    if age_hours > 6:
        log(f"[scale {size}] WARNING: the newest log is {age_hours:.0f} h old; the 1-day reads "
            "see few rows (--reload loads a fresh history)")  # fmt: skip
    callers = callers_make(facts)
    reads = [r for r in reads_build(facts) if re.search(args.only, r.label)]
    phases = set(args.phases.split(","))
    with connect(url) as conn:
        # What autovacuum would have done by now in production (some servers, this machine's
        # among them, run with it off): visibility maps for index-only scans, fresh statistics.
        started = time.perf_counter()
        for table in ("logs", "ingest_keys", *ROLLUP_TABLES):
            conn.execute(f"VACUUM (ANALYZE) {table}")
        log(f"[scale {size}] VACUUM (ANALYZE) took {time.perf_counter() - started:.1f} s")
        sizes = dict(conn.execute(
            "SELECT c.relname, pg_total_relation_size(c.oid) + COALESCE((SELECT "
            "sum(pg_total_relation_size(i.inhrelid)) FROM pg_inherits i "
            "WHERE i.inhparent = c.oid), 0) FROM pg_class c WHERE c.relname IN "
            "('logs', 'ingest_keys', 'usage_site', 'usage_channel', 'usage_user', "
            "'usage_user_total')"
        ).fetchall())  # fmt: skip
        rollup_rows = {
            table: conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # noqa: S608
            for table in ROLLUP_TABLES
        }
    report.meta.setdefault("sizes", {})[size] = {
        "database": url.rsplit("/", 1)[-1],
        "load": loaded,
        "facts": {k: v for k, v in vars(facts).items() if k != "extra"},
        "newest_log_age_hours": round(age_hours, 1),
        "bytes": {name: int(value) for name, value in sizes.items()},
        "rollup_rows": rollup_rows,
    }
    connections.close_all()
    before = index_scans(url)
    with serving(url, args.workers) as server:
        client = Client(server.port)
        # Every worker's first requests (connections, lazy imports, caches) before measuring.
        for read in reads[: 4 * args.workers]:
            headers = callers[read.role].headers(read.page)
            path = read.path(int(time.time()))
            client.request(read.method, path, headers=headers, body=read.body)
        if "reads" in phases:
            for row in phase_reads(client, callers, reads, args, size):
                report.add(**row)
        if "throughput" in phases:
            for row in phase_throughput(client, callers, reads, args, size):
                report.add(**row)
        if "retention" in phases:
            for row in phase_retention(client, callers, url, facts, args, size):
                report.add(**row)
        if "export" in phases:
            for row in phase_export(client, callers, server, size):
                report.add(**row)
    time.sleep(1.5)  # PostgreSQL publishes the index statistics of idle backends within 1 s
    audit = index_audit(before, index_scans(url))
    report.meta["sizes"][size]["index_audit"] = audit
    unused = [a["index"] for a in audit if a["scans"] == 0 and not a["unique"]]
    report.meta["sizes"][size]["unused_indexes"] = unused
    log(f"[scale {size}] indexes no measured request used: {', '.join(unused) or 'none'}")


def summary(report: Report) -> dict[str, Any]:
    reads = [row for row in report.rows if "samples_ms" in row]
    met = [row for row in reads if row["aim"] == "met"]
    missed = [f"{row['size']} {row['as']} {row['read']} {row['days'] or ''}d [{row['filter']}]"
              for row in reads if row["aim"] == "missed"]  # fmt: skip
    errors = [row["error"] for row in report.rows if row.get("error")]
    return {
        "reads": len(reads),
        "reads_meeting_the_aim": len(met),
        "missed": missed,
        "errors": errors,
        "p95_ms_median_over_reads": round(
            statistics.median([row["p95_ms"] for row in reads if row["p95_ms"] is not None]), 1
        ) if reads else None,
    }  # fmt: skip


def run(args: argparse.Namespace) -> Report:
    sizes = [size_parse(part) for part in args.rows.split(",") if part.strip()]
    report = Report(SUITE, columns=COLUMNS, meta={"options": vars(args), "aim_p95_ms": AIM_MS})
    if len(sizes) > 1:
        # Django binds one database per process: each size runs in a child process, and their
        # rows are merged here.
        for rows in sizes:
            child = [sys.executable, "-m", "bench", "scale", *_argv_for(args, rows)]
            log(f"[scale] {' '.join(child[1:])}")
            done = subprocess.run(child, cwd=ROOT, check=False, capture_output=True, text=True)
            sys.stderr.write(done.stderr[-2000:])
            if done.returncode != 0:
                raise SystemExit(f"the {size_label(rows)} run failed")
            written = re.findall(r"wrote (\S+\.json)", done.stderr)
            payload = orjson.loads(Path(written[-1]).read_bytes())
            for row in payload["rows"]:
                report.add(**row)
            report.meta.setdefault("sizes", {}).update(payload["meta"].get("sizes", {}))
    else:
        one_size(sizes[0], args, report)
    report.meta["summary"] = summary(report)
    log(f"[scale] summary: {orjson.dumps(report.meta['summary']).decode()}")
    return report


def _argv_for(args: argparse.Namespace, rows: int) -> list[str]:
    argv = ["--rows", str(rows), "--pg-url", args.pg_url, "--days", str(args.days),
            "--users", str(args.users), "--workers", str(args.workers), "--repeat",
            str(args.repeat), "--ingest-rate", str(args.ingest_rate), "--ingest-clients",
            str(args.ingest_clients), "--ingest-seconds", str(args.ingest_seconds),
            "--phases", args.phases, "--only", args.only]  # fmt: skip
    return [*argv, "--reload"] if args.reload else argv
