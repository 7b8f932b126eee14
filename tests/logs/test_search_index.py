"""The log search's results and plans, with and without the optional trigram index
(logs/search_index.py, `manage.py search_index`; docs/logs-api.md, Search)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from logs.models import Log
from logs.partitions import DAY, partitions_ensure, partitions_list
from logs.search_index import (
    SEARCH_INDEX,
    SEARCH_INDEX_COLUMNS,
    SearchIndexStatus,
    search_index_create,
    search_index_drop,
    search_index_status,
)
from logs.selectors import logs_search
from tests.factories import log_event
from tests.logs.logdata import T0, bulk_logs, store

pytestmark = pytest.mark.django_db

ON_POSTGRES = connection.vendor == "postgresql"

# (content, model_name, token_name, request_id, user_id, username), stored at T0 + position.
ROWS = [
    ("Upstream TIMEOUT after 30s", "gpt-4o", "night_batch", "req-AbC-001", 1000, "user1000"),
    ("discount 50% applied", "claude-3-haiku", "prod", "req-abc-002", 1000, "user1000"),
    ("path C:\\tmp\\x_y", "o3-mini", "dev", "r3", 1001, "alice"),
    ("Café Crème servi", "qwen-max", "café", "ÉCOLE-42", 1001, "alice"),
    ("数据库连接超时", "deepseek-chat", "默认", "", 1000, "user1000"),
    ("", "gpt-4o-mini", "nightly", "x-100%-y", 1002, "Ünïcödé"),
    ("rate limit reached", "gpt-4o", "default-key", "req-zzz", 1000, "user1000"),
]
KEYWORDS = [
    # case-insensitive, any column
    "timeout",
    "TimeOut",
    "GPT-4O",
    "req-abc",
    "alice",  # username: admins only
    "ünï",
    "ÜNÏCÖDÉ",
    "café",
    "CAFÉ",  # matches on PostgreSQL; SQLite folds ASCII only
    "école",
    "数据库",
    "超时",
    # LIKE metacharacters match themselves
    "50%",
    "%",
    "100%-y",
    "_",
    "h_l",  # as a wildcard it would match "nightly"
    "x_y",
    "\\",
    "C:\\tmp",
    "\\x",
    # a keyword spanning two columns matches nothing
    "gpt-4onight_batch",
    "gpt-4o night_batch",
    "miniNIGHTLY",
    "reachedgpt",
    "30sgpt-4o",
    # too short for a trigram
    "o3",
    "4o",
    "ab",
    "a",
    "é",
    "ç",
    # nothing
    "no-such-keyword",
]
PLAN_INDEX = re.compile(r"(?:Index (?:Only )?Scan(?: Backward)? using|Bitmap Index Scan on) (\S+)")
SEARCHED = ("content", "model_name", "token_name", "request_id")


@pytest.fixture
def rows() -> list[Log]:
    return store(
        *(
            log_event(
                created_at=T0 + position,
                content=content,
                model_name=model,
                token_name=token,
                request_id=request_id,
                user_id=user_id,
                username=username,
            )
            for position, (content, model, token, request_id, user_id, username) in enumerate(ROWS)
        )
    )


def fold(text: str) -> str:
    """The case folding of the search: UPPER on PostgreSQL, ASCII only in SQLite's LIKE."""
    if ON_POSTGRES:
        return text.upper()
    return text.translate({code: code - 32 for code in range(ord("a"), ord("z") + 1)})


def expected(stored: list[Log], keyword: str, user_id: int | None) -> list[int]:
    """A plain substring test of each searched column, newest first."""
    columns = SEARCHED if user_id is not None else (*SEARCHED, "username")
    found = [
        log
        for log in stored
        if (user_id is None or log.user_id == user_id)
        and any(fold(keyword) in fold(getattr(log, column)) for column in columns)
    ]
    return [log.id for log in sorted(found, key=lambda log: (log.created_at, log.id), reverse=True)]


def force_trigram_plans() -> None:
    """For this test's transaction: no sequential or ordered index scan, so the planner reads
    the trigram index wherever it can (a tiny table would otherwise be scanned)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config('enable_seqscan', 'off', true)")
        cursor.execute("SELECT set_config('enable_indexscan', 'off', true)")


def trigram_indexes() -> set[str]:
    """The search index and its partitions' indexes."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = to_regclass(%s)",
            [SEARCH_INDEX],
        )
        return {SEARCH_INDEX} | {row[0] for row in cursor.fetchall()}


def plan_indexes(keyword: str, user_id: int | None) -> set[str]:
    """The indexes the plan of the search query reads."""
    with CaptureQueriesContext(connection) as queries:
        logs_search(keyword=keyword, user_id=user_id)
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN " + queries.captured_queries[-1]["sql"])
        plan = "\n".join(row[0] for row in cursor.fetchall())
    return set(PLAN_INDEX.findall(plan))


# --- results -------------------------------------------------------------------------------


@pytest.mark.parametrize("keyword", KEYWORDS)
def test_search_finds_exactly_the_logs_with_the_keyword_in_a_searched_column(rows, keyword):
    for user_id in (None, 1000, 1001, 1002):
        assert [log.id for log in logs_search(keyword=keyword, user_id=user_id)] == expected(
            rows, keyword, user_id
        ), user_id


@pytest.mark.parametrize("keyword", KEYWORDS)
@pytest.mark.postgres("the trigram index exists on PostgreSQL only")
def test_search_through_the_trigram_index_finds_the_same_logs(rows, keyword):
    search_index_create()
    force_trigram_plans()
    for user_id in (None, 1000, 1001, 1002):
        assert [log.id for log in logs_search(keyword=keyword, user_id=user_id)] == expected(
            rows, keyword, user_id
        ), user_id


def test_the_expected_results_are_not_vacuous(rows):
    # The parametrized cases above hold matches and non-matches of every kind.
    assert len(expected(rows, "timeout", None)) == 1
    assert expected(rows, "alice", None) == [rows[3].id, rows[2].id]
    assert expected(rows, "alice", 1001) == []
    assert expected(rows, "gpt-4o", None) == [rows[6].id, rows[5].id, rows[0].id]
    assert expected(rows, "gpt-4onight_batch", None) == []
    assert len(expected(rows, "CAFÉ", None)) == (1 if ON_POSTGRES else 0)


# --- plans (PostgreSQL) ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "keyword", ["timeout", "req-abc", "ÉCOLE", "x_y", "50%", "no-such-keyword", "数据库"]
)
@pytest.mark.postgres("the trigram index exists on PostgreSQL only")
def test_a_keyword_of_three_characters_or_more_can_use_the_trigram_index(rows, keyword):
    # The search query's conditions are the index's expressions. (The user variant of a tiny
    # table is cheaper through the user index; the next test covers it on a busy user.)
    search_index_create()
    force_trigram_plans()

    assert plan_indexes(keyword, None) & trigram_indexes()


@pytest.mark.postgres("the trigram index exists on PostgreSQL only")
def test_the_planner_chooses_the_index_for_a_rare_keyword_and_the_time_order_otherwise():
    bulk_logs(20_000, content="model ratio 1.25, completion ratio 4.00", request_id="")
    store(log_event(created_at=T0 - 10, content="a rare upstream failure", user_id=1000))
    search_index_create()
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE logs")
        # A table this small is cheapest read whole: take that away, leave the choice between
        # the newest-first scan and the trigram index to the planner.
        cursor.execute("SELECT set_config('enable_seqscan', 'off', true)")

    # Rare: the trigram index finds the one log.
    assert plan_indexes("upstream failure", None) & trigram_indexes()
    assert plan_indexes("upstream failure", 1000) & trigram_indexes()
    # Common: the newest 100 are the first 100 rows of the newest-first scan.
    assert not plan_indexes("ratio", None) & trigram_indexes()
    assert not plan_indexes("ratio", 1000) & trigram_indexes()
    # No trigram in the keyword: never the index (it would have to read all of it).
    assert not plan_indexes("zq", None) & trigram_indexes()
    assert not plan_indexes("zq", 1000) & trigram_indexes()
    assert [log.content for log in logs_search(keyword="upstream failure")] == [
        "a rare upstream failure"
    ]


# --- the command and its functions (PostgreSQL) ----------------------------------------------


@pytest.fixture
def committed_index(transactional_db: None) -> Iterator[None]:
    """For tests whose index build commits: drop it, and the past partitions they add."""
    before = {partition.name for partition in partitions_list()}
    yield
    search_index_drop()
    with connection.cursor() as cursor:
        for partition in partitions_list():
            if partition.name not in before:
                cursor.execute(f'DROP TABLE "{partition.name}"')


def run(*args: str) -> str:
    out = StringIO()
    call_command("search_index", *args, stdout=out)
    return out.getvalue()


@pytest.mark.django_db(transaction=True)
@pytest.mark.postgres("the trigram index exists on PostgreSQL only")
def test_search_index_command_builds_the_index_on_every_partition_and_drops_it(
    committed_index: None,
) -> None:
    assert "absent" in run()

    output = run("--create")

    status = search_index_status()
    assert status is not None and status.exists and status.valid
    assert status.partitions_indexed == status.partitions > 0
    assert f"Indexed {status.partitions} partition(s)" in output
    assert f"Search index: valid; {status.partitions} of {status.partitions} partition" in output
    assert "Indexed 0 partition(s)" in run("--create")  # nothing left to do
    # A partition created afterwards gets its index when it is attached.
    created = partitions_ensure(start=T0 - 400 * DAY, end=T0 - 400 * DAY)
    assert len(created) == 1
    after = search_index_status()
    assert after is not None and after.valid
    assert after.partitions_indexed == after.partitions == status.partitions + 1

    assert "Search index: absent" in run("--drop")
    assert search_index_status() == SearchIndexStatus(False, False, after.partitions, 0, 0)
    assert search_index_partition_indexes() == []


@pytest.mark.django_db(transaction=True)
@pytest.mark.postgres("the trigram index exists on PostgreSQL only")
def test_search_index_create_finishes_an_interrupted_build(committed_index: None) -> None:
    partitions = sorted(partition.name for partition in partitions_list())
    # Interrupted after building the first partition's index, before attaching it.
    with connection.cursor() as cursor:
        cursor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        cursor.execute(
            f"CREATE INDEX {SEARCH_INDEX} ON ONLY logs USING gin ({SEARCH_INDEX_COLUMNS})"
        )
        cursor.execute(
            f'CREATE INDEX "{partitions[0]}_search_trgm" ON "{partitions[0]}" '
            f"USING gin ({SEARCH_INDEX_COLUMNS})"
        )
    status = search_index_status()
    assert status is not None and status.exists and not status.valid
    assert status.partitions_indexed == 0
    assert "INVALID (run --create to finish it)" in run()

    assert search_index_create() == partitions

    status = search_index_status()
    assert status is not None and status.valid and status.partitions_indexed == len(partitions)
    # The leftover was rebuilt, not duplicated: one trigram index per partition.
    assert sorted(search_index_partition_indexes()) == sorted(partitions)


def search_index_partition_indexes() -> list[str]:
    """The partitions holding a trigram index, once per index."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT i.indrelid::regclass::text FROM pg_index i "
            "JOIN pg_inherits p ON p.inhrelid = i.indrelid "
            "WHERE p.inhparent = 'logs'::regclass "
            "AND pg_get_indexdef(i.indexrelid) LIKE '%%gin_trgm_ops%%'"
        )
        return [row[0] for row in cursor.fetchall()]


@pytest.mark.skipif(ON_POSTGRES, reason="SQLite has no trigram index")
def test_search_index_command_on_sqlite_does_nothing() -> None:
    assert "nothing to do" in run()
    with pytest.raises(CommandError, match="needs PostgreSQL"):
        run("--create")
    assert search_index_create() == []
    assert search_index_status() is None
