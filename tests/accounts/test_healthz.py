"""`GET /healthz`: 200 only when the database answers a query."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client

from config.settings import BASE_DIR

# Runs in a fresh process so that the settings (DATABASE_URL) are read from its environment.
PROBE = """
import json, django
django.setup()
from django.test import Client
response = Client().get("/healthz")
print(json.dumps({"status": response.status_code, "body": response.json()}))
"""


def test_healthz_is_200_when_the_database_answers(db):
    response = Client().get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}


def test_healthz_answers_head_for_probes(db):
    assert Client().head("/healthz").status_code == 200


@pytest.mark.parametrize(
    "database_url",
    [
        # A PostgreSQL server that is not there: nothing listens on port 1.
        "postgres://postgres@127.0.0.1:1/tokenledger?connect_timeout=2",
        # A SQLite file in a directory that does not exist cannot be opened.
        "sqlite:///{tmp}/missing-directory/ledger.sqlite3",
    ],
    ids=["postgres-down", "sqlite-unopenable"],
)
def test_healthz_is_503_when_the_database_does_not_answer(database_url, tmp_path: Path):
    env = {key: value for key, value in os.environ.items() if key != "DJANGO_ENV"}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        DATABASE_URL=database_url.format(tmp=tmp_path),
        TOKENLEDGER_VAR_DIR=str(tmp_path),
        REQUEST_LOG="0",
    )

    result = subprocess.run(  # noqa: S603 (our own code, fixed arguments)
        [sys.executable, "-c", PROBE],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout.strip().splitlines()[-1])
    assert answer == {"status": 503, "body": {"status": "unavailable", "database": "unavailable"}}
    # The reason is logged for the operator, not sent to the client.
    assert "healthz: the database did not answer" in result.stderr


def test_healthz_refuses_other_methods_in_json(db):
    response = Client().post("/healthz")

    assert response.status_code == 405
    assert response["Allow"] == "GET, HEAD"
    assert response.json() == {"status": "method not allowed"}
