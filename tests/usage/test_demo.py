"""The demo data generator (usage/demo.py) and `manage.py seed_demo`."""

from __future__ import annotations

import io
from collections import Counter
from datetime import UTC, datetime

import pytest
import time_machine
from django.core.management import call_command
from django.db.models import Count, Q

from accounts.models import Channel, User
from logs.events import LogEvent, event_parse
from logs.models import Log
from usage.demo import CHANNELS, CHUNK, MODELS, DemoGenerator

NOW = 1_750_000_000  # Sunday 2025-06-15 15:06:40 UTC
DAYS = 14
EVENTS = 3000


@pytest.fixture(autouse=True)
def frozen_time():
    with time_machine.travel(NOW, tick=False):
        yield


def generate(**overrides: object) -> list[dict]:
    options: dict = {"seed": 7, "days": DAYS, "events": EVENTS, "now": NOW, **overrides}
    return list(DemoGenerator(**options).events())


def test_same_seed_gives_the_same_events_and_another_seed_others():
    first = generate()

    assert generate() == first
    assert generate(seed=8) != first


def test_request_ids_depend_only_on_seed_and_position():
    shorter = generate(days=3, now=NOW - 86400, events=100)

    assert [e["request_id"] for e in shorter] == [e["request_id"] for e in generate()[:100]]
    assert len({e["request_id"] for e in generate()}) == EVENTS


def test_chunks_can_be_generated_independently():
    generator = DemoGenerator(seed=7, days=DAYS, events=CHUNK + 10, now=NOW)

    assert generator.chunk(1) == list(generator.events())[CHUNK:]


def test_every_generated_event_passes_ingest_validation():
    parsed = [event_parse(raw, now=NOW) for raw in generate(users=200)]

    assert all(isinstance(event, LogEvent) for event in parsed)


def test_more_users_than_the_named_ones_are_added_deterministically():
    events = generate(users=200)
    users = Counter(e["user_id"] for e in events)

    assert generate(users=200) == events
    assert len(users) > 100
    assert all(101 <= uid <= 110 or 10001 <= uid <= 10190 for uid in users)
    # Zipf-like: the busiest synthetic user far ahead of the median one.
    synthetic = sorted((n for uid, n in users.items() if uid > 10000), reverse=True)
    assert synthetic[0] > 10 * synthetic[len(synthetic) // 2]


def test_events_follow_the_daily_and_weekly_rhythm():
    events = generate(events=20_000, days=28)
    times = [datetime.fromtimestamp(e["created_at"], tz=UTC) for e in events]
    by_hour = Counter(t.hour for t in times)
    by_weekday = Counter(t.weekday() for t in times)

    assert times == sorted(times)
    assert events[0]["created_at"] >= NOW - 28 * 86400 and events[-1]["created_at"] <= NOW
    assert sum(by_hour[h] for h in range(9, 18)) > 3 * sum(by_hour[h] for h in range(0, 9))
    assert min(by_weekday[d] for d in range(5)) > 1.5 * max(by_weekday[5], by_weekday[6])


def test_quota_is_tokens_times_model_and_group_ratio():
    for event in generate()[:500]:
        if event["type"] != 2:
            continue
        other = event["other"]
        weighted = (
            event["prompt_tokens"]
            - event["cache_read_tokens"]
            + event["cache_read_tokens"] * other["cache_ratio"]
            + event["cache_creation_tokens"] * 1.25
            + event["completion_tokens"] * other["completion_ratio"]
        )
        expected = max(1, round(weighted * other["model_ratio"] * other["group_ratio"]))
        assert event["quota"] == expected


def test_seed_demo_stores_a_realistic_history(db):
    out = io.StringIO()

    call_command("seed_demo", events=EVENTS, days=DAYS, seed=7, no_progress=True, stdout=out)

    assert out.getvalue().strip() == (
        f"Demo data (seed 7, {DAYS} days): {EVENTS:,} events stored, 0 already there, 0 rejected."
    )
    logs = Log.objects.all()
    assert logs.count() == EVENTS
    assert logs.filter(created_at__gte=NOW - DAYS * 86400, created_at__lte=NOW).count() == EVENTS
    assert logs.values("user_id").distinct().count() >= 8
    assert logs.values("model_name").exclude(model_name="").distinct().count() >= 12
    assert logs.values("channel_id").exclude(channel_id=0).distinct().count() >= 6
    assert logs.values("token_id").exclude(token_id=0).distinct().count() >= 10
    assert set(logs.values_list("group", flat=True).distinct()) == {"default", "vip", "svip"}
    counts = logs.aggregate(
        errors=Count("id", filter=Q(type=5)),
        errors_billed=Count("id", filter=Q(type=5) & ~Q(quota=0)),
        streams=Count("id", filter=Q(is_stream=True, first_token_ms__isnull=False)),
        streams_without_first_token=Count("id", filter=Q(is_stream=True, type=2,
                                                         first_token_ms__isnull=True)),
        cached=Count("id", filter=Q(cache_read_tokens__gt=0)),
        cache_writes=Count("id", filter=Q(cache_creation_tokens__gt=0)),
        topups=Count("id", filter=Q(type=1)),
    )  # fmt: skip
    assert 0.02 * EVENTS <= counts["errors"] <= 0.05 * EVENTS
    assert counts["errors_billed"] == 0
    assert counts["streams"] > 0.4 * EVENTS
    assert counts["streams_without_first_token"] == 0
    assert counts["cached"] > 0.1 * EVENTS
    assert counts["cache_writes"] > 0
    assert counts["topups"] > 0
    error = logs.filter(type=5).first()
    assert error is not None and error.content.startswith("status_code=")
    assert error.other["admin_info"]["use_channel"]
    consume = logs.filter(type=2).first()
    assert consume is not None
    assert set(consume.other) >= {"model_ratio", "group_ratio", "completion_ratio", "frt",
                                  "admin_info", "request_path"}  # fmt: skip
    # Users, channels and the rename of one user two thirds into the history.
    assert User.objects.filter(id__gte=101, id__lte=110).count() == 10
    assert User.objects.get(id=109).username == "ivan.petrov"
    assert dict(Channel.objects.values_list("id", "name")) == CHANNELS
    assert {m.name for m in MODELS} >= set(logs.exclude(model_name="").values_list(
        "model_name", flat=True))  # fmt: skip


def test_seed_demo_twice_does_not_double_the_data(db):
    call_command("seed_demo", events=500, days=2, seed=3, no_progress=True, stdout=io.StringIO())
    first = list(Log.objects.order_by("request_id").values_list("request_id", "created_at",
                                                                 "quota"))  # fmt: skip
    out = io.StringIO()

    call_command("seed_demo", events=500, days=2, seed=3, no_progress=True, stdout=out)

    assert "0 events stored, 500 already there" in out.getvalue()
    assert (
        list(Log.objects.order_by("request_id").values_list("request_id", "created_at", "quota"))
        == first
    )


def test_seed_demo_shows_progress_on_stderr(db):
    err = io.StringIO()

    call_command("seed_demo", events=2500, days=1, stdout=io.StringIO(), stderr=err)

    lines = err.getvalue().splitlines()
    assert lines[0].startswith("[") and lines[-1] == (
        "[##############################] 100% 2,500/2,500 events"
    )


@pytest.mark.parametrize("offset", [0, 1, 1799, 3000, 3599])
def test_a_span_shorter_than_an_hour_works_at_any_time_of_the_hour(offset):
    now = NOW - NOW % 3600 + offset

    events = list(DemoGenerator(seed=1, days=600 / 86400, events=50, now=now).events())

    assert len(events) == 50
    assert all(now - 600 <= event["created_at"] <= now for event in events)
