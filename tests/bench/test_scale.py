"""The scale harness end to end at a tiny size: every read it measures answers successfully, and
each phase reports what it did. Timings are recorded, never asserted."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.db import connection

from bench.core import ROOT
from bench.scale import RANGES, Ago, Facts, reads_build, size_label, size_parse

FACTS = Facts(
    rows=1000, oldest=1_760_000_000, newest=1_765_000_000, heavy_user=7, typical_user="user9",
    model="gpt-4o", rare_model="o1", channel=1, group="vip", token_name="key-1", token_id=71,
    request_id="req-1", log_id=5, common_text="timed out", rare_text="q-1",
)  # fmt: skip


def test_sizes_read_and_print_as_people_write_them():
    assert [size_parse(text) for text in ("1m", "10M", "500k", "2500", "1_000_000")] == [
        1_000_000,
        10_000_000,
        500_000,
        2500,
        1_000_000,
    ]
    assert [size_label(rows) for rows in (1_000_000, 10_000_000, 500_000, 2500)] == [
        "1m",
        "10m",
        "500k",
        "2500",
    ]


def test_relative_parameters_are_resolved_at_the_moment_of_the_request():
    now = 1_767_225_600  # 2026-01-01T00:00:00Z

    assert Ago(1).value(now) == now - 86_400
    assert Ago(31, "date").value(now) == "2025-12-01"
    assert Ago(0.5, "iso").value(now) == "2025-12-31T12:00:00+00:00"
    assert Ago(1, "local").value(now) == "2025-12-31T00:00"


def test_every_endpoint_and_page_is_measured_for_each_range():
    reads = reads_build(FACTS)
    names = {read.name for read in reads}

    assert {
        "GET /api/log/",
        "GET /api/log/stat",
        "GET /api/log/search",
        "GET /api/log/self",
        "GET /api/log/self/stat",
        "GET /api/log/self/search",
        "GET /api/data/",
        "GET /api/data/self",
        "GET /api/v1/usage",
        "GET /api/v1/usage/stats",
        "GET /api/v1/usage/dashboard/stats",
        "GET /api/v1/usage/dashboard/trend",
        "GET /api/v1/usage/dashboard/models",
        "POST /api/v1/usage/dashboard/api-keys-usage",
        f"GET /api/v1/usage/{FACTS.log_id}",
        "GET /api/v1/usage/apis/aggregate/",
        "GET /api/v1/portal/management/usage",
        "GET /api/user/self",
        "GET /",
        "GET /site/",
        "GET /logs/",
        "GET /site/logs/",
        "GET /account/",
    } <= names
    ranged = {read.name for read in reads if read.days == 365}
    for name in ("GET /api/log/", "GET /api/log/stat", "GET /api/data/", "GET /site/"):
        assert {read.days for read in reads if read.name == name} >= set(RANGES)
        assert name in ranged
    assert {read.role for read in reads if read.name == "GET /api/log/"} == {"admin"}
    assert {read.filter for read in reads if read.name == "GET /api/log/"} >= {
        "",
        "model",
        "channel",
        "username",
        "token_name",
        "group",
    }
    assert len({read.label for read in reads}) == len(reads)


@pytest.fixture
def bench_url():
    settings = connection.settings_dict
    name = f"tokenledger_bench_smoke{os.getpid()}_{{size}}"
    netloc = f"{settings['USER']}@{settings['HOST'] or '127.0.0.1'}:{settings['PORT'] or 5432}"
    url = urlunsplit(("postgres", netloc, f"/{name}", "", ""))
    yield url
    import psycopg

    admin = urlunsplit(("postgresql", urlsplit(url).netloc, "/postgres", "", ""))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name.format(size="3k")}" WITH (FORCE)')


@pytest.mark.postgres("the harness loads PostgreSQL with COPY")
@pytest.mark.slow
def test_a_tiny_run_measures_every_read_and_every_phase(bench_url):
    done = subprocess.run(  # noqa: S603 (our own harness, fixed arguments)
        [sys.executable, "-m", "bench", "scale", "--rows", "3000", "--pg-url", bench_url,
         "--repeat", "1", "--workers", "2", "--ingest-rate", "300", "--ingest-seconds", "2"],
        cwd=ROOT, capture_output=True, text=True, timeout=600, check=False,
        env={**os.environ, "DATABASE_URL": ""},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    written = re.findall(r"wrote (\S+\.json)", done.stderr)
    path = Path(written[-1])
    result = json.loads(path.read_text())
    path.unlink()

    rows = result["rows"]
    reads = [row for row in rows if "samples_ms" in row]
    assert result["meta"]["summary"]["errors"] == []
    assert len(reads) == len(reads_build(FACTS))
    assert all(len(row["samples_ms"]) == 1 and len(row["ingest_samples_ms"]) == 1 for row in reads)
    by_name = {row["read"]: row for row in rows}
    assert by_name["POST /api/log/ at full speed"]["events_per_s"] > 0
    deleted = [row for row in rows if row["read"].startswith(("DELETE", "manage.py purge_logs"))]
    assert len(deleted) == 2
    for row in deleted:
        found = re.search(r"\(([\d,]+) copied\)", row["filter"])
        assert found is not None
        assert row["rows"] == int(found.group(1).replace(",", "")) > 0
    exports = [row for row in rows if "export" in row["read"]]
    assert [row["rows"] > 0 for row in exports] == [True, True]
    audit = result["meta"]["sizes"]["3k"]["index_audit"]
    assert {"logs_created_id", "logs_user_created_id"} <= {entry["index"] for entry in audit}
    assert next(e for e in audit if e["index"] == "logs_user_created_id")["scans"] > 0
