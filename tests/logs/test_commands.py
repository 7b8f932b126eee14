from __future__ import annotations

from io import StringIO

from django.core.management import call_command

from tests.factories import log_event


def demo_status() -> str:
    out = StringIO()
    call_command("demo_status", stdout=out)
    return out.getvalue().strip()


def test_demo_status_tells_an_empty_database_from_a_seeded_one(db, ingest):
    assert demo_status() == "empty"

    ingest([log_event()])

    assert demo_status() == "seeded"
