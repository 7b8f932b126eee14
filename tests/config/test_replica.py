"""The read replica end to end (config/db_routers.py): a real second alias and real requests.

`make test` runs this module in a pytest run of its own with DATABASE_REPLICA_URL set to the
primary's URL, so `replica` is a second connection to the same test database (TEST MIRROR); the
main runs leave it out (`-m "not replica"`; run there, it would skip: no replica alias). For every
test the replica connection is made read-only by the database itself (PostgreSQL
`default_transaction_read_only`, SQLite `query_only`), so a write routed to it fails the request
instead of going unnoticed, and an execute wrapper on both aliases records which one ran each
statement. The tests are transactional: like a real replica, the second connection sees only
committed data, never the primary's open test transaction."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.apps import apps
from django.db import DatabaseError, connections
from django.db.backends.signals import connection_created
from django.test import Client

from accounts.models import AccessToken
from config.db_routers import PRIMARY, REPLICA, REPLICA_APPS, ReplicaRouter, replica_configured
from logs.models import Log
from logs.selectors import EXPORT_CHUNK
from tests.conftest import ApiClient
from tests.factories import log_event

HAS_REPLICA = replica_configured()

pytestmark = [
    pytest.mark.replica,
    # Without a replica alias these skip, except in a run that selects them (`-m replica`):
    # there a missing alias must fail rather than pass as skipped. (A string condition: it is
    # evaluated with pytest's `config`.)
    pytest.mark.skipif(
        "not HAS_REPLICA and 'replica' not in config.getoption('markexpr')",
        reason="needs DATABASE_REPLICA_URL; `make test` runs these in a pytest run of their own",
    ),
    # Transactional: the replica connection sees only committed data.
    pytest.mark.django_db(transaction=True, databases="__all__"),
]

# READ_STATEMENT_TIMEOUT_MS in these tests: not the default (15 s), so a bound that does not
# come from the setting shows.
TIMEOUT_MS = 4321


def _tables_of(app_labels: set[str] | frozenset[str]) -> frozenset[str]:
    return frozenset(
        model._meta.db_table
        for label in app_labels
        for model in apps.get_app_config(label).get_models(include_auto_created=True)
    )


LOG_TABLES = _tables_of(REPLICA_APPS)  # logs, ingest_keys, the usage rollups
ACCOUNT_TABLES = _tables_of({"accounts", "sessions", "auth", "contenttypes", "admin"})
PARTITION = re.compile(r"logs_p\d{8}\w*")  # PostgreSQL partitions of logs (logs/partitions.py)
WORD = re.compile(r"[a-z_][a-z0-9_]*")
PURE_READ = re.compile(r"\s*(SELECT|WITH)\b", re.IGNORECASE)
# A statement that writes, locks or changes the session, wherever it appears (a data-modifying
# CTE starts with WITH; nextval and set_config are SELECTs).
WRITES = re.compile(
    r"\b(INSERT|UPDATE|DELETE|MERGE|COPY|CREATE|ALTER|DROP|TRUNCATE|LOCK|GRANT|REVOKE|VACUUM|"
    r"NEXTVAL|SETVAL|SET_CONFIG|PG_ADVISORY_\w+|PG_TRY_ADVISORY_\w+)\b|"
    r"\bFOR\s+(NO\s+KEY\s+)?UPDATE\b|\bFOR\s+(KEY\s+)?SHARE\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Statement:
    alias: str
    sql: str
    # The session's statement_timeout when the statement ran (PostgreSQL replica), else None.
    timeout: str | None

    @property
    def tables(self) -> frozenset[str]:
        words = set(WORD.findall(self.sql.lower()))
        return frozenset(
            word
            for word in words
            if word in LOG_TABLES | ACCOUNT_TABLES or PARTITION.fullmatch(word)
        )

    @property
    def touches_logs(self) -> bool:
        return any(table in LOG_TABLES or PARTITION.fullmatch(table) for table in self.tables)

    @property
    def touches_accounts(self) -> bool:
        return bool(self.tables & ACCOUNT_TABLES)

    @property
    def is_pure_read(self) -> bool:
        return bool(PURE_READ.match(self.sql)) and not WRITES.search(self.sql)

    def __str__(self) -> str:
        return f"[{self.alias}] {self.sql[:160]}"


def _statement_timeout(connection: Any) -> str:
    # The driver's connection: outside the wrappers and Django's query log.
    with connection.connection.cursor() as cursor:
        cursor.execute("SHOW statement_timeout")
        return str(cursor.fetchone()[0])


class Ledger:
    """Every statement Django runs on either alias, in order (the export's too: they run while
    the test client reads the stream)."""

    def __init__(self) -> None:
        self.statements: list[Statement] = []

    def wrapper(self, alias: str) -> Callable[..., Any]:
        def record(
            execute: Callable[..., Any], sql: str, params: Any, many: bool, context: dict
        ) -> Any:
            timeout = None
            try:
                result = execute(sql, params, many, context)
                if alias == REPLICA and context["connection"].vendor == "postgresql":
                    timeout = _statement_timeout(context["connection"])
                return result
            finally:
                # Recorded even when it failed: a write the replica refused is still reported.
                self.statements.append(Statement(alias, sql, timeout))

        return record

    def serve(
        self, call: Callable[..., Any], *args: Any, **kwargs: Any
    ) -> tuple[Any, list[Statement]]:
        """The response of `call(*args, **kwargs)` (its stream read to the end) and the
        statements it ran."""
        start = len(self.statements)
        response = call(*args, **kwargs)
        if response.streaming:
            response.body = b"".join(response.streaming_content)
        return response, self.statements[start:]


def _refuse_writes(connection: Any) -> None:
    if connection.vendor == "postgresql":
        # What a hot standby enforces: "cannot execute INSERT in a read-only transaction".
        connection.connection.execute("SET default_transaction_read_only = on")
    else:
        connection.connection.execute("PRAGMA query_only = ON")


def _allow_writes(connection: Any) -> None:
    if connection.vendor == "postgresql":
        connection.connection.execute("SET default_transaction_read_only = off")
    else:
        connection.connection.execute("PRAGMA query_only = OFF")


@pytest.fixture(autouse=True)
def read_only_replica(transactional_db: None, settings: Any) -> Iterator[None]:
    """The replica connection refuses writes, on every (re)connection, for the whole test.
    Without this a write routed to it would succeed unseen: in tests it is the same database."""
    assert REPLICA in connections, "the replica run needs DATABASE_REPLICA_URL"
    settings.READ_STATEMENT_TIMEOUT_MS = TIMEOUT_MS

    def guard(sender: Any, connection: Any, **kwargs: Any) -> None:
        if connection.alias == REPLICA:
            _refuse_writes(connection)

    connection_created.connect(guard, weak=False)
    replica = connections[REPLICA]
    replica.ensure_connection()
    # The signal covers new connections; the open one (a SQLite in-memory database is never
    # closed) is switched here.
    _refuse_writes(replica)
    try:
        yield
    finally:
        connection_created.disconnect(guard)
        if replica.connection is not None:
            _allow_writes(replica)


@pytest.fixture
def ledger(read_only_replica: None) -> Iterator[Ledger]:
    ledger = Ledger()
    with (
        connections[PRIMARY].execute_wrapper(ledger.wrapper(PRIMARY)),
        connections[REPLICA].execute_wrapper(ledger.wrapper(REPLICA)),
    ):
        yield ledger


@pytest.fixture
def logs(ingest: Callable[..., Any]) -> None:
    """Committed logs of two users (this test's transaction is not open: the replica sees them)."""
    ingest(
        [
            log_event(request_id="r-1", model_name="gpt-4o"),
            log_event(request_id="r-2", model_name="claude", channel_id=3, channel_name="oa"),
            log_event(request_id="r-3", user_id=1001, username="user1001"),
        ]
    )


def _session(api: ApiClient) -> Client:
    assert api.user is not None
    client = Client()
    client.force_login(api.user)
    return client


def _replica_timeout() -> str | None:
    replica = connections[REPLICA]
    if replica.vendor != "postgresql" or replica.connection is None:
        return None
    return _statement_timeout(replica)


def _listing(statements: list[Statement]) -> str:
    return "\n".join(map(str, statements))


def assert_served_by_the_replica(
    label: str, statements: list[Statement], timeout: str | None = f"{TIMEOUT_MS}ms"
) -> None:
    """The request's log and usage reads ran on the replica, as pure reads under the statement
    bound (`timeout`, on PostgreSQL); its account, token and session reads (and writes) ran on
    the primary."""
    on_replica = [s for s in statements if s.alias == REPLICA]
    on_primary = [s for s in statements if s.alias == PRIMARY]
    listing = f"{label}:\n{_listing(statements)}"
    assert any(s.touches_logs for s in on_replica), f"no log read on the replica in {listing}"
    assert not any(s.touches_logs for s in on_primary), f"logs read on the primary in {listing}"
    assert any(s.touches_accounts for s in on_primary), f"no account read on the primary: {listing}"
    assert not any(s.touches_accounts for s in on_replica), f"accounts on the replica in {listing}"
    assert all(s.is_pure_read for s in on_replica), f"not a pure read on the replica in {listing}"
    if connections[REPLICA].vendor == "postgresql":
        assert {s.timeout for s in on_replica} == {timeout}, listing


def assert_replica_untouched(label: str, statements: list[Statement]) -> None:
    assert statements, f"{label} ran no statement at all"
    assert all(s.alias == PRIMARY for s in statements), f"{label}:\n{_listing(statements)}"


def assert_bound_lifted(before: str | None) -> None:
    """The replica connection's statement_timeout is back to what it was before the request
    (after the stream, for exports), and that was not the bound (no leak from an earlier one)."""
    after = _replica_timeout()
    assert after == before
    assert after != f"{TIMEOUT_MS}ms"


# --- the replica connection itself ----------------------------------------------------------


def test_the_replica_is_a_second_connection_that_sees_committed_data_and_refuses_writes(
    user_api: ApiClient,
) -> None:
    token = user_api.token
    assert token is not None
    primary, replica = connections[PRIMARY], connections[REPLICA]
    primary.ensure_connection()
    assert replica.connection is not primary.connection
    assert replica.settings_dict["NAME"] == primary.settings_dict["NAME"]
    # The token the fixture committed through the primary is visible through the replica...
    assert AccessToken.objects.using(REPLICA).filter(pk=token.pk).exists()
    # ...which refuses to write, through the ORM or in SQL.
    with pytest.raises(DatabaseError):
        AccessToken.objects.using(REPLICA).filter(pk=token.pk).delete()
    with pytest.raises(DatabaseError), replica.cursor() as cursor:
        cursor.execute("UPDATE access_tokens SET name = 'changed'")
    assert AccessToken.objects.using(PRIMARY).get(pk=token.pk).name == token.name


# --- writes: the primary only ---------------------------------------------------------------


def test_ingest_writes_only_to_the_primary_and_the_replica_then_serves_the_new_logs(
    ledger: Ledger, ingest_api: ApiClient, admin_api: ApiClient
) -> None:
    body = {"logs": [{"user_id": 1000, "username": "user1000", "request_id": "fresh"}]}
    response, statements = ledger.serve(ingest_api.post, "/api/log/", body, new_api_user=False)
    assert response.status_code == 200, response.content
    # On PostgreSQL the rows themselves go by COPY on the driver's cursor, which no wrapper sees;
    # on the replica it would have failed (read-only), and it is read back through it below.
    assert_replica_untouched("POST /api/log/", statements)

    response, statements = ledger.serve(admin_api.get, "/api/log/")
    assert [item["request_id"] for item in response.json()["data"]["items"]] == ["fresh"]
    assert_served_by_the_replica("GET /api/log/", statements)


def test_delete_of_old_logs_never_touches_the_replica(
    ledger: Ledger, logs: None, admin_api: ApiClient
) -> None:
    newest = Log.objects.order_by("-created_at").values_list("created_at", flat=True)[0]
    response, statements = ledger.serve(
        admin_api.delete, f"/api/log/?target_timestamp={newest + 1}"
    )
    assert response.json() == {"success": True, "message": "", "data": 3}
    assert_replica_untouched("DELETE /api/log/", statements)


def test_the_admin_reads_and_deletes_logs_on_the_primary_only(
    ledger: Ledger, logs: None, root_api: ApiClient
) -> None:
    client = _session(root_api)
    response, statements = ledger.serve(client.get, "/admin/logs/log/")
    assert response.status_code == 200
    assert any(s.touches_logs for s in statements)
    assert_replica_untouched("GET /admin/logs/log/", statements)

    response, statements = ledger.serve(
        client.post, "/admin/logs/log/delete-before/", {"before": "2100-01-01T00:00"}
    )
    assert response.status_code == 302
    assert not Log.objects.exists()
    assert_replica_untouched("POST /admin/logs/log/delete-before/", statements)


def test_account_page_and_token_creation_stay_on_the_primary(
    ledger: Ledger, user_api: ApiClient
) -> None:
    client = _session(user_api)
    response, statements = ledger.serve(client.get, "/account/")
    assert response.status_code == 200
    assert_replica_untouched("GET /account/", statements)

    response, statements = ledger.serve(
        client.post, "/account/tokens/", {"name": "laptop", "scope": "read"}
    )
    assert response.status_code == 200
    assert AccessToken.objects.filter(user=user_api.user, name="laptop").exists()
    assert_replica_untouched("POST /account/tokens/", statements)


def test_a_page_that_saves_the_session_saves_it_on_the_primary(
    ledger: Ledger, logs: None, user_api: ApiClient, settings: Any
) -> None:
    settings.SESSION_SAVE_EVERY_REQUEST = True  # a deployment may turn it on: GETs write
    client = _session(user_api)
    response, statements = ledger.serve(client.get, "/logs/")
    assert response.status_code == 200
    assert_served_by_the_replica("GET /logs/", statements)
    saves = [
        s.alias for s in statements if re.match(r'(UPDATE|INSERT INTO) "django_session"', s.sql)
    ]
    assert saves == [PRIMARY]


# --- reads: logs and usage on the replica ---------------------------------------------------

# Each caller's read requests run in one test: a transactional test's flush costs more than its
# requests.
READ_API = {
    "user": [
        "/api/log/self",
        "/api/log/self/stat",
        "/api/log/self/search?keyword=gpt",
        "/api/log/self/export",
        "/api/data/self",
        # its consumption (used_quota, request_count) is read from the usage rollups
        "/api/user/self",
    ],
    "admin": [
        "/api/log/",
        "/api/log/stat",
        "/api/log/search?keyword=gpt",
        "/api/log/export",
        "/api/data/",
        "/api/data/users",
    ],
    # sub2api, AceData and r9s authenticate with the token alone (no New-Api-User).
    "token": [
        "/api/v1/usage",
        "/api/v1/usage/stats",
        "/api/v1/usage/dashboard/stats",
        "/api/v1/usage/dashboard/trend",
        "/api/v1/usage/dashboard/models",
        "/api/v1/usage/apis/aggregate/",
        "/api/v1/portal/management/usage?start_time=0&end_time=4102444800",
    ],
}


@pytest.mark.parametrize("caller", READ_API)
def test_read_api_reads_logs_on_the_replica_and_the_token_on_the_primary(
    ledger: Ledger, logs: None, user_api: ApiClient, admin_api: ApiClient, caller: str
) -> None:
    api = admin_api if caller == "admin" else user_api
    assert api.token is not None
    for path in READ_API[caller]:
        # A token unused for a minute records its use: each GET below then writes.
        AccessToken.objects.filter(pk=api.token.pk).update(last_used_at=None)
        before = _replica_timeout()
        response, statements = ledger.serve(api.get, path, new_api_user=caller != "token")
        assert response.status_code == 200, (path, response.content)
        assert_served_by_the_replica(f"GET {path}", statements)
        touches = [s.alias for s in statements if s.sql.startswith('UPDATE "access_tokens"')]
        assert touches == [PRIMARY], path
        assert_bound_lifted(before)

    response, statements = ledger.serve(
        api.client.head, READ_API[caller][0], headers=api.headers(caller != "token")
    )
    assert response.status_code == 200
    assert_served_by_the_replica(f"HEAD {READ_API[caller][0]}", statements)


def test_a_post_that_only_reads_is_served_by_the_replica(
    ledger: Ledger, logs: None, user_api: ApiClient
) -> None:
    before = _replica_timeout()
    response, statements = ledger.serve(
        user_api.post,
        "/api/v1/usage/dashboard/api-keys-usage",
        {"api_key_ids": [1]},
        new_api_user=False,
    )
    assert response.status_code == 200, response.content
    assert list(response.json()["data"]["stats"]) == ["1"]
    assert_served_by_the_replica("POST /api/v1/usage/dashboard/api-keys-usage", statements)
    assert_bound_lifted(before)


PAGES = {
    "user": ["/", "/logs/", "/logs/export/"],
    "admin": ["/site/", "/site/logs/", "/site/logs/export/"],
}


@pytest.mark.parametrize("caller", PAGES)
def test_pages_read_logs_on_the_replica_and_the_session_on_the_primary(
    ledger: Ledger, logs: None, user_api: ApiClient, admin_api: ApiClient, caller: str
) -> None:
    client = _session(admin_api if caller == "admin" else user_api)
    for path in PAGES[caller]:
        before = _replica_timeout()
        response, statements = ledger.serve(client.get, path)
        assert response.status_code == 200, path
        assert_served_by_the_replica(f"GET {path}", statements)
        assert_bound_lifted(before)


@pytest.mark.parametrize("bound", [True, False], ids=["bounded", "READ_STATEMENT_TIMEOUT_MS=0"])
def test_an_export_reads_its_later_chunks_on_the_replica_while_it_streams(
    ledger: Ledger, ingest: Callable[..., Any], user_api: ApiClient, settings: Any, bound: bool
) -> None:
    # One more log than an export chunk: the second chunk is read after the view has returned,
    # while the response streams, with or without a statement bound.
    now = int(time.time())
    ingest([log_event(request_id=f"bulk-{i}", created_at=now - i) for i in range(EXPORT_CHUNK + 1)])
    if not bound:
        settings.READ_STATEMENT_TIMEOUT_MS = 0
    before = _replica_timeout()
    response, statements = ledger.serve(user_api.get, "/api/log/self/export")
    assert response.status_code == 200
    assert response.body.count(b"bulk-") == EXPORT_CHUNK + 1
    chunks = [s for s in statements if s.touches_logs]
    assert [s.alias for s in chunks] == [REPLICA, REPLICA], _listing(statements)
    timeout = f"{TIMEOUT_MS}ms" if bound else before
    assert_served_by_the_replica("GET /api/log/self/export", statements, timeout=timeout)
    assert_bound_lifted(before)


# --- the harness catches a misrouted write --------------------------------------------------


class TokenWritesToTheReplica(ReplicaRouter):
    """The bug these tests exist to catch: a write made while serving a GET (the token's
    last_used_at) routed to the replica."""

    def db_for_write(self, model: type[Any], **hints: Any) -> str:
        return REPLICA if model is AccessToken else PRIMARY


def test_a_write_misrouted_to_the_replica_fails_the_request(
    ledger: Ledger, logs: None, user_api: ApiClient, settings: Any
) -> None:
    settings.DATABASE_ROUTERS = [f"{__name__}.TokenWritesToTheReplica"]
    user_api.client.raise_request_exception = False
    response, statements = ledger.serve(user_api.get, "/api/log/self")
    # The read-only replica refuses the UPDATE: a database error, which the API answers as
    # such (503 in new-api's shape), and nothing is written.
    assert response.status_code == 503
    assert response.json()["success"] is False
    refused = [s for s in statements if s.alias == REPLICA and not s.is_pure_read]
    assert [s.sql.split()[0] for s in refused] == ["UPDATE"]
    assert user_api.token is not None
    assert AccessToken.objects.get(pk=user_api.token.pk).last_used_at is None
