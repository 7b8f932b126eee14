"""Local accounts are not gateway users (issue 10 section 2; docs/auth.md "Users").

The attacks of the reliability findings (D2.2), over HTTP with an admin-owned ingest token made
by the operators' commands, then the account's login, its API identity and the admin pages."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from io import StringIO
from typing import Any

import orjson
import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.db import connection
from django.http import HttpRequest  # axes refuses a password login without a request
from django.test import Client
from django.test.utils import CaptureQueriesContext

from accounts.ids import GATEWAY_ID_MAX, JS_SAFE_MAX, LOCAL_ID_MIN
from accounts.models import MSG_LOCAL_NAME, AccessToken, Role, Scope, User, hash_token
from accounts.services import access_token_create
from logs.events import MSG_USER_ID_LOCAL
from logs.models import IngestKey, Log
from logs.partitions import is_partitioned, partitions_list
from tests.factories import log_event
from usage.models import UsageUserTotal
from usage.services import logs_ingest

NOW = 1_750_000_000  # 2025-06-15T15:06:40Z
PASSWORD = "a-long-root-password"


def run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO())
    return out.getvalue()


def superuser(username: str, monkeypatch: pytest.MonkeyPatch) -> User:
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", PASSWORD)
    run("createsuperuser", "--noinput", "--username", username)
    return User.objects.get(username=username)


@pytest.fixture
def frozen() -> Iterator[None]:
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def root(db: None, frozen: None, monkeypatch: pytest.MonkeyPatch) -> User:
    """Root, made by createsuperuser on an empty database (as in the findings' fixture)."""
    return superuser("root", monkeypatch)


@pytest.fixture
def gateway(root: User) -> Client:
    """The account a gateway writes as: a local admin, its ingest token from create_credential."""
    User.objects.create_user("gateway", PASSWORD, role=Role.ADMIN)
    secret = run("create_credential", "gateway", "--scope", "ingest").splitlines()[-1]
    return Client(headers={"Authorization": f"Bearer {secret}"})


def post(client: Client, *events: dict[str, Any]) -> Any:
    response = client.post("/api/log/", {"logs": list(events)}, content_type="application/json")
    assert response.status_code == 200
    return response.json()["data"]


def event(**fields: Any) -> dict[str, Any]:
    return {"created_at": NOW - 60, "type": 2, "quota": 5, **fields}


def users() -> list[tuple[int, str, bool]]:
    return list(User.objects.order_by("id").values_list("id", "username", "is_local"))


def can_log_in(username: str) -> bool:
    return Client().login(request=HttpRequest(), username=username, password=PASSWORD)


# --- (c) createsuperuser takes no gateway id --------------------------------------------------


def test_createsuperuser_on_an_empty_database_takes_the_first_local_id(root):
    assert users() == [(LOCAL_ID_MIN, "root", True)]
    assert LOCAL_ID_MIN <= JS_SAFE_MAX


def test_a_local_accounts_id_is_a_json_safe_number_on_the_api(root):
    _, secret = access_token_create(user=root, scope=Scope.READ)

    response = Client().get(
        "/api/user/self",
        headers={"Authorization": f"Bearer {secret}", "New-Api-User": str(LOCAL_ID_MIN)},
    )

    assert response.status_code == 200
    assert b'"id":9000000000000001' in response.content.replace(b" ", b"")
    assert response.json()["data"]["id"] == root.id == 9_000_000_000_000_001


# --- (a) an event carrying a local account's id ---------------------------------------------


def test_an_event_with_a_local_accounts_id_is_refused_and_changes_nothing(root, gateway):
    data = post(gateway, event(request_id="repro-root", user_id=root.id, username="gw_user_one"))

    assert data == {
        "accepted": 0,
        "duplicates": 0,
        "rejected": 1,
        "errors": [{"index": 0, "message": MSG_USER_ID_LOCAL}],
    }
    assert not Log.objects.exists() and not IngestKey.objects.exists()
    assert User.objects.get(pk=root.pk).username == "root"
    assert can_log_in("root")


def test_the_gateways_first_user_is_not_root(root, gateway):
    # The findings' reproduction: root had id 1, so this event renamed it.
    data = post(gateway, event(request_id="repro-root", user_id=1, username="gw_user_one"))

    assert data["accepted"] == 1
    assert users() == [
        (1, "gw_user_one", False),
        (LOCAL_ID_MIN, "root", True),
        (LOCAL_ID_MIN + 1, "gateway", True),
    ]
    gw_user = User.objects.get(pk=1)
    assert (gw_user.role, gw_user.has_usable_password()) == (Role.COMMON, False)
    assert can_log_in("root") and not can_log_in("gw_user_one")


@pytest.mark.parametrize(
    ("user_id", "accepted"),
    [(GATEWAY_ID_MAX, True), (GATEWAY_ID_MAX + 1, False), (JS_SAFE_MAX, False), (2**63 - 1, False)],
)
def test_user_ids_of_the_local_range_and_beyond_are_refused(gateway, user_id, accepted):
    data = post(gateway, event(user_id=user_id, username="someone"))

    if accepted:
        assert (data["accepted"], data["errors"]) == (1, [])
        assert User.objects.get(pk=user_id).is_local is False
    else:
        assert data["errors"] == [{"index": 0, "message": MSG_USER_ID_LOCAL}]
        assert not Log.objects.exists()
    assert MSG_USER_ID_LOCAL == (
        "user_id: must be <= 9000000000000000 (larger ids are reserved for local accounts, "
        "which events may not name)"
    )


# --- (b) an event carrying a local account's username -----------------------------------------


def test_an_event_with_a_local_accounts_name_does_not_rename_it(root, gateway):
    admin = User.objects.create_user("adm_rs", PASSWORD, role=Role.ADMIN)

    post(gateway, event(request_id="1", user_id=777, username="adm_rs"))
    # Newer events keep the name: the local account still keeps it.
    post(gateway, event(request_id="2", user_id=777, username="adm_rs", created_at=NOW))

    assert users() == [
        (777, "adm_rs#777", False),
        (LOCAL_ID_MIN, "root", True),
        (LOCAL_ID_MIN + 1, "gateway", True),
        (admin.id, "adm_rs", True),
    ]
    assert can_log_in("adm_rs")
    # Each log keeps the name its event carried (history is not rewritten).
    assert list(Log.objects.values_list("user_id", "username")) == [(777, "adm_rs")] * 2
    # When the gateway renames the user, it takes its new name.
    post(gateway, event(request_id="3", user_id=777, username="someone-else", created_at=NOW))
    assert User.objects.get(pk=777).username == "someone-else"


def test_a_gateway_user_renamed_to_a_local_accounts_name_is_disambiguated(root, gateway):
    post(gateway, event(request_id="1", user_id=7, username="bob", created_at=NOW - 100))

    # One batch: 7 renamed to root's name, 8 new with it, 9 taking 7's old name.
    post(
        gateway,
        event(request_id="2", user_id=7, username="root", created_at=NOW - 50),
        event(request_id="3", user_id=8, username="root", created_at=NOW - 40),
        event(request_id="4", user_id=9, username="bob", created_at=NOW - 30),
    )

    assert users()[:3] == [(7, "root#7", False), (8, "root#8", False), (9, "bob", False)]
    assert User.objects.get(pk=root.pk).username == "root"
    assert can_log_in("root")


def test_a_disambiguated_user_costs_no_query_per_event(root, gateway):
    post(gateway, event(request_id="0", user_id=7, username="root"))

    def queries(size: int, start: int) -> int:
        batch = [event(request_id=f"r{i}", user_id=7, username="root")
                 for i in range(start, start + size)]  # fmt: skip
        with CaptureQueriesContext(connection) as captured:
            assert post(gateway, *batch)["accepted"] == size
        return len(captured.captured_queries)

    # The steady state's statements plus users_provision's lookup of the name's holder, once
    # per batch: as many for 500 events as for 2.
    assert queries(2, 1) == queries(500, 10)
    assert User.objects.get(pk=7).username == "root#7"


def test_a_disambiguated_users_last_seen_time_still_moves_forward(root, gateway):
    post(gateway, event(request_id="1", user_id=7, username="root", created_at=NOW - 3000))
    post(gateway, event(request_id="2", user_id=7, username="root", created_at=NOW - 60))

    seven = User.objects.get(pk=7)
    assert seven.last_seen_at is not None
    assert (seven.username, seven.last_seen_at.timestamp()) == ("root#7", NOW - 60)


def test_local_account_names_may_not_contain_a_hash(db, monkeypatch):
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", PASSWORD)

    with pytest.raises(CommandError, match=re.escape(MSG_LOCAL_NAME)):
        run("createsuperuser", "--noinput", "--username", "root#5")
    root = User.objects.create_superuser("root", PASSWORD)
    admin = Client()
    admin.force_login(root)
    response = admin.post(
        "/admin/accounts/user/add/",
        {"username": "ops#5", "usable_password": "false"},
    )

    assert response.context["adminform"].form.errors == {"username": [MSG_LOCAL_NAME]}
    assert users() == [(LOCAL_ID_MIN, "root", True)]


# --- the admin pages ----------------------------------------------------------------------------


def test_the_admin_lists_local_accounts_apart_from_gateway_users(root, gateway):
    post(gateway, event(user_id=777, username="root"))
    client = Client()
    assert client.login(request=HttpRequest(), username="root", password=PASSWORD)

    listing = client.get("/admin/accounts/user/?is_local__exact=0")
    gateway_user = client.get("/admin/accounts/user/777/change/").content.decode()
    local = client.get(f"/admin/accounts/user/{root.pk}/change/").content.decode()

    assert [u.username for u in listing.context["cl"].result_list] == ["root#777"]
    assert "gateway user" in gateway_user and 'value="root#777"' in gateway_user
    assert "local account" in local and 'value="root"' in local


# --- existing deployments: the migration ----------------------------------------------------


@pytest.fixture
def rolled_back_accounts(transactional_db: None) -> Iterator[None]:
    """The schema before local accounts (accounts 0001); migrated forward again afterwards, and
    the partitions this test's ingest committed dropped."""
    before = {p.name for p in partitions_list()} if is_partitioned() else set()
    try:
        yield
    finally:
        call_command("migrate", verbosity=0)
        if is_partitioned():
            with connection.cursor() as cursor:
                for partition in partitions_list():
                    if partition.name not in before and partition.upper <= time.time():
                        cursor.execute(f'DROP TABLE "{partition.name}"')


def test_the_migration_moves_local_accounts_out_of_the_gateways_range(rolled_back_accounts):
    # Gateway users as earlier versions left them: 7 with logs, 8 with rollups only (its logs
    # purged), neither with a last-seen time (the foundation did not write one).
    with time_machine.travel(NOW, tick=False):
        logs_ingest(
            events=[
                log_event(user_id=7, username="carol", created_at=NOW - 60),
                log_event(user_id=8, username="dave", created_at=NOW - 60),
            ]
        )
    Log.objects.filter(user_id=8).delete()
    assert UsageUserTotal.objects.filter(user_id=8).exists()
    call_command("migrate", "accounts", "0001", verbosity=0)
    hashed = User(username="x")
    hashed.set_password(PASSWORD)
    with connection.cursor() as cursor:
        cursor.execute("UPDATE users SET last_seen_at = NULL, password = %s", [hashed.password])
        cursor.execute(
            "INSERT INTO users (id, username, password, display_name, role, status, "
            '"group", date_joined, last_seen_at) VALUES '
            "(1, 'root', %s, '', 100, 1, 'default', %s, NULL), "  # createsuperuser's id 1
            "(5, 'eve', '!', '', 1, 1, 'default', %s, NULL), "  # the foundation's provisioning
            "(101, 'alice', %s, '', 100, 1, 'default', %s, %s)",  # `make run`'s demo login
            [hashed.password, "2025-01-01T00:00:00Z", "2025-01-01T00:00:00Z",
             hashed.password, "2025-01-01T00:00:00Z", "2025-06-01T00:00:00Z"],
        )  # fmt: skip
    token_secret = "tl_" + "m" * 43
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO access_tokens (user_id, name, scope, key_hash, prefix, created_at) "
            "VALUES (1, 'cli', 'read', %s, %s, %s)",
            [hash_token(token_secret), token_secret[:10], "2025-01-01T00:00:00Z"],
        )

    call_command("migrate", verbosity=0)

    assert users() == [
        (5, "eve", False),
        (7, "carol", False),
        (8, "dave", False),
        (101, "alice", False),
        (LOCAL_ID_MIN, "root", True),
    ]
    assert AccessToken.objects.get().user_id == LOCAL_ID_MIN
    assert can_log_in("root") and can_log_in("alice")
    response = Client().get(
        "/api/user/self",
        headers={"Authorization": f"Bearer {token_secret}", "New-Api-User": str(LOCAL_ID_MIN)},
    )
    assert orjson.loads(response.content)["data"]["username"] == "root"
