"""The logs in the Django admin: read-only, cheap on large tables, deleted by age."""

from __future__ import annotations

import pytest
import time_machine
from django.test import Client

from accounts.models import Role
from logs.admin import COUNT_CAP
from logs.models import Log, LogType
from tests.factories import log_event
from tests.typed_factories import user_make

pytestmark = pytest.mark.django_db

NOW = 1_767_268_800  # 2026-01-01 12:00 UTC
DAY = 86_400


@pytest.fixture
def root_client() -> Client:
    client = Client()
    client.force_login(user_make(id=2, username="root", role=Role.ROOT))
    return client


@pytest.fixture
def logs(ingest):
    ingest(
        [
            log_event(created_at=NOW - 40 * DAY, request_id="old-1", username="alice", user_id=10),
            log_event(created_at=NOW - 35 * DAY, request_id="old-2", username="bob", user_id=11),
            log_event(
                created_at=NOW - 2 * DAY,
                request_id="mid",
                username="alice",
                user_id=10,
                model_name="claude-3",
                channel_id=3,
                group="vip",
            ),
            log_event(created_at=NOW - 60, request_id="new", username="alicia", user_id=12),
            log_event(
                created_at=NOW - 30,
                type=LogType.ERROR,
                request_id="err",
                username="bob",
                user_id=11,
            ),
        ]
    )


def _ids(client: Client, query: str = "") -> list[str]:
    response = client.get(f"/admin/logs/log/?{query}")
    assert response.status_code == 200
    return [log.request_id for log in response.context["cl"].result_list]


@time_machine.travel(NOW, tick=False)
def test_log_list_is_newest_first_with_filters_and_exact_searches(root_client, logs):
    assert _ids(root_client) == ["err", "new", "mid", "old-2", "old-1"]
    assert _ids(root_client, "type__exact=5") == ["err"]
    assert _ids(root_client, "model_name=claude-3") == ["mid"]
    assert _ids(root_client, "channel=3") == ["mid"]
    assert _ids(root_client, "group=vip") == ["mid"]
    assert _ids(root_client, "created=today") == ["err", "new"]
    assert _ids(root_client, "created=7d") == ["err", "new", "mid"]
    assert _ids(root_client, "created=older30") == ["old-2", "old-1"]
    # Search: request id or username, exact; a trailing * makes a username prefix.
    assert _ids(root_client, "q=mid") == ["mid"]
    assert _ids(root_client, "q=alice") == ["mid", "old-1"]
    assert _ids(root_client, "q=ali") == []
    assert _ids(root_client, "q=ali*") == ["new", "mid", "old-1"]


@time_machine.travel(NOW, tick=False)
def test_log_list_never_counts_the_whole_table(root_client, logs, django_assert_num_queries):
    # 1 session, 2 user, 3 capped count (SELECT COUNT(*) FROM (... LIMIT 10001)),
    # 4 the page of logs, 5 channels for the channel filter.
    with django_assert_num_queries(5) as captured:
        response = root_client.get("/admin/logs/log/")
    counts = [q["sql"] for q in captured.captured_queries if "COUNT(" in q["sql"].upper()]
    assert len(counts) == 1 and f"LIMIT {COUNT_CAP + 1}" in counts[0]
    assert response.context["cl"].show_full_result_count is False


@time_machine.travel(NOW, tick=False)
def test_logs_are_read_only(root_client, logs):
    log = Log.objects.get(request_id="mid")
    assert root_client.get("/admin/logs/log/add/").status_code == 403
    page = root_client.get(f"/admin/logs/log/{log.pk}/change/")
    assert page.status_code == 200 and b'name="_save"' not in page.content
    response = root_client.post(f"/admin/logs/log/{log.pk}/change/", {"quota": 1})
    assert response.status_code == 403
    assert root_client.post(f"/admin/logs/log/{log.pk}/delete/").status_code == 403


@time_machine.travel(NOW, tick=False)
def test_delete_logs_before_through_the_admin_action(root_client, logs):
    selected = Log.objects.get(request_id="mid")

    proposal = root_client.post(
        "/admin/logs/log/",
        {"action": "delete_before_action", "_selected_action": [selected.pk]},
    )

    assert proposal.status_code == 302
    assert proposal["Location"] == f"/admin/logs/log/delete-before/?before={NOW - 2 * DAY}"
    confirm = root_client.get(proposal["Location"])
    assert confirm.context["form"].initial["before"].isoformat() == "2025-12-30T12:00:00"
    assert Log.objects.count() == 5  # nothing is deleted before the confirmation

    done = root_client.post(
        "/admin/logs/log/delete-before/", {"before": "2025-12-30T12:00"}, follow=True
    )

    assert "Deleted 2 log(s) created before 2025-12-30 12:00 (UTC)." in done.content.decode()
    assert sorted(Log.objects.values_list("request_id", flat=True)) == ["err", "mid", "new"]


@time_machine.travel(NOW, tick=False)
def test_delete_before_uses_the_viewer_timezone(root_client, logs):
    root_client.cookies["tl_tz"] = "Asia/Kolkata"
    # 2025-12-30 17:30 in Kolkata is 12:00 UTC: "mid" is not older than that.
    root_client.post("/admin/logs/log/delete-before/", {"before": "2025-12-30T17:30"})
    assert Log.objects.filter(request_id="mid").exists()
    assert not Log.objects.filter(request_id__startswith="old").exists()


def test_delete_before_reports_a_missing_date_beside_the_field(root_client, logs):
    response = root_client.post("/admin/logs/log/delete-before/", {"before": ""})
    assert response.status_code == 200
    assert response.context["form"].errors == {"before": ["This field is required."]}
    assert Log.objects.count() == 5


def test_common_users_cannot_delete_logs(logs):
    client = Client()
    client.force_login(user_make(id=1000))
    response = client.post("/admin/logs/log/delete-before/", {"before": "2030-01-01T00:00"})
    assert response.status_code == 302  # to the admin login
    assert Log.objects.count() == 5
