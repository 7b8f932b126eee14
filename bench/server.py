"""Fresh databases and a gunicorn server on loopback, for the suites that measure over HTTP.

Only databases whose name contains "bench" are ever dropped, so a mistyped `--pg-url` cannot
destroy real data. The server is our own child process; it is stopped by its pid."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from urllib.parse import urlsplit, urlunsplit

from bench.core import ROOT, children, log

DEFAULT_PG_URL = os.environ.get(
    "BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432/tokenledger_bench"
)
WORK_DIR = Path(os.environ.get("BENCH_WORK_DIR", ROOT / "var" / "bench"))


@dataclass(frozen=True)
class Database:
    kind: str  # "sqlite" | "postgres"
    url: str  # a DATABASE_URL

    @property
    def label(self) -> str:
        return self.kind


def manage(database: Database, *args: str, timeout: float = 600) -> str:
    """Run `manage.py <args>` against `database`; returns its stdout."""
    env = {**os.environ, "DATABASE_URL": database.url, "REQUEST_LOG": "0"}
    done = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{done.stderr[-3000:]}")
    return done.stdout


def _pg_admin_url(url: str) -> tuple[str, str]:
    """(URL of the `postgres` maintenance database, name of the target database)."""
    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    if "bench" not in name:
        raise SystemExit(f"refusing to recreate {name!r}: benchmark databases contain 'bench'")
    admin = urlunsplit((parts.scheme.replace("postgres", "postgresql"), parts.netloc,
                        "/postgres", parts.query, ""))  # fmt: skip
    return admin, name


def postgres_recreate(url: str) -> None:
    import psycopg
    from psycopg import sql

    admin, name = _pg_admin_url(url)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def fresh_database(kind: str, *, pg_url: str = DEFAULT_PG_URL) -> Database:
    """An empty, migrated database of `kind`."""
    if kind == "sqlite":
        WORK_DIR.mkdir(parents=True, exist_ok=True)
        path = WORK_DIR / "bench.sqlite3"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        database = Database("sqlite", f"sqlite:///{path}")
    elif kind == "postgres":
        postgres_recreate(pg_url)
        database = Database("postgres", pg_url)
    else:
        raise ValueError(f"unknown database kind {kind!r}")
    log(f"[{kind}] migrating a fresh database")
    manage(database, "migrate", "--noinput")
    return database


def ingest_credential(database: Database, username: str = "bench-gateway") -> str:
    """A new user with an ingest token, made with the operators' commands; returns the token."""
    manage(database, "createsuperuser", "--noinput", "--username", username)
    out = manage(database, "create_credential", username, "--scope", "ingest", "--name", "bench")
    return out.strip().splitlines()[-1]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    """`with Server(database, workers=3) as server:` serves on `server.url` (127.0.0.1)."""

    def __init__(
        self, database: Database, *, workers: int = 3, request_log: bool = True, timeout: int = 120
    ) -> None:
        self.database = database
        self.workers = workers
        self.request_log = request_log
        self.timeout = timeout
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = Path(tempfile.gettempdir()) / f"tokenledger-bench-{self.port}.log"

    def __enter__(self) -> Server:
        env = {
            **os.environ,
            "DATABASE_URL": self.database.url,
            "REQUEST_LOG": "1" if self.request_log else "0",
            "DEBUG": "0",
        }
        command = [
            sys.executable, "-m", "gunicorn", "config.wsgi:application",
            "--bind", f"127.0.0.1:{self.port}",
            "--workers", str(self.workers),
            "--timeout", str(self.timeout),
            "--graceful-timeout", "10",
        ]  # fmt: skip
        with self.log_path.open("wb") as output:
            self.process = subprocess.Popen(
                command, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited; see {self.log_path}")
            try:
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=2) as response:
                    if response.status == 200:
                        kind, workers = self.database.kind, self.workers
                        log(f"[{kind}] gunicorn ({workers} workers) on {self.url}")
                        return self
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"gunicorn did not answer /healthz within 60 s; see {self.log_path}")

    def worker_pids(self) -> list[int]:
        return children(self.process.pid) if self.process is not None else []

    def worker_rss_kb(self) -> int:
        """Largest peak RSS (VmHWM) among the workers."""
        peaks = []
        for pid in self.worker_pids():
            try:
                status = Path(f"/proc/{pid}/status").read_text()
            except OSError:
                continue
            peaks += [
                int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:")
            ]
        return max(peaks, default=0)

    def database_pids(self) -> list[int]:
        """The PostgreSQL backends serving this server (its workers keep their connections)."""
        if self.database.kind != "postgres":
            return []
        import psycopg

        with psycopg.connect(self.database.url.replace("postgres://", "postgresql://", 1)) as conn:
            rows = conn.execute(
                "SELECT pid FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            ).fetchall()
        return [int(row[0]) for row in rows]

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
