"""The rollup tables: written with the logs in one transaction, never reduced by deleting logs,
recomputed by rebuild_usage, checked by verify_usage, aged out by purge_usage."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from io import StringIO
from typing import cast
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.management import call_command
from django.db import DatabaseError, connection

from logs.models import Log
from tests.factories import log_event
from tests.usage.logdata import T0, T1, ingest_in_random_batches, random_events
from usage.management.commands.verify_usage import Command as VerifyCommand
from usage.models import UsageChannel, UsageSite, UsageUser, UsageUserTotal
from usage.selectors import UsageFilter, usage_rows, usage_top_endpoints, usage_totals
from usage.services import logs_ingest

MODELS = (UsageSite, UsageChannel, UsageUserTotal, UsageUser)
BASE = int(datetime(2025, 3, 10, tzinfo=UTC).timestamp())  # a Monday, 00:00 UTC


def snapshot() -> dict[str, set[tuple[object, ...]]]:
    """Every rollup row of every table, as comparable tuples."""
    return {
        model._meta.db_table: set(
            model.objects.values_list(*(f.column for f in model._meta.concrete_fields))
        )
        for model in MODELS
    }


@pytest.fixture
def history(db):
    """Three months of random logs ingested in random batches."""
    rng = random.Random(7)
    ingest_in_random_batches(rng, random_events(rng, 400))


def test_every_table_counts_an_event_once_per_span(db):
    logs_ingest(events=[log_event(created_at=BASE + 4000, request_id="a", quota=30)])
    logs_ingest(events=[log_event(created_at=BASE + 4000, request_id="a", quota=30)])  # retry
    hour_and_day = [(3600, BASE + 3600, 1, 30), (86400, BASE, 1, 30)]
    # Only the site table keeps quarter-hours and 3, 6 and 12 hours.
    assert sorted(UsageSite.objects.values_list("span", "bucket", "requests", "quota")) == [
        (900, BASE + 3600, 1, 30),
        (3600, BASE + 3600, 1, 30),
        (10800, BASE, 1, 30),
        (21600, BASE, 1, 30),
        (43200, BASE, 1, 30),
        (86400, BASE, 1, 30),
    ]
    for model in (UsageChannel, UsageUser):
        rows = sorted(model.objects.values_list("span", "bucket", "requests", "quota"))
        assert rows == hour_and_day
    assert list(UsageUserTotal.objects.values_list("span", "bucket", "requests", "quota")) == [
        (86400, BASE, 1, 30)
    ]


def test_one_batch_sums_its_events_per_key(db):
    logs_ingest(
        events=[
            log_event(created_at=BASE + 10, quota=1, first_token_ms=100),
            log_event(created_at=BASE + 20, quota=2),
            log_event(created_at=BASE + 950, quota=4, first_token_ms=50, duration_ms=7),
        ]
    )
    rows = UsageSite.objects.order_by("span", "bucket").values_list(
        "span", "bucket", "requests", "quota", "first_token_ms", "first_token_count", "duration_ms"
    )
    assert list(rows) == [
        (900, BASE, 2, 3, 100, 1, 0),
        (900, BASE + 900, 1, 4, 50, 1, 7),
        *((span, BASE, 3, 7, 150, 2, 7) for span in (3600, 10800, 21600, 43200, 86400)),
    ]


@pytest.fixture
def failing_rollup():
    """A trigger that makes the database refuse a usage_user row for the model 'boom': the
    batch's logs and its other rollup tables are written by then (usage_user is the last)."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "CREATE FUNCTION test_refuse_rollup() RETURNS trigger LANGUAGE plpgsql AS $$ "
                "BEGIN IF NEW.model_name = 'boom' THEN RAISE EXCEPTION 'injected failure'; "
                "END IF; RETURN NEW; END $$"
            )
            cursor.execute(
                "CREATE TRIGGER test_refuse_rollup BEFORE INSERT ON usage_user FOR EACH ROW "
                "EXECUTE FUNCTION test_refuse_rollup()"
            )
        else:
            cursor.execute(
                "CREATE TRIGGER test_refuse_rollup BEFORE INSERT ON usage_user "
                "WHEN NEW.model_name = 'boom' BEGIN SELECT RAISE(ABORT, 'injected failure'); END"
            )
    # The test's transaction is rolled back afterwards, taking the trigger with it.


def test_failed_batch_leaves_neither_logs_nor_aggregates(db, failing_rollup):
    logs_ingest(events=[log_event(created_at=BASE, quota=5)])
    before, logs_before = snapshot(), Log.objects.count()
    # The logs are inserted first, then the last rollup upsert fails, and the transaction takes
    # both back.
    with pytest.raises(DatabaseError):
        logs_ingest(
            events=[
                log_event(created_at=BASE + 60, request_id="x1", quota=7),
                log_event(created_at=BASE + 61, request_id="x2", model_name="boom"),
            ]
        )
    assert Log.objects.count() == logs_before
    assert snapshot() == before
    # The request ids were not claimed either: a corrected retry is stored.
    assert logs_ingest(events=[log_event(created_at=BASE + 60, request_id="x1")]).accepted == 1


def test_deleting_logs_leaves_aggregates_unchanged(history):
    before = snapshot()
    where = UsageFilter(types=())
    totals = usage_totals(start=T0 - T0 % 86400, end=T1 - T1 % 86400 + 86399, where=where)
    Log.objects.filter(created_at__lt=(T0 + T1) // 2).delete()
    assert snapshot() == before
    Log.objects.all().delete()
    assert snapshot() == before
    # Whole days are read from the rollups alone.
    after = usage_totals(start=T0 - T0 % 86400, end=T1 - T1 % 86400 + 86399, where=where)
    assert after == totals
    assert after.requests > 300


def test_rebuild_after_wiping_reproduces_the_rollups_exactly(history):
    before = snapshot()
    for model in MODELS:
        model.objects.all().delete()
    out = StringIO()
    call_command("rebuild_usage", stdout=out)
    assert snapshot() == before
    assert "Rebuilt 2024-02-" in out.getvalue()


def test_rebuild_since_recomputes_only_from_that_day(history):
    before = snapshot()
    since = int(datetime(2024, 6, 1, tzinfo=UTC).timestamp())
    UsageSite.objects.filter(bucket__lt=since).update(quota=0)  # damage before --since
    UsageUser.objects.filter(bucket__gte=since).update(quota=1)  # damage after it
    call_command("rebuild_usage", "--since", "2024-06-01", "--chunk-days", "30", stdout=StringIO())
    after = snapshot()
    assert after["usage_user"] == before["usage_user"]
    assert {row for row in after["usage_site"] if cast(int, row[1]) >= since} == {
        row for row in before["usage_site"] if cast(int, row[1]) >= since
    }
    # The rows before --since were left alone (damage included).
    assert not UsageSite.objects.filter(bucket__lt=since).exclude(quota=0).exists()


def test_rebuild_keeps_the_days_whose_logs_were_purged(history):
    before = snapshot()
    cut = int(datetime(2024, 5, 17, 13, 7, tzinfo=UTC).timestamp())
    logs_ingest(events=[log_event(created_at=cut + 60)])  # the oldest log left, that day
    before = snapshot()
    Log.objects.filter(created_at__lt=cut).delete()  # retention, mid-day
    err = StringIO()
    call_command(
        "rebuild_usage", "--since", "0", "--chunk-days", "7", stdout=StringIO(), stderr=err
    )
    assert snapshot() == before
    assert "--since moved to 2024-05-18" in err.getvalue()
    call_command("verify_usage", stdout=StringIO())


def test_verify_usage_reports_ok_when_consistent(history):
    out = StringIO()
    call_command("verify_usage", stdout=out)
    assert out.getvalue().startswith("OK: ")
    assert "rollup rows match the raw logs, 2024-02-" in out.getvalue()


def test_verify_usage_exits_1_and_prints_a_corrupted_row(history, capsys):
    row = UsageUser.objects.filter(span=3600).order_by("bucket", "user_id").first()
    assert row is not None
    UsageUser.objects.filter(pk=row.pk).update(prompt_tokens=row.prompt_tokens + 1)
    with pytest.raises(SystemExit) as exit_info:
        VerifyCommand().run_from_argv(["manage.py", "verify_usage"])
    assert exit_info.value.code == 1
    captured = capsys.readouterr()
    assert f"usage_user span=3600 bucket={row.bucket}" in captured.out
    assert f"prompt_tokens={row.prompt_tokens + 1}" in captured.out
    assert f"prompt_tokens={row.prompt_tokens}," in captured.out
    assert "1 rollup rows differ from the raw logs" in captured.err


def test_verify_usage_finds_a_missing_and_an_extra_row(history):
    UsageSite.objects.filter(span=86400).order_by("bucket").last().delete()  # type: ignore[union-attr]
    UsageChannel.objects.create(
        span=900, bucket=T0, channel_id=99, group="x", model_name="m", type=2
    )
    out = StringIO()
    with pytest.raises(Exception, match="2 rollup rows differ"):
        call_command("verify_usage", stdout=out)
    assert "rollup: no row" in out.getvalue()
    assert "logs:   no row" in out.getvalue()


def test_verify_usage_ignores_days_before_purged_logs(history):
    cut = int(datetime(2024, 7, 1, 5, tzinfo=UTC).timestamp())
    logs_ingest(events=[log_event(created_at=cut + 60)])  # the oldest log left, that day
    Log.objects.filter(created_at__lt=cut).delete()
    out = StringIO()
    call_command("verify_usage", stdout=out)
    assert "2024-07-02 .. " in out.getvalue()


@time_machine.travel(datetime(2024, 12, 1, 12, tzinfo=UTC), tick=False)
def test_purge_usage_deletes_rows_older_than_the_retention(history, settings):
    settings.USAGE_RETENTION_DAYS = 120  # keeps 2024-08-03 on
    logs_before = Log.objects.count()
    out = StringIO()
    call_command("purge_usage", stdout=out)
    cutoff = int(datetime(2024, 8, 3, tzinfo=UTC).timestamp())
    for model in MODELS:
        assert not model.objects.filter(bucket__lt=cutoff).exists()
        assert model.objects.filter(bucket__gte=cutoff).exists()
    assert Log.objects.count() == logs_before
    assert "before 2024-08-03 (UTC)" in out.getvalue()


def test_purge_usage_keeps_everything_without_a_retention(history, settings):
    settings.USAGE_RETENTION_DAYS = None
    before = snapshot()
    out = StringIO()
    call_command("purge_usage", stdout=out)
    assert snapshot() == before
    assert "kept forever" in out.getvalue()


def test_usage_rows_is_one_query_from_rollups_and_raw_edges(history, django_assert_num_queries):
    tz = ZoneInfo("Asia/Kolkata")
    start = int(datetime(2024, 4, 1, 10, 7, tzinfo=tz).timestamp())
    end = int(datetime(2024, 6, 30, 16, 52, tzinfo=tz).timestamp())
    # 1. SELECT ... FROM (rollup rows of the day/hour/quarter pieces UNION ALL raw logs of the
    #    sub-quarter edges) GROUP BY label, model_name
    with django_assert_num_queries(1):
        rows = usage_rows(
            start=start,
            end=end,
            where=UsageFilter(user_id=2),
            group_by=("model_name",),
            granularity="day",
            tz=tz,
        )
    assert rows
    # A filter that matches nothing costs no query.
    with django_assert_num_queries(0):
        assert usage_rows(start=start, end=end, where=UsageFilter(token_ids=())) == []


def test_most_used_endpoint_per_model(db):
    user = {"user_id": 5, "username": "u5"}
    logs_ingest(
        events=[
            log_event(created_at=BASE + 1, model_name="claude", endpoint="/v1/messages", **user),
            log_event(created_at=BASE + 2, model_name="claude", endpoint="/v1/messages", **user),
            log_event(created_at=BASE + 3, model_name="claude", endpoint="/v1/chat", **user),
            log_event(created_at=BASE + 4, model_name="gpt", endpoint="/v1/b", **user),
            log_event(created_at=BASE + 5, model_name="gpt", endpoint="/v1/a", **user),
            log_event(created_at=BASE + 6, model_name="gpt", endpoint="", **user),
            log_event(created_at=BASE + 6, model_name="gpt", endpoint="", **user),
            log_event(created_at=BASE + 7, model_name="emb", endpoint="", **user),
            log_event(created_at=BASE + 8, model_name="gpt", endpoint="/v1/c", user_id=6),
            log_event(created_at=BASE + 9, model_name="x", endpoint="/v1/x", type=5, **user),
        ]
    )
    assert usage_top_endpoints(start=BASE, end=BASE + 86400, where=UsageFilter(user_id=5)) == {
        "claude": "/v1/messages",
        "gpt": "/v1/a",
    }  # "emb" names no endpoint: absent (AceData shows "")


def test_a_range_ending_late_in_a_quarter_leaves_out_the_logs_after_it(db):
    # The range ends 13 minutes into a quarter-hour: read from the quarter's rollup row, less
    # the logs stamped after the end. gpt-4o has a log on each side; claude only after the end,
    # so its group nets to nothing and is absent.
    quarter = BASE + 900
    logs_ingest(
        events=[
            log_event(created_at=quarter + 60, model_name="gpt-4o", quota=5),
            log_event(created_at=quarter + 780, model_name="gpt-4o", quota=7),  # the end itself
            log_event(created_at=quarter + 781, model_name="gpt-4o", quota=100),
            log_event(created_at=quarter + 890, model_name="claude", quota=1000),
        ]
    )

    rows = usage_rows(
        start=BASE,
        end=quarter + 780,
        where=UsageFilter(),
        group_by=("model_name",),
        granularity="hour",
        tz=ZoneInfo("UTC"),
    )

    assert [(row.bucket, row.dims, row.totals.requests, row.totals.quota) for row in rows] == [
        (BASE, {"model_name": "gpt-4o"}, 2, 12)
    ]
    assert usage_totals(start=BASE, end=quarter + 780, where=UsageFilter()).quota == 12


def test_a_range_ending_now_leaves_out_logs_stamped_ahead_of_the_clock(db):
    # Two minutes into a quarter-hour, the rest of it is the future: the quarter is read from
    # its rollup row less the logs after now, such as one a gateway stamped ahead of our clock.
    quarter = BASE + 900
    logs_ingest(
        events=[
            log_event(created_at=quarter + 30, quota=5),
            log_event(created_at=quarter + 120, quota=7),
            log_event(created_at=quarter + 300, quota=100),  # ahead of the clock
        ]
    )
    with time_machine.travel(quarter + 120, tick=False):
        totals = usage_totals(start=quarter - 3600, end=quarter + 120, where=UsageFilter())

    assert (totals.requests, totals.quota) == (2, 12)
