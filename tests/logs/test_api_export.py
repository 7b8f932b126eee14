"""GET /api/log/export (admin) and GET /api/log/self/export (user): streamed CSV."""

from __future__ import annotations

import csv
import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from logs.filters import LogFilter
from logs.models import Log
from logs.selectors import logs_export_rows
from tests.factories import log_event
from tests.logs.logdata import T0, bulk_logs, store

pytestmark = pytest.mark.django_db


def body(response) -> str:
    assert response.status_code == 200
    assert response.streaming
    return b"".join(response.streaming_content).decode("utf-8")


def rows(response) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(body(response))))


@pytest.fixture
def export_logs(admin_api, user_api, other_api):
    return store(
        log_event(
            created_at=T0,
            type=5,
            content='=HYPERLINK("http://evil")',
            token_name="+ci",
            model_name="gpt-4o",
            channel_id=3,
            channel_name="@azure",
            ip="203.0.113.9",
            request_id="-r1",
            endpoint="/v1/chat/completions",
            first_token_ms=120,
            is_stream=True,
            other={"admin_info": {"x": 1}, "channel_type": 14, "frt": 120},
        ),
        log_event(
            created_at=T0 + 60,
            user_id=1001,
            username="user1001",
            content='héllo, "world"\nline 2',
            model_name="claude",
            group="vip",
        ),
    )


ADMIN_HEADER = (
    "id,created_at,created_at_utc,type,type_name,user_id,username,token_id,token_name,"
    "model_name,quota,prompt_tokens,completion_tokens,cache_read_tokens,cache_creation_tokens,"
    "use_time,duration_ms,first_token_ms,is_stream,channel_id,channel_name,group,ip,request_id,"
    "endpoint,content,other"
)


def test_admin_export_is_the_whole_csv_newest_first(admin_api, export_logs):
    first, second = export_logs

    response = admin_api.get("/api/log/export")

    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="logs-')
    assert body(response) == (
        f"{ADMIN_HEADER}\r\n"
        f"{second.id},{T0 + 60},2025-01-01T00:01:00Z,2,consume,1001,user1001,1,default-key,"
        'claude,1000,100,50,0,0,0,0,,false,0,,vip,,,,"héllo, ""world""\nline 2",{}\r\n'
        f"{first.id},{T0},2025-01-01T00:00:00Z,5,error,1000,user1000,1,'+ci,gpt-4o,1000,100,50,"
        "0,0,0,0,120,true,3,'@azure,default,203.0.113.9,'-r1,/v1/chat/completions,"
        '"\'=HYPERLINK(""http://evil"")",'
        '"{""admin_info"":{""x"":1},""channel_type"":14,""frt"":120}"\r\n'
    )


def test_self_export_has_no_channel_or_ip_columns_and_only_the_callers_logs(user_api, export_logs):
    first, _ = export_logs

    text = body(user_api.get("/api/log/self/export"))

    header = ADMIN_HEADER.replace(",channel_id,channel_name", "").replace(",ip", "")
    assert text == (
        f"{header}\r\n"
        f"{first.id},{T0},2025-01-01T00:00:00Z,5,error,1000,user1000,1,'+ci,gpt-4o,1000,100,50,"
        "0,0,0,0,120,true,default,'-r1,/v1/chat/completions,"
        '"\'=HYPERLINK(""http://evil"")","{""frt"":120}"\r\n'
    )


def test_other_users_export_shows_only_their_log(other_api, export_logs):
    assert [row["username"] for row in rows(other_api.get("/api/log/self/export"))] == ["user1001"]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"model_name": "claude"}, ["user1001"]),
        ({"model_name": "gpt%"}, ["user1000"]),
        ({"username": "user1000"}, ["user1000"]),
        ({"channel": 3}, ["user1000"]),
        ({"type": 2}, ["user1001"]),
        ({"group": "vip"}, ["user1001"]),
        ({"token_name": "+ci"}, ["user1000"]),
        ({"request_id": "-r1"}, ["user1000"]),
        ({"start_timestamp": T0 + 1}, ["user1001"]),
        ({"end_timestamp": T0 + 59}, ["user1000"]),
        ({"start_timestamp": T0, "end_timestamp": T0 + 60}, ["user1001", "user1000"]),
        ({"model_name": "nothing"}, []),
    ],
)
def test_admin_export_applies_the_list_filters(admin_api, export_logs, params, expected):
    assert [row["username"] for row in rows(admin_api.get("/api/log/export", params))] == expected


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, 1),
        ({"username": "user1001"}, 1),  # not read for users
        ({"channel": 99}, 1),  # not read for users
        ({"model_name": "claude"}, 0),
        ({"model_name": "gpt%"}, 1),
        ({"type": 5}, 1),
        ({"type": 2}, 0),
        ({"token_name": "+ci"}, 1),
        ({"token_name": "ci"}, 0),
        ({"group": "vip"}, 0),  # user1001's group: never the caller's
        ({"request_id": "-r1"}, 1),
        ({"start_timestamp": T0 + 1}, 0),
        ({"end_timestamp": T0}, 1),
    ],
)
def test_self_export_filters(user_api, export_logs, params, expected):
    assert len(rows(user_api.get("/api/log/self/export", params))) == expected


def test_export_has_no_page_cap_and_streams_in_chunks(user_api):
    bulk_logs(1200)

    response = user_api.get("/api/log/self/export")
    chunks = list(response.streaming_content)

    assert len(chunks) >= 3  # header+500 rows, 500 rows, 200 rows
    lines = b"".join(chunks).decode().splitlines()
    assert len(lines) == 1201
    assert [int(line.split(",")[1]) for line in lines[1:4]] == [T0 + 1199, T0 + 1198, T0 + 1197]


def test_export_ignores_accept_header(admin_api, export_logs):
    response = admin_api.client.get(
        "/api/log/export", headers={**admin_api.headers(), "Accept": "text/csv"}
    )

    assert response.status_code == 200


def test_export_bad_input_is_a_json_error_not_csv(admin_api, export_logs):
    response = admin_api.get("/api/log/export", {"start_timestamp": "today"})

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"success": False, "message": "invalid start_timestamp"}


def test_export_reads_in_keyset_chunks_of_bounded_size():
    # equal timestamps straddle the chunk boundaries: the id breaks the tie
    store(*(log_event(created_at=T0 + i // 3) for i in range(7)))
    expected = list(Log.objects.order_by("-created_at", "-id").values_list("id", flat=True))

    with CaptureQueriesContext(connection) as queries:
        exported = [row["id"] for row in logs_export_rows(filters=LogFilter(), chunk_size=3)]

    assert exported == expected
    assert len(queries) == 3  # 3 + 3 + 1 rows: one short query per chunk, no OFFSET
    assert all("LIMIT 3" in q["sql"] and "OFFSET" not in q["sql"] for q in queries)


def test_export_of_an_exact_multiple_of_the_chunk_ends_with_an_empty_read():
    bulk_logs(6)

    with CaptureQueriesContext(connection) as queries:
        exported = list(logs_export_rows(filters=LogFilter(), chunk_size=3))

    assert len(exported) == 6
    assert len(queries) == 3
