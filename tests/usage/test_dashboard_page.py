"""The My usage dashboard through the test client: ranges in the viewer's zone, zero-filled
buckets, cards equal to the selectors' totals, bounded queries."""

from __future__ import annotations

import json
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.test import Client

from tests.factories import log_event
from tests.typed_factories import user_make
from usage.selectors import UsageFilter, usage_totals

pytestmark = pytest.mark.django_db

# 2026-01-07 15:00 UTC = 2026-01-07 20:30 in Asia/Kolkata (a Wednesday).
NOW = 1_767_798_000
KOLKATA = ZoneInfo("Asia/Kolkata")
DAY = 86_400


@pytest.fixture
def alice_client() -> Client:
    client = Client()
    client.force_login(user_make(id=1000, username="user1000"))
    client.cookies["tl_tz"] = "Asia/Kolkata"
    return client


def _data(response) -> dict:
    text = response.content.decode()
    start = text.index('<script id="dashboard-data" type="application/json">') + 52
    return json.loads(text[start : text.index("</script>", start)])


@time_machine.travel(NOW, tick=False)
def test_dashboard_zero_fills_days_in_the_viewer_zone(alice_client, ingest):
    # 2026-01-05 18:45 UTC is 2026-01-06 00:15 in Kolkata: it counts on the 6th there.
    ingest(
        [
            log_event(created_at=1_767_638_700, quota=500_000, model_name="gpt-4o"),
            log_event(created_at=NOW - 30, quota=250_000, model_name="claude-3", prompt_tokens=7),
            log_event(created_at=NOW - 30, user_id=1001, username="other", quota=999),
        ]
    )

    response = alice_client.get("/", {"range": "7d", "granularity": "day"})

    data = _data(response)
    assert data["labels"] == [
        "01-01", "01-02", "01-03", "01-04", "01-05", "01-06", "01-07",
    ]  # fmt: skip
    assert data["buckets"][0] == 1_767_205_800  # 2026-01-01 00:00 +05:30
    assert data["models"] == ["gpt-4o", "claude-3"]
    assert data["quota"] == [[0, 0, 0, 0, 0, 500_000, 0], [0, 0, 0, 0, 0, 0, 250_000]]
    assert data["requests"] == [[0, 0, 0, 0, 0, 1, 0], [0, 0, 0, 0, 0, 0, 1]]
    assert data["share"] == [1, 1]
    assert data["tokens"]["prompt"] == [0, 0, 0, 0, 0, 100, 7]
    assert data["granularity"] == "day"
    cards = response.context["data"].cards
    assert cards.totals == usage_totals(
        start=1_767_205_800, end=NOW, where=UsageFilter(user_id=1000)
    )
    assert (cards.totals.requests, cards.totals.quota) == (2, 750_000)
    assert (cards.live.requests, cards.live.token_used) == (1, 57)
    page = response.content.decode()
    assert "$1.50" in page  # 750 000 quota at 500 000 per USD
    assert "other" not in data["models"]


@time_machine.travel(NOW, tick=False)
def test_today_is_bucketed_by_hour_up_to_now(alice_client):
    data = _data(alice_client.get("/", {"range": "today"}))
    assert data["granularity"] == "hour"
    assert data["labels"][0] == "01-07 00:00" and data["labels"][-1] == "01-07 20:00"
    assert len(data["buckets"]) == 21  # 00:00 .. 20:00 in Kolkata
    assert data["models"] == []


@time_machine.travel(NOW, tick=False)
def test_empty_range_shows_empty_states(alice_client):
    response = alice_client.get("/")
    page = response.content.decode()
    assert page.count("No data for this filter") == 5  # four charts and the keys table
    assert "<canvas" not in page


@time_machine.travel(NOW, tick=False)
def test_custom_range_errors_are_shown_beside_the_fields(alice_client):
    response = alice_client.get(
        "/", {"range": "custom", "start": "2026-01-05", "end": "2026-01-01"}
    )
    assert response.context["form"].errors == {"end": ["The last day is before the first day."]}
    assert 'id="id_end_error"' in response.content.decode()
    assert response.context["data"].window.preset == "7d"  # the default range is shown


@time_machine.travel(NOW, tick=False)
def test_too_many_buckets_fall_back_to_a_coarser_granularity(alice_client):
    response = alice_client.get(
        "/", {"range": "custom", "start": "2025-01-01", "end": "2025-12-31", "granularity": "hour"}
    )
    assert "too many to chart" in response.context["form"].errors["granularity"][0]
    assert response.context["data"].window.granularity == "week"


@time_machine.travel(NOW, tick=False)
def test_custom_range_covers_whole_local_days(alice_client, ingest):
    ingest(
        [
            log_event(created_at=1_767_205_800 - 1, quota=1),  # 2025-12-31 23:59:59 Kolkata
            log_event(created_at=1_767_205_800, quota=10),  # 2026-01-01 00:00 Kolkata
            log_event(created_at=1_767_205_800 + 2 * DAY - 1, quota=100),  # 01-02 23:59:59
            log_event(created_at=1_767_205_800 + 2 * DAY, quota=1000),  # 01-03 00:00
        ]
    )
    response = alice_client.get(
        "/", {"range": "custom", "start": "2026-01-01", "end": "2026-01-02"}
    )
    data = _data(response)
    assert (data["granularity"], len(data["buckets"])) == ("hour", 48)
    assert data["labels"][0] == "01-01 00:00" and data["labels"][-1] == "01-02 23:00"
    assert response.context["data"].cards.totals.quota == 110


@time_machine.travel(NOW, tick=False)
def test_top_api_keys_rank_by_quota(alice_client, ingest):
    ingest(
        [
            log_event(token_id=1, token_name="small", quota=10, created_at=NOW - 100),
            log_event(token_id=2, token_name="big", quota=900, created_at=NOW - 100),
            log_event(token_id=2, token_name="big", quota=100, created_at=NOW - 50),
        ]
    )
    keys = alice_client.get("/").context["data"].keys
    assert [(k.token_name, k.totals.requests, k.totals.quota) for k in keys] == [
        ("big", 2, 1000),
        ("small", 1, 10),
    ]


@time_machine.travel(NOW, tick=False)
def test_dashboard_query_count_is_bounded(alice_client, ingest, django_assert_num_queries):
    ingest([log_event(created_at=NOW - i * 3600, model_name=f"m{i % 12}") for i in range(60)])
    # 1 session, 2 user, 3 rows by bucket and model, 4 live totals, 5 rows by API key.
    with django_assert_num_queries(5):
        response = alice_client.get("/", {"range": "30d"})
    assert len(_data(response)["models"]) == 9  # 8 models and "Other"
