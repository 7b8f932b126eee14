"""Ingest throughput over HTTP: batches of realistic events posted to POST /api/log/.

By default each database kind gets a fresh, migrated database, an ingest credential made with
`createsuperuser` + `create_credential`, and a gunicorn server on 127.0.0.1. `--url` and
`--token` target a running server instead. Every run posts `--batches` batches (ids unique per
run, so nothing is a duplicate) from `--clients` threads; a run stops early after `--duration`
seconds. Reported: events/s (median, min and max over the runs) and the batch latency p50/p95
over every batch of every run. The request bodies are built before the clock starts."""

from __future__ import annotations

import argparse
import http.client
import itertools
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import orjson

from bench.core import Report, log, median, percentile, process_cpu_seconds
from bench.server import DEFAULT_PG_URL, Server, fresh_database, ingest_credential
from usage.demo import DemoGenerator

SUITE = "ingest"
RUN_TAG = b"@@@@@@"  # prefixes every request id; replaced by a tag unique to the run
COLUMNS = [
    "db",
    "server_workers",
    "clients",
    "runs",
    "events_per_s_median",
    "events_per_s_min",
    "events_per_s_max",
    "batch_p50_ms",
    "batch_p95_ms",
    "events",
    "failures",
    "server_cpu_ms_per_batch",
    "db_cpu_ms_per_batch",
]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument(
        "--pg-url", default=DEFAULT_PG_URL, help="recreated (name must hold 'bench')"
    )
    parser.add_argument("--url", help="target a running server instead (needs --token)")
    parser.add_argument("--token", help="an ingest token for --url")
    parser.add_argument("--workers", type=int, default=3, help="gunicorn workers")
    parser.add_argument("--clients", type=int, default=4, help="client threads posting at once")
    parser.add_argument(
        "--runs", type=int, default=5, help="measured runs (the median is reported)"
    )
    parser.add_argument("--batches", type=int, default=60, help="batches per run")
    parser.add_argument("--batch-size", type=int, default=1000, help="events per request")
    parser.add_argument("--duration", type=float, default=60, help="cap of one run, seconds")
    parser.add_argument("--warmup", type=int, default=10, help="batches posted before run 1")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--users", type=int, default=1000, help="distinct gateway users (1000)")
    parser.add_argument("--no-request-log", action="store_true", help="server without request log")


def bodies(*, batches: int, size: int, seed: int, users: int = 10) -> list[bytes]:
    """`batches` JSON bodies of `size` events spread over the last ten minutes, each request id
    starting with RUN_TAG."""
    generator = DemoGenerator(
        seed=seed, days=600 / 86400, events=batches * size, now=int(time.time()), users=users
    )
    events = list(generator.events())
    for event in events:
        event["request_id"] = RUN_TAG.decode() + event["request_id"]
    return [orjson.dumps({"logs": events[i : i + size]}) for i in range(0, len(events), size)]


@dataclass
class RunResult:
    accepted: int = 0
    failures: list[str] = field(default_factory=list)
    latencies_ms: list[float] = field(default_factory=list)
    elapsed: float = 0.0
    server_cpu: float = 0.0  # seconds, gunicorn workers
    db_cpu: float = 0.0  # seconds, PostgreSQL backends

    @property
    def rate(self) -> float:
        return self.accepted / self.elapsed if self.elapsed else 0.0


def post(host: str, port: int, token: str, body: bytes) -> tuple[int, dict[str, Any]]:
    connection = http.client.HTTPConnection(host, port, timeout=120)
    try:
        connection.request(
            "POST",
            "/api/log/",
            body=body,
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        response = connection.getresponse()
        payload = response.read()
    finally:
        connection.close()
    try:
        return response.status, orjson.loads(payload)
    except orjson.JSONDecodeError:
        return response.status, {"raw": payload[:200].decode(errors="replace")}


def one_run(url: str, token: str, payloads: list[bytes], *, clients: int, duration: float,
            expected: int) -> RunResult:  # fmt: skip
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    tag = secrets.token_hex(3).encode()
    tagged = [body.replace(RUN_TAG, tag) for body in payloads]
    result = RunResult()
    lock = threading.Lock()
    counter = itertools.count()
    start = time.perf_counter()
    deadline = start + duration

    def client() -> None:
        while time.perf_counter() < deadline:
            with lock:
                index = next(counter)
            if index >= len(tagged):
                return
            sent = time.perf_counter()
            try:
                status, answer = post(host, port, token, tagged[index])
            except (OSError, http.client.HTTPException) as exc:
                status, answer = 0, {"error": repr(exc)}
            took = (time.perf_counter() - sent) * 1000
            data = answer.get("data") or {}
            with lock:
                result.latencies_ms.append(took)
                result.accepted += int(data.get("accepted", 0))
                if status != 200 or data.get("accepted") != expected:
                    result.failures.append(f"HTTP {status}: {str(answer)[:200]}")

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    result.elapsed = time.perf_counter() - start
    return result


def measured_run(server: Server | None, *args: Any, **kwargs: Any) -> RunResult:
    """one_run, plus the CPU our server's workers and database backends spent on it."""
    if server is None:
        return one_run(*args, **kwargs)
    workers, backends = server.worker_pids(), server.database_pids()
    before = process_cpu_seconds(workers), process_cpu_seconds(backends)
    result = one_run(*args, **kwargs)
    result.server_cpu = process_cpu_seconds(workers) - before[0]
    result.db_cpu = process_cpu_seconds(backends) - before[1]
    return result


def measure(
    url: str, token: str, args: argparse.Namespace, label: str, server: Server | None = None
) -> dict[str, Any]:
    log(f"[{label}] building {args.batches} bodies of {args.batch_size} events")
    payloads = bodies(batches=args.batches, size=args.batch_size, seed=args.seed, users=args.users)
    if args.warmup:
        one_run(url, token, payloads[: args.warmup], clients=args.clients, duration=args.duration,
                expected=args.batch_size)  # fmt: skip
    runs: list[RunResult] = []
    for number in range(1, args.runs + 1):
        run = measured_run(server, url, token, payloads, clients=args.clients,
                           duration=args.duration, expected=args.batch_size)  # fmt: skip
        runs.append(run)
        log(
            f"[{label}] run {number}: {run.accepted:,} events in {run.elapsed:.2f} s = "
            f"{run.rate:,.0f} events/s, p50 {median(run.latencies_ms):.0f} ms"
            + (f", {len(run.failures)} FAILED: {run.failures[0]}" if run.failures else "")
        )
    latencies = [ms for run in runs for ms in run.latencies_ms]
    rates = [run.rate for run in runs]
    return {
        "db": label,
        "server_workers": args.workers if not args.url else None,
        "clients": args.clients,
        "runs": len(runs),
        "events_per_s_median": round(median(rates)),
        "events_per_s_min": round(min(rates)),
        "events_per_s_max": round(max(rates)),
        "batch_p50_ms": round(median(latencies), 1),
        "batch_p95_ms": round(percentile(latencies, 95), 1),
        "events": sum(run.accepted for run in runs),
        "failures": sum(len(run.failures) for run in runs),
        "server_cpu_ms_per_batch": cpu_per_batch([run.server_cpu for run in runs], runs, args)
        if server
        else None,
        "db_cpu_ms_per_batch": cpu_per_batch([run.db_cpu for run in runs], runs, args)
        if server and server.database.kind == "postgres"
        else None,
    }


def cpu_per_batch(seconds: list[float], runs: list[RunResult], args: argparse.Namespace) -> float:
    """Median over the runs of CPU milliseconds per batch."""
    per_batch = [
        cpu * 1000 / (run.accepted / args.batch_size)
        for cpu, run in zip(seconds, runs, strict=True)
        if run.accepted
    ]
    return round(median(per_batch), 1)


def run(args: argparse.Namespace) -> Report:
    report = Report(
        SUITE,
        columns=COLUMNS,
        meta={key: value for key, value in vars(args).items() if key != "token"},
    )
    if args.url:
        if not args.token:
            raise SystemExit("--url needs --token (an ingest token)")
        report.rows.append(measure(args.url, args.token, args, label="target"))
        return report
    kinds = ("sqlite", "postgres") if args.db == "both" else (args.db,)
    for kind in kinds:
        database = fresh_database(kind, pg_url=args.pg_url)
        token = ingest_credential(database)
        with Server(database, workers=args.workers, request_log=not args.no_request_log) as server:
            report.rows.append(measure(server.url, token, args, label=kind, server=server))
    return report
