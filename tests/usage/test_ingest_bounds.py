"""No valid input can break a sum (issue 10, section 3; reliability finding D4.1): per-event bounds
keep every sum within 64 bits on both databases (docs/ingest.md, "Bounds"). At the bounds an
event is accepted and every sum is exact; one past a bound, the item is rejected with its index
and the bound while the rest of the batch is stored; data stored before the bounds existed makes
the sums saturate instead of refusing batches (PostgreSQL) or turning them into floats (SQLite),
and verify_usage names it."""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
import time_machine
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test import Client
from hypothesis import given, settings
from hypothesis import strategies as st

from logs.events import (
    MAX_COUNTER,
    MAX_DURATION_MS,
    MAX_TOKENS,
    MAX_USE_TIME,
    SUM_CAPACITY,
    LogEvent,
    event_parse,
)
from logs.models import IngestKey, Log
from tests.conftest import ApiClient
from usage.models import UsageChannel, UsageSite, UsageUser, UsageUserTotal
from usage.rollups import MEASURES

NOW = 1_750_000_000  # 2025-06-15T15:06:40Z, a Sunday
DAY0 = NOW - NOW % 86400  # 2025-06-15T00:00Z
QUARTER = NOW - NOW % 900 - 900  # 14:45Z: a whole quarter-hour before now
DAY = 86400

# The documented bounds (docs/ingest.md, "Bounds"), written out: the code's constants must match.
B = 2**31 - 1  # every summed counter; also the four token classes of one event together
USE_TIME = 2_147_483  # seconds: use_time * 1000 is duration_ms, within B
CAPACITY = 2**32  # events one sum counts at most
INT64 = 2**63 - 1
OLD_MAX = 2**63 - 1  # what ingest accepted per counter before (docs said 0 .. 2^63-1)
TOTAL = "prompt_tokens + completion_tokens + cache_read_tokens + cache_creation_tokens"
RAW_SUMS = (
    "COUNT(*), SUM(quota), SUM(prompt_tokens), SUM(completion_tokens), SUM(cache_read_tokens), "
    "SUM(cache_creation_tokens), SUM(duration_ms), SUM(COALESCE(first_token_ms, 0)), "
    "COUNT(first_token_ms)"
)


@pytest.fixture(autouse=True)
def frozen_time():
    with time_machine.travel(NOW, tick=False):
        yield


def post(api: ApiClient, events: list[dict[str, Any]]) -> Any:
    return api.post("/api/log/", {"logs": events}, new_api_user=False)


def event(request_id: str, created_at: int = QUARTER, **fields: Any) -> dict[str, Any]:
    """A consume event of a gateway user no local account shadows (D4.1's user)."""
    return {
        "request_id": request_id,
        "created_at": created_at,
        "user_id": 1600,
        "username": "big",
        "model_name": "m-bounds",
        "channel_id": 7,
        **fields,
    }


def stat(api: ApiClient) -> Any:
    response = api.get("/api/log/stat")
    assert response.status_code == 200
    return response.json()


def data(api: ApiClient, **params: Any) -> Any:
    response = api.get("/api/data/", {"tz": "UTC", "end_timestamp": NOW, **params})
    assert response.status_code == 200
    return response.json()


def site_page(admin_api: ApiClient) -> int:
    client = Client()
    client.force_login(admin_api.user)  # type: ignore[arg-type]
    return client.get("/site/").status_code


def verify() -> str:
    out = StringIO()
    call_command("verify_usage", stdout=out)
    return out.getvalue()


def logs_total() -> tuple[int, ...]:
    """MEASURES' sums over every log, in SQL."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {RAW_SUMS} FROM logs")  # noqa: S608
        return tuple(int(value) for value in cursor.fetchone())


def logs_grouped(span: int, dims: tuple[str, ...]) -> dict[tuple[Any, ...], tuple[int, ...]]:
    """A plain GROUP BY over the raw logs, per bucket of `span` and `dims`: MEASURES' sums."""
    keys = ", ".join([f"created_at - created_at % {span}", *(f'"{name}"' for name in dims)])
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {keys}, {RAW_SUMS} FROM logs GROUP BY {keys}")  # noqa: S608
        width = 1 + len(dims)
        return {
            tuple(row[:width]): tuple(int(value) for value in row[width:])
            for row in cursor.fetchall()
        }


def rollup_rows(model: Any, span: int, dims: tuple[str, ...]) -> dict[tuple[Any, ...], tuple]:
    rows = model.objects.filter(span=span).values_list("bucket", *dims, *MEASURES)
    return {tuple(row[: 1 + len(dims)]): tuple(row[1 + len(dims) :]) for row in rows}


def assert_rollups_equal_the_logs() -> None:
    """Every span of the site table and the user day table, against a GROUP BY of the logs:
    same keys, same integer sums (no float on SQLite)."""
    for model, dims in (
        (UsageSite, ("model_name", "type")),
        (UsageUserTotal, ("user_id", "username", "type")),
    ):
        for span in model.objects.values_list("span", flat=True).distinct():
            rows = rollup_rows(model, span, dims)
            assert rows == logs_grouped(span, dims)
            assert all(type(value) is int for sums in rows.values() for value in sums)


def test_the_bounds_keep_a_sum_of_capacity_events_within_64_bits():
    assert (SUM_CAPACITY, MAX_COUNTER, MAX_TOKENS, MAX_DURATION_MS, MAX_USE_TIME) == (
        CAPACITY,
        B,
        B,
        B,
        USE_TIME,
    )
    # Every measure, and every sum of token classes, adds at most B per event.
    assert CAPACITY * B <= INT64
    assert USE_TIME * 1000 <= B < (USE_TIME + 1) * 1000
    # Two events at the old maximum already overflowed a sum.
    assert 2 * OLD_MAX > INT64
    # A UTC day's rollup row (the coarsest) reaches the capacity only at 49,710 events/s all
    # day, 2.5x the ingest ceiling of one primary (docs/scaling.md).
    assert CAPACITY // DAY == 49_710


def test_an_event_at_every_bound_is_accepted_and_every_sum_is_exact(ingest_api, admin_api):
    events = [
        event("e1", quota=B, prompt_tokens=B, duration_ms=B, first_token_ms=B),
        event("e2", created_at=QUARTER + 1, quota=B, completion_tokens=B, use_time=USE_TIME),
        event("e3", created_at=QUARTER + 2, quota=B, cache_read_tokens=B, use_time=USE_TIME,
              duration_ms=B, first_token_ms=0),
        event("e4", created_at=QUARTER + 3, quota=B, cache_creation_tokens=B),
        event("e5", created_at=QUARTER + 4, prompt_tokens=B - 3, completion_tokens=1,
              cache_read_tokens=1, cache_creation_tokens=1),
    ]  # fmt: skip

    response = post(ingest_api, events)

    assert response.status_code == 200
    assert response.json()["data"] == {"accepted": 5, "duplicates": 0, "rejected": 0, "errors": []}
    assert list(Log.objects.order_by("request_id").values_list("use_time", "duration_ms")) == [
        (USE_TIME, B),
        (USE_TIME, USE_TIME * 1000),
        (USE_TIME, B),
        (0, 0),
        (0, 0),
    ]
    # requests, quota, the four token classes, duration_ms, first_token_ms, first_token_count
    sums = (5, 4 * B, 2 * B - 3, B + 1, B + 1, B + 1, 2 * B + USE_TIME * 1000, B, 2)
    assert logs_total() == sums
    assert logs_grouped(DAY, ()) == {(DAY0,): sums}
    assert_rollups_equal_the_logs()
    assert stat(admin_api)["data"] == {"quota": 4 * B, "rpm": 0, "tpm": 0}
    assert data(admin_api, start_timestamp=DAY0, granularity="day")["data"] == [
        {"model_name": "m-bounds", "count": 5, "quota": 4 * B, "token_used": 3 * B - 2,
         "created_at": DAY0, "user_id": 0, "username": ""}
    ]  # fmt: skip
    assert verify() == "OK: 11 rollup rows match the raw logs, 2025-06-15 .. 2025-06-15 (UTC).\n"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"quota": B + 1}, "quota: must be <= 2147483647"),
        ({"prompt_tokens": B + 1}, "prompt_tokens: must be <= 2147483647"),
        ({"completion_tokens": B + 1}, "completion_tokens: must be <= 2147483647"),
        ({"cache_read_tokens": B + 1}, "cache_read_tokens: must be <= 2147483647"),
        ({"cache_creation_tokens": B + 1}, "cache_creation_tokens: must be <= 2147483647"),
        ({"duration_ms": B + 1}, "duration_ms: must be <= 2147483647"),
        ({"first_token_ms": B + 1}, "first_token_ms: must be <= 2147483647"),
        ({"use_time": USE_TIME + 1}, "use_time: must be <= 2147483"),
        ({"use_time": USE_TIME + 1, "duration_ms": B}, "use_time: must be <= 2147483"),
        (
            {"prompt_tokens": B, "completion_tokens": 1},
            f"{TOTAL}: must be <= 2147483647 together, not 2147483648",
        ),
        (
            {"cache_read_tokens": 2**30, "cache_creation_tokens": 2**30, "prompt_tokens": 5},
            f"{TOTAL}: must be <= 2147483647 together, not 2147483653",
        ),
        (
            {"quota": B + 1, "prompt_tokens": B + 1, "completion_tokens": B},
            "quota: must be <= 2147483647; prompt_tokens: must be <= 2147483647",
        ),
    ],
)
def test_one_past_a_bound_is_rejected_per_item_and_the_rest_stored(ingest_api, fields, message):
    response = post(ingest_api, [event("control", quota=3), event("bad", **fields)])

    assert response.status_code == 200
    assert response.json() == {
        "success": True,
        "message": "",
        "data": {
            "accepted": 1,
            "duplicates": 0,
            "rejected": 1,
            "errors": [{"index": 1, "message": message}],
        },
    }
    assert list(Log.objects.values_list("request_id", flat=True)) == ["control"]
    assert list(IngestKey.objects.values_list("request_id", flat=True)) == ["control"]
    assert_rollups_equal_the_logs()


def test_many_events_at_the_bounds_sum_exactly_in_one_bucket_and_across_buckets(
    ingest_api, admin_api
):
    def at_bounds(request_id: str, created_at: int, k: int) -> dict[str, Any]:
        return event(request_id, created_at, quota=B, prompt_tokens=B - k % 7,
                     completion_tokens=k % 7, duration_ms=B, first_token_ms=B)  # fmt: skip

    one_bucket = [at_bounds(f"q{k}", QUARTER + k % 900, k) for k in range(1000)]
    # One an hour back from the last quarter-hour: 1000 hours, 42 UTC days, 7 weeks.
    across = [at_bounds(f"h{k}", QUARTER - 3600 * k, k) for k in range(1000)]
    events = one_bucket + across
    n = len(events)
    # With the old maximum two of these events overflowed a sum; within the capacity, all of
    # them at the bounds sum exactly (and so would 2^32 of them).
    assert n * OLD_MAX > INT64 and n <= CAPACITY and CAPACITY * B <= INT64

    for batch in (one_bucket, across):
        assert post(ingest_api, batch).json()["data"]["accepted"] == 1000

    quota = n * B
    assert quota == sum(e["quota"] for e in events) == 4_294_967_294_000
    completion = 2 * sum(k % 7 for k in range(1000))
    assert logs_total() == (n, quota, n * B - completion, completion, 0, 0, quota, quota, n)
    assert_rollups_equal_the_logs()
    assert stat(admin_api)["data"] == {"quota": quota, "rpm": 0, "tpm": 0}
    # /api/data/ per UTC day = the GROUP BY of the logs per day, and sums to every event.
    rows = data(admin_api, start_timestamp=QUARTER - 3600 * 1000, granularity="day")["data"]
    assert {row["created_at"]: (row["count"], row["quota"], row["token_used"]) for row in rows} == {
        day: (count, q, prompt + completion)
        for (day, _), (count, q, prompt, completion, *_) in logs_grouped(DAY, ("type",)).items()
    }
    assert sum(row["quota"] for row in rows) == quota
    assert sum(row["token_used"] for row in rows) == n * B
    weeks = data(admin_api, start_timestamp=QUARTER - 3600 * 1000, granularity="week")["data"]
    assert sum(row["quota"] for row in weeks) == quota
    assert verify().startswith("OK: ")


def test_a_sum_of_capacity_events_at_the_bounds_is_read_exactly(admin_api):
    """Rollup rows as a deployment at the capacity would hold them (2^32 events at the bounds
    over four days of one week; written directly: no test can ingest 2^32 events). The total
    2^63 - 2^32 - 10 is not a float64 value, so a sum through floats would show."""
    days = [DAY0 - DAY * k for k in (10, 9, 8, 7)]  # Thursday 2025-06-05 .. Sunday 06-08
    for i, bucket in enumerate(days, start=1):
        UsageSite.objects.create(
            span=DAY, bucket=bucket, model_name="m-cap", type=2, requests=CAPACITY // 4,
            quota=CAPACITY // 4 * B - i, prompt_tokens=CAPACITY // 8 * B - i,
            completion_tokens=CAPACITY // 8 * B - i, duration_ms=CAPACITY // 4 * B,
        )  # fmt: skip
    total = CAPACITY * B - 10
    assert total == 2**63 - 2**32 - 10 and float(total) != total

    assert stat(admin_api)["data"] == {"quota": total, "rpm": 0, "tpm": 0}
    assert data(admin_api, start_timestamp=days[0], granularity="week")["data"] == [
        {"model_name": "m-cap", "count": CAPACITY, "quota": total, "token_used": total - 10,
         "created_at": DAY0 - 13 * DAY, "user_id": 0, "username": ""}
    ]  # fmt: skip


@pytest.mark.parametrize("field", ["quota", "prompt_tokens", "completion_tokens"])
def test_the_poison_batch_of_d41_is_rejected_per_item_not_refused(ingest_api, admin_api, field):
    # D4.1: PostgreSQL answered this 503 "retry it" on every try; SQLite stored it, and the
    # site page answered 500 and verify_usage crashed from then on.
    batch = [
        event("repro-small", created_at=NOW - 100, quota=5),
        event("repro-max", created_at=NOW - 5, **{field: 9223372036854775807}),
    ]
    rejected = {"index": 1, "message": f"{field}: must be <= 2147483647"}

    first, retry = post(ingest_api, batch), post(ingest_api, batch)

    assert (first.status_code, retry.status_code) == (200, 200)
    assert first.json()["data"] == {
        "accepted": 1, "duplicates": 0, "rejected": 1, "errors": [rejected]
    }  # fmt: skip
    assert retry.json()["data"] == {
        "accepted": 0, "duplicates": 1, "rejected": 1, "errors": [rejected]
    }  # fmt: skip
    assert list(Log.objects.values_list("request_id", flat=True)) == ["repro-small"]
    assert stat(admin_api)["data"] == {"quota": 5, "rpm": 0, "tpm": 0}
    assert site_page(admin_api) == 200
    assert verify() == "OK: 11 rollup rows match the raw logs, 2025-06-15 .. 2025-06-15 (UTC).\n"


def legacy_event_stored(ingest_api: ApiClient) -> int:
    """Make the database look as an ingest before the bounds left it: a log with quota 2^63 - 1
    whose rollup rows hold it; SQLite also turned them into floats once a later event added to
    them. Returns the log's id."""
    legacy = {"user_id": 1601, "username": "legacy", "model_name": "m-legacy", "channel_id": 9}
    assert post(ingest_api, [event("legacy", created_at=NOW - 3000, **legacy)]).status_code == 200
    log = Log.objects.get(request_id="legacy")
    Log.objects.filter(pk=log.pk).update(quota=INT64)
    rows = (
        UsageSite.objects.filter(model_name="m-legacy"),
        UsageChannel.objects.filter(channel_id=9),
        UsageUserTotal.objects.filter(user_id=1601),
        UsageUser.objects.filter(user_id=1601),
    )
    for queryset in rows:
        queryset.update(quota=INT64)
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            for queryset in rows:
                table = queryset.model._meta.db_table
                # What SQLite made of INT64 + 5: a REAL (9.223372036854776e18).
                cursor.execute(f"UPDATE {table} SET quota = quota + 5 WHERE quota = {INT64}")  # noqa: S608
                cursor.execute(f"SELECT DISTINCT typeof(quota) FROM {table} WHERE quota > {B}")  # noqa: S608
                assert cursor.fetchall() == [("real",)]
    return log.pk


def test_sums_past_64_bits_from_older_data_saturate_and_verify_usage_names_them(
    ingest_api, admin_api
):
    legacy_id = legacy_event_stored(ingest_api)
    later = event("later", created_at=NOW - 2990, user_id=1601, username="legacy",
                  model_name="m-legacy", channel_id=9, quota=7)  # fmt: skip

    # Before: PostgreSQL refused this batch with 503 on every retry (bigint out of range);
    # SQLite stored it and kept the sums as floats.
    response = post(ingest_api, [later, event("other", quota=11)])

    assert response.status_code == 200
    assert response.json()["data"] == {"accepted": 2, "duplicates": 0, "rejected": 0, "errors": []}
    for model in (UsageSite, UsageChannel, UsageUserTotal, UsageUser):
        cells = model.objects.filter(quota__gt=B).values_list("quota", flat=True)
        assert [(type(cell), cell) for cell in cells] == [(int, INT64)] * len(cells)
        assert cells
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("SELECT DISTINCT typeof(quota) FROM usage_site")
            assert cursor.fetchall() == [("integer",)]
    # Reads over those rows saturate at 2^63 - 1 instead of failing (or showing a float).
    assert stat(admin_api)["data"] == {"quota": INT64, "rpm": 0, "tpm": 0}
    rows = data(admin_api, start_timestamp=DAY0, granularity="day")["data"]
    assert [(row["model_name"], row["count"], row["quota"]) for row in rows] == [
        ("m-bounds", 1, 11),
        ("m-legacy", 2, INT64),
    ]
    assert site_page(admin_api) == 200
    out = StringIO()
    with pytest.raises(CommandError) as refused:
        call_command("verify_usage", stdout=out)
    # The legacy rows differ from their logs, whose exact sum passes 2^63 - 1.
    assert f"quota={INT64 + 7}," in out.getvalue()
    assert f"1 logs hold counters past the ingest bounds (stored before them; docs/ingest.md, " \
        f"Bounds), ids {legacy_id}\n" in out.getvalue()  # fmt: skip
    assert str(refused.value).startswith(
        "11 rollup rows differ from the raw logs; 1 logs are past the ingest bounds (correct or "
        "delete them first), 2025-06-15 .. 2025-06-15 (UTC)"
    )


# --- the bounds as a property of the validation -------------------------------------------

BOUNDS = {
    "quota": B,
    "prompt_tokens": B,
    "completion_tokens": B,
    "cache_read_tokens": B,
    "cache_creation_tokens": B,
    "use_time": USE_TIME,
    "duration_ms": B,
    "first_token_ms": B,
}
TOKENS = ("prompt_tokens", "completion_tokens", "cache_read_tokens", "cache_creation_tokens")
NEAR = st.sampled_from([0, 1, 2**30, USE_TIME, USE_TIME + 1, B - 1, B, B + 1, 2**32, INT64])
COUNTS = st.dictionaries(
    st.sampled_from(sorted(BOUNDS)), NEAR | st.integers(min_value=0, max_value=2**64 - 1)
)


@settings(max_examples=400, deadline=None)
@given(fields=COUNTS)
def test_an_event_is_accepted_exactly_when_every_sum_it_adds_to_stays_within_the_bound(fields):
    parsed = event_parse({"user_id": 1600, "username": "big", **fields}, now=NOW)

    problems = [
        f"{name}: must be <= {bound}"
        for name, bound in BOUNDS.items()
        if fields.get(name, 0) > bound
    ]
    tokens = sum(fields.get(name, 0) for name in TOKENS if fields.get(name, 0) <= B)
    if tokens > B:
        problems.append(f"{TOTAL}: must be <= {B} together, not {tokens}")
    if problems:
        assert isinstance(parsed, list) and sorted(parsed) == sorted(problems)
        return
    assert isinstance(parsed, LogEvent)
    # What one event adds to any measure or any sum of token classes: at most B, so that
    # CAPACITY events stay within 64 bits.
    added = (
        parsed.quota,
        sum(getattr(parsed, name) for name in TOKENS),
        parsed.duration_ms,
        parsed.first_token_ms or 0,
    )
    assert max(added) <= B
