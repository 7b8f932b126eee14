"""Login lockout (django-axes; docs/auth.md, "Login lockout"): after LOGIN_FAILURE_LIMIT failed
password logins an account is locked for every address and an address for every account, on
`/login/` and `/admin/login/` alike, until the cool-off passes or `unlock_login` lifts it. Access
tokens never go through the password login and are not affected."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from io import StringIO
from typing import Any

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.core.management import CommandError, call_command
from django.test import Client

from accounts.forms import lockout_message
from accounts.models import Role
from config.settings import client_address_settings
from tests.typed_factories import token_make, user_make

pytestmark = pytest.mark.django_db

PASSWORD = "pw-for-tests-1"  # tests.factories.UserFactory's
LIMIT = 5  # LOGIN_FAILURE_LIMIT's default
COOL_OFF = timedelta(minutes=15)  # LOGIN_LOCKOUT_MINUTES's default
INVALID = (
    "Please enter a correct username and password. Note that both fields may be case-sensitive."
)
ADMIN_INVALID = (
    "Please enter the correct username and password for a staff account. Note that both "
    "fields may be case-sensitive."
)
LOCKED = (
    "Too many failed logins for this account or from your address: logins are locked for "
    "15 minutes. Try again later, or ask an administrator to unlock them."
)
T0 = datetime(2031, 3, 4, 10, 0, tzinfo=UTC)


@pytest.fixture
def alice():
    return user_make(id=1000, username="alice")


@pytest.fixture
def bob():
    return user_make(id=1001, username="bob")


@pytest.fixture
def frozen(time_machine: Any) -> Any:
    time_machine.move_to(T0, tick=False)
    return time_machine


def from_address(address: str) -> Client:
    return Client(REMOTE_ADDR=address)


def log_in(client: Client, username: str, password: str, path: str = "/login/") -> Any:
    return client.post(path, {"username": username, "password": password})


def errors(response: Any) -> list[str]:
    return list(response.context["form"].non_field_errors())


def assert_refused(response: Any, message: str = INVALID, status: int = 200) -> None:
    assert response.status_code == status
    assert response.templates[0].name == "registration/login.html"
    assert errors(response) == [message]
    assert "_auth_user_id" not in response.client.session


def assert_logged_in(response: Any, user_id: int) -> None:
    assert (response.status_code, response["Location"]) == (302, "/")
    assert response.client.session["_auth_user_id"] == str(user_id)


def fail(client: Client, username: str, times: int, path: str = "/login/") -> list[Any]:
    return [log_in(client, username, "wrong-password", path) for _ in range(times)]


def test_the_configured_limit_and_cool_off_are_the_documented_defaults():
    assert settings.AXES_FAILURE_LIMIT == LIMIT
    assert settings.AXES_COOLOFF_TIME == COOL_OFF
    assert lockout_message() == LOCKED


def test_one_failure_fewer_than_the_limit_still_allows_the_login(alice, frozen):
    client = from_address("198.51.100.7")

    for response in fail(client, "alice", LIMIT - 1):
        assert_refused(response)

    assert_logged_in(log_in(client, "alice", PASSWORD), alice.id)


def test_the_limit_of_failures_locks_the_account_for_every_address(alice, bob, frozen):
    responses = fail(from_address("198.51.100.7"), "alice", LIMIT)

    for response in responses[:-1]:
        assert_refused(response)
    # The failure that reaches the limit already answers with the lockout.
    assert_refused(responses[-1], LOCKED, status=429)
    # The right password, from another address, is refused with the same message.
    assert_refused(log_in(from_address("203.0.113.20"), "alice", PASSWORD), LOCKED, status=429)
    # That address is not locked: another account logs in from it.
    assert_logged_in(log_in(from_address("203.0.113.20"), "bob", PASSWORD), bob.id)


def test_the_limit_of_failures_from_one_address_locks_it_for_every_account(alice, frozen):
    attacker = from_address("198.51.100.7")
    # Each guess names another account, real or not: the address collects the failures.
    for index in range(LIMIT - 1):
        assert_refused(log_in(attacker, f"guess{index}", "wrong-password"))
    assert_refused(log_in(attacker, "nobody", "wrong-password"), LOCKED, status=429)

    assert_refused(log_in(attacker, "alice", PASSWORD), LOCKED, status=429)
    # alice herself, from her own address, is not locked.
    assert_logged_in(log_in(from_address("203.0.113.20"), "alice", PASSWORD), alice.id)


def test_the_lockout_page_is_the_login_page_and_names_no_account(alice, frozen):
    fail(from_address("198.51.100.7"), "alice", LIMIT)
    fail(from_address("198.51.100.8"), "no-such-user", LIMIT)

    real = log_in(from_address("198.51.100.9"), "alice", PASSWORD)
    unknown = log_in(from_address("198.51.100.9"), "no-such-user", PASSWORD)

    assert_refused(real, LOCKED, status=429)
    assert_refused(unknown, LOCKED, status=429)
    page = real.content.decode()
    assert '<p class="alert alert-error">' + LOCKED + "</p>" in page
    assert 'name="username"' in page


def test_failures_on_either_login_page_lock_both(alice, frozen):
    user_make(id=1002, username="ops", role=Role.ADMIN)
    client = from_address("198.51.100.7")
    fail(client, "ops", LIMIT - 1, path="/admin/login/")

    assert_refused(log_in(client, "ops", "wrong-password"), LOCKED, status=429)

    response = log_in(from_address("203.0.113.20"), "ops", PASSWORD, path="/admin/login/")
    assert response.status_code == 429
    assert response.templates[0].name == "admin/login.html"
    assert list(response.context["form"].non_field_errors()) == [LOCKED]
    assert f'<p class="errornote">\n    {LOCKED}\n</p>' in response.content.decode()
    assert "_auth_user_id" not in response.client.session


def test_the_admin_login_counts_and_locks_by_itself(frozen):
    user_make(id=1002, username="ops", role=Role.ADMIN)
    client = from_address("198.51.100.7")

    responses = fail(client, "ops", LIMIT, path="/admin/login/")

    for response in responses[:-1]:
        assert response.status_code == 200
        assert list(response.context["form"].non_field_errors()) == [ADMIN_INVALID]
    assert responses[-1].status_code == 429
    assert list(responses[-1].context["form"].non_field_errors()) == [LOCKED]


def test_the_lockout_ends_after_the_cool_off(alice, frozen):
    fail(from_address("198.51.100.7"), "alice", LIMIT)

    frozen.move_to(T0 + COOL_OFF - timedelta(seconds=1), tick=False)
    assert_refused(log_in(from_address("203.0.113.20"), "alice", PASSWORD), LOCKED, status=429)

    frozen.move_to(T0 + COOL_OFF + timedelta(seconds=1), tick=False)
    assert_logged_in(log_in(from_address("203.0.113.20"), "alice", PASSWORD), alice.id)


def test_attempts_while_locked_do_not_extend_the_lockout(alice, frozen):
    client = from_address("198.51.100.7")
    fail(client, "alice", LIMIT)

    for minute in (1, 5, 14):
        frozen.move_to(T0 + timedelta(minutes=minute), tick=False)
        assert_refused(log_in(client, "alice", "wrong-password"), LOCKED, status=429)

    frozen.move_to(T0 + COOL_OFF + timedelta(seconds=1), tick=False)
    assert_logged_in(log_in(client, "alice", PASSWORD), alice.id)


def test_a_lockout_without_cool_off_lasts_until_unlocked(alice, frozen, settings):
    settings.AXES_COOLOFF_TIME = None
    fail(from_address("198.51.100.7"), "alice", LIMIT)
    frozen.move_to(T0 + timedelta(days=30), tick=False)

    message = (
        "Too many failed logins for this account or from your address: logins are locked "
        "until an administrator unlocks them."
    )
    assert_refused(log_in(from_address("203.0.113.20"), "alice", PASSWORD), message, status=429)


def run_unlock(*args: str) -> str:
    out = StringIO()
    call_command("unlock_login", *args, stdout=out)
    return out.getvalue()


def test_unlock_login_lifts_an_account_lockout(alice, frozen):
    fail(from_address("198.51.100.7"), "alice", LIMIT)
    fail(from_address("198.51.100.8"), "alice", 1)  # refused, not counted: no second record

    assert run_unlock("alice") == "Unlocked user 'alice': 1 failed-login record cleared.\n"
    assert_logged_in(log_in(from_address("203.0.113.20"), "alice", PASSWORD), alice.id)
    assert run_unlock("alice") == "No failed logins recorded for user 'alice': nothing to unlock.\n"


def test_unlock_login_lifts_an_address_lockout(alice, frozen):
    attacker = from_address("198.51.100.7")
    for index in range(LIMIT):
        log_in(attacker, f"guess{index}", "wrong-password")

    assert run_unlock("--ip", "198.51.100.7") == (
        f"Unlocked address 198.51.100.7: {LIMIT} failed-login records cleared.\n"
    )
    assert_logged_in(log_in(attacker, "alice", PASSWORD), alice.id)


def test_unlock_login_takes_several_and_normalises_ipv6(alice, frozen):
    fail(from_address("2001:db8::1"), "alice", 2)
    fail(from_address("198.51.100.7"), "bob", 1)

    assert run_unlock("bob", "carol", "--ip", "2001:DB8:0::1") == (
        "Unlocked user 'bob': 1 failed-login record cleared.\n"
        "No failed logins recorded for user 'carol': nothing to unlock.\n"
        "Unlocked address 2001:db8::1: 1 failed-login record cleared.\n"
    )
    assert AccessAttempt.objects.count() == 0


def test_deleting_the_attempt_in_the_admin_unlocks(alice, frozen):
    fail(from_address("198.51.100.7"), "alice", LIMIT)
    operator = Client()
    operator.force_login(user_make(id=2, username="root", role=Role.ROOT))
    listing = operator.get("/admin/axes/accessattempt/?locked_out=yes")
    attempt = AccessAttempt.objects.get()
    assert listing.status_code == 200
    assert list(listing.context["cl"].result_list) == [attempt]

    response = operator.post(
        "/admin/axes/accessattempt/",
        {"action": "delete_selected", "_selected_action": [attempt.pk], "post": "yes"},
    )

    assert response.status_code == 302
    assert AccessAttempt.objects.count() == 0
    assert_logged_in(log_in(from_address("203.0.113.20"), "alice", PASSWORD), alice.id)


def test_the_admin_lists_the_attempts_and_not_the_logs_that_are_off():
    operator = Client()
    operator.force_login(user_make(id=2, username="root", role=Role.ROOT))

    response = operator.get("/admin/")

    [axes] = [app for app in response.context["app_list"] if app["app_label"] == "axes"]
    assert [model["object_name"] for model in axes["models"]] == ["AccessAttempt"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "name at least one username or --ip address to unlock"),
        (("--ip", "198.51.100"), "--ip '198.51.100' is not an IPv4 or IPv6 address"),
    ],
)
def test_unlock_login_refuses_what_it_cannot_unlock(args, message):
    with pytest.raises(CommandError, match=f"^{message}$"):
        call_command("unlock_login", *args)


def test_access_tokens_are_not_affected_by_a_lockout(alice, frozen):
    _, secret = token_make(user=alice)
    fail(from_address("198.51.100.7"), "alice", LIMIT)

    response = from_address("198.51.100.7").get(
        "/api/user/self", headers={"Authorization": f"Bearer {secret}", "New-Api-User": "1000"}
    )

    assert response.status_code == 200
    assert response.json()["data"]["username"] == "alice"


def test_bad_tokens_are_not_counted_as_failed_logins(alice, frozen):
    client = from_address("198.51.100.7")
    for index in range(3 * LIMIT):
        response = client.get(
            "/api/user/self",
            headers={"Authorization": f"Bearer tl_wrong{index}", "New-Api-User": "1000"},
        )
        assert response.status_code == 401
        assert response.json() == {
            "success": False,
            "message": "Unauthorized: invalid access token",
        }

    assert AccessAttempt.objects.count() == 0
    assert_logged_in(log_in(client, "alice", PASSWORD), alice.id)


def test_a_session_opened_before_the_lockout_keeps_working(alice, frozen):
    session = from_address("203.0.113.20")
    assert_logged_in(log_in(session, "alice", PASSWORD), alice.id)
    fail(from_address("198.51.100.7"), "alice", LIMIT)

    response = session.get("/api/user/self", headers={"New-Api-User": "1000"})

    assert response.status_code == 200
    assert response.json()["data"]["id"] == 1000
    assert session.get("/account/").status_code == 200


def behind_one_proxy(settings: Any) -> None:
    for name, value in client_address_settings(1).items():
        setattr(settings, name, value)


def via_proxy(forwarded_for: str) -> Client:
    """A client reaching gunicorn through the documented nginx (docs/deploy.md)."""
    return Client(REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR=forwarded_for)


def test_behind_a_proxy_the_address_is_the_one_the_proxy_appended(alice, frozen, settings):
    behind_one_proxy(settings)
    # The attacker varies what it sends as X-Forwarded-For; nginx appends the real address.
    for index in range(LIMIT):
        log_in(via_proxy(f"10.9.9.{index}, 198.51.100.7"), f"guess{index}", "wrong-password")

    locked = log_in(via_proxy("203.0.113.99, 198.51.100.7"), "alice", PASSWORD)
    assert_refused(locked, LOCKED, status=429)
    # Every other client comes through the same proxy (REMOTE_ADDR 127.0.0.1) and is not locked.
    assert_logged_in(log_in(via_proxy("203.0.113.20"), "alice", PASSWORD), alice.id)
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"198.51.100.7"}


def test_without_a_proxy_a_forwarded_for_header_is_not_believed(alice, frozen):
    for index in range(LIMIT):
        client = Client(REMOTE_ADDR="198.51.100.7", HTTP_X_FORWARDED_FOR=f"203.0.113.{index}")
        log_in(client, f"guess{index}", "wrong-password")

    spoofing = Client(REMOTE_ADDR="198.51.100.7", HTTP_X_FORWARDED_FOR="203.0.113.200")
    assert_refused(log_in(spoofing, "alice", PASSWORD), LOCKED, status=429)
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"198.51.100.7"}


@pytest.mark.parametrize(
    ("trusted_proxies", "expected"),
    [
        (
            0,
            {
                "AXES_IPWARE_META_PRECEDENCE_ORDER": ("REMOTE_ADDR",),
                "AXES_IPWARE_PROXY_COUNT": None,
            },
        ),
        (
            2,
            {
                "AXES_IPWARE_META_PRECEDENCE_ORDER": ("HTTP_X_FORWARDED_FOR",),
                "AXES_IPWARE_PROXY_COUNT": 1,
            },
        ),
    ],
)
def test_client_address_settings_follow_the_number_of_proxies(trusted_proxies, expected):
    assert client_address_settings(trusted_proxies) == {
        **expected,
        "IPWARE_STRICT": not trusted_proxies,
    }


def test_behind_two_proxies_the_address_is_the_second_from_the_right(alice, frozen, settings):
    for name, value in client_address_settings(2).items():
        setattr(settings, name, value)
    for index in range(LIMIT):
        client = Client(
            REMOTE_ADDR="127.0.0.1",
            HTTP_X_FORWARDED_FOR=f"10.0.0.{index}, 198.51.100.7, 192.0.2.1",
        )
        log_in(client, f"guess{index}", "wrong-password")

    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"198.51.100.7"}
