"""Migration usage.0003 starts the retention marks of an existing database where its rollups and
logs already disagree (logs or rollup rows deleted before the marks existed)."""

from __future__ import annotations

import importlib
from types import SimpleNamespace

import pytest
from django.apps import apps
from django.db import connection

from logs.filters import LogFilter
from logs.models import Log, RetentionMark
from tests.factories import log_event
from usage.models import UsageSite
from usage.selectors import usage_log_stat
from usage.services import logs_ingest

pytestmark = pytest.mark.django_db

DAY = 86_400
D0 = 1_735_689_600  # 2025-01-01T00:00:00Z
start_marks = importlib.import_module("usage.migrations.0003_retention_marks_start").start_marks


def run_migration() -> None:
    start_marks(apps, SimpleNamespace(connection=connection))


@pytest.fixture
def four_days():
    logs_ingest(events=[log_event(created_at=D0 + day * DAY + 3600, quota=1) for day in range(4)])


def test_no_mark_when_rollups_and_logs_agree(four_days):
    run_migration()

    assert not RetentionMark.objects.exists()


def test_logs_deleted_without_a_mark_start_it_after_their_last_day(four_days):
    # Deleted as before the marks existed: the rollups still count these two.
    Log.objects.filter(created_at__lt=D0 + DAY + 7200).delete()

    run_migration()

    assert RetentionMark.objects.get().logs_before == D0 + 2 * DAY
    assert usage_log_stat(filters=LogFilter(), now=D0).quota == 2


def test_rollups_purged_without_a_mark_start_it_too(four_days):
    UsageSite.objects.filter(bucket__lt=D0 + DAY).delete()

    run_migration()

    assert RetentionMark.objects.get().logs_before == D0 + DAY
