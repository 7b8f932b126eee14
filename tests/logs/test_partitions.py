"""Time partitions of the logs table (PostgreSQL only; docs/partitioning.md)."""

from __future__ import annotations

import importlib
import random
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from io import StringIO
from typing import Any

import psycopg
import pytest
from django.apps import apps
from django.core.management import call_command
from django.db import OperationalError, connection, connections, transaction
from django.db.models import Sum
from django.test.utils import CaptureQueriesContext

from logs.models import Log
from logs.partitions import (
    DAY,
    Partition,
    partitions_drop_before,
    partitions_ensure,
    partitions_ensure_for,
    partitions_list,
)
from tests.factories import log_event
from usage.services import logs_ingest

pytestmark = pytest.mark.postgres("the logs table is partitioned on PostgreSQL only")


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> int:
    return int(datetime(year, month, day, hour, minute, second, tzinfo=UTC).timestamp())


def names() -> list[str]:
    return [p.name for p in partitions_list()]


def rows_by_partition() -> dict[str, int]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT tableoid::regclass::text, count(*) FROM logs GROUP BY 1")
        return dict(cursor.fetchall())


def fetch(sql: str, params: Any = None) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def wait_for(condition: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.02)


def waiting_on_lock(query_start: str) -> bool:
    return bool(
        fetch(
            "SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE %s",
            [query_start + "%"],
        )
    )


@pytest.fixture(autouse=True)
def daily_partitions(settings: Any) -> None:
    """The tests speak of days; the default width depends on LOG_RETENTION_DAYS."""
    settings.LOG_PARTITION_DAYS = 1


@pytest.fixture
def committed_partitions(transactional_db: None) -> Iterator[None]:
    """For tests whose partitions commit: drop the past ones they add afterwards. (Current ones
    are left: other tests rely on them, and they are what the migration creates anyway.)"""
    before = set(names())
    yield
    now = time.time()
    with connection.cursor() as cursor:
        for partition in partitions_list():
            if partition.name not in before and partition.upper <= now:
                cursor.execute(f'DROP TABLE "{partition.name}"')


@pytest.fixture
def reader() -> Iterator[Any]:
    """A second session with an open transaction that has read `logs`, like a slow report:
    it holds ACCESS SHARE locks on the table and its partitions until it ends."""
    session = connection.get_new_connection(connection.get_connection_params())
    try:
        session.execute("SELECT count(*) FROM logs").fetchone()
        yield session
    finally:
        session.close()


# --- the table --------------------------------------------------------------------------------


def test_logs_table_is_partitioned_by_range_on_created_at_after_migrate(db):
    assert fetch("SELECT pg_get_partkeydef('logs'::regclass)") == [("RANGE (created_at)",)]
    assert fetch(
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE conrelid = 'logs'::regclass AND contype = 'p'"
    ) == [("logs_pkey", "PRIMARY KEY (id, created_at)")]
    checks = fetch(
        "SELECT conname FROM pg_constraint WHERE conrelid = 'logs'::regclass AND contype = 'c'"
    )
    assert {name for (name,) in checks} == {c.name for c in Log._meta.constraints}
    indexes = fetch(
        "SELECT indexrelid::regclass::text FROM pg_index WHERE indrelid = %s::regclass", ["logs"]
    )
    assert {name for (name,) in indexes} == {i.name for i in Log._meta.indexes} | {"logs_pkey"}
    # id is an identity column of the parent, so ids stay unique across partitions.
    assert fetch("SELECT pg_get_serial_sequence('logs', 'id')") == [("public.logs_id_seq",)]
    # Partitions carry every index of the parent.
    for partition in partitions_list():
        count = fetch(
            "SELECT count(*) FROM pg_index WHERE indrelid = %s::regclass", [partition.name]
        )
        assert count == [(len(indexes),)]


def test_migration_moves_existing_rows_both_ways_and_keeps_indexes_and_ids(ingest):
    migration = importlib.import_module("logs.migrations.0002_partition_logs")
    ingest(
        [
            log_event(created_at=utc(2023, 5, 1, 10)),
            log_event(created_at=utc(2024, 2, 29, 23, 59, 59), user_id=1001, username="user1001"),
            log_event(created_at=int(time.time())),
        ]
    )
    rows = list(Log.objects.order_by("id").values_list("id", "created_at", "user_id", "quota"))
    indexes = "SELECT replace(pg_get_indexdef(indexrelid), ' ON ONLY ', ' ON ') FROM pg_index "
    indexes += "WHERE indrelid = 'logs'::regclass AND NOT indisprimary ORDER BY 1"
    definitions = fetch(indexes)

    with connection.schema_editor() as editor:
        migration.unpartition(apps, editor)
    assert fetch("SELECT relkind FROM pg_class WHERE oid = 'logs'::regclass") == [("r",)]
    assert partitions_list() == []
    assert list(Log.objects.order_by("id").values_list("id", "created_at", "user_id", "quota")) == (
        rows
    )
    assert fetch(indexes) == definitions

    with connection.schema_editor() as editor:
        migration.partition(apps, editor)
    assert fetch("SELECT relkind FROM pg_class WHERE oid = 'logs'::regclass") == [("p",)]
    assert list(Log.objects.order_by("id").values_list("id", "created_at", "user_id", "quota")) == (
        rows
    )
    assert fetch(indexes) == definitions
    assert {"logs_p20230501", "logs_p20240229"} <= set(rows_by_partition())
    # New rows continue the id sequence.
    ingest([log_event()])
    assert Log.objects.order_by("-id").values_list("id", flat=True)[0] > rows[-1][0]


def test_the_orm_reads_and_writes_the_partitioned_table(db):
    day = utc(2023, 9, 1)
    new = [Log(created_at=day + i, user_id=7, username="u7") for i in range(3)]
    # As the ingest service does: the ORM's writes do not create partitions.
    partitions_ensure_for(events=new)
    made = Log.objects.bulk_create(new)
    assert all(log.pk for log in made)
    log = Log(created_at=day + 2 * DAY, user_id=7, username="u7")
    partitions_ensure_for(events=[log])
    log.save()
    assert Log.objects.get(pk=log.pk).created_at == day + 2 * DAY

    assert Log.objects.filter(pk=made[0].pk).delete() == (1, {"logs.Log": 1})
    log.delete()
    kept = Log.objects.get(pk=made[1].pk)
    kept.quota = 5
    kept.save()
    assert list(Log.objects.order_by("id").values_list("created_at", "quota")) == [
        (day + 1, 5),
        (day + 2, 0),
    ]
    assert {"logs_p20230901", "logs_p20230903"} <= set(names())


def test_grouping_whole_log_rows_does_not_rely_on_id_being_the_primary_key(ingest):
    # Django would shorten GROUP BY to "logs"."id"; the database's key is (id, created_at).
    ingest([log_event(quota=3), log_event(quota=4, created_at=utc(2023, 2, 1))])
    grouped = Log.objects.values().annotate(total=Sum("quota")).order_by("created_at")
    assert [row["total"] for row in grouped] == [4, 3]


# --- ingest -----------------------------------------------------------------------------------


def test_ingest_stores_each_event_in_the_partition_of_its_day(ingest):
    now = int(time.time())
    result = ingest(
        [
            log_event(created_at=now),
            log_event(created_at=utc(2023, 3, 10, 0, 0, 0)),
            log_event(created_at=utc(2023, 3, 10, 23, 59, 59)),
            log_event(created_at=utc(2023, 3, 11)),
            log_event(created_at=0),
        ]
    )
    assert result.accepted == 5
    # The current partition is the one the test database was migrated with.
    (today,) = [p.name for p in partitions_list() if p.lower <= now < p.upper]
    assert rows_by_partition() == {
        today: 1,
        "logs_p20230310": 2,
        "logs_p20230311": 1,
        "logs_p19700101": 1,
    }


def test_ingest_creates_partitions_only_for_the_days_a_backfill_touches(ingest):
    before = set(names())
    ingest([log_event(created_at=utc(2022, 1, d, 12)) for d in (3, 5, 5, 9)])
    assert sorted(set(names()) - before) == ["logs_p20220103", "logs_p20220105", "logs_p20220109"]
    assert [(p.lower, p.upper) for p in partitions_list() if p.name == "logs_p20220105"] == [
        (utc(2022, 1, 5), utc(2022, 1, 6))
    ]
    # Storing into them again creates nothing.
    ingest([log_event(created_at=utc(2022, 1, 9, 18))])
    assert sorted(set(names()) - before) == ["logs_p20220103", "logs_p20220105", "logs_p20220109"]


@pytest.mark.django_db(transaction=True)
def test_ingest_into_the_current_partition_issues_no_partition_query(committed_partitions):
    now = int(time.time())
    partitions_ensure(start=now, end=now)
    # migrate teaches the process the committed partitions: ingest starts on its fast path.
    call_command("migrate", verbosity=0)
    with CaptureQueriesContext(connection) as queries:
        logs_ingest(events=[log_event(created_at=now)])
    assert not [q for q in queries.captured_queries if "pg_inherits" in q["sql"]]
    # A past partition may have been dropped since: it is looked up every time.
    logs_ingest(events=[log_event(created_at=utc(2023, 6, 1))])
    with CaptureQueriesContext(connection) as queries:
        logs_ingest(events=[log_event(created_at=utc(2023, 6, 1))])
    assert len([q for q in queries.captured_queries if "pg_inherits" in q["sql"]]) == 1
    assert Log.objects.count() == 3


@pytest.mark.django_db(transaction=True)
def test_two_ingests_needing_the_same_new_partition_both_store_their_events(
    committed_partitions,
):
    day = utc(2023, 5, 1)
    holding, release = threading.Event(), threading.Event()
    outcome: dict[str, Any] = {}

    def first() -> None:
        try:
            with transaction.atomic():
                outcome["created"] = partitions_ensure(start=day, end=day)
                holding.set()
                release.wait(15)
        finally:
            connections.close_all()

    def second() -> None:
        try:
            outcome["second"] = logs_ingest(events=[log_event(created_at=day + 5)]).accepted
        except Exception as exc:  # reported by the assertion below
            outcome["second"] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    threads[0].start()
    assert holding.wait(15)
    threads[1].start()
    # The second waits for the first's creation to commit instead of failing on a duplicate.
    wait_for(lambda: bool(fetch("SELECT 1 FROM pg_stat_activity WHERE wait_event = 'advisory'")))
    release.set()
    for thread in threads:
        thread.join(30)
    assert outcome == {"created": ["logs_p20230501"], "second": 1}
    assert rows_by_partition() == {"logs_p20230501": 1}


# --- reads ------------------------------------------------------------------------------------


def test_queries_across_partitions_return_what_an_unpartitioned_table_returns(ingest):
    rng = random.Random(6)
    base = utc(2023, 8, 1)
    users = [(1000, "user1000"), (1001, "user1001"), (1002, "user1002")]
    events = []
    for _ in range(150):
        user_id, username = rng.choice(users)
        events.append(
            log_event(
                created_at=base + rng.randrange(5 * DAY),
                user_id=user_id,
                username=username,
                model_name=rng.choice(["gpt-4o", "claude"]),
            )
        )
    # Ties on created_at across a partition boundary's neighbourhood: ordered by id.
    events += [log_event(created_at=base + DAY - 1) for _ in range(3)]
    events += [log_event(created_at=base + DAY) for _ in range(3)]
    ingest(events)
    assert len(rows_by_partition()) == 5
    with connection.cursor() as cursor:
        cursor.execute("CREATE TEMP TABLE logs_plain AS SELECT * FROM logs")

    columns = ("id", "created_at", "user_id", "model_name")
    querysets = [
        Log.objects.newest_first().values_list(*columns),
        Log.objects.newest_first().values_list(*columns)[:10],
        Log.objects.newest_first().values_list(*columns)[40:60],
        Log.objects.for_user(1000).newest_first().values_list(*columns),
        Log.objects.between(base + DAY - 1, base + 3 * DAY).newest_first().values_list(*columns),
        Log.objects.for_user(1001)
        .between(base + 12 * 3600, base + 4 * DAY)
        .filter(model_name="claude")
        .newest_first()
        .values_list(*columns)[:5],
        Log.objects.between(base + DAY, base + 2 * DAY).values_list("user_id").order_by("user_id"),
    ]
    for queryset in querysets:
        sql, params = queryset.query.sql_with_params()
        partitioned = fetch(sql, params)
        assert partitioned
        assert partitioned == fetch(sql.replace('"logs"', '"logs_plain"'), params)
    newest = list(Log.objects.newest_first().values_list("created_at", "id"))
    assert newest == sorted(newest, reverse=True)
    assert Log.objects.between(base, base + 5 * DAY).count() == len(events)


def test_partitions_list_reports_bounds_and_estimated_rows(ingest):
    ingest([log_event(created_at=utc(2023, 7, 1, h)) for h in (1, 2, 3)])
    listed = [p for p in partitions_list() if p.name == "logs_p20230701"]
    assert listed == [Partition("logs_p20230701", utc(2023, 7, 1), utc(2023, 7, 2), None)]
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE logs")
    listed = [p for p in partitions_list() if p.name == "logs_p20230701"]
    assert listed == [Partition("logs_p20230701", utc(2023, 7, 1), utc(2023, 7, 2), 3)]


def test_ensure_fills_only_the_gaps_when_the_partition_width_changes(db, settings):
    monday = utc(2024, 1, 1)
    assert partitions_ensure(start=monday, end=monday + DAY + 5) == [
        "logs_p20240101",
        "logs_p20240102",
    ]
    settings.LOG_PARTITION_DAYS = 7
    assert partitions_ensure(start=monday, end=monday + 6 * DAY) == ["logs_p20240103"]
    assert [
        (p.lower, p.upper) for p in partitions_list() if monday <= p.lower < monday + 7 * DAY
    ] == [
        (monday, monday + DAY),
        (monday + DAY, monday + 2 * DAY),
        (monday + 2 * DAY, monday + 7 * DAY),
    ]
    assert partitions_ensure(start=monday, end=monday + 6 * DAY) == []
    # The next week is one partition, starting on Monday.
    assert partitions_ensure(start=monday + 9 * DAY, end=monday + 9 * DAY) == ["logs_p20240108"]


# --- retention --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cut", "dropped_days", "dropped_rows"),
    [
        ((2023, 3, 2), ["logs_p20230301"], 5),
        ((2023, 3, 2, 1), ["logs_p20230301"], 5),
        ((2023, 3, 3), ["logs_p20230301", "logs_p20230302"], 10),
        ((2023, 3, 1, 23, 59, 59), [], 0),
    ],
)
def test_drop_before_removes_exactly_the_partitions_entirely_before_the_cutoff(
    ingest, cut, dropped_days, dropped_rows
):
    d1, d2, d3 = utc(2023, 3, 1), utc(2023, 3, 2), utc(2023, 3, 3)
    ingest(
        [log_event(created_at=d1 + i * 3600) for i in range(5)]
        + [log_event(created_at=d2 + i * 600) for i in range(4)]
        + [log_event(created_at=d2 + 50_000), log_event(created_at=d3 + 1)]
    )
    counts = rows_by_partition()
    assert partitions_drop_before(before=utc(*cut)) == dropped_rows
    assert {"logs_p20230301", "logs_p20230302", "logs_p20230303"} - set(names()) == set(
        dropped_days
    )
    assert rows_by_partition() == {k: v for k, v in counts.items() if k not in dropped_days}


def test_drop_before_keeps_partitions_that_can_still_receive_events(ingest):
    ingest([log_event(created_at=int(time.time()))])
    current = set(rows_by_partition())
    assert partitions_drop_before(before=int(time.time()) + 40 * DAY) == 0
    assert current <= set(names())
    assert Log.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_drop_waits_for_a_slow_reader_without_blocking_ingest(
    committed_partitions, reader
):
    d1, d2 = utc(2023, 4, 1), utc(2023, 4, 2)
    logs_ingest(events=[log_event(created_at=d1 + i) for i in range(3)])
    logs_ingest(events=[log_event(created_at=d2 + 5)])
    reader.execute("SELECT count(*) FROM logs").fetchone()  # a fresh snapshot that sees them
    outcome: dict[str, Any] = {}

    def drop() -> None:
        try:
            outcome["rows"] = partitions_drop_before(before=d2)
        except Exception as exc:  # reported by the assertion below
            outcome["error"] = exc
        finally:
            connections.close_all()

    thread = threading.Thread(target=drop)
    thread.start()
    wait_for(lambda: waiting_on_lock("ALTER TABLE"))
    # While the detach waits for the reader, ingest and reads go on; a 1 s lock timeout would
    # fail them if they queued behind it.
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL lock_timeout = '1s'")
        logs_ingest(events=[log_event(created_at=d2 + 10), log_event(created_at=int(time.time()))])
        assert Log.objects.filter(created_at__gte=d2).count() == 3
    assert thread.is_alive()
    reader.rollback()  # the slow report ends
    thread.join(30)
    assert outcome == {"rows": 3}
    assert "logs_p20230401" not in names()
    assert Log.objects.filter(created_at__lt=d2).count() == 0
    assert fetch("SELECT to_regclass('logs_p20230401')") == [(None,)]


@pytest.mark.django_db(transaction=True)
def test_drop_inside_a_transaction_gives_up_quickly_instead_of_queueing_behind_a_reader(
    committed_partitions, reader
):
    d1 = utc(2023, 4, 11)
    logs_ingest(events=[log_event(created_at=d1)])
    reader.execute("SELECT count(*) FROM logs").fetchone()
    # A plain DETACH needs an ACCESS EXCLUSIVE lock: it waits at most BLOCKING_LOCK_TIMEOUT_MS,
    # so ingest would queue behind it for no longer than that.
    with pytest.raises(OperationalError, match="lock timeout"), transaction.atomic():
        partitions_drop_before(before=d1 + DAY)
    assert "logs_p20230411" in names()
    assert Log.objects.filter(created_at=d1).count() == 1


@pytest.mark.django_db(transaction=True)
def test_drop_before_finishes_a_concurrent_detach_that_was_interrupted(committed_partitions):
    d1, d2 = utc(2023, 4, 21), utc(2023, 4, 22)
    logs_ingest(events=[log_event(created_at=d1), log_event(created_at=d1 + 1)])
    logs_ingest(events=[log_event(created_at=d2)])
    # Another session's detach gives up while a reader holds the table: the partition is left
    # "pending detach", invisible to queries and blocking any other concurrent detach.
    session = connection.get_new_connection(connection.get_connection_params())
    session.autocommit = True
    reader = connection.get_new_connection(connection.get_connection_params())
    try:
        reader.execute("SELECT count(*) FROM logs").fetchone()
        session.execute("SET lock_timeout = '200ms'")
        with pytest.raises(psycopg.errors.LockNotAvailable):
            session.execute("ALTER TABLE logs DETACH PARTITION logs_p20230422 CONCURRENTLY")
    finally:
        reader.close()
        session.close()
    assert "logs_p20230422" not in names()
    assert Log.objects.filter(created_at=d2).count() == 0

    # The later partition is finished (kept, as it lies after the cut), the earlier one dropped.
    assert partitions_drop_before(before=d2) == 2
    assert {"logs_p20230421", "logs_p20230422"} & set(names()) == set()
    assert fetch("SELECT count(*) FROM logs_p20230422") == [(1,)]
    assert fetch("SELECT relispartition FROM pg_class WHERE relname = 'logs_p20230422'") == [
        (False,)
    ]
    # Its range takes a new partition; the name is taken, so it gets a suffix.
    logs_ingest(events=[log_event(created_at=d2 + 7)])
    assert rows_by_partition() == {"logs_p20230422_1": 1}
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE logs_p20230422")


# --- the command ------------------------------------------------------------------------------


def test_manage_partitions_creates_the_partitions_ahead(db, time_machine):
    # A day in the past: the test database's partitions were made around the real date when it
    # was migrated, so a day ahead of the real date may already have its partitions.
    time_machine.move_to(datetime(2022, 1, 10, 12, tzinfo=UTC), tick=False)
    start, end = utc(2022, 1, 10), utc(2022, 1, 14)
    assert not [p for p in partitions_list() if p.lower < end and p.upper > start]
    out = StringIO()
    call_command("manage_partitions", "--ahead", "3", stdout=out)
    assert out.getvalue() == (
        "Created 4 partition(s): logs_p20220110, logs_p20220111, logs_p20220112, "
        "logs_p20220113; partitions reach 2022-01-14 00:00:00Z.\n"
    )
    out = StringIO()
    call_command("manage_partitions", "--ahead", "3", stdout=out)
    assert out.getvalue() == "Created 0 partition(s); partitions reach 2022-01-14 00:00:00Z.\n"


def test_manage_partitions_applies_retention_by_dropping_whole_partitions(
    ingest, time_machine, settings
):
    settings.LOG_RETENTION_DAYS = 30
    # In the past, so that the partitions the test database was created with lie ahead.
    now = utc(2021, 3, 1, 6)
    time_machine.move_to(datetime(2021, 3, 1, 6, tzinfo=UTC), tick=False)
    ingest(
        [
            log_event(created_at=now - 40 * DAY),
            log_event(created_at=now - 31 * DAY),
            log_event(created_at=now - 31 * DAY + 60),
            log_event(created_at=now - 30 * DAY - 3600),  # older than 30 days, in a straddling day
            log_event(created_at=now - 29 * DAY),
        ]
    )
    out = StringIO()
    call_command("manage_partitions", "--ahead", "0", "--drop-before-retention", stdout=out)
    assert out.getvalue() == (
        "Created 1 partition(s): logs_p20210301; partitions reach 2021-03-02 00:00:00Z.\n"
        "Dropped 2 partition(s) lying entirely before 2021-01-30 06:00:00Z (3 logs): "
        "logs_p20210120, logs_p20210129.\n"
    )
    assert sorted(Log.objects.values_list("created_at", flat=True)) == [
        now - 30 * DAY - 3600,
        now - 29 * DAY,
    ]


def test_manage_partitions_keeps_everything_without_a_retention_setting(ingest, settings):
    settings.LOG_RETENTION_DAYS = None
    ingest([log_event(created_at=utc(2020, 1, 1))])
    out = StringIO()
    call_command("manage_partitions", "--ahead", "1", "--drop-before-retention", stdout=out)
    assert out.getvalue().splitlines()[1] == (
        "LOG_RETENTION_DAYS is unset: logs are kept forever, nothing dropped."
    )
    assert Log.objects.count() == 1


def test_manage_partitions_lists_the_partitions(ingest, time_machine):
    # A day in the past, before the partitions the test database was migrated with (they
    # surround the real date and are listed after these).
    time_machine.move_to(datetime(2022, 6, 1, tzinfo=UTC), tick=False)
    ingest([log_event(created_at=utc(2022, 5, 31, 8))])
    out = StringIO()
    call_command("manage_partitions", "--ahead", "0", "--list", stdout=out)
    lines = out.getvalue().splitlines()
    first = lines.index("logs_p20220531  2022-05-31 00:00:00Z .. 2022-06-01 00:00:00Z  ? rows")
    assert lines[first + 1] == (
        "logs_p20220601  2022-06-01 00:00:00Z .. 2022-06-02 00:00:00Z  ? rows"
    )


def test_delete_api_drops_whole_partitions_and_deletes_the_straddling_rest(ingest, admin_api):
    d1, d2 = utc(2023, 3, 1), utc(2023, 3, 2)
    ingest(
        [log_event(created_at=d1 + i * 3600) for i in range(5)]
        + [log_event(created_at=d2 + i * 3600) for i in range(4)]
    )
    # d2 + 2 h cuts the second day: its first two logs go by DELETE, the first day by a drop.
    response = admin_api.delete(f"/api/log/?target_timestamp={d2 + 7200}")
    assert response.json() == {"success": True, "message": "", "data": 7}
    assert "logs_p20230301" not in names()
    assert sorted(Log.objects.values_list("created_at", flat=True)) == [d2 + 7200, d2 + 10800]
