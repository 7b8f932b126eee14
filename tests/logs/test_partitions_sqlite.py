"""On SQLite the logs table is a plain table: the partition functions and command do nothing."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection

from logs.models import Log
from logs.partitions import partitions_drop_before, partitions_ensure, partitions_list
from tests.factories import log_event

pytestmark = pytest.mark.skipif(
    connection.vendor == "postgresql", reason="on PostgreSQL the logs table is partitioned"
)


def test_partition_functions_do_nothing_on_sqlite(ingest):
    ingest([log_event(created_at=1_672_531_200), log_event(created_at=0)])
    assert partitions_list() == []
    assert partitions_ensure(start=0, end=2_000_000_000) == []
    assert partitions_drop_before(before=2_000_000_000) == 0
    assert Log.objects.count() == 2


def test_manage_partitions_says_there_is_nothing_to_do_on_sqlite(db):
    out = StringIO()
    call_command("manage_partitions", "--drop-before-retention", stdout=out)
    assert out.getvalue() == "The logs table is not partitioned (not PostgreSQL): nothing to do.\n"
