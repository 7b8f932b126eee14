"""DELETE /api/log/?target_timestamp=T (admin), the batch service behind it, and purge_logs."""

from __future__ import annotations

from io import StringIO

import pytest
import time_machine
from django.apps import apps
from django.core.management import CommandError, call_command

from logs.models import Log, RetentionMark
from logs.services import logs_delete_before
from tests.factories import log_event
from tests.logs.logdata import T0, bulk_logs, store

pytestmark = pytest.mark.django_db


def remaining() -> list[int]:
    return sorted(Log.objects.values_list("created_at", flat=True))


@pytest.fixture
def five_logs(admin_api, user_api):
    return store(*(log_event(created_at=T0 + i, request_id=f"r{i}") for i in range(5)))


def test_delete_removes_logs_strictly_before_the_target_and_returns_the_count(admin_api, five_logs):
    response = admin_api.delete(f"/api/log/?target_timestamp={T0 + 3}")

    assert response.status_code == 200
    assert response.json() == {"success": True, "message": "", "data": 3}
    assert remaining() == [T0 + 3, T0 + 4]


def test_delete_without_slash_works_too(admin_api, five_logs):
    response = admin_api.delete(f"/api/log?target_timestamp={T0 + 1}")

    assert response.json() == {"success": True, "message": "", "data": 1}


def test_delete_with_nothing_older_returns_zero(admin_api, five_logs):
    assert admin_api.delete(f"/api/log/?target_timestamp={T0}").json()["data"] == 0
    assert len(remaining()) == 5


def test_delete_of_the_largest_timestamp_removes_everything(admin_api, five_logs):
    assert admin_api.delete(f"/api/log/?target_timestamp={2**63 - 1}").json()["data"] == 5


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("", "target timestamp is required"),
        ("?target_timestamp=", "target timestamp is required"),
        ("?target_timestamp=0", "target timestamp is required"),
        ("?target_timestamp=yesterday", "invalid target_timestamp"),
        ("?target_timestamp=1.5", "invalid target_timestamp"),
        ("?target_timestamp=%FF", "invalid target_timestamp"),
        ("?target_timestamp=-5", "target_timestamp must be >= 0"),
        (f"?target_timestamp={10**30}", "target_timestamp must be <= 9223372036854775807"),
    ],
)
def test_delete_refuses_bad_targets_and_deletes_nothing(admin_api, five_logs, query, message):
    response = admin_api.delete(f"/api/log/{query}")

    assert response.status_code == 200
    assert response.json() == {"success": False, "message": message}
    assert len(remaining()) == 5


def test_users_cannot_delete(user_api, five_logs):
    response = user_api.delete(f"/api/log/?target_timestamp={T0 + 10}")

    assert response.status_code == 403
    assert response.json() == {"success": False, "message": "Unauthorized: insufficient privileges"}
    assert len(remaining()) == 5


def test_delete_touches_no_table_but_logs_and_its_retention_mark(admin_api, five_logs):
    others = [model for model in apps.get_models() if model not in (Log, RetentionMark)]
    before = {model._meta.label: model._default_manager.count() for model in others}

    admin_api.delete(f"/api/log/?target_timestamp={T0 + 10}")

    assert {model._meta.label: model._default_manager.count() for model in others} == before
    assert remaining() == []
    # The record that logs before T0 + 10 may be gone (the log stat reads raw logs there).
    assert list(RetentionMark.objects.values_list("id", "logs_before", "rollups_before")) == [
        (1, T0 + 10, 0)
    ]


def test_request_ids_of_deleted_logs_stay_duplicates(admin_api, five_logs, ingest):
    admin_api.delete(f"/api/log/?target_timestamp={T0 + 10}")

    result = ingest([log_event(created_at=T0, request_id="r0")])

    assert (result.accepted, result.duplicates) == (0, 1)


def test_service_deletes_oldest_first_in_batches():
    bulk_logs(5)
    progress: list[int] = []

    deleted = logs_delete_before(before=T0 + 5, batch_size=2, on_batch=progress.append)

    assert deleted == 5
    assert progress == [2, 4, 5]


def test_service_stops_after_a_short_batch_when_the_count_is_a_multiple():
    bulk_logs(4)
    progress: list[int] = []

    assert logs_delete_before(before=T0 + 100, batch_size=2, on_batch=progress.append) == 4
    assert progress == [2, 4, 4]


class Interrupted(Exception):
    pass


def test_an_interrupted_delete_keeps_finished_batches_and_the_rest_intact():
    bulk_logs(5)

    def stop_after_first_batch(total: int) -> None:
        raise Interrupted

    with pytest.raises(Interrupted):
        logs_delete_before(before=T0 + 5, batch_size=2, on_batch=stop_after_first_batch)

    # the two oldest are gone, the others untouched; running again finishes the job
    assert remaining() == [T0 + 2, T0 + 3, T0 + 4]
    assert logs_delete_before(before=T0 + 5, batch_size=2) == 3


def test_service_refuses_an_empty_batch_size():
    with pytest.raises(ValueError, match="batch_size"):
        logs_delete_before(before=T0, batch_size=0)


NOW = T0 + 40 * 86_400


def purge(*args: str) -> str:
    out = StringIO()
    with time_machine.travel(NOW, tick=False):
        call_command("purge_logs", *args, stdout=out)
    return out.getvalue().strip()


@pytest.fixture
def aged_logs():
    # one log per day, from 40 days ago (T0) to today
    for day in range(41):
        bulk_logs(1, start=T0 + day * 86_400)


def test_purge_without_retention_setting_keeps_everything(aged_logs, settings):
    settings.LOG_RETENTION_DAYS = None

    assert purge() == "LOG_RETENTION_DAYS is not set: logs are kept forever, none deleted."
    assert Log.objects.count() == 41


def test_purge_deletes_logs_older_than_the_retention(aged_logs, settings):
    settings.LOG_RETENTION_DAYS = 30

    output = purge()

    assert output == "deleted 10 logs created before 2025-01-11T00:00:00+00:00 (30 days)"
    assert min(remaining()) == NOW - 30 * 86_400


def test_purge_days_option_overrides_the_setting(aged_logs, settings):
    settings.LOG_RETENTION_DAYS = 30

    assert purge("--days", "7", "--batch-size", "3").startswith("deleted 33 logs")
    assert len(remaining()) == 8


def test_purge_dry_run_counts_and_deletes_nothing(aged_logs, settings):
    settings.LOG_RETENTION_DAYS = 30

    assert purge("--dry-run") == (
        "would delete 10 logs created before 2025-01-11T00:00:00+00:00 (30 days)"
    )
    assert Log.objects.count() == 41


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--days", "0"], "the retention must be at least 1 day, got 0"),
        (["--days", "-3"], "the retention must be at least 1 day, got -3"),
        (["--days", "7", "--batch-size", "0"], "--batch-size must be at least 1"),
    ],
)
def test_purge_refuses_bad_options(aged_logs, args, message):
    with pytest.raises(CommandError, match=message):
        purge(*args)
    assert Log.objects.count() == 41
