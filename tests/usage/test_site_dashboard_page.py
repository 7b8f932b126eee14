"""The Site dashboard (admins): every user's usage, top users, per-channel and per-group
breakdowns, error rate per model, a username filter, bounded queries."""

from __future__ import annotations

import pytest
import time_machine
from django.test import Client

from accounts.models import Role
from logs.models import LogType
from tests.factories import log_event
from tests.typed_factories import user_make

pytestmark = pytest.mark.django_db

NOW = 1_767_798_000  # 2026-01-07 15:00 UTC


@pytest.fixture
def admin_client() -> Client:
    client = Client()
    client.force_login(user_make(id=1, username="admin", role=Role.ADMIN))
    return client


@pytest.fixture
def site_logs(ingest):
    ingest(
        [
            log_event(user_id=10, username="ann", quota=700, channel_id=1, channel_name="oa",
                      group="vip", model_name="gpt-4o", created_at=NOW - 100),
            log_event(user_id=10, username="ann", quota=300, channel_id=2, channel_name="an",
                      group="vip", model_name="claude", created_at=NOW - 200),
            log_event(user_id=11, username="ben", quota=50, channel_id=1, channel_name="oa",
                      group="default", model_name="gpt-4o", created_at=NOW - 300),
            log_event(user_id=11, username="ben", type=LogType.ERROR, quota=0, channel_id=1,
                      model_name="gpt-4o", created_at=NOW - 400),
            log_event(user_id=11, username="ben", type=LogType.TOPUP, quota=10**9,
                      created_at=NOW - 500),
        ]
    )  # fmt: skip


@time_machine.travel(NOW, tick=False)
def test_site_dashboard_breaks_usage_down(admin_client, site_logs):
    response = admin_client.get("/site/", {"range": "today"})

    site = response.context["site"]
    assert site.base.cards.totals.requests == 3 and site.base.cards.totals.quota == 1050
    assert [(u.label, u.totals.quota) for u in site.users] == [("ann", 1000), ("ben", 50)]
    assert [(c.label, c.totals.requests, c.totals.quota) for c in site.channels] == [
        ("#1 oa", 2, 750),
        ("#2 an", 1, 300),
    ]
    assert [(g.label, g.totals.quota) for g in site.groups] == [("vip", 1000), ("default", 50)]
    assert [(e.model, e.requests, e.errors) for e in site.errors] == [
        ("gpt-4o", 2, 1),
        ("claude", 1, 0),
    ]
    assert site.base.charts["users"] == {"labels": ["ann", "ben"], "quota": [1000, 50]}
    assert "33.3 %" in response.content.decode()


@time_machine.travel(NOW, tick=False)
def test_site_dashboard_filters_by_username(admin_client, site_logs):
    response = admin_client.get("/site/", {"range": "today", "username": "ben"})
    site = response.context["site"]
    assert (site.base.cards.totals.requests, site.base.cards.totals.quota) == (1, 50)
    assert [u.label for u in site.users] == ["ben"]
    assert "Site · ben" in response.content.decode()


@time_machine.travel(NOW, tick=False)
def test_site_dashboard_query_count_is_bounded(admin_client, site_logs, django_assert_num_queries):
    # 1 session, 2 user, 3 rows by bucket and model, 4 live totals, 5 rows by API key,
    # 6 rows by user, 7 rows by channel and group, 8 channel names, 9 rows by model and type.
    with django_assert_num_queries(9):
        admin_client.get("/site/", {"range": "30d"})


def test_live_card_refreshes_from_the_stat_api_of_the_same_username(admin_client, site_logs):
    page = admin_client.get("/site/", {"username": "ann"}).content.decode()
    assert 'data-live-url="/api/log/stat?username=ann"' in page
    assert 'data-live-url="/api/log/stat"' in admin_client.get("/site/").content.decode()
    # The API would read a `%` as a pattern while the page matches exactly: no refresh then.
    assert "data-live-url" not in admin_client.get("/site/", {"username": "a%b"}).content.decode()
