"""A/B latency of the statistics endpoints: two checkouts of the code served side by side on one
database, requests alternating between them.

    python -m bench ab --pg-url URL --token SECRET --user ID --a /tmp/before [--b .] [--repeat 9]

One gunicorn (one sync worker) per checkout serves the same database; each read goes first to
A, then to B, `--repeat` times after two warm-ups each, so both see the same machine
conditions (this machine is shared: absolute figures move by a factor of two from minute to
minute, the A/B ratio much less). The table gives the median and range of each, the answer's
size and whether the two answers were byte-identical (r9s.ai's carry a fresh request id, so
its id is left out of the comparison).

The reads end 137 s after the newest log and go back 7, 30, 60 or 365 days, for the admin
(`/api/data/`) and for `--user` (every user-scoped family), which should be a busy user with
the admin role so that one token serves both. The database is only read (the token is made
beforehand, e.g. `manage.py create_credential`). Make checkout A with
`git archive <commit> | tar -x -C /tmp/before`."""

from __future__ import annotations

import argparse
import http.client
import os
import re
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from bench.core import ROOT, Report, log, median
from bench.server import free_port
from logs.events import DAY

SUITE = "ab"
REQUEST_ID = re.compile(rb'"request_id":"[^"]*"')


def _date(ts: int) -> str:
    return datetime.fromtimestamp(ts, UTC).date().isoformat()


def reads(end: int) -> dict[str, tuple[str, dict[str, Any]]]:
    """name -> (path, query) of every read timed, ending at `end`."""

    def data(days: int, granularity: str, tz: str) -> dict[str, Any]:
        return {
            "start_timestamp": end - days * DAY,
            "end_timestamp": end,
            "granularity": granularity,
            "tz": tz,
        }

    def dates(days: int, tz: str) -> dict[str, Any]:
        return {
            "created_at_from": _date(end - days * DAY),
            "created_at_to": _date(end),
            "timezone": tz,
        }

    def trend(days: int, granularity: str, tz: str) -> dict[str, Any]:
        return {
            "start_date": _date(end - days * DAY),
            "end_date": _date(end),
            "granularity": granularity,
            "timezone": tz,
        }

    r9s = {"start_time": end - 365 * DAY, "end_time": end, "timezone": "Asia/Kolkata"}
    aggregate, trend_path = "/api/v1/usage/apis/aggregate/", "/api/v1/usage/dashboard/trend"
    return {
        "data 30d hour": ("/api/data/", data(30, "hour", "UTC")),
        "data 7d hour": ("/api/data/", data(7, "hour", "UTC")),
        "data 60d hour": ("/api/data/", data(60, "hour", "UTC")),
        "data 365d day": ("/api/data/", data(365, "day", "UTC")),
        "data 30d hour Shanghai": ("/api/data/", data(30, "hour", "Asia/Shanghai")),
        "data 30d hour Kolkata": ("/api/data/", data(30, "hour", "Asia/Kolkata")),
        "data 365d day Kolkata": ("/api/data/", data(365, "day", "Asia/Kolkata")),
        "self 30d hour": ("/api/data/self", data(30, "hour", "UTC")),
        "self 30d day Kolkata": ("/api/data/self", data(30, "day", "Asia/Kolkata")),
        "self 30d hour Kolkata": ("/api/data/self", data(30, "hour", "Asia/Kolkata")),
        "r9s 365d Kolkata": ("/api/v1/portal/management/usage", r9s),
        "acedata 365d Kolkata": (aggregate, dates(365, "Asia/Kolkata")),
        "acedata 365d": (aggregate, dates(365, "UTC")),
        "trend 365d day Kolkata": (trend_path, trend(365, "day", "Asia/Kolkata")),
        "trend 60d hour": (trend_path, trend(60, "hour", "UTC")),
        "trend 60d hour Kolkata": (trend_path, trend(60, "hour", "Asia/Kolkata")),
    }


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--pg-url", required=True, help="the database both checkouts read")
    parser.add_argument("--token", required=True, help="a read token's secret")
    parser.add_argument("--user", required=True, help="the token's user id (New-Api-User)")
    parser.add_argument("--a", required=True, type=Path, help="checkout A (before)")
    parser.add_argument("--b", default=ROOT, type=Path, help="checkout B (default: this one)")
    parser.add_argument("--repeat", type=int, default=9)
    parser.add_argument("--reads", default="", help="comma-separated names (default: all)")


class _Gunicorn:
    def __init__(self, code: Path, url: str) -> None:
        self.port = free_port()
        env = {
            **os.environ,
            "DATABASE_URL": url,
            "PYTHONPATH": str(code),
            "REQUEST_LOG": "0",
            "DEBUG": "0",
        }
        command = [
            sys.executable, "-m", "gunicorn", "config.wsgi:application",
            "--bind", f"127.0.0.1:{self.port}", "--workers", "1", "--timeout", "300",
        ]  # fmt: skip
        self.process = subprocess.Popen(
            command, cwd=code, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                http.client.HTTPConnection("127.0.0.1", self.port, timeout=1).connect()
                return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"gunicorn for {code} did not start")

    def get(self, path: str, query: dict[str, Any], headers: dict[str, str]) -> tuple[int, bytes]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=300)
        try:
            connection.request("GET", f"{path}?{urlencode(query)}", headers=headers)
            response = connection.getresponse()
            return response.status, response.read()
        finally:
            connection.close()

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(10)


def run(args: argparse.Namespace) -> Report:
    import psycopg

    with psycopg.connect(args.pg_url.replace("postgres://", "postgresql://", 1)) as connection:
        newest = connection.execute("SELECT max(created_at) FROM logs").fetchone()
    if newest is None or newest[0] is None:
        raise SystemExit("the database holds no logs")
    end = int(newest[0]) - 137
    chosen = reads(end)
    if args.reads:
        chosen = {name: chosen[name] for name in args.reads.split(",")}
    headers = {"Authorization": f"Bearer {args.token}", "New-Api-User": str(args.user)}
    timings = [f"{side}_{figure}_ms" for side in "ab" for figure in ("p50", "min", "max")]
    report = Report(
        SUITE,
        ["read", *timings, "bytes", "same", "load"],
        meta={"a": str(args.a), "b": str(args.b), "repeat": args.repeat, "end": end},
    )
    servers = [_Gunicorn(args.a, args.pg_url), _Gunicorn(args.b, args.pg_url)]
    try:
        for name, (path, query) in chosen.items():
            bodies = []
            for server in servers:
                server.get(path, query, headers)
                bodies.append(server.get(path, query, headers))
            samples: list[list[float]] = [[], []]
            for _ in range(args.repeat):
                for index, server in enumerate(servers):
                    began = time.perf_counter()
                    server.get(path, query, headers)
                    samples[index].append((time.perf_counter() - began) * 1000)
            a, b = sorted(samples[0]), sorted(samples[1])
            same = REQUEST_ID.sub(b"", bodies[0][1]) == REQUEST_ID.sub(b"", bodies[1][1])
            report.add(
                read=name,
                a_p50_ms=round(median(a), 1), a_min_ms=round(a[0], 1), a_max_ms=round(a[-1], 1),
                b_p50_ms=round(median(b), 1), b_min_ms=round(b[0], 1), b_max_ms=round(b[-1], 1),
                bytes=len(bodies[1][1]),
                same="yes" if same and bodies[0][0] == bodies[1][0] else "NO",
                load=round(os.getloadavg()[0], 2),
            )  # fmt: skip
            log(f"{name}: A {median(a):.1f} ms, B {median(b):.1f} ms")
    finally:
        for server in servers:
            server.stop()
    return report
