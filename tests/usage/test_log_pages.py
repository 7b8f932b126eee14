"""The log pages `/logs/` and `/site/logs/` through the test client: the same selectors and
parameter validation as `/api/log/self` and `/api/log/`, so rows, totals, the stat line and the
CSV equal the API's for the same filters; errors beside their fields; keyset pagination;
bounded queries."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import time_machine
from django.test import Client

from logs.models import LogType
from tests.factories import log_event

pytestmark = pytest.mark.django_db

# 2026-01-07 15:00 UTC = 2026-01-07 20:30 in Asia/Kolkata.
NOW = 1_767_798_000


def _session(api) -> Client:
    client = Client()
    client.force_login(api.user)
    client.cookies["tl_tz"] = "Asia/Kolkata"
    return client


@pytest.fixture
def user_page(user_api) -> Client:
    return _session(user_api)


@pytest.fixture
def admin_page(admin_api) -> Client:
    return _session(admin_api)


@pytest.fixture
def mixed_logs(ingest, user_api, other_api):
    ingest(
        [
            log_event(created_at=NOW - 30, model_name="gpt-4o", quota=500, channel_id=3,
                      channel_name="oa-main", ip="10.0.0.9", request_id="r-1", group="vip",
                      other={"admin_info": {"x": 1}, "channel_type": 1, "frt": 350}),
            log_event(created_at=NOW - 3600, model_name="claude-3", quota=200, request_id="r-2"),
            log_event(created_at=NOW - 7200, model_name="gpt-4o", type=LogType.ERROR, quota=0,
                      request_id="r-3", content="upstream error"),
            log_event(created_at=NOW - 50, user_id=1001, username="user1001", quota=10**6,
                      request_id="r-4", channel_id=4, channel_name="other-ch"),
        ]
    )  # fmt: skip


def _ids(response) -> list[int]:
    return [int(i) for i in re.findall(r'data-log-id="(\d+)"', response.content.decode())]


def _api_data(api, path: str, params: dict) -> dict:
    body = api.get(path, params).json()
    assert body["success"] is True, body
    return body["data"]


@time_machine.travel(NOW, tick=False)
def test_my_logs_shows_the_api_page_and_stat_for_the_same_filters(user_page, user_api, mixed_logs):
    response = user_page.get("/logs/", {"model_name": "gpt-4o"})

    assert response.status_code == 200
    api_page = _api_data(user_api, "/api/log/self", {"model_name": "gpt-4o", "page_size": 20})
    assert _ids(response) == [item["id"] for item in api_page["items"]]
    assert len(api_page["items"]) == 2  # the error log too; never user1001's
    stat = _api_data(user_api, "/api/log/self/stat", {"model_name": "gpt-4o"})
    assert stat == {"quota": 500, "rpm": 1, "tpm": 150}
    page = response.content.decode()
    assert f'data-stat="quota" data-value="{stat["quota"]}"' in page
    assert f'data-stat="rpm" data-value="{stat["rpm"]}"' in page
    assert f'data-stat="tpm" data-value="{stat["tpm"]}"' in page
    assert 'data-stat="total" data-value="2"' in page
    # The user shape: no channel, IP or admin-only `other` keys anywhere on the page.
    for hidden in ("oa-main", "10.0.0.9", "admin_info", "channel_type", "other-ch"):
        assert hidden not in page
    assert "&quot;frt&quot;: 350" in page  # the rest of `other`, pretty-printed
    assert "upstream error" in page  # content, in the row's details
    assert response.context["export_url"] == "/logs/export/?model_name=gpt-4o"
    assert response.context["api_export_url"] == "/api/log/self/export?model_name=gpt-4o"


@time_machine.travel(NOW, tick=False)
def test_dates_are_read_in_the_viewer_zone_and_the_end_minute_is_inclusive(
    user_page, user_api, mixed_logs
):
    # 19:30 and 20:29 in Kolkata = NOW - 3600 and NOW - 60 + 59.
    response = user_page.get("/logs/", {"start": "2026-01-07T19:30", "end": "2026-01-07T20:29"})

    assert response.context["api_export_url"] == (
        f"/api/log/self/export?start_timestamp={NOW - 3600}&end_timestamp={NOW - 1}"
    )
    api_page = _api_data(
        user_api,
        "/api/log/self",
        {"start_timestamp": NOW - 3600, "end_timestamp": NOW - 1, "page_size": 20},
    )
    assert _ids(response) == [item["id"] for item in api_page["items"]]
    assert len(api_page["items"]) == 2  # NOW - 30 and NOW - 3600; not NOW - 7200


@time_machine.travel(NOW, tick=False)
def test_bad_filters_are_shown_beside_their_fields_and_nothing_is_read(
    user_page, user_api, django_assert_num_queries
):
    # 1 session, 2 user: the API's validation refuses the input before any log query.
    with django_assert_num_queries(2):
        response = user_page.get(
            "/logs/",
            {"model_name": "%a%", "start": "2026-01-07T20:00", "end": "2026-01-07T10:00",
             "group": "g" * 65},
        )  # fmt: skip

    page = response.content.decode()
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert errors["model_name"] == [
        "model_name: a fuzzy search needs at least 2 characters besides %"
    ]
    assert errors["group"] == ["group must be at most 64 characters"]
    assert errors["end"] == ["The end is before the start."]
    assert 'id="id_model_name_error"' in page and 'aria-invalid="true"' in page
    assert "Fix the filters above" in page
    # The same refusal the API answers.
    assert user_api.get("/api/log/self", {"model_name": "%a%"}).json() == {
        "success": False,
        "message": "model_name: a fuzzy search needs at least 2 characters besides %",
    }


@time_machine.travel(NOW, tick=False)
def test_unparsable_date_is_reported_beside_it(user_page):
    response = user_page.get("/logs/", {"start": "yesterday"})
    assert response.context["form"].errors == {"start": ["Enter a valid date/time."]}


@time_machine.travel(NOW, tick=False)
def test_pages_follow_the_keyset_cursor_like_the_api(user_page, user_api, ingest):
    ingest([log_event(created_at=NOW - 10 * i, request_id=f"p-{i}") for i in range(25)])

    seen: list[int] = []
    response = user_page.get("/logs/", {"page_size": "10"})
    pages = 0
    while True:
        pages += 1
        seen += _ids(response)
        next_query = response.context["next_query"]
        if not next_query:
            break
        params = parse_qs(next_query)
        assert params["p"] == [str(pages + 1)] and "cursor" in params
        response = user_page.get(f"/logs/?{next_query}")
        assert response.context["previous_query"] is not None
    assert pages == 3
    api_ids = [i["id"] for i in _api_data(user_api, "/api/log/self", {"page_size": 100})["items"]]
    assert seen == api_ids and len(seen) == 25
    assert "21\N{EN DASH}25 of 25" in response.content.decode()


@time_machine.travel(NOW, tick=False)
def test_empty_filter_shows_the_empty_state(user_page, user_api):
    response = user_page.get("/logs/", {"request_id": "nothing"})
    page = response.content.decode()
    assert "No logs for this filter" in page
    assert 'data-stat="quota" data-value="0"' in page


@time_machine.travel(NOW, tick=False)
def test_my_logs_query_count_is_bounded(user_page, mixed_logs, django_assert_num_queries):
    # 1 session, 2 user, 3 capped count, 4 the few matches' keys, 5 the page's rows by id,
    # 6 stat quota, 7 stat rpm/tpm.
    with django_assert_num_queries(7):
        user_page.get("/logs/")


@time_machine.travel(NOW, tick=False)
def test_site_logs_query_count_is_bounded(admin_page, mixed_logs, django_assert_num_queries):
    # 1 session, 2 user, 3 channels for the filter, 4 capped count, 5 keys, 6 rows, 7-8 stat.
    with django_assert_num_queries(8):
        admin_page.get("/site/logs/", {"channel": "3"})


@time_machine.travel(NOW, tick=False)
def test_site_logs_show_admin_columns_and_filters_like_the_api(admin_page, admin_api, mixed_logs):
    response = admin_page.get("/site/logs/", {"username": "user1001", "channel": "4"})

    api_page = _api_data(
        admin_api, "/api/log/", {"username": "user1001", "channel": 4, "page_size": 20}
    )
    assert _ids(response) == [item["id"] for item in api_page["items"]] != []
    page = response.content.decode()
    assert "other-ch" in page and '<th scope="col">IP</th>' in page
    assert response.context["api_export_url"] == "/api/log/export?username=user1001&channel=4"
    everything = admin_page.get("/site/logs/").content.decode()
    assert "10.0.0.9" in everything and "admin_info" in everything


@time_machine.travel(NOW, tick=False)
def test_unknown_channel_is_refused_beside_the_field(admin_page, mixed_logs):
    response = admin_page.get("/site/logs/", {"channel": "99"})
    assert list(response.context["form"].errors) == ["channel"]


def test_site_logs_are_for_admins_only(user_page):
    assert user_page.get("/site/logs/").status_code == 403
    assert user_page.get("/site/logs/export/").status_code == 403


@time_machine.travel(NOW, tick=False)
@pytest.mark.parametrize(
    ("path", "api_path", "api_fixture"),
    [
        ("/logs/", "/api/log/self/export", "user_api"),
        ("/site/logs/", "/api/log/export", "admin_api"),
    ],
)
def test_download_csv_is_the_api_export_of_the_same_filters(
    request, path, api_path, api_fixture, mixed_logs
):
    api = request.getfixturevalue(api_fixture)
    page = _session(api).get(path, {"model_name": "gpt-4o", "end": "2026-01-07T20:29"})
    export_url = page.context["export_url"]
    assert urlsplit(page.context["api_export_url"]).path == api_path

    download: Any = _session(api).get(export_url)
    from_api = api.get(page.context["api_export_url"])

    assert download.status_code == from_api.status_code == 200
    assert download["Content-Type"] == "text/csv; charset=utf-8"
    assert download["Content-Disposition"].startswith("attachment;")
    body = b"".join(download.streaming_content)
    assert body == b"".join(from_api.streaming_content)
    # The header, then the gpt-4o logs up to 20:29:59: the user's two; for admins user1001's too.
    assert body.count(b"\r\n") == (4 if api_fixture == "admin_api" else 3)
    assert (b"oa-main" in body) is (api_fixture == "admin_api")


def test_download_refuses_bad_filters_with_the_api_message(user_page):
    response = user_page.get("/logs/export/", {"type": "9"})
    assert response.status_code == 400
    assert response.content.decode() == "type must be between 0 and 6"


def test_log_pages_need_a_login():
    for path in ("/logs/", "/logs/export/", "/site/logs/", "/site/logs/export/"):
        response = Client().get(path)
        assert response.status_code == 302 and response["Location"].startswith("/login/")
