"""A real gunicorn serving `config.wsgi:application` as docs/deploy.md starts it: it does not
name itself in a `Server` header (config/gunicorn_server_header.py), and the application's
security headers reach the client."""

from __future__ import annotations

import http.client
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from config.settings import BASE_DIR

GUNICORN = Path(sys.executable).with_name("gunicorn")


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path: Path) -> None:
        super().__init__("localhost", timeout=10)
        self.socket_path = str(path)

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(10)
        self.sock.connect(self.socket_path)


@pytest.fixture(scope="module")
def gunicorn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """gunicorn on a Unix socket (no port to collide on), with a database of its own."""
    tmp_path = tmp_path_factory.mktemp("gunicorn")
    bind = tmp_path / "gunicorn.sock"
    env = {key: value for key, value in os.environ.items() if key not in {"DJANGO_ENV", "DEBUG"}}
    env.update(
        DATABASE_URL=f"sqlite:///{tmp_path}/ledger.sqlite3",
        TOKENLEDGER_VAR_DIR=str(tmp_path),
        REQUEST_LOG="0",
    )
    process = subprocess.Popen(  # noqa: S603 (our own application, fixed arguments)
        [
            str(GUNICORN),
            "-c",
            "config/gunicorn.conf.py",
            "config.wsgi:application",
            "--bind",
            f"unix:{bind}",
            "--workers",
            "1",
            "--threads",
            "2",
        ],
        cwd=BASE_DIR,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not ready(bind):
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(
                    f"gunicorn did not start: {process.stderr.read() if process.stderr else ''}"
                )
            time.sleep(0.2)
        yield bind
    finally:
        process.terminate()
        try:
            process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()


def ready(bind: Path) -> bool:
    if not bind.exists():
        return False
    try:
        get(bind, "/healthz")
    except OSError:
        return False
    return True


def get(bind: Path, path: str) -> http.client.HTTPResponse:
    connection = UnixHTTPConnection(bind)
    connection.request("GET", path)
    response = connection.getresponse()
    response.read()
    connection.close()
    return response


@pytest.mark.parametrize("path", ["/healthz", "/login/", "/static/css/app.css", "/no-such-page/"])
def test_gunicorn_does_not_announce_itself(gunicorn, path):
    response = get(gunicorn, path)

    assert response.status in {200, 404}
    assert response.getheader("Server") is None
    assert "gunicorn" not in str(response.headers).lower()
    # Its other headers are still there, and so are the application's.
    assert response.getheader("Date")
    assert "default-src 'self'" in response.getheader("Content-Security-Policy", "")
    assert response.getheader("Permissions-Policy", "").startswith("accelerometer=()")
