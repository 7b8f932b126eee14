"""Management commands of API.md section 1 and of `make run`."""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.http import HttpRequest  # axes refuses a password login without a request
from django.test import Client

from accounts.ids import LOCAL_ID_MIN
from accounts.models import AccessToken, Role, Status, User
from tests.factories import UserFactory


def run(*args: str, **options: Any) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command(*args, stdout=out, stderr=err, **options)
    return out.getvalue(), err.getvalue()


def test_createsuperuser_creates_a_root_user(db, monkeypatch):
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "a-long-root-password")

    run("createsuperuser", "--noinput", "--username", "operator")

    user = User.objects.get(username="operator")
    assert (user.role, user.status) == (Role.ROOT, Status.ENABLED)
    assert user.check_password("a-long-root-password")
    assert Client().login(
        request=HttpRequest(), username="operator", password="a-long-root-password"
    )


def test_createsuperuser_takes_the_next_id_of_the_local_range(db, monkeypatch):
    UserFactory.create(id=41)  # a gateway user
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "a-long-root-password")

    run("createsuperuser", "--noinput", "--username", "operator")
    run("createsuperuser", "--noinput", "--username", "operator2")

    assert list(User.objects.filter(is_local=True).values_list("username", "id")) == [
        ("operator", LOCAL_ID_MIN),
        ("operator2", LOCAL_ID_MIN + 1),
    ]


@pytest.mark.parametrize("scope", ["read", "ingest"])
def test_create_credential_prints_the_token_alone_on_the_last_line(db, scope):
    UserFactory.create(id=5, username="gateway", role=Role.ROOT)

    out, err = run("create_credential", "gateway", "--scope", scope, "--name", "relay-1")

    secret = out.splitlines()[-1]
    assert secret.startswith("tl_") and " " not in secret
    token = AccessToken.objects.get()
    assert (token.user_id, token.scope, token.name) == (5, scope, "relay-1")
    assert "shown once" in err


def test_created_read_credential_authenticates(db):
    UserFactory.create(id=5, username="alice")
    out, _ = run("create_credential", "alice", "--scope", "read")
    secret = out.splitlines()[-1]

    response = Client().get(
        "/api/user/self", headers={"Authorization": f"Bearer {secret}", "New-Api-User": "5"}
    )

    assert response.status_code == 200
    assert response.json()["data"]["username"] == "alice"


def test_created_ingest_credential_writes_logs(db):
    UserFactory.create(id=5, username="gateway", role=Role.ROOT)
    out, _ = run("create_credential", "gateway", "--scope", "ingest")
    secret = out.splitlines()[-1]

    response = Client().post(
        "/api/log/",
        {"logs": [{"user_id": 9, "username": "bob", "request_id": "r-1"}]},
        content_type="application/json",
        headers={"Authorization": f"Bearer {secret}"},
    )

    assert response.status_code == 200
    assert response.json()["data"]["accepted"] == 1


def test_create_credential_defaults_to_read_scope(db):
    UserFactory.create(id=5, username="alice")

    run("create_credential", "alice")

    assert AccessToken.objects.get().scope == "read"


def test_create_credential_refuses_an_unknown_user(db):
    with pytest.raises(CommandError, match="no user named 'nobody'"):
        run("create_credential", "nobody", "--scope", "read")
    assert not AccessToken.objects.exists()


def test_create_credential_refuses_an_unknown_scope(db):
    UserFactory.create(id=5, username="alice")

    with pytest.raises(CommandError, match="invalid choice: 'write'"):
        run("create_credential", "alice", "--scope", "write")
    assert not AccessToken.objects.exists()


def test_ensure_demo_login_creates_a_root_login_and_prints_it(db):
    out, _ = run("ensure_demo_login")

    assert out.strip() == "login: demo / password: tokenledger-demo"
    demo = User.objects.get(username="demo")
    assert (demo.role, demo.status) == (Role.ROOT, Status.ENABLED)
    assert (demo.id, demo.is_local) == (LOCAL_ID_MIN, True)  # a local account
    assert Client().login(request=HttpRequest(), username="demo", password="tokenledger-demo")


def test_ensure_demo_login_restores_its_own_login(db):
    run("ensure_demo_login")
    demo = User.objects.get(username="demo")
    demo.set_password("changed")
    demo.status = Status.DISABLED
    demo.save()

    out, _ = run("ensure_demo_login")

    assert out.strip() == "login: demo / password: tokenledger-demo"
    assert Client().login(request=HttpRequest(), username="demo", password="tokenledger-demo")
    assert User.objects.filter(username="demo").count() == 1


def test_ensure_demo_login_leaves_a_real_user_named_demo_alone(db):
    real = UserFactory.create(id=77, username="demo", role=Role.COMMON)
    password_before = real.password

    out, err = run("ensure_demo_login")

    assert out == ""
    assert "not the demo login; left unchanged" in err
    real.refresh_from_db()
    assert (real.role, real.password) == (Role.COMMON, password_before)


def test_ensure_demo_login_as_a_provisioned_user_makes_it_a_root_login(db):
    # make run logs in as a seeded gateway user, so that "/" shows that user's demo data.
    UserFactory.create(id=101, username="alice", role=Role.COMMON, password=None)

    out, _ = run("ensure_demo_login", "--as", "alice")

    assert out.strip() == "login: alice / password: tokenledger-demo"
    alice = User.objects.get(id=101)
    assert (alice.role, alice.is_local) == (Role.ROOT, False)  # a gateway user given a login
    assert Client().login(request=HttpRequest(), username="alice", password="tokenledger-demo")
    assert not User.objects.filter(username="demo").exists()


def test_ensure_demo_login_as_a_user_with_a_password_creates_demo_instead(db):
    real = UserFactory.create(id=101, username="alice", role=Role.COMMON)

    out, err = run("ensure_demo_login", "--as", "alice")

    assert out.strip() == "login: demo / password: tokenledger-demo"
    assert "has a password of its own" in err
    real.refresh_from_db()
    assert real.role == Role.COMMON


def test_ensure_demo_login_as_a_local_account_creates_demo_instead(db):
    User.objects.create_user("ops", None, role=Role.ADMIN)

    out, err = run("ensure_demo_login", "--as", "ops")

    assert out.strip() == "login: demo / password: tokenledger-demo"
    assert "is a local account, not a gateway user" in err
    ops = User.objects.get(username="ops")
    assert (ops.role, ops.has_usable_password()) == (Role.ADMIN, False)


def test_ensure_demo_login_refuses_in_production(db, settings):
    settings.PRODUCTION = True

    with pytest.raises(CommandError, match="in production"):
        run("ensure_demo_login")
    assert not User.objects.filter(username="demo").exists()
