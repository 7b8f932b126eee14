"""gunicorn with the project's config (config/gunicorn.conf.py), as `make run` and docs/deploy.md
start it: a long URL or a long header reaches Django and gets the family's JSON answer, not
gunicorn's HTML refusal. A real gunicorn process on a fresh SQLite database of its own (the
test database is not visible to another process), whatever database the suite runs on."""

from __future__ import annotations

import http.client
import json
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest

ROOT = Path(__file__).resolve().parents[2]
CONFIG = "config/gunicorn.conf.py"


@dataclass(frozen=True)
class Server:
    port: int
    token: str
    user_id: int

    def get(self, target: str, headers: dict[str, str] | None = None) -> tuple[int, str, bytes]:
        """(status, content type, body) of a GET sent exactly as `target`."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            connection.request("GET", target, headers=headers or {})
            response = connection.getresponse()
            return response.status, response.getheader("Content-Type", ""), response.read()
        finally:
            connection.close()

    def credentials(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}", "New-Api-User": str(self.user_id)}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _manage(env: dict[str, str], *arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 (our own interpreter and manage.py)
        [sys.executable, "manage.py", *arguments],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    var = tmp_path_factory.mktemp("gunicorn")
    env = {k: v for k, v in os.environ.items() if not k.startswith("DATABASE_")}
    env.update(TOKENLEDGER_VAR_DIR=str(var), REQUEST_LOG="0", DEBUG="0", DJANGO_ENV="development")
    _manage(env, "migrate", "--noinput", "--verbosity", "0")
    _manage(env, "ensure_demo_login")
    created = _manage(env, "create_credential", "demo", "--scope", "read")
    user_id = int(re.search(r"\(id (\d+)\)", created.stderr).group(1))  # type: ignore[union-attr]
    port = _free_port()
    command = [
        sys.executable, "-m", "gunicorn", "-c", CONFIG, "config.wsgi:application",
        "--bind", f"127.0.0.1:{port}", "--workers", "1", "--threads", "2",
    ]  # fmt: skip
    with (var / "gunicorn.log").open("wb") as log:
        process = subprocess.Popen(  # noqa: S603 (our own interpreter and gunicorn)
            command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
        )
    try:
        started = Server(port=port, token=created.stdout.strip().splitlines()[-1], user_id=user_id)
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, (var / "gunicorn.log").read_text()
            try:
                if started.get("/healthz")[0] == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "gunicorn did not answer /healthz within 60 s"
            time.sleep(0.2)
        yield started
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _json(content_type: str, body: bytes) -> object:
    assert content_type == "application/json", (content_type, body[:200])
    return json.loads(body)


def test_a_16_kb_new_api_query_gets_the_new_api_answer(server):
    target = "/api/log/self?model_name=" + "x" * 16_000
    assert len(target) > 8190  # past gunicorn's largest finite request-line limit

    status, content_type, body = server.get(target, server.credentials())

    assert status == 200
    assert _json(content_type, body) == {
        "success": False,
        "message": "model_name must be at most 128 characters",
    }


def test_a_12_kb_sub2api_query_gets_the_sub2api_answer(server):
    status, content_type, body = server.get(
        "/api/v1/usage?model=" + "x" * 12_000, server.credentials()
    )

    assert status == 400
    assert _json(content_type, body) == {
        "code": 400,
        "message": "model: Ensure this field has no more than 128 characters.",
    }


def test_acedata_with_100_long_model_names_gets_a_correct_answer(server):
    # the longest documented AceData query: 100 api_id values of 128 characters, non-ASCII
    names = [f"модель-{index:03d}-".ljust(128, "ю") for index in range(100)]
    target = "/api/v1/usage/apis/aggregate/?" + "&".join(f"api_id={quote(n)}" for n in names)
    assert len(target) > 32_000

    status, content_type, body = server.get(target, server.credentials())

    assert status == 200
    assert _json(content_type, body) == {"results": [], "total": 0.0, "api_map": {}}


def test_an_8_kb_r9s_query_gets_the_r9s_answer(server):
    target = "/api/v1/portal/management/usage?start_time=1&end_time=2&x=" + "y" * 8_200

    status, content_type, body = server.get(target, server.credentials())

    assert status == 200
    payload = _json(content_type, body)
    assert isinstance(payload, dict)
    assert payload["data"] == {"records": [], "total_tokens": 0}


def test_too_many_parameters_are_refused_by_django_in_the_family_shape(server):
    target = "/api/v1/usage?" + "&".join(f"p{index}=1" for index in range(1_100))

    status, content_type, body = server.get(target, server.credentials())

    assert status == 400
    assert _json(content_type, body) == {
        "code": 400,
        "message": "too many parameters (at most 1000)",
    }


def test_a_16_kb_header_reaches_django(server):
    headers = {**server.credentials(), "Cookie": "tracking=" + "z" * 16_000}

    status, content_type, body = server.get("/api/user/self", headers)

    assert status == 200
    payload = _json(content_type, body)
    assert isinstance(payload, dict)
    assert payload["success"] is True


@pytest.mark.parametrize("path", ["Makefile", "docs/deploy.md"])
def test_make_run_and_the_deploy_command_load_the_same_config(path):
    text = (ROOT / path).read_text()
    commands = re.findall(r"gunicorn\b[^\n]*config\.wsgi:application", text)

    assert commands, f"no gunicorn command in {path}"
    assert all(f"-c {CONFIG}" in command for command in commands), commands


@pytest.mark.parametrize("path", ["/healthz", "/login/", "/static/css/app.css", "/no-such-page/"])
def test_gunicorn_does_not_announce_itself(server, path):
    # config/wsgi.py drops gunicorn's `Server` header (config/gunicorn_server_header.py).
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        response.read()
    finally:
        connection.close()

    assert response.status in {200, 404}
    assert response.getheader("Server") is None
    assert "gunicorn" not in str(response.headers).lower()
    # Its other headers are still there, and so are the application's.
    assert response.getheader("Date")
    assert "default-src 'self'" in response.getheader("Content-Security-Policy", "")
    assert response.getheader("Permissions-Policy", "").startswith("accelerometer=()")
