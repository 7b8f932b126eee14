"""Who may change whom (issue 10 section 1; docs/auth.md "Who may change users").

Through the Django admin as each role (the change form, the password form, the bulk actions,
deletion, the token admin), the services those call, and the ingest scope's owner rule on
every request."""

from __future__ import annotations

import re
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from accounts.authentication import MSG_INGEST_OWNER
from accounts.models import AccessToken, Role, Scope, Status, User
from accounts.services import (
    MSG_ABOVE,
    MSG_DELETE_ADMIN,
    MSG_DELETE_ROOT,
    MSG_DELETE_SELF,
    MSG_GRANT,
    MSG_NOT_OPERATOR,
    MSG_OWN_ROLE,
    MSG_OWN_STATUS,
    AccessTokenRefused,
    UserChangeRefused,
    access_token_create,
    user_delete,
    user_update,
    users_status_set,
)
from accounts.services import (
    MSG_INGEST_OWNER as MSG_INGEST_TOKEN_REFUSED,
)
from logs.models import Log
from tests.typed_factories import token_make, user_make

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-operator-pass-9"
NOW_EVENT = {"created_at": 1_735_689_600, "user_id": 1000, "username": "user1000", "quota": 5}


def local(username: str, role: int) -> User:
    return User.objects.create_user(username, PASSWORD, role=role)


@pytest.fixture
def root() -> User:
    return User.objects.create_superuser("root", PASSWORD)


@pytest.fixture
def root2() -> User:
    return User.objects.create_superuser("root2", PASSWORD)


@pytest.fixture
def admin_user() -> User:
    return local("adm", Role.ADMIN)


@pytest.fixture
def admin2() -> User:
    return local("adm2", Role.ADMIN)


@pytest.fixture
def common() -> User:
    """A gateway user (provisioned by events), common."""
    return user_make(id=1000, username="user1000", role=Role.COMMON)


def logged_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def change_form(user: User, **changes: Any) -> dict[str, Any]:
    """The admin change form's fields as the page sends them, with `changes` applied."""
    data = {
        "username": user.username,
        "display_name": user.display_name,
        "role": user.role,
        "status": user.status,
        "group": user.group,
    }
    data.update(changes)
    return data


def post_change(client: Client, user: User, **changes: Any) -> Any:
    return client.post(f"/admin/accounts/user/{user.pk}/change/", change_form(user, **changes))


def stored(user: User) -> tuple[str, int, int]:
    user.refresh_from_db()
    return user.username, user.role, user.status


def messages_of(response: Any) -> list[str]:
    return [str(message) for message in response.context["messages"]]


# --- through the admin, as an admin (role 10) -----------------------------------------------


def test_admin_cannot_make_itself_root(admin_user):
    client = logged_in(admin_user)

    page = client.get(f"/admin/accounts/user/{admin_user.pk}/change/").content.decode()
    response = post_change(client, admin_user, role=Role.ROOT, status=Status.DISABLED)

    # Its own role and status are shown, not offered; a forged POST of them changes nothing.
    assert 'name="role"' not in page and 'name="status"' not in page
    assert response.status_code == 302
    assert stored(admin_user) == ("adm", Role.ADMIN, Status.ENABLED)


def test_admin_cannot_demote_or_disable_root(admin_user, root):
    client = logged_in(admin_user)

    page = client.get(f"/admin/accounts/user/{root.pk}/change/")
    response = post_change(client, root, role=Role.COMMON, status=Status.DISABLED)

    # The page is view-only (no inputs), and the POST of the reproduction (D2.1) is refused.
    assert page.status_code == 200 and "View user" in page.content.decode()
    assert 'name="role"' not in page.content.decode()
    assert response.status_code == 403
    assert stored(root) == ("root", Role.ROOT, Status.ENABLED)


def test_admin_cannot_change_another_admin(admin_user, admin2):
    response = post_change(logged_in(admin_user), admin2, role=Role.COMMON, display_name="x")

    assert response.status_code == 403
    assert stored(admin2) == ("adm2", Role.ADMIN, Status.ENABLED)
    assert admin2.display_name == ""


def test_admin_cannot_grant_the_admin_role(admin_user, common):
    response = post_change(logged_in(admin_user), common, role=Role.ADMIN)

    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {"role": [MSG_GRANT]}
    assert stored(common) == ("user1000", Role.COMMON, Status.ENABLED)


def test_admin_changes_a_common_user(admin_user, common):
    response = post_change(
        logged_in(admin_user), common, role=Role.GUEST, status=Status.DISABLED, group="vip"
    )

    assert response.status_code == 302
    assert stored(common) == ("user1000", Role.GUEST, Status.DISABLED)
    assert common.group == "vip"


def test_admin_cannot_set_roots_password(admin_user, root):
    client = logged_in(admin_user)

    page = client.get(f"/admin/accounts/user/{root.pk}/password/")
    response = client.post(
        f"/admin/accounts/user/{root.pk}/password/",
        {"usable_password": "true", "password1": "taken-over-9x", "password2": "taken-over-9x"},
    )

    assert (page.status_code, response.status_code) == (403, 403)
    root.refresh_from_db()
    assert root.check_password(PASSWORD)


def test_admin_bulk_actions_skip_root_and_say_why(admin_user, root, common):
    client = logged_in(admin_user)

    response = client.post(
        "/admin/accounts/user/",
        {"action": "disable_users", "_selected_action": [root.pk, common.pk, admin_user.pk]},
        follow=True,
    )

    assert messages_of(response) == [  # in id order
        f"adm: {MSG_OWN_STATUS}",
        f"root: {MSG_ABOVE}",
        "Disabled 1 user(s).",
    ]
    assert stored(root)[2] == Status.ENABLED
    assert stored(admin_user)[2] == Status.ENABLED
    assert stored(common)[2] == Status.DISABLED


def test_admin_cannot_delete_root_or_an_admin(admin_user, admin2, root, common):
    client = logged_in(admin_user)

    for target in (root, admin2, admin_user):
        assert client.get(f"/admin/accounts/user/{target.pk}/delete/").status_code == 403
        assert (
            client.post(f"/admin/accounts/user/{target.pk}/delete/", {"post": "yes"}).status_code
            == 403
        )
    # The bulk delete: the confirmation names what may not be deleted, and the POST is refused.
    selected = {"action": "delete_selected", "_selected_action": [root.pk, common.pk]}
    confirm = client.post("/admin/accounts/user/", selected)
    done = client.post("/admin/accounts/user/", {**selected, "post": "yes"})

    assert confirm.context["perms_lacking"] == {"user"}
    assert done.status_code == 403
    assert set(User.objects.values_list("username", flat=True)) == {
        "root", "adm", "adm2", "user1000",
    }  # fmt: skip


def test_admin_deletes_a_common_user(admin_user, common):
    response = logged_in(admin_user).post(
        "/admin/accounts/user/",
        {"action": "delete_selected", "_selected_action": [common.pk], "post": "yes"},
    )

    assert response.status_code == 302
    assert not User.objects.filter(pk=common.pk).exists()


def test_admin_cannot_make_tokens_for_root_or_ingest_tokens_for_common_users(
    admin_user, root, common
):
    client = logged_in(admin_user)

    for_root = client.post(
        "/admin/accounts/accesstoken/add/", {"user": root.pk, "name": "x", "scope": "read"}
    )
    ingest_for_common = client.post(
        "/admin/accounts/accesstoken/add/", {"user": common.pk, "name": "x", "scope": "ingest"}
    )

    assert for_root.context["adminform"].form.errors == {"user": [MSG_ABOVE]}
    assert ingest_for_common.context["adminform"].form.errors == {
        "scope": [f"{MSG_INGEST_TOKEN_REFUSED} 'user1000' is a common user."]
    }
    assert not AccessToken.objects.exists()


def test_admin_cannot_revoke_roots_tokens(admin_user, root):
    token, _ = token_make(user=root, scope=Scope.READ)
    client = logged_in(admin_user)

    response = client.post(
        "/admin/accounts/accesstoken/",
        {"action": "revoke_tokens", "_selected_action": [token.pk]},
        follow=True,
    )

    assert messages_of(response) == [
        f"{token}: only a root may revoke an admin's or a root's tokens.",
        "Revoked 0 token(s).",
    ]
    token.refresh_from_db()
    assert token.revoked_at is None
    assert client.get(f"/admin/accounts/accesstoken/{token.pk}/delete/").status_code == 403


# --- through the admin, as a root -----------------------------------------------------------


def test_root_promotes_an_admin_to_root_and_demotes_another_root(root, root2, admin_user):
    client = logged_in(root)

    assert post_change(client, admin_user, role=Role.ROOT).status_code == 302
    assert post_change(client, root2, role=Role.ADMIN, status=Status.DISABLED).status_code == 302

    assert stored(admin_user) == ("adm", Role.ROOT, Status.ENABLED)
    assert stored(root2) == ("root2", Role.ADMIN, Status.DISABLED)


def test_root_cannot_change_its_own_role_or_status(root):
    client = logged_in(root)

    page = client.get(f"/admin/accounts/user/{root.pk}/change/").content.decode()
    response = post_change(client, root, role=Role.COMMON, status=Status.DISABLED, group="ops")

    assert 'name="role"' not in page and 'name="status"' not in page
    assert response.status_code == 302
    assert stored(root) == ("root", Role.ROOT, Status.ENABLED)
    assert root.group == "ops"  # the rest of its own profile is its to change


def test_root_deletes_an_admin_but_no_root(root, root2, admin_user):
    client = logged_in(root)

    assert (
        client.post(f"/admin/accounts/user/{root2.pk}/delete/", {"post": "yes"}).status_code == 403
    )
    assert (
        client.post(f"/admin/accounts/user/{admin_user.pk}/delete/", {"post": "yes"}).status_code
        == 302
    )

    assert set(User.objects.values_list("username", flat=True)) == {"root", "root2"}


def test_root_cannot_make_an_ingest_token_for_a_common_user(root, common):
    response = logged_in(root).post(
        "/admin/accounts/accesstoken/add/", {"user": common.pk, "name": "x", "scope": "ingest"}
    )

    assert response.context["adminform"].form.errors == {
        "scope": [f"{MSG_INGEST_TOKEN_REFUSED} 'user1000' is a common user."]
    }
    assert not AccessToken.objects.exists()


# --- the services, as each role --------------------------------------------------------------

ADMIN, ROOT, COMMON, GUEST = Role.ADMIN, Role.ROOT, Role.COMMON, Role.GUEST


@pytest.mark.parametrize(
    ("actor_role", "target_role", "data", "refusal"),
    [
        # An admin: common and guest users only, and never into admin or root.
        (ADMIN, COMMON, {"role": GUEST, "status": Status.DISABLED, "group": "g"}, None),
        (ADMIN, COMMON, {"role": ADMIN}, MSG_GRANT),
        (ADMIN, COMMON, {"role": ROOT}, MSG_GRANT),
        (ADMIN, ADMIN, {"role": COMMON}, MSG_ABOVE),
        (ADMIN, ADMIN, {"display_name": "x"}, MSG_ABOVE),
        (ADMIN, ROOT, {"role": COMMON}, MSG_ABOVE),
        (ADMIN, ROOT, {"status": Status.DISABLED}, MSG_ABOVE),
        (ADMIN, ROOT, {"username": "someone"}, MSG_ABOVE),
        # A root: anyone else, any role.
        (ROOT, COMMON, {"role": ADMIN}, None),
        (ROOT, ADMIN, {"role": ROOT}, None),
        (ROOT, ROOT, {"role": COMMON, "status": Status.DISABLED}, None),
        # Common users and guests change nobody.
        (COMMON, COMMON, {"group": "g"}, MSG_NOT_OPERATOR),
        (GUEST, COMMON, {"status": Status.DISABLED}, MSG_NOT_OPERATOR),
    ],
)
def test_user_update_applies_the_rules(actor_role, target_role, data, refusal):
    actor = local("actor", actor_role)
    target = local("target", target_role)
    before = User.objects.values().get(pk=target.pk)

    if refusal is None:
        user_update(actor=actor, user=target, data=data)
        after = User.objects.values().get(pk=target.pk)
        assert after == {**before, **data}
    else:
        with pytest.raises(UserChangeRefused, match=re.escape(refusal)):
            user_update(actor=actor, user=target, data=data)
        assert User.objects.values().get(pk=target.pk) == before


@pytest.mark.parametrize("role", [ADMIN, ROOT])
@pytest.mark.parametrize(
    ("data", "refusal"),
    [({"role": COMMON}, MSG_OWN_ROLE), ({"status": Status.DISABLED}, MSG_OWN_STATUS)],
)
def test_nobody_changes_their_own_role_or_status(role, data, refusal):
    actor = local("actor", role)

    with pytest.raises(UserChangeRefused, match=re.escape(refusal)):
        user_update(actor=actor, user=actor, data=data)
    user_update(actor=actor, user=actor, data={"display_name": "me"})

    assert stored(actor) == ("actor", role, Status.ENABLED)
    assert actor.display_name == "me"


def test_user_update_checks_the_stored_row_not_the_callers_copy(admin_user, root):
    # A caller handing over an instance it changed (as a form does) cannot pass the check.
    root.role = Role.COMMON

    with pytest.raises(UserChangeRefused, match=MSG_ABOVE):
        user_update(actor=admin_user, user=root, data={"status": Status.DISABLED})
    assert stored(root) == ("root", Role.ROOT, Status.ENABLED)


def test_users_status_set_changes_the_allowed_and_names_the_refused(admin_user, root, common):
    result = users_status_set(actor=admin_user, users=[root, common], status=Status.DISABLED)

    assert (result.changed, [(u.username, why) for u, why in result.refused]) == (
        1,
        [("root", MSG_ABOVE)],
    )
    assert (stored(root)[2], stored(common)[2]) == (Status.ENABLED, Status.DISABLED)


@pytest.mark.parametrize(
    ("actor_role", "target_role", "refusal"),
    [
        (ADMIN, COMMON, None),
        (ADMIN, ADMIN, MSG_DELETE_ADMIN),
        (ADMIN, ROOT, MSG_DELETE_ROOT),
        (ROOT, ADMIN, None),
        (ROOT, ROOT, MSG_DELETE_ROOT),
        (COMMON, GUEST, MSG_NOT_OPERATOR),
    ],
)
def test_user_delete_refuses_users_at_or_above_the_actor(actor_role, target_role, refusal):
    actor = local("actor", actor_role)
    target = local("target", target_role)

    if refusal is None:
        user_delete(actor=actor, user=target)
        assert not User.objects.filter(pk=target.pk).exists()
    else:
        with pytest.raises(UserChangeRefused, match=re.escape(refusal)):
            user_delete(actor=actor, user=target)
        assert User.objects.filter(pk=target.pk).exists()


def test_nobody_deletes_themselves(root):
    with pytest.raises(UserChangeRefused, match=MSG_DELETE_SELF):
        user_delete(actor=root, user=root)


# --- the ingest scope needs an admin or root owner --------------------------------------------


def ingest_post(secret: str) -> Any:
    return Client().post(
        "/api/log/",
        {"logs": [NOW_EVENT]},
        content_type="application/json",
        headers={"Authorization": f"Bearer {secret}"},
    )


def test_create_credential_refuses_an_ingest_token_for_a_common_user(common):
    with pytest.raises(CommandError) as refused:
        call_command(
            "create_credential",
            "user1000",
            "--scope",
            "ingest",
            stdout=StringIO(),
            stderr=StringIO(),
        )

    assert str(refused.value) == f"{MSG_INGEST_TOKEN_REFUSED} 'user1000' is a common user."
    assert not AccessToken.objects.exists()


def test_access_token_create_refuses_an_ingest_token_for_a_common_user(common):
    with pytest.raises(AccessTokenRefused, match="is a common user"):
        access_token_create(user=common, scope=Scope.INGEST)
    assert not AccessToken.objects.exists()


def test_an_ingest_token_stops_working_when_its_owner_is_demoted(root, admin_user):
    _, secret = access_token_create(user=admin_user, scope=Scope.INGEST, name="relay")
    assert ingest_post(secret).json()["data"]["accepted"] == 1

    # A root demotes its owner through the admin.
    assert post_change(logged_in(root), admin_user, role=Role.COMMON).status_code == 302
    refused = ingest_post(secret)

    assert (refused.status_code, refused.json()) == (
        403,
        {"success": False, "message": MSG_INGEST_OWNER},
    )
    assert Log.objects.count() == 1


def test_an_ingest_token_held_by_a_common_user_writes_nothing(common):
    # As made by create_credential before it refused (D2.3), or kept since.
    _, secret = token_make(user=common, scope=Scope.INGEST)

    refused = ingest_post(secret)

    assert (refused.status_code, refused.json()) == (
        403,
        {"success": False, "message": MSG_INGEST_OWNER},
    )
    assert not Log.objects.exists()
