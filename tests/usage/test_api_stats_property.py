"""Endpoint-level property test: random logs across months, users, models, keys and types; for
random ranges, zones and granularities, every statistics endpoint's numbers (new-api's
`/api/data/users` included) equal a plain GROUP BY over the raw logs computed here
independently (Python over `Log.objects.values()`, bucketing with zoneinfo directly, not with
usage.buckets).

A seeded random loop (reproducible: a failure names its seed and iteration)."""

from __future__ import annotations

import calendar
import os
import random
from collections import defaultdict
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from logs.models import Log
from tests.factories import log_event
from tests.usage.conftest import at

# Another seed or more iterations, to explore: STATS_SEED=7 STATS_ITERATIONS=200 pytest -k property
SEED = int(os.environ.get("STATS_SEED", "20250410"))
ITERATIONS = int(os.environ.get("STATS_ITERATIONS", "12"))
UNIT = 500000  # QUOTA_PER_UNIT
DAY = 86400
FIRST = at("2024-09-20T00:00:00Z")
NOW = at("2025-04-10T09:17:23Z")
USERS = {1000: "user1000", 1001: "user1001", 1: "admin"}
MODELS = ["gpt-4o", "gpt-4o-mini", "claude-3", "o1", ""]
ENDPOINTS = ["", "/v1/chat/completions", "/v1/responses", "/v1/messages"]
# Whole-hour DST changes (New York, Berlin, Adelaide, St John's), half- and quarter-hour
# offsets (Kolkata, Kathmandu, St John's), and Chatham (+12:45/+13:45), whose DST change falls at
# 02:45 local: wall-clock hours there are not what `replace(minute=0)` computes, so it is only
# used with day and week buckets.
ZONES = [
    "UTC",
    "Asia/Kolkata",
    "Asia/Kathmandu",
    "America/New_York",
    "Europe/Berlin",
    "Australia/Adelaide",
    "America/St_Johns",
]
DAY_ZONES = [*ZONES, "Pacific/Chatham"]
FIELDS = (
    "id",
    "created_at",
    "type",
    "user_id",
    "token_id",
    "token_name",
    "model_name",
    "quota",
    "prompt_tokens",
    "completion_tokens",
    "cache_read_tokens",
    "cache_creation_tokens",
    "duration_ms",
    "is_stream",
    "endpoint",
)


# --- the independent reference ---------------------------------------------------------------


def local_midnight(day: date, tz: ZoneInfo) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=tz).timestamp())


def floor(ts: int, tz: ZoneInfo, granularity: str) -> int:
    local = datetime.fromtimestamp(ts, tz)
    if granularity == "hour":
        return int(local.replace(minute=0, second=0).timestamp())
    day = local.date()
    if granularity == "week":
        day -= timedelta(days=day.weekday())
    return local_midnight(day, tz)


def sums(logs: list[dict[str, Any]]) -> dict[str, int]:
    total: defaultdict[str, int] = defaultdict(int)
    for log in logs:
        total["requests"] += 1
        for name in (
            "quota",
            "prompt_tokens",
            "completion_tokens",
            "cache_read_tokens",
            "cache_creation_tokens",
            "duration_ms",
        ):
            total[name] += log[name]
    total["tokens"] = (
        total["prompt_tokens"]
        + total["completion_tokens"]
        + total["cache_read_tokens"]
        + total["cache_creation_tokens"]
    )
    return total


def consumed(logs, user_id=None, start=None, end=None, tokens=None, models=None, username=None):
    return [
        log
        for log in logs
        if log["type"] == 2
        and (user_id is None or log["user_id"] == user_id)
        and (username is None or USERS[log["user_id"]] == username)
        and (start is None or log["created_at"] >= start)
        and (end is None or log["created_at"] <= end)
        and (tokens is None or log["token_id"] in tokens)
        and (models is None or log["model_name"] in models)
    ]


def grouped(logs, key) -> dict[Any, list[dict[str, Any]]]:
    groups: dict[Any, list[dict[str, Any]]] = defaultdict(list)
    for log in logs:
        groups[key(log)].append(log)
    return groups


def months_back(ts: int, tz: ZoneInfo, months: int) -> int:
    local = datetime.fromtimestamp(ts, tz)
    year, month = local.year, local.month - months
    while month < 1:
        year, month = year - 1, month + 12
    day = min(local.day, calendar.monthrange(year, month)[1])
    return int(local.replace(year=year, month=month, day=day, fold=0).timestamp())


# --- data --------------------------------------------------------------------------------------


def random_logs(rng: random.Random) -> list[Any]:
    instants = [rng.randint(FIRST, NOW) for _ in range(560)]
    instants += [rng.randint(NOW - 2 * DAY, NOW) for _ in range(60)]
    instants += [rng.randint(NOW - 400, NOW) for _ in range(25)]
    for _ in range(40):  # exactly on (or a second off) some zone's midnight or hour
        tz = ZoneInfo(rng.choice(DAY_ZONES))
        edge = floor(rng.randint(FIRST, NOW), tz, rng.choice(["hour", "day"]))
        instants.append(min(NOW, max(FIRST, edge + rng.choice([-1, 0, 0, 1]))))
    events = []
    for created_at in instants:
        user_id = rng.choice([1000, 1000, 1000, 1001, 1])
        token_id = rng.choice([0, 1, 2, 3, 4])
        events.append(
            log_event(
                created_at=created_at,
                type=rng.choices([2, 5, 1, 6], weights=[80, 10, 5, 5])[0],
                user_id=user_id,
                username=USERS[user_id],
                token_id=token_id,
                token_name=f"key-{token_id}",
                model_name=rng.choice(MODELS),
                quota=rng.randint(0, 100000),
                prompt_tokens=rng.randint(0, 2000),
                completion_tokens=rng.randint(0, 1000),
                cache_read_tokens=rng.choice([0, rng.randint(0, 500)]),
                cache_creation_tokens=rng.choice([0, rng.randint(0, 200)]),
                duration_ms=rng.randint(0, 30000),
                first_token_ms=rng.choice([None, rng.randint(0, 5000)]),
                is_stream=rng.random() < 0.5,
                endpoint=rng.choice(ENDPOINTS),
                group=rng.choice(["default", "vip"]),
            )
        )
    return events


def random_range(rng: random.Random, longest: int) -> tuple[int, int]:
    length = rng.choice([0, 59, 3600, 5400, DAY, 3 * DAY + 7, 10 * DAY, 40 * DAY, 200 * DAY])
    length = min(length, longest)
    start = rng.randint(FIRST - 5 * DAY, NOW)
    return start, start + length


def random_dates(rng: random.Random, tz: ZoneInfo, longest_days: int) -> tuple[date, date]:
    first = datetime.fromtimestamp(rng.randint(FIRST - 3 * DAY, NOW + DAY), tz).date()
    return first, first + timedelta(days=rng.randint(0, longest_days))


# --- the checks, one per endpoint --------------------------------------------------------------


def check_data(rng, logs, client, admin: bool) -> None:
    granularity = rng.choice(["hour", "day", "week"])
    tz = ZoneInfo(rng.choice(ZONES if granularity == "hour" else DAY_ZONES))
    start, end = random_range(rng, 400 * DAY if admin else 31 * DAY)
    params: dict[str, Any] = {
        "start_timestamp": start,
        "end_timestamp": end,
        "granularity": granularity,
        "tz": str(tz),
    }
    username = None
    if admin:
        username = rng.choice([None, "user1000", "user1001", "nobody"])
        if username:
            params["username"] = username
        matching = consumed(logs, start=start, end=end, username=username)
    else:
        matching = consumed(logs, user_id=client.user.pk, start=start, end=end)

    def key(log):
        user = log["user_id"] if username else None
        return floor(log["created_at"], tz, granularity), log["model_name"], user

    expected = []
    for (bucket, model, user), group in sorted(
        grouped(matching, key).items(), key=lambda kv: (kv[0][0], kv[0][1], str(kv[0][2]))
    ):
        total = sums(group)
        if admin:
            user_id, name = (user, username) if username else (0, "")
        else:
            user_id, name = client.user.pk, client.user.username
        expected.append(
            {
                "model_name": model,
                "count": total["requests"],
                "quota": total["quota"],
                "token_used": total["prompt_tokens"] + total["completion_tokens"],
                "created_at": bucket,
                "user_id": user_id,
                "username": name,
            }
        )
    response = client.get("/api/data/" if admin else "/api/data/self", params)
    assert response.json() == {"success": True, "message": "", "data": expected}, params


def check_data_users(rng, logs, client) -> None:
    granularity = rng.choice(["hour", "day", "week"])
    tz = ZoneInfo(rng.choice(ZONES if granularity == "hour" else DAY_ZONES))
    start, end = random_range(rng, 400 * DAY)
    params: dict[str, Any] = {
        "start_timestamp": start,
        "end_timestamp": end,
        "granularity": granularity,
        "tz": str(tz),
    }
    username = rng.choice([None, None, "user1001"])
    if username:
        params["username"] = username
    groups = grouped(
        consumed(logs, start=start, end=end, username=username),
        lambda log: (floor(log["created_at"], tz, granularity), USERS[log["user_id"]]),
    )
    expected = []
    for (bucket, name), group in sorted(groups.items()):
        total = sums(group)
        expected.append(
            {
                "username": name,
                "created_at": bucket,
                "count": total["requests"],
                "quota": total["quota"],
                "token_used": total["prompt_tokens"] + total["completion_tokens"],
            }
        )
    response = client.get("/api/data/users", params)
    assert response.json() == {"success": True, "message": "", "data": expected}, params


def stats_of(total) -> dict[str, Any]:
    return {
        "total_requests": total["requests"],
        "total_input_tokens": total["prompt_tokens"],
        "total_output_tokens": total["completion_tokens"],
        "total_cache_tokens": total["cache_read_tokens"] + total["cache_creation_tokens"],
        "total_tokens": total["tokens"],
        "total_cost": total["quota"] / UNIT,
        "total_actual_cost": total["quota"] / UNIT,
        "average_duration_ms": total["duration_ms"] / total["requests"]
        if total["requests"]
        else 0.0,
    }


def check_sub2api_stats(rng, logs, client) -> None:
    tz = ZoneInfo(rng.choice(DAY_ZONES))
    key = rng.choice([None, 0, 1, 2, 9])
    params: dict[str, Any] = {"timezone": str(tz)}
    if key is not None:
        params["api_key_id"] = key
    if rng.random() < 0.5:
        first, last = random_dates(rng, tz, 60)
        params |= {"start_date": first.isoformat(), "end_date": last.isoformat()}
        start, end = local_midnight(first, tz), local_midnight(last + timedelta(days=1), tz) - 1
    else:
        period = rng.choice(["today", "week", "month", "year"])
        params["period"] = period
        end = NOW
        start = {
            "today": local_midnight(datetime.fromtimestamp(NOW, tz).date(), tz),
            "week": NOW - 7 * DAY,
            "month": months_back(NOW, tz, 1),
            "year": months_back(NOW, tz, 12),
        }[period]
    matching = consumed(
        logs, user_id=client.user.pk, start=start, end=end, tokens=None if key is None else {key}
    )
    response = client.get("/api/v1/usage/stats", params, new_api_user=False)
    assert response.json()["data"] == stats_of(sums(matching)), params


def check_dashboard_stats(rng, logs, client) -> None:
    tz = ZoneInfo(rng.choice(DAY_ZONES))
    mine = consumed(logs, user_id=client.user.pk, end=NOW)
    today = consumed(mine, start=local_midnight(datetime.fromtimestamp(NOW, tz).date(), tz))
    recent = consumed(logs, user_id=client.user.pk, start=NOW - 300)
    total, day, last = sums(mine), sums(today), sums(recent)
    expected = {
        "total_api_keys": len({log["token_id"] for log in mine} - {0}),
        "active_api_keys": len(
            {log["token_id"] for log in consumed(mine, start=NOW - 30 * DAY)} - {0}
        ),
        "total_requests": total["requests"],
        "total_input_tokens": total["prompt_tokens"],
        "total_output_tokens": total["completion_tokens"],
        "total_cache_creation_tokens": total["cache_creation_tokens"],
        "total_cache_read_tokens": total["cache_read_tokens"],
        "total_tokens": total["tokens"],
        "total_cost": total["quota"] / UNIT,
        "total_actual_cost": total["quota"] / UNIT,
        "today_requests": day["requests"],
        "today_input_tokens": day["prompt_tokens"],
        "today_output_tokens": day["completion_tokens"],
        "today_cache_creation_tokens": day["cache_creation_tokens"],
        "today_cache_read_tokens": day["cache_read_tokens"],
        "today_tokens": day["tokens"],
        "today_cost": day["quota"] / UNIT,
        "today_actual_cost": day["quota"] / UNIT,
        "average_duration_ms": total["duration_ms"] / total["requests"]
        if total["requests"]
        else 0.0,
        "rpm": last["requests"] // 5,
        "tpm": (last["prompt_tokens"] + last["completion_tokens"]) // 5,
    }
    response = client.get(
        "/api/v1/usage/dashboard/stats", {"timezone": str(tz)}, new_api_user=False
    )
    assert response.json()["data"] == expected, tz


def classes(total) -> dict[str, Any]:
    return {
        "requests": total["requests"],
        "input_tokens": total["prompt_tokens"],
        "output_tokens": total["completion_tokens"],
        "cache_creation_tokens": total["cache_creation_tokens"],
        "cache_read_tokens": total["cache_read_tokens"],
        "total_tokens": total["tokens"],
        "cost": total["quota"] / UNIT,
        "actual_cost": total["quota"] / UNIT,
    }


def check_trend(rng, logs, client) -> None:
    granularity = rng.choice(["day", "hour"])
    tz = ZoneInfo(rng.choice(ZONES if granularity == "hour" else DAY_ZONES))
    first, last = random_dates(rng, tz, 5 if granularity == "hour" else 90)
    start, end = local_midnight(first, tz), local_midnight(last + timedelta(days=1), tz) - 1
    matching = grouped(
        consumed(logs, user_id=client.user.pk, start=start, end=end),
        lambda log: floor(log["created_at"], tz, granularity),
    )
    buckets = sorted({floor(ts, tz, granularity) for ts in range(start, end + 1, 900)})
    expected = []
    for bucket in buckets:
        local = datetime.fromtimestamp(bucket, tz)
        label = (
            local.strftime("%Y-%m-%d %H:00") if granularity == "hour" else local.date().isoformat()
        )
        expected.append({"date": label, **classes(sums(matching.get(bucket, [])))})
    params = {
        "start_date": first.isoformat(),
        "end_date": last.isoformat(),
        "granularity": granularity,
        "timezone": str(tz),
    }
    response = client.get("/api/v1/usage/dashboard/trend", params, new_api_user=False)
    assert response.json()["data"] == {
        "trend": expected,
        "start_date": first.isoformat(),
        "end_date": last.isoformat(),
        "granularity": granularity,
    }, params


def check_models(rng, logs, client) -> None:
    tz = ZoneInfo(rng.choice(DAY_ZONES))
    first, last = random_dates(rng, tz, 120)
    start, end = local_midnight(first, tz), local_midnight(last + timedelta(days=1), tz) - 1
    groups = grouped(
        consumed(logs, user_id=client.user.pk, start=start, end=end), lambda log: log["model_name"]
    )
    expected = [{"model": model, **classes(sums(group))} for model, group in groups.items()]
    expected.sort(key=lambda m: (-m["total_tokens"], m["model"]))
    params = {"start_date": first.isoformat(), "end_date": last.isoformat(), "timezone": str(tz)}
    response = client.get("/api/v1/usage/dashboard/models", params, new_api_user=False)
    assert response.json()["data"] == {
        "models": expected,
        "start_date": first.isoformat(),
        "end_date": last.isoformat(),
    }, params


def check_api_keys_usage(rng, logs, client) -> None:
    tz = ZoneInfo(rng.choice(DAY_ZONES))
    ids = rng.sample(range(8), rng.randint(0, 8))
    midnight = local_midnight(datetime.fromtimestamp(NOW, tz).date(), tz)
    mine = consumed(logs, user_id=client.user.pk, end=NOW, tokens=set(ids))
    expected = {}
    for key_id, group in sorted(grouped(mine, lambda log: log["token_id"]).items()):
        expected[str(key_id)] = {
            "api_key_id": key_id,
            "today_actual_cost": sums(consumed(group, start=midnight))["quota"] / UNIT,
            "total_actual_cost": sums(group)["quota"] / UNIT,
        }
    response = client.post(
        f"/api/v1/usage/dashboard/api-keys-usage?timezone={tz}",
        {"api_key_ids": ids},
        new_api_user=False,
    )
    assert response.json()["data"] == {"stats": expected}, (ids, tz)


def iso(rng, ts: int, tz: ZoneInfo) -> tuple[str, int | None]:
    """A random ISO 8601 spelling of `ts`; also the instant it means when that is exact."""
    form = rng.choice(["Z", "offset", "naive", "fraction"])
    if form == "Z":
        return datetime.fromtimestamp(ts, ZoneInfo("UTC")).strftime("%Y-%m-%dT%H:%M:%SZ"), ts
    if form == "offset":
        return datetime.fromtimestamp(ts, ZoneInfo("Asia/Kathmandu")).isoformat(), ts
    if form == "naive":
        local = datetime.fromtimestamp(ts, tz)
        if local.fold or int(local.replace(fold=1).timestamp()) != ts:
            return datetime.fromtimestamp(
                ts, ZoneInfo("UTC")
            ).isoformat(), ts  # ambiguous wall time
        return local.replace(tzinfo=None).isoformat(), ts
    return datetime.fromtimestamp(ts, ZoneInfo("UTC")).strftime("%Y-%m-%dT%H:%M:%S.5Z"), None


def check_acedata(rng, logs, client) -> None:
    tz = ZoneInfo(rng.choice(DAY_ZONES))
    lo, hi = random_range(rng, 200 * DAY)
    frm, exact_start = iso(rng, lo, tz)
    to, exact_end = iso(rng, hi, tz)
    # x.5 s: the first whole second inside is x + 1 for a start, x for an end
    start = lo + 1 if exact_start is None else lo
    end = hi
    models = rng.choice([None, ["gpt-4o"], ["claude-3", "", "o1"]])
    key = rng.choice([None, 1, 3])
    params: dict[str, Any] = {"created_at_from": frm, "created_at_to": to, "timezone": str(tz)}
    if models is not None:
        params["api_id"] = models
    if key is not None:
        params["application_id"] = key
    wanted = None if not models or models == [""] else {m for m in models if m}
    matching = consumed(
        logs,
        user_id=client.user.pk,
        start=start,
        end=end,
        tokens=None if key is None else {key},
        models=wanted,
    )
    groups = grouped(matching, lambda log: (floor(log["created_at"], tz, "day"), log["model_name"]))
    results = [
        {
            "date": datetime.fromtimestamp(day, tz).date().isoformat(),
            "api_id": model,
            "amount": sums(group)["quota"] / UNIT,
        }
        for (day, model), group in sorted(groups.items())
    ]
    api_map = {}
    for model, group in sorted(grouped(matching, lambda log: log["model_name"]).items()):
        uses = grouped([log for log in group if log["endpoint"]], lambda log: log["endpoint"])
        best = min(uses.items(), key=lambda kv: (-len(kv[1]), kv[0]))[0] if uses else ""
        api_map[model] = {"name": model, "path": best}
    response = client.get("/api/v1/usage/apis/aggregate/", params, new_api_user=False)
    if lo + (exact_start is None) * 0.5 > hi + (exact_end is None) * 0.5:
        assert response.json() == {"detail": "created_at_from is after created_at_to"}, params
        return
    assert response.json() == {
        "results": results,
        "total": sums(matching)["quota"] / UNIT,
        "api_map": api_map,
    }, params


def check_r9s(rng, logs, client) -> None:
    tz = ZoneInfo(rng.choice(DAY_ZONES))
    start, end = random_range(rng, 200 * DAY)
    groups = grouped(
        consumed(logs, user_id=client.user.pk, start=start, end=end),
        lambda log: (floor(log["created_at"], tz, "day"), log["model_name"]),
    )
    records = [
        {"timestamp": day, "tokens": sums(group)["tokens"], "model": model}
        for (day, model), group in sorted(groups.items())
    ]
    params = {"start_time": start, "end_time": end, "timezone": str(tz)}
    response = client.get("/api/v1/portal/management/usage", params, new_api_user=False)
    assert response.json()["data"] == {
        "records": records,
        "total_tokens": sum(r["tokens"] for r in records),
    }, params


def check_usage_list(rng, logs, client) -> None:
    tz = ZoneInfo(rng.choice(DAY_ZONES))
    params: dict[str, Any] = {"timezone": str(tz), "page_size": rng.choice([1, 7, 50, 1000])}
    first, last = random_dates(rng, tz, 90)
    start = end = key = model = stream = None
    if rng.random() < 0.7:
        params |= {"start_date": first.isoformat(), "end_date": last.isoformat()}
        start, end = local_midnight(first, tz), local_midnight(last + timedelta(days=1), tz) - 1
    if rng.random() < 0.4:
        key = params["api_key_id"] = rng.choice([0, 2, 4])
    if rng.random() < 0.4:
        model = params["model"] = rng.choice(MODELS[:-1])
    if rng.random() < 0.4:
        stream = rng.random() < 0.5
        params["stream"] = "true" if stream else "false"
    matching = [
        log
        for log in consumed(
            logs,
            user_id=client.user.pk,
            start=start,
            end=end,
            tokens=None if key is None else {key},
            models=None if model is None else {model},
        )
        if stream is None or log["is_stream"] == stream
    ]
    matching.sort(key=lambda log: (-log["created_at"], -log["id"]))
    page = rng.randint(1, 3)
    params["page"] = page
    size = params["page_size"]
    data = client.get("/api/v1/usage", params, new_api_user=False).json()["data"]
    assert data["total"] == len(matching), params
    assert [item["id"] for item in data["items"]] == [
        log["id"] for log in matching[(page - 1) * size : page * size]
    ], params
    assert data["pages"] == max(1, -(-len(matching) // size))


CHECKS = [
    check_sub2api_stats,
    check_dashboard_stats,
    check_trend,
    check_models,
    check_api_keys_usage,
    check_acedata,
    check_r9s,
    check_usage_list,
]


def test_every_endpoint_equals_a_group_by_over_the_raw_logs(
    ingest, user_api, other_api, admin_api, time_machine
):
    rng = random.Random(SEED)
    ingest(random_logs(rng))
    logs = list(Log.objects.values(*FIELDS))
    assert {log["type"] for log in logs} == {1, 2, 5, 6}
    time_machine.move_to(NOW, tick=False)

    for iteration in range(ITERATIONS):
        try:
            check_data(rng, logs, rng.choice([user_api, other_api, admin_api]), admin=False)
            check_data(rng, logs, admin_api, admin=True)
            check_data_users(rng, logs, admin_api)
            for check in CHECKS:
                check(rng, logs, rng.choice([user_api, other_api, admin_api]))
        except AssertionError as exc:
            raise AssertionError(f"seed {SEED}, iteration {iteration}: {exc}") from exc
