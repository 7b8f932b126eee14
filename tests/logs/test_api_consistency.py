"""50 000 logs: list, stat and export answer exactly what a plain ORM query over the same rows
answers, for seeded random filter combinations, as admin and as a user."""

from __future__ import annotations

import csv
import io
import random
from typing import Any

import pytest
import time_machine
from django.db.models import Q, Sum

from logs.events import LogEvent
from logs.models import Log
from usage.services import logs_ingest

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

NOW = 1_767_225_600
SPAN = 30 * 86_400
USERS = {1000 + i: f"user{1000 + i}" for i in range(12)} | {1012: "ops_team"}
MODELS = ["gpt-4o", "gpt-4o-mini", "claude-3-5-sonnet", "o1_preview", "deepseek-v3", "QwQ-32B"]
TOKENS = ["default", "ci", "batch_jobs", "prod"]
GROUPS = ["default", "vip", "svip"]
TYPE_WEIGHTS = {2: 80, 5: 8, 1: 4, 3: 3, 4: 2, 6: 3}
COUNT = 50_000


def generated_logs(rng: random.Random) -> list[dict[str, Any]]:
    rows = []
    types = list(TYPE_WEIGHTS)
    weights = list(TYPE_WEIGHTS.values())
    for i in range(COUNT):
        user_id = rng.choice(list(USERS))
        # a few hundred logs in the last two minutes, so that rpm/tpm are not trivially 0
        created_at = NOW - rng.randrange(120) if i % 200 == 0 else NOW - rng.randrange(SPAN)
        rows.append(
            {
                "created_at": created_at,
                "type": rng.choices(types, weights)[0],
                "user_id": user_id,
                "username": USERS[user_id],
                "token_name": rng.choice(TOKENS),
                "model_name": rng.choice(MODELS),
                "quota": rng.randrange(5000),
                "prompt_tokens": rng.randrange(2000),
                "completion_tokens": rng.randrange(800),
                "channel_id": rng.randrange(6),
                "group": rng.choice(GROUPS),
                "request_id": f"req-{i}" if i % 7 == 0 else "",
            }
        )
    return rows


def load_big_table() -> None:
    """The 50 000 logs, through the ingest service in batches of 1000 (the real writer)."""
    events = [LogEvent(**row) for row in generated_logs(random.Random(20250101))]
    for first in range(0, COUNT, 1000):
        logs_ingest(events=events[first : first + 1000])


def pattern_of(rng: random.Random, field: str, value: str) -> tuple[str, Q]:
    """A `%` pattern that matches `value` and the ORM condition on `field` that means the same
    (case-insensitive, `_` literal: Django escapes it in these lookups)."""
    form = rng.choice(["prefix", "suffix", "infix"])
    if form == "prefix":
        part = value[: rng.randrange(2, 5)]
        return f"{part}%", Q(**{f"{field}__istartswith": part})
    if form == "suffix":
        part = value[-rng.randrange(2, 5) :]
        return f"%{part}", Q(**{f"{field}__iendswith": part})
    start = rng.randrange(0, len(value) - 2)
    part = value[start : start + 2]
    return f"%{part}%", Q(**{f"{field}__icontains": part})


def random_filters(rng: random.Random, *, admin: bool) -> tuple[dict[str, Any], Q, Q, Q]:
    """Query parameters and the equivalent ORM conditions: of the filters but the time range
    and the type, of the time range (the rates ignore it) and of the type (the list applies it,
    the stat counts consume logs whatever it is)."""
    params: dict[str, Any] = {}
    condition, time_range, of_type = Q(), Q(), Q()
    chosen = rng.sample(
        ["time", "type", "token", "model", "channel", "group", "request_id"]
        + (["username"] if admin else []),
        k=rng.randrange(1, 4),
    )
    for name in chosen:
        if name == "time":
            start = NOW - rng.randrange(SPAN)
            end = start + rng.randrange(1, SPAN // 3)
            params |= {"start_timestamp": start, "end_timestamp": end}
            time_range = Q(created_at__gte=start, created_at__lte=end)
        elif name == "type":
            params["type"] = rng.choice(list(TYPE_WEIGHTS))
            of_type = Q(type=params["type"])
        elif name == "token":
            params["token_name"] = rng.choice(TOKENS)
            condition &= Q(token_name=params["token_name"])
        elif name == "model":
            model = rng.choice(MODELS)
            if rng.random() < 0.5:
                params["model_name"] = model
                condition &= Q(model_name=model)
            else:
                params["model_name"], q = pattern_of(rng, "model_name", model)
                condition &= q
        elif name == "channel":
            params["channel"] = rng.randrange(1, 6)
            if admin:  # the user variants do not read `channel`
                condition &= Q(channel_id=params["channel"])
        elif name == "group":
            params["group"] = rng.choice(GROUPS)
            condition &= Q(group=params["group"])
        elif name == "request_id":
            params["request_id"] = f"req-{rng.randrange(COUNT // 7) * 7}"
            condition &= Q(request_id=params["request_id"])
        else:
            username = rng.choice(list(USERS.values()))
            if rng.random() < 0.5:
                params["username"] = username
                condition &= Q(username=username)
            else:
                params["username"], q = pattern_of(rng, "username", username)
                condition &= q
    return params, condition, time_range, of_type


def newest_first_ids(condition: Q) -> list[int]:
    return list(
        Log.objects.filter(condition).order_by("-created_at", "-id").values_list("id", flat=True)
    )


def check_list(
    client, path: str, params: dict[str, Any], expected: list[int], context: str = ""
) -> None:
    first = client.get(path, {**params, "page_size": 100}).json()["data"]
    assert first["total"] == min(len(expected), 10_000), context
    assert first.get("total_is_capped", False) == (len(expected) > 10_000), context
    assert [item["id"] for item in first["items"]] == expected[:100], context
    third = client.get(path, {**params, "page_size": 50, "p": 3}).json()["data"]
    assert [item["id"] for item in third["items"]] == expected[100:150], context
    if first["next_cursor"]:
        after = client.get(path, {**params, "ps": 100, "cursor": first["next_cursor"]})
        assert [item["id"] for item in after.json()["data"]["items"]] == expected[100:200], context


def check_stat(
    client,
    path: str,
    params: dict[str, Any],
    condition: Q,
    time_range: Q,
    context: str = "",
) -> None:
    typed = condition & Q(type=2)
    quota = Log.objects.filter(typed & time_range).aggregate(q=Sum("quota"))["q"] or 0
    recent = Log.objects.filter(typed, created_at__gte=NOW - 60)
    tokens = recent.values_list("prompt_tokens", "completion_tokens")
    expected = {"quota": quota, "rpm": recent.count(), "tpm": sum(p + c for p, c in tokens)}
    with time_machine.travel(NOW, tick=False):
        assert client.get(path, params).json()["data"] == expected, context


def check_export(
    client, path: str, params: dict[str, Any], expected: list[int], context: str = ""
) -> None:
    response = client.get(path, params)
    reader = csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode()))
    exported = [(int(row["id"]), int(row["quota"])) for row in reader]
    assert [log_id for log_id, _ in exported] == expected, context
    quota = dict(Log.objects.filter(id__in=expected).values_list("id", "quota"))
    assert all(quota[log_id] == value for log_id, value in exported), context


def test_reads_equal_plain_orm_queries_on_50000_logs(admin_api, user_api):
    # One test, one load: the 50 000 rows live in this test's transaction and vanish with it.
    load_big_table()
    assert Log.objects.count() == COUNT

    check_list(admin_api, "/api/log/", {}, newest_first_ids(Q()))  # capped at 10 000
    for seed in range(12):  # a dozen admin filter combinations
        rng = random.Random(seed)
        params, condition, time_range, of_type = random_filters(rng, admin=True)
        expected = newest_first_ids(condition & of_type & time_range)
        context = f"seed {seed}, admin, {params}"
        check_list(admin_api, "/api/log/", params, expected, context)
        check_stat(admin_api, "/api/log/stat", params, condition, time_range, context)
        check_export(admin_api, "/api/log/export", params, expected, context)
    for seed in range(100, 106):  # and six of a user's
        rng = random.Random(seed)
        params, condition, time_range, of_type = random_filters(rng, admin=False)
        condition &= Q(user_id=1000)
        expected = newest_first_ids(condition & of_type & time_range)
        context = f"seed {seed}, user, {params}"
        check_list(user_api, "/api/log/self", params, expected, context)
        check_stat(user_api, "/api/log/self/stat", params, condition, time_range, context)
        check_export(user_api, "/api/log/self/export", params, expected, context)
