"""new-api's own web frontend against Tokenledger: the requests its two themes send, replayed
against a live server over HTTP (docs/newapi-frontend.md).

The paths, query strings and headers are built the way new-api's frontend builds them (commit
4ca47ee2, 2026-06): the classic theme (`web/classic`) writes its URLs as template strings with
every filter present, empty when unset, and passes them through `encodeURI`; the default theme
(`web/default`) sends only the filters that are set, through `URLSearchParams` or axios
`params`, and leaves the slash off `/api/log` and `/api/data`. Both send `New-Api-User` and
`Cache-Control: no-store`; the credential is a Tokenledger read token, as the reverse proxy of
docs/newapi-frontend.md adds it. Every field the pages read is checked, with its type, against
figures computed here from the posted events, never read back from the server.

The browser's zone is Asia/Shanghai (the frontend turns its local date pickers into Unix
seconds), the server's UTC."""

from __future__ import annotations

import http.client
import json
import random
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlencode, urlsplit
from zoneinfo import ZoneInfo

import pytest

from accounts.models import Role, Scope, User
from accounts.services import access_token_create
from tests.factories import UserFactory

# Transactional: the live server's thread reads through its own connection.
pytestmark = pytest.mark.django_db(transaction=True)

NOW = int(datetime(2026, 3, 10, 6, 30, tzinfo=ZoneInfo("UTC")).timestamp())  # 14:30 Shanghai
BROWSER = ZoneInfo("Asia/Shanghai")
HOUR, DAY = 3600, 86400
QUOTA_PER_UNIT = 500000
ROOT_ID, ALICE, BOB = 1, 42, 43
NAMES = {ALICE: "alice", BOB: "bob"}
TOKENS = {ALICE: ["alice-ci", "alice-web"], BOB: ["bob-key"]}
MODELS = ["gpt-4o", "gpt-4o-mini", "claude-3-5-sonnet", "o1"]
CHANNELS = {1: "openai-primary", 2: "openai-backup", 3: "anthropic"}
KINDS = {1: "top-up", 3: "manage", 4: "system", 5: "error", 6: "refund"}
# The classic theme's axios instance; the default theme sends the same two headers.
FRONTEND_HEADERS = {"Accept": "application/json, text/plain, */*", "Cache-Control": "no-store"}
INSUFFICIENT = {"success": False, "message": "Unauthorized: insufficient privileges"}


# --- the posted world ----------------------------------------------------------------------------


def local_midnight(ts: int) -> int:
    day = datetime.fromtimestamp(ts, BROWSER).date()
    return int(datetime(day.year, day.month, day.day, tzinfo=BROWSER).timestamp())


def world() -> list[dict[str, Any]]:
    """About 70 events: most of today (Shanghai) of every type, some of the six days before,
    and consume logs of the last minute so that RPM and TPM count something. Every instant is
    distinct, so that newest first is one order."""
    rng = random.Random(15)
    midnight = local_midnight(NOW)
    instants = rng.sample(range(midnight, NOW - 120), 45)
    instants += rng.sample(range(NOW - 7 * DAY, midnight), 18)
    instants += rng.sample(range(NOW - 55, NOW - 2), 7)
    events = []
    for index, created_at in enumerate(instants):
        recent = created_at > NOW - 60
        log_type = 2 if recent else rng.choices([2, 5, 1, 6, 3, 4], [70, 10, 6, 6, 4, 4])[0]
        user_id = rng.choice([ALICE, ALICE, BOB])
        channel = rng.choice(list(CHANNELS))
        consume = log_type == 2
        other: dict[str, Any] = {}
        if consume:
            other = {
                "model_ratio": 1.25,
                "group_ratio": 1,
                "frt": rng.randint(100, 2000),
                "admin_info": {"use_channel": [str(channel)]},
            }
        elif log_type == 5:
            other = {"error_code": "rate_limit", "channel_id": channel, "status_code": 429}
        token = rng.choice(TOKENS[user_id])
        events.append(
            {
                "request_id": f"req-{index:03d}",
                "created_at": created_at,
                "type": log_type,
                "user_id": user_id,
                "username": NAMES[user_id],
                "token_id": TOKENS[user_id].index(token) + 1,
                "token_name": token,
                "model_name": rng.choice(MODELS) if log_type in (2, 5) else "",
                "quota": rng.randint(1000, 90000) if log_type in (1, 2, 6) else 0,
                "prompt_tokens": rng.randint(10, 4000) if consume else 0,
                "completion_tokens": rng.randint(1, 1500) if consume else 0,
                "use_time": rng.randint(0, 30) if consume else 0,
                "is_stream": consume and rng.random() < 0.5,
                "channel_id": channel if log_type in (2, 5) else 0,
                "channel_name": CHANNELS[channel] if log_type in (2, 5) else "",
                "group": rng.choice(["default", "vip"]),
                "ip": f"203.0.113.{rng.randint(1, 254)}",
                "content": "" if consume else f"{KINDS[log_type]} {index}",
                "endpoint": "/v1/chat/completions" if consume else "",
                "other": other,
            }
        )
    return events


EVENTS = world()


def selected(
    *,
    start: int = 0,
    end: int = 2**62,
    user_id: int | None = None,
    log_type: int = 0,
    **equal: Any,
) -> list[dict[str, Any]]:
    """The posted events a filter selects (type 0: every type), newest first."""
    chosen = [
        event
        for event in EVENTS
        if start <= event["created_at"] <= end
        and (user_id is None or event["user_id"] == user_id)
        and (not log_type or event["type"] == log_type)
        and all(event[key] == value for key, value in equal.items())
    ]
    return sorted(chosen, key=lambda event: -event["created_at"])


def stat_of(events: list[dict[str, Any]]) -> dict[str, int]:
    """new-api's stat line: the consume logs' quota; RPM/TPM of those of the last 60 s."""
    consumed = [event for event in events if event["type"] == 2]
    recent = [event for event in consumed if event["created_at"] >= NOW - 60]
    return {
        "quota": sum(event["quota"] for event in consumed),
        "rpm": len(recent),
        "tpm": sum(event["prompt_tokens"] + event["completion_tokens"] for event in recent),
    }


def hourly(events: list[dict[str, Any]], key: Callable[[dict[str, Any]], Any]) -> dict:
    """Consume logs summed per (UTC hour, key): the server's zone buckets the dashboard."""
    rows: dict[tuple[int, Any], dict[str, int]] = defaultdict(
        lambda: {"count": 0, "quota": 0, "token_used": 0}
    )
    for event in events:
        if event["type"] != 2:
            continue
        row = rows[(event["created_at"] - event["created_at"] % HOUR, key(event))]
        row["count"] += 1
        row["quota"] += event["quota"]
        row["token_used"] += event["prompt_tokens"] + event["completion_tokens"]
    return dict(sorted(rows.items()))


# --- the frontend's side of the wire -------------------------------------------------------------


def encode_uri(url: str) -> str:
    """JavaScript's encodeURI, which the classic theme applies to the URLs it writes."""
    return quote(url, safe=";,/?:@&=+$!*'()#")


class Frontend:
    """One browser session of new-api's frontend: its user id (`New-Api-User`, from its login
    state) and the Tokenledger read token the proxy adds as `Authorization`."""

    def __init__(self, base_url: str, user: User | None, token: str | None) -> None:
        self.location = urlsplit(base_url)
        self.user = user
        self.token = token

    def send(self, method: str, url: str, *, new_api_user: bool = True) -> tuple[int, str, Any]:
        """(status, content type, decoded JSON body); redirects are not followed."""
        headers = dict(FRONTEND_HEADERS)
        if self.token is not None:
            headers["Authorization"] = f"Bearer {self.token}"
        if new_api_user and self.user is not None:
            headers["New-Api-User"] = str(self.user.pk)
        connection = http.client.HTTPConnection(
            self.location.hostname or "localhost", self.location.port, timeout=30
        )
        try:
            connection.request(method, url, headers=headers)
            response = connection.getresponse()
            body = response.read()
        finally:
            connection.close()
        content_type = response.getheader("Content-Type", "")
        return response.status, content_type, json.loads(body) if body else None

    def ok(self, method: str, url: str) -> Any:
        """The `data` of a successful answer (HTTP 200, `success: true`, JSON)."""
        status, content_type, body = self.send(method, url)
        assert status == 200, (url, status, body)
        assert content_type == "application/json", url
        assert body["success"] is True and body["message"] == "", (url, body)
        return body["data"]

    def get(self, url: str) -> Any:
        return self.ok("GET", url)


@pytest.fixture
def frozen(time_machine):
    time_machine.move_to(NOW, tick=False)


@pytest.fixture
def server(live_server, frozen, settings) -> str:
    """The live server, with the world posted to it through `POST /api/log/` (an ingest token
    of a gateway account) and read tokens for root and alice."""
    settings.QUOTA_PER_UNIT = QUOTA_PER_UNIT
    gateway = UserFactory.create(id=99, username="gateway", role=Role.ROOT)
    _, ingest_token = access_token_create(user=gateway, scope=Scope.INGEST)
    location = urlsplit(live_server.url)
    connection = http.client.HTTPConnection(location.hostname or "localhost", location.port)
    try:
        connection.request(
            "POST",
            "/api/log/",
            body=json.dumps({"logs": EVENTS}),
            headers={
                "Authorization": f"Bearer {ingest_token}",
                "Content-Type": "application/json",
            },
        )
        answer = json.loads(connection.getresponse().read())
    finally:
        connection.close()
    assert answer["data"] == {
        "accepted": len(EVENTS),
        "duplicates": 0,
        "rejected": 0,
        "errors": [],
    }
    return live_server.url


@pytest.fixture
def root(server) -> Frontend:
    user = UserFactory.create(id=ROOT_ID, username="root", role=Role.ROOT)
    return Frontend(server, user, access_token_create(user=user, scope=Scope.READ)[1])


@pytest.fixture
def alice(server) -> Frontend:
    user = User.objects.get(pk=ALICE)  # provisioned by the ingest, a common user
    return Frontend(server, user, access_token_create(user=user, scope=Scope.READ)[1])


# --- what the pages read -------------------------------------------------------------------------

INT_FIELDS = (
    "id",
    "created_at",
    "type",
    "quota",
    "prompt_tokens",
    "completion_tokens",
    "use_time",
    "channel",
    "user_id",
)
TEXT_FIELDS = ("content", "username", "token_name", "model_name", "group", "request_id")


def check_item(item: dict[str, Any], event: dict[str, Any], *, admin: bool) -> None:
    """A row of the usage-log table: the columns, the expanded details (`other`, parsed with
    JSON.parse) and what the classic theme's column renderers read."""
    for name in INT_FIELDS:
        assert type(item[name]) is int, (name, item)
    assert type(item["is_stream"]) is bool
    assert isinstance(item["other"], str)
    other = json.loads(item["other"])
    for name in ("created_at", "type", "quota", "prompt_tokens", "completion_tokens", "use_time"):
        assert item[name] == event[name], (name, item, event)
    for name in (*TEXT_FIELDS, "is_stream", "user_id"):
        assert item[name] == event[name], (name, item, event)
    if admin:
        assert (item["channel"], item["channel_name"], item["ip"]) == (
            event["channel_id"],
            event["channel_name"],
            event["ip"],
        )
        assert other == event["other"]
    else:
        # Users never see channels or IPs (docs/logs-api.md), nor admin_info (as in new-api).
        assert (item["channel"], item["channel_name"], item["ip"]) == (0, "", None)
        assert other == {
            key: value
            for key, value in event["other"].items()
            if key != "admin_info" and not key.startswith("channel")
        }


def check_page(
    data: dict[str, Any], expected: list[dict[str, Any]], p: int, size: int, *, admin: bool
) -> None:
    assert (data["page"], data["page_size"], data["total"]) == (p, size, len(expected))
    window = expected[(p - 1) * size : p * size]
    assert [item["request_id"] for item in data["items"]] == [e["request_id"] for e in window]
    for item, event in zip(data["items"], window, strict=True):
        check_item(item, event, admin=admin)


def check_rows(rows: list[dict[str, Any]], expected: dict, *, user_id: int, username: str) -> None:
    """The dashboard's rows (`/api/data/...`): per (model, hour), what its cards and charts sum."""
    assert [(row["created_at"], row["model_name"]) for row in rows] == list(expected), (
        "one row per (hour, model), ordered"
    )
    for row, ((hour, _model), sums) in zip(rows, expected.items(), strict=True):
        for name in ("count", "quota", "token_used", "created_at", "user_id"):
            assert type(row[name]) is int, (name, row)
        assert {name: row[name] for name in ("count", "quota", "token_used")} == sums
        assert row["created_at"] == hour
        assert (row["user_id"], row["username"]) == (user_id, username)


def check_user_rows(rows: list[dict[str, Any]], expected: dict) -> None:
    """`/api/data/users`: the admin's user ranking and trend charts."""
    assert [(row["created_at"], row["username"]) for row in rows] == list(expected)
    for row, sums in zip(rows, expected.values(), strict=True):
        assert {name: row[name] for name in ("count", "quota", "token_used")} == sums
        assert all(type(row[name]) is int for name in ("created_at", "count", "quota"))


# --- the boot calls: /api/status and /api/user/self ---------------------------------------------


def check_status(data: dict[str, Any]) -> None:
    """What the classic theme's setStatusData copies into localStorage (a missing key becomes
    the string "undefined") and what the pages read: the quota rate above all, or every amount
    reads $NaN."""
    assert data["quota_per_unit"] == QUOTA_PER_UNIT and type(data["quota_per_unit"]) is int
    assert (data["quota_display_type"], data["display_in_currency"]) == ("USD", True)
    assert data["data_export_default_time"] == "hour"
    assert data["enable_data_export"] is True
    for name in ("system_name", "logo", "footer_html", "docs_link"):
        assert data[name] == ""  # the frontend's own name, logo and footer
    assert data["chats"] == []
    for name in ("enable_drawing", "enable_task", "mj_notify_enabled", "default_collapse_sidebar"):
        assert data[name] is False
    for panel in (
        "api_info_enabled",
        "announcements_enabled",
        "faq_enabled",
        "uptime_kuma_enabled",
    ):
        assert data[panel] is False  # no panel asks for content Tokenledger does not have
    assert data["setup"] is True  # SetupCheck redirects to /setup on false


def check_self(data: dict[str, Any], user: User, events: list[dict[str, Any]]) -> None:
    """The dashboard's cards (balance, consumption, requests), the header and the sidebar."""
    consumed = [event for event in events if event["type"] == 2]
    assert (data["id"], data["username"], data["role"], data["status"], data["group"]) == (
        user.pk,
        user.username,
        user.role,
        1,
        user.group,
    )
    assert data["display_name"] == user.display_name
    assert data["quota"] == 0  # no balance is kept here
    assert data["used_quota"] == sum(event["quota"] for event in consumed)
    assert data["request_count"] == len(consumed)
    for name in (
        "quota",
        "used_quota",
        "request_count",
        "aff_quota",
        "aff_history_quota",
        "aff_count",
    ):
        assert type(data[name]) is int, name
    for name in ("setting", "sidebar_modules", "email"):
        assert data[name] == ""  # falsy: the frontend keeps its defaults (no JSON.parse)
    assert data["permissions"]["sidebar_settings"] is (user.role < Role.ROOT)


# --- the replays ---------------------------------------------------------------------------------


def test_classic_theme_as_admin(root):
    """web/classic: PageLayout's boot calls, the usage-log page (useUsageLogsData) and the
    dashboard (useDashboardData), as root, with their URLs as the theme writes them."""
    check_status(root.get("/api/status"))
    check_self(root.get("/api/user/self"), root.user, [])

    # The usage-log page: today 00:00 local to now + 1 h, every filter sent, empty when unset.
    start, end = local_midnight(NOW), NOW + HOUR
    today = selected(start=start, end=end)
    for p, size in ((1, 10), (2, 10), (1, 20)):
        url = encode_uri(
            f"/api/log/?p={p}&page_size={size}&type=0&username=&token_name=&model_name="
            f"&start_timestamp={start}&end_timestamp={end}&channel=&group=&request_id="
        )
        check_page(root.get(url), today, p, size, admin=True)
    # Each filter on its own: (the query parameter, its value, what it selects).
    filters: list[tuple[str, str, dict[str, Any]]] = [
        ("model_name", "gpt-4o", {"model_name": "gpt-4o"}),
        ("token_name", "alice-ci", {"token_name": "alice-ci"}),
        ("group", "vip", {"group": "vip"}),
        ("channel", "2", {"channel_id": 2}),
        ("username", "bob", {"username": "bob"}),
    ]
    for name, value, equal in filters:
        form = dict.fromkeys(("username", "token_name", "model_name", "channel", "group"), "")
        form[name] = value
        url = encode_uri(
            f"/api/log/?p=1&page_size=10&type=0&username={form['username']}"
            f"&token_name={form['token_name']}&model_name={form['model_name']}"
            f"&start_timestamp={start}&end_timestamp={end}&channel={form['channel']}"
            f"&group={form['group']}&request_id="
        )
        expected = selected(start=start, end=end, **equal)
        check_page(root.get(url), expected, 1, 10, admin=True)
        stat_url = encode_uri(
            f"/api/log/stat?type=0&username={form['username']}&token_name={form['token_name']}"
            f"&model_name={form['model_name']}&start_timestamp={start}&end_timestamp={end}"
            f"&channel={form['channel']}&group={form['group']}"
        )
        assert root.get(stat_url) == stat_of(expected)
    # The log type select: the list follows it, the stat stays the consumption (new-api's).
    for log_type in (2, 5, 1, 6):
        url = encode_uri(
            f"/api/log/?p=1&page_size=10&type={log_type}&username=&token_name=&model_name="
            f"&start_timestamp={start}&end_timestamp={end}&channel=&group=&request_id="
        )
        check_page(
            root.get(url), selected(start=start, end=end, log_type=log_type), 1, 10, admin=True
        )
        stat_url = encode_uri(
            f"/api/log/stat?type={log_type}&username=&token_name=&model_name="
            f"&start_timestamp={start}&end_timestamp={end}&channel=&group="
        )
        assert root.get(stat_url) == stat_of(today)
    # The "last 7 days" preset.
    week = local_midnight(NOW - 6 * DAY)
    url = encode_uri(
        f"/api/log/?p=1&page_size=10&type=0&username=&token_name=&model_name="
        f"&start_timestamp={week}&end_timestamp={end}&channel=&group=&request_id="
    )
    check_page(root.get(url), selected(start=week, end=end), 1, 10, admin=True)

    # The dashboard, hour granularity: now - 1 day to now + 1 h; then the search modal's user.
    start = NOW - DAY
    everyone = selected(start=start, end=end)
    rows = root.get(
        f"/api/data/?username=&start_timestamp={start}&end_timestamp={end}&default_time=hour"
    )
    check_rows(rows, hourly(everyone, lambda e: e["model_name"]), user_id=0, username="")
    rows = root.get(
        f"/api/data/?username=bob&start_timestamp={start}&end_timestamp={end}&default_time=hour"
    )
    bobs = selected(start=start, end=end, user_id=BOB)
    check_rows(rows, hourly(bobs, lambda e: e["model_name"]), user_id=BOB, username="bob")
    users = root.get(f"/api/data/users?start_timestamp={start}&end_timestamp={end}")
    check_user_rows(users, hourly(everyone, lambda e: e["username"]))

    # Settings -> log: clear the logs before a date (the newest answer last: it deletes).
    target = NOW - 3 * DAY
    older = selected(end=target - 1)
    assert older, "the world has logs to delete"
    assert root.ok("DELETE", f"/api/log/?target_timestamp={target}") == len(older)
    url = encode_uri(
        "/api/log/?p=1&page_size=100&type=0&username=&token_name=&model_name="
        f"&start_timestamp=0&end_timestamp={end}&channel=&group=&request_id="
    )
    assert root.get(url)["total"] == len(EVENTS) - len(older)


def test_classic_theme_as_a_common_user(alice):
    """web/classic as alice: the same pages through `/api/log/self/...` and `/api/data/self/`
    (with its trailing slash, which Tokenledger once answered with a 404)."""
    check_status(alice.get("/api/status"))
    check_self(alice.get("/api/user/self"), alice.user, selected(user_id=ALICE))

    start, end = local_midnight(NOW), NOW + HOUR
    mine = selected(start=start, end=end, user_id=ALICE)
    for p, size in ((1, 10), (2, 10)):
        url = encode_uri(
            f"/api/log/self/?p={p}&page_size={size}&type=0&token_name=&model_name="
            f"&start_timestamp={start}&end_timestamp={end}&group=&request_id="
        )
        check_page(alice.get(url), mine, p, size, admin=False)
    url = encode_uri(
        f"/api/log/self/?p=1&page_size=10&type=0&token_name=alice-ci&model_name=gpt-4o"
        f"&start_timestamp={start}&end_timestamp={end}&group=&request_id="
    )
    check_page(
        alice.get(url),
        selected(start=start, end=end, user_id=ALICE, token_name="alice-ci", model_name="gpt-4o"),
        1,
        10,
        admin=False,
    )
    for log_type in (0, 2, 5, 6):
        stat_url = encode_uri(
            f"/api/log/self/stat?type={log_type}&token_name=&model_name="
            f"&start_timestamp={start}&end_timestamp={end}&group="
        )
        assert alice.get(stat_url) == stat_of(mine)

    # Dashboard: hour (now - 1 day) and the "week" preset (now - 30 days, + 1 h).
    for start in (NOW - DAY, NOW - 30 * DAY):
        rows = alice.get(
            f"/api/data/self/?start_timestamp={start}&end_timestamp={end}&default_time=hour"
        )
        check_rows(
            rows,
            hourly(selected(start=start, end=end, user_id=ALICE), lambda e: e["model_name"]),
            user_id=ALICE,
            username="alice",
        )


def test_default_theme(root, alice):
    """web/default: only the filters that are set, `/api/log` and `/api/data` without their
    slash, axios `params` for the dashboard."""
    for frontend in (root, alice):
        check_status(frontend.get("/api/status"))
    check_self(root.get("/api/user/self"), root.user, [])
    check_self(alice.get("/api/user/self"), alice.user, selected(user_id=ALICE))

    start, end = local_midnight(NOW), NOW + HOUR
    query = urlencode(
        {
            "p": 1,
            "page_size": 20,
            "start_timestamp": start,
            "end_timestamp": end,
            "type": 2,
            "model_name": "gpt-4o",
            "group": "default",
        }
    )
    check_page(
        root.get(f"/api/log?{query}"),
        selected(start=start, end=end, log_type=2, model_name="gpt-4o", group="default"),
        1,
        20,
        admin=True,
    )
    query = urlencode({"start_timestamp": start, "end_timestamp": end, "channel": 2})
    assert root.get(f"/api/log/stat?{query}") == stat_of(
        selected(start=start, end=end, channel_id=2)
    )
    one = selected(user_id=ALICE)[3]
    query = urlencode({"p": 1, "page_size": 20, "request_id": one["request_id"]})
    check_page(alice.get(f"/api/log/self?{query}"), [one], 1, 20, admin=False)
    query = urlencode({"p": 1, "page_size": 20, "upstream_request_id": "up-1"})
    assert alice.get(f"/api/log/self?{query}")["page_size"] == 20  # accepted
    query = urlencode({"start_timestamp": start, "end_timestamp": end})
    assert alice.get(f"/api/log/self/stat?{query}") == stat_of(
        selected(start=start, end=end, user_id=ALICE)
    )

    start = NOW - DAY
    query = urlencode({"start_timestamp": start, "end_timestamp": end, "default_time": "hour"})
    everyone = selected(start=start, end=end)
    check_rows(
        root.get(f"/api/data?{query}"),
        hourly(everyone, lambda e: e["model_name"]),
        user_id=0,
        username="",
    )
    check_rows(
        alice.get(f"/api/data/self?{query}"),
        hourly(selected(start=start, end=end, user_id=ALICE), lambda e: e["model_name"]),
        user_id=ALICE,
        username="alice",
    )
    query = urlencode({"start_timestamp": start, "end_timestamp": end})
    check_user_rows(root.get(f"/api/data/users?{query}"), hourly(everyone, lambda e: e["username"]))

    target = NOW - 3 * DAY
    deleted = root.ok("DELETE", f"/api/log/?{urlencode({'target_timestamp': target})}")
    assert deleted == len(selected(end=target - 1))


def test_refusals_the_pages_react_to(alice, root):
    # No New-Api-User (a lost login state): 401, and both themes log the user out.
    status, content_type, body = alice.send("GET", "/api/log/self/", new_api_user=False)
    assert (status, content_type) == (401, "application/json")
    assert body == {"success": False, "message": "Unauthorized: New-Api-User header missing"}

    # A common user on an admin route keeps the 403 (API.md section 1) with new-api's body: the
    # default theme toasts `response.data.message`, the classic theme the status line (it reads
    # no body of a non-2xx answer; its menus hide these routes from common users anyway).
    start, end = local_midnight(NOW), NOW + HOUR
    for method, url in (
        (
            "GET",
            encode_uri(
                f"/api/log/?p=1&page_size=10&type=0&username=&token_name="
                f"&model_name=&start_timestamp={start}&end_timestamp={end}"
                "&channel=&group=&request_id="
            ),
        ),
        ("GET", f"/api/log/stat?type=0&start_timestamp={start}&end_timestamp={end}"),
        ("GET", f"/api/data/?username=&start_timestamp={start}&end_timestamp={end}"),
        ("GET", f"/api/data?start_timestamp={start}&end_timestamp={end}&default_time=hour"),
        ("GET", f"/api/data/users?start_timestamp={start}&end_timestamp={end}"),
        ("DELETE", f"/api/log/?target_timestamp={NOW}"),
    ):
        assert alice.send(method, url) == (403, "application/json", INSUFFICIENT), url

    # Bad input is HTTP 200 with success: false and the reason, which both themes toast.
    assert root.send("GET", "/api/log/?p=1&start_timestamp=today") == (
        200,
        "application/json",
        {"success": False, "message": "invalid start_timestamp"},
    )
