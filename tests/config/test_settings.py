"""Settings: the production rules (docs/deploy.md) and DATABASE_URL parsing.

The production tests start `manage.py` in a subprocess, because settings are read once per
process and the point is what a real start does with a real environment."""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from config.settings import BASE_DIR, VAR_DIR, database_from_url

DEPLOY_DOC = BASE_DIR / "docs" / "deploy.md"
# Variables of the developer's or CI's shell that must not leak into a "production" start.
PROJECT_VARIABLES = (
    "DJANGO_ENV",
    "SECRET_KEY",
    "ALLOWED_HOSTS",
    "CSRF_TRUSTED_ORIGINS",
    "DATABASE_URL",
    "DEBUG",
    "SECURE_SSL_REDIRECT",
    "SECURE_HSTS_SECONDS",
    "SECURE_HSTS_PRELOAD",
    "LOGIN_FAILURE_LIMIT",
    "LOGIN_LOCKOUT_MINUTES",
    "TRUSTED_PROXY_COUNT",
    "QUOTA_PER_UNIT",
    "REQUEST_LOG",
    # Set by tests/browser/conftest.py for Playwright's event loop; check --deploy warns on it.
    "DJANGO_ALLOW_ASYNC_UNSAFE",
)


def documented_production_environment() -> dict[str, str]:
    """The KEY=VALUE lines of the block marked `production-env` in docs/deploy.md; a `<...>`
    placeholder becomes a random secret."""
    text = DEPLOY_DOC.read_text()
    block = re.search(r"<!-- production-env.*?-->\s*```sh\n(.*?)```", text, re.DOTALL)
    assert block, "docs/deploy.md lost its production-env block"
    environment = {}
    for line in block.group(1).splitlines():
        name, _, value = line.strip().partition("=")
        if name:
            environment[name] = secrets.token_urlsafe(50) if value.startswith("<") else value
    return environment


def manage(
    *args: str, environment: dict[str, str], tmp_path: Path
) -> subprocess.CompletedProcess[str]:
    # DJANGO_ALLOW_ASYNC_UNSAFE is the browser tests' (tests/browser/conftest.py), set for the
    # whole session when they run in the same process: never part of a deployment.
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in PROJECT_VARIABLES and key != "DJANGO_ALLOW_ASYNC_UNSAFE"
    }
    env.update(environment)
    env["TOKENLEDGER_VAR_DIR"] = str(tmp_path)  # nothing of this start lands in the real var/
    return subprocess.run(  # noqa: S603 (our own manage.py, fixed arguments)
        [sys.executable, "manage.py", *args],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_check_deploy_is_clean_with_the_documented_production_environment(tmp_path):
    environment = documented_production_environment()
    assert environment["DJANGO_ENV"] == "production"

    result = manage(
        "check", "--deploy", "--fail-level", "WARNING", environment=environment, tmp_path=tmp_path
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout
    # Only developer machines keep a generated key under var/.
    assert not (tmp_path / "secret_key").exists()


@pytest.mark.parametrize("missing", ["SECRET_KEY", "ALLOWED_HOSTS"])
def test_production_refuses_to_start_without(missing, tmp_path):
    environment = documented_production_environment()
    del environment[missing]

    result = manage("check", environment=environment, tmp_path=tmp_path)

    assert result.returncode != 0
    assert (
        f"ImproperlyConfigured: {missing} must be set when DJANGO_ENV=production" in result.stderr
    )


def test_database_url_for_postgres_decodes_every_part(monkeypatch):
    monkeypatch.delenv("CONN_MAX_AGE", raising=False)

    config = database_from_url(
        "postgres://ledger:p%40ss%3Aword@db.internal:6543/usage?sslmode=require"
    )

    assert config == {
        "ENGINE": "config.postgresql",
        "NAME": "usage",
        "USER": "ledger",
        "PASSWORD": "p@ss:word",
        "HOST": "db.internal",
        "PORT": "6543",
        "CONN_MAX_AGE": 60,
        "CONN_HEALTH_CHECKS": True,
        # JIT off by default (docs/aggregates.md); `?options=` replaces it.
        "OPTIONS": {"options": "-c jit=off", "sslmode": "require"},
    }
    assert database_from_url("postgres://h/db?options=-c%20work_mem%3D64MB")["OPTIONS"] == {
        "options": "-c work_mem=64MB"
    }


def test_database_url_for_postgres_takes_a_socket_directory_and_conn_max_age(monkeypatch):
    monkeypatch.setenv("CONN_MAX_AGE", "0")

    config = database_from_url("postgresql://%2Fvar%2Frun%2Fpostgresql/tokenledger")

    assert (config["HOST"], config["PORT"], config["NAME"], config["USER"]) == (
        "/var/run/postgresql",
        "",
        "tokenledger",
        "",
    )
    assert config["CONN_MAX_AGE"] == 0


@pytest.mark.parametrize(
    ("url", "name"),
    [
        ("sqlite:///var/ledger.sqlite3", "var/ledger.sqlite3"),
        ("sqlite:////srv/tokenledger/ledger.sqlite3", "/srv/tokenledger/ledger.sqlite3"),
        ("sqlite://:memory:", ":memory:"),
        ("sqlite://", str(VAR_DIR / "tokenledger.sqlite3")),
    ],
)
def test_database_url_for_sqlite_keeps_relative_and_absolute_paths(url, name):
    config = database_from_url(url)

    assert config["ENGINE"] == "django.db.backends.sqlite3"
    assert config["NAME"] == name
    # WAL and immediate write transactions, whatever the path (README: concurrent readers).
    options = config["OPTIONS"]
    assert isinstance(options, dict)
    assert options["transaction_mode"] == "IMMEDIATE"
    assert "journal_mode=WAL" in options["init_command"]


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mysql://root@localhost/ledger", "DATABASE_URL scheme 'mysql' is not supported"),
        ("postgres://u@host:notaport/db", "DATABASE_URL has an invalid port"),
    ],
)
def test_database_url_refuses_what_it_cannot_serve(url, message):
    with pytest.raises(ImproperlyConfigured, match=re.escape(message)):
        database_from_url(url)


def deploy_issues(result: subprocess.CompletedProcess[str]) -> list[str]:
    """The `?: (id) message` lines of `check --deploy`, hints left out."""
    return [line for line in result.stderr.splitlines() if line.startswith("?: (")]


def test_check_deploy_warns_for_a_wildcard_in_allowed_hosts(tmp_path):
    environment = {**documented_production_environment(), "ALLOWED_HOSTS": "*,*.example.com"}

    result = manage("check", "--deploy", environment=environment, tmp_path=tmp_path)

    assert result.returncode == 0, result.stdout + result.stderr
    assert deploy_issues(result) == [
        "?: (tokenledger.W001) ALLOWED_HOSTS contains '*', '*.example.com': '*' accepts any "
        "Host header, so links and redirects built from it can point anywhere, and inside a "
        "name Django does not expand it."
    ]
    assert "System check identified 1 issue (0 silenced)." in result.stderr


def test_check_deploy_warns_for_sqlite_in_production(tmp_path):
    environment = documented_production_environment()
    del environment["DATABASE_URL"]

    result = manage(
        "check", "--deploy", "--fail-level", "WARNING", environment=environment, tmp_path=tmp_path
    )

    assert result.returncode == 1
    assert deploy_issues(result) == [
        "?: (tokenledger.W002) The database 'default' is SQLite, which serialises every write: "
        "production needs PostgreSQL."
    ]
    assert "HINT: Set DATABASE_URL=postgres://user:password@host:5432/name" in result.stderr


@pytest.mark.parametrize(
    ("variables", "printed"),
    [
        # The defaults; the documented environment's one proxy (nginx).
        ({"TRUSTED_PROXY_COUNT": None}, "5 0:15:00 ('REMOTE_ADDR',) None"),
        ({}, "5 0:15:00 ('HTTP_X_FORWARDED_FOR',) 0"),
        (
            {"LOGIN_FAILURE_LIMIT": "3", "LOGIN_LOCKOUT_MINUTES": "0", "TRUSTED_PROXY_COUNT": "2"},
            "3 None ('HTTP_X_FORWARDED_FOR',) 1",
        ),
    ],
)
def test_login_lockout_settings_come_from_the_environment(variables, printed, tmp_path):
    environment = {**documented_production_environment(), **variables}
    environment = {name: value for name, value in environment.items() if value is not None}
    code = (
        "from django.conf import settings as s; print(s.AXES_FAILURE_LIMIT, s.AXES_COOLOFF_TIME, "
        "s.AXES_IPWARE_META_PRECEDENCE_ORDER, s.AXES_IPWARE_PROXY_COUNT)"
    )

    result = manage("shell", "--no-imports", "-c", code, environment=environment, tmp_path=tmp_path)

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == printed


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("LOGIN_FAILURE_LIMIT", "0", "LOGIN_FAILURE_LIMIT must be at least 1"),
        ("LOGIN_LOCKOUT_MINUTES", "-1", "LOGIN_LOCKOUT_MINUTES must be 0 (until unlocked) or more"),
        ("TRUSTED_PROXY_COUNT", "-1", "TRUSTED_PROXY_COUNT must be 0 (no proxy) or more"),
        (
            "SECURE_SSL_REDIRECT",
            "ture",
            "SECURE_SSL_REDIRECT must be one of 1/0, true/false, yes/no, on/off, got 'ture'",
        ),
        ("REQUEST_LOG", "2", "REQUEST_LOG must be one of 1/0, true/false, yes/no, on/off, got '2'"),
        ("QUOTA_PER_UNIT", "0", "QUOTA_PER_UNIT must be at least 1 (quota per unit of currency)"),
        ("QUOTA_PER_UNIT", "-5", "QUOTA_PER_UNIT must be at least 1 (quota per unit of currency)"),
        ("QUOTA_PER_UNIT", "0.5", "QUOTA_PER_UNIT must be an integer, got '0.5'"),
    ],
)
def test_bad_settings_refuse_to_start(name, value, message, tmp_path):
    environment = {**documented_production_environment(), name: value}

    result = manage("check", environment=environment, tmp_path=tmp_path)

    assert result.returncode != 0
    assert f"ImproperlyConfigured: {message}" in result.stderr


@pytest.mark.parametrize(
    ("variables", "printed"),
    [
        ({}, "True 500000"),
        ({"SECURE_SSL_REDIRECT": "", "QUOTA_PER_UNIT": ""}, "True 500000"),
        ({"SECURE_SSL_REDIRECT": " Off ", "QUOTA_PER_UNIT": "1000"}, "False 1000"),
        ({"SECURE_SSL_REDIRECT": "NO"}, "False 500000"),
        ({"SECURE_SSL_REDIRECT": "Yes"}, "True 500000"),
    ],
)
def test_boolean_and_quota_settings_come_from_the_environment(variables, printed, tmp_path):
    environment = {**documented_production_environment(), **variables}
    code = "from django.conf import settings as s; print(s.SECURE_SSL_REDIRECT, s.QUOTA_PER_UNIT)"

    result = manage("shell", "--no-imports", "-c", code, environment=environment, tmp_path=tmp_path)

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == printed
