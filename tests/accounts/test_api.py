"""new-api's `GET /api/user/self` (the caller and its consumption) and `GET /api/status` (the
display settings, public), as new-api's web frontend reads them (API.md section 4)."""

from __future__ import annotations

import pytest
from django.db.models import Count, Sum
from django.test import Client
from drf_spectacular.generators import SchemaGenerator

from accounts.api import StatusSerializer, UserSelfSerializer
from logs.models import Log
from tests.factories import log_event

NOW = 1_767_225_600  # 2026-01-01T00:00:00Z
DAY = 86_400

pytestmark = pytest.mark.django_db


@pytest.fixture
def frozen(time_machine):
    time_machine.move_to(NOW, tick=False)


def consumption(**filters) -> tuple[int, int]:
    """(quota sum, count) of the consume logs the table holds: the plain GROUP BY."""
    totals = Log.objects.filter(type=2, **filters).aggregate(
        q=Sum("quota", default=0), n=Count("id")
    )
    return totals["q"], totals["n"]


@pytest.fixture
def history(ingest, frozen, user_api, other_api):
    ingest(
        [
            log_event(created_at=NOW - 400 * DAY, quota=1),  # over a year ago
            log_event(created_at=NOW - DAY - 1, quota=10),
            log_event(created_at=NOW - 3599, quota=100, model_name="o1"),  # this hour, mid-hour
            log_event(created_at=NOW + 120, quota=1000),  # stamped ahead of our clock
            log_event(created_at=NOW - 60, type=5, quota=0),  # an error: not usage
            log_event(created_at=NOW - 30, type=6, quota=10_000),  # a refund: not usage
            log_event(created_at=NOW - 30, type=1, quota=20_000),  # a top-up: not usage
            log_event(created_at=NOW - 10, user_id=1001, username="user1001", quota=100_000),
        ]
    )


def test_user_self_counts_every_consume_log_of_the_caller(user_api, history):
    data = user_api.get("/api/user/self").json()["data"]

    assert (data["used_quota"], data["request_count"]) == (1111, 4)
    assert (data["used_quota"], data["request_count"]) == consumption(user_id=1000)
    assert data["quota"] == 0


def test_user_self_of_another_user_counts_only_theirs(other_api, history):
    data = other_api.get("/api/user/self").json()["data"]

    assert (data["used_quota"], data["request_count"]) == (100_000, 1)


def test_user_self_keeps_counting_logs_that_retention_deleted(admin_api, user_api, history):
    # Like new-api's counters, which outlive its logs: the rollups still count them.
    deleted = admin_api.delete(f"/api/log/?target_timestamp={NOW - DAY}").json()["data"]

    assert deleted == 2
    data = user_api.get("/api/user/self").json()["data"]
    assert (data["used_quota"], data["request_count"]) == (1111, 4)


def test_user_self_whole_body_for_an_admin(admin_api, ingest, frozen):
    ingest([log_event(created_at=NOW - 5, user_id=1, username="admin", quota=7)])

    response = admin_api.get("/api/user/self")

    assert response.status_code == 200
    assert response.json() == {
        "success": True,
        "message": "",
        "data": {
            "id": 1,
            "username": "admin",
            "display_name": "",
            "role": 10,
            "status": 1,
            "group": "default",
            "quota": 0,
            "used_quota": 7,
            "request_count": 1,
            "email": "",
            "github_id": "",
            "discord_id": "",
            "oidc_id": "",
            "wechat_id": "",
            "telegram_id": "",
            "linux_do_id": "",
            "aff_code": "",
            "aff_count": 0,
            "aff_quota": 0,
            "aff_history_quota": 0,
            "inviter_id": 0,
            "setting": "",
            "stripe_customer": "",
            "sidebar_modules": "",
            # new-api's: an admin may arrange its sidebar but not reach the system settings
            "permissions": {
                "sidebar_settings": True,
                "sidebar_modules": {"admin": {"setting": False}},
            },
        },
    }


@pytest.mark.parametrize(
    ("client", "permissions"),
    [
        ("user_api", {"sidebar_settings": True, "sidebar_modules": {"admin": False}}),
        ("root_api", {"sidebar_settings": False, "sidebar_modules": {}}),
    ],
)
def test_user_self_permissions_follow_the_role(request, client, permissions):
    api = request.getfixturevalue(client)

    assert api.get("/api/user/self").json()["data"]["permissions"] == permissions


def test_user_self_runs_one_statement_for_the_consumption(
    user_api, history, django_assert_num_queries
):
    user_api.get("/api/user/self")  # the first call also records the token's last use
    # 1. the access token with its user; 2. the consumption (usage_user_total's day rows)
    with django_assert_num_queries(2):
        response = user_api.get("/api/user/self")
    assert response.json()["data"]["request_count"] == 4


# --- GET /api/status ---------------------------------------------------------------------------

STATUS = {
    "quota_per_unit": 500000,
    "quota_display_type": "USD",
    "display_in_currency": True,
    "data_export_default_time": "hour",
    "enable_data_export": True,
    "system_name": "",
    "logo": "",
    "footer_html": "",
    "docs_link": "",
    "chats": [],
    "enable_drawing": False,
    "enable_task": False,
    "mj_notify_enabled": False,
    "default_collapse_sidebar": False,
    "api_info_enabled": False,
    "announcements_enabled": False,
    "faq_enabled": False,
    "uptime_kuma_enabled": False,
    "setup": True,
}


def test_status_is_public_and_whole(django_assert_num_queries):
    with django_assert_num_queries(0):
        response = Client().get("/api/status")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"success": True, "message": "", "data": STATUS}


def test_status_reads_no_credential(user_api):
    # The frontend sends its headers to every call; a stale token must not break the boot call.
    response = Client().get(
        "/api/status", headers={"Authorization": "Bearer tl_revoked", "New-Api-User": "x"}
    )

    assert response.status_code == 200
    assert response.json()["success"] is True


def test_status_quota_per_unit_is_the_setting(settings):
    settings.QUOTA_PER_UNIT = 1000

    assert Client().get("/api/status").json()["data"]["quota_per_unit"] == 1000


def test_status_refuses_other_methods_in_new_api_shape():
    response = Client().post("/api/status")

    assert response.status_code == 405
    assert response.json() == {"success": False, "message": 'Method "POST" not allowed.'}


# --- the OpenAPI document tells the truth --------------------------------------------------------


def test_documented_shapes_are_the_bodies_sent(user_api):
    assert set(user_api.get("/api/user/self").json()["data"]) == set(UserSelfSerializer().fields)
    assert set(Client().get("/api/status").json()["data"]) == set(StatusSerializer().fields)


def test_status_is_documented_as_public():
    schema = SchemaGenerator().get_schema(request=None, public=True)
    operation = schema["paths"]["/api/status"]["get"]

    assert "security" not in operation  # and the document declares no global requirement
    assert "security" not in schema
    assert operation["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/StatusResponse"
    }
