"""The benchmark harness's own logic (no server, no timing asserted)."""

from __future__ import annotations

import json

import orjson

from bench.__main__ import suites
from bench.core import Report, percentile
from bench.ingest import RUN_TAG, bodies


def test_suites_are_discovered_from_their_modules():
    found = suites()

    assert {"ingest", "load"} <= set(found)
    assert all(hasattr(module, "run") for module in found.values())


def test_percentile_is_nearest_rank():
    values = [float(v) for v in range(1, 21)]

    assert (percentile(values, 50), percentile(values, 95), percentile(values, 100)) == (
        10.0,
        19.0,
        20.0,
    )
    assert percentile([7.0], 95) == 7.0


def test_report_prints_a_table_and_writes_json(tmp_path):
    report = Report("demo", columns=["db", "events_per_s"], meta={"runs": 3})
    report.add(db="postgres", events_per_s=21234.0)

    path = report.write(tmp_path)

    assert report.table().splitlines() == [
        "db        events_per_s",
        "--------  ------------",
        "postgres      21,234.0",
    ]
    written = json.loads(path.read_text())
    assert written["rows"] == [{"db": "postgres", "events_per_s": 21234.0}]
    assert written["meta"] == {"runs": 3}


def test_ingest_bodies_are_full_batches_with_a_run_tag_in_every_request_id():
    built = bodies(batches=2, size=50, seed=1)

    batches = [orjson.loads(body)["logs"] for body in built]
    assert [len(batch) for batch in batches] == [50, 50]
    ids = [event["request_id"] for batch in batches for event in batch]
    assert len(set(ids)) == 100
    assert all(request_id.startswith(RUN_TAG.decode()) for request_id in ids)
