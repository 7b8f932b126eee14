"""Validation of ingested events (API.md section 2; decisions in docs/ingest.md).

Deliberately plain Python: a 1000-event batch must validate in a few milliseconds, which DRF
serializers cannot do (about 10 us per event here against several hundred). `event_parse`
returns a `LogEvent` or the list of problems with the item, each "field: reason".
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
from django.core.exceptions import ValidationError
from django.utils.ipv6 import clean_ipv6_address

from accounts.ids import GATEWAY_ID_MAX

MAX_BATCH = 1000
MAX_BODY_BYTES = 10 * 1024 * 1024
MAX_FUTURE_SECONDS = 300
MAX_OTHER_BYTES = 16 * 1024
MAX_BIGINT = 2**63 - 1  # identifiers (user, token, channel ids): never summed
DAY = 86_400  # seconds

# Bounds of the counters that are summed (rollups, statistics, new-api's token_used); the
# reasoning is in docs/ingest.md, "Bounds". A sum counts at most SUM_CAPACITY events, each
# adding at most 2^31 - 1 to it (also to a sum of token classes: MAX_TOKENS), so no sum leaves
# the signed 64-bit range of the BIGINT columns and of SQLite's integers. 2^31 - 1 is also what
# the gateways' own columns hold (new-api's ClickHouse Int32, sub2api's INT).
SUM_CAPACITY = 2**32
MAX_COUNTER = 2**31 - 1
MAX_TOKENS = MAX_COUNTER  # prompt + completion + cache read + cache creation of one event
MAX_DURATION_MS = MAX_COUNTER  # 24.8 days
MAX_USE_TIME = MAX_DURATION_MS // 1000  # seconds: use_time * 1000 becomes duration_ms

# Ids above GATEWAY_ID_MAX are local accounts' (accounts.ids): no event may create, rename or
# write for one, and refusing by the id alone costs no query.
MSG_USER_ID_LOCAL = (
    f"user_id: must be <= {GATEWAY_ID_MAX} (larger ids are reserved for local accounts, which "
    "events may not name)"
)

# field -> max length; every string may be empty except username (1..64).
STRING_FIELDS: tuple[tuple[str, int], ...] = (
    ("request_id", 64),
    ("token_name", 128),
    ("model_name", 128),
    ("channel_name", 128),
    ("group", 64),
    ("content", 4096),
    ("endpoint", 128),
)
# Non-negative integers defaulting to 0 (`channel_id` apart: it has an alias; `use_time`,
# `duration_ms` and `first_token_ms` apart: they derive each other or are nullable): the token
# classes, each within MAX_TOKENS and together too, and the others with their maxima.
TOKEN_FIELDS = ("prompt_tokens", "completion_tokens", "cache_read_tokens", "cache_creation_tokens")
OTHER_COUNTERS: tuple[tuple[str, int], ...] = (("token_id", MAX_BIGINT), ("quota", MAX_COUNTER))
COUNTER_FIELDS = (*(name for name, _ in OTHER_COUNTERS), *TOKEN_FIELDS)
# The maxima that keep the sums exact (use_time's through duration_ms = use_time * 1000), for
# docs/ingest.md's table and the ingest operation's description.
SUMMED_BOUNDS: dict[str, int] = {
    "quota": MAX_COUNTER,
    **dict.fromkeys(TOKEN_FIELDS, MAX_TOKENS),
    "use_time": MAX_USE_TIME,
    "duration_ms": MAX_DURATION_MS,
    "first_token_ms": MAX_DURATION_MS,
}
KNOWN_FIELDS = frozenset(
    {
        *(name for name, _ in STRING_FIELDS),
        *COUNTER_FIELDS,
        "username",
        "created_at",
        "type",
        "user_id",
        "use_time",
        "duration_ms",
        "first_token_ms",
        "is_stream",
        "channel_id",
        "channel",
        "ip",
        "other",
    }
)
_ABSENT = object()
# A NUL escape in JSON text (not preceded by an escaped backslash): PostgreSQL's jsonb refuses it.
_JSON_NUL = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")


@dataclass(slots=True)
class LogEvent:
    """One validated event, every field filled (defaults applied)."""

    created_at: int
    user_id: int
    username: str
    type: int = 2
    request_id: str = ""
    token_id: int = 0
    token_name: str = ""
    model_name: str = ""
    quota: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cache_read_tokens: int = 0
    cache_creation_tokens: int = 0
    use_time: int = 0
    duration_ms: int = 0
    first_token_ms: int | None = None
    is_stream: bool = False
    channel_id: int = 0
    channel_name: str = ""
    group: str = "default"
    ip: str | None = None
    content: str = ""
    endpoint: str = ""
    other: dict[str, Any] = field(default_factory=dict)
    # `other` serialized, as validated (its size was checked on these bytes); the ingest service
    # stores it as is instead of serializing again. None: serialize `other`.
    other_json: str | None = field(default=None, repr=False, compare=False)


class BatchError(ValueError):
    """The body is not a batch at all (HTTP 400, nothing stored)."""


def batch_parse(body: bytes) -> list[Any]:
    """The raw items of a request body: `{"logs": [...]}` or a bare array of 1..1000 items."""
    if len(body) > MAX_BODY_BYTES:
        raise BatchError(f"request body exceeds {MAX_BODY_BYTES // (1024 * 1024)} MiB")
    if not body.strip():
        raise BatchError('empty body: send {"logs": [...]} or a JSON array of events')
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BatchError(f"body is not valid JSON (UTF-8): {exc}") from None
    if isinstance(data, dict):
        extra = sorted(str(key)[:64] for key in data if key != "logs")
        if extra:
            shown = ", ".join(repr(name) for name in extra[:5])
            raise BatchError(f'unknown top-level field(s): {shown}; expected only "logs"')
        if "logs" not in data:
            raise BatchError('missing "logs": send {"logs": [...]} or a JSON array of events')
        data = data["logs"]
        if not isinstance(data, list):
            raise BatchError('"logs" must be a JSON array of events')
    elif not isinstance(data, list):
        raise BatchError('the body must be {"logs": [...]} or a JSON array of events')
    if not data:
        raise BatchError("the batch holds no events (send 1 to 1000)")
    if len(data) > MAX_BATCH:
        raise BatchError(f"the batch holds {len(data)} events; at most {MAX_BATCH} are accepted")
    return data


def _int_problem(name: str, value: Any, minimum: int, maximum: int = MAX_BIGINT) -> str:
    if value is None:
        return f"{name}: must be an integer, not null"
    if type(value) is not int:
        return f"{name}: must be an integer, not {_json_type(value)}"
    if value < minimum:
        return f"{name}: must be >= {minimum}"
    return f"{name}: must be <= {maximum}"


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number with a fraction or exponent"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    if value is None:
        return "null"
    return type(value).__name__


def _created_at(value: Any, now: int) -> int | str:
    """Unix seconds, or the problem."""
    if type(value) is int:
        ts = value
    elif isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.strip())
            if parsed.tzinfo is None:
                # A gateway that sends naive times runs in UTC (docs/ingest.md).
                parsed = parsed.replace(tzinfo=UTC)
            ts = int(parsed.timestamp())
        except (ValueError, OverflowError):
            return f"created_at: {value[:40]!r} is not an ISO-8601 date-time"
    else:
        return (
            "created_at: must be Unix seconds (integer) or an ISO-8601 string, "
            f"not {_json_type(value)}"
        )
    if ts < 0:
        return "created_at: must be >= 0 (Unix seconds)"
    if ts > now + MAX_FUTURE_SECONDS:
        return "created_at: more than 5 minutes in the future"
    return ts


def _other(value: Any) -> tuple[dict[str, Any], str] | str:
    """(object, its JSON text), or the problem."""
    if isinstance(value, str):
        if value in ("", "null"):  # new-api's own API shows an empty `other` as "null"
            return {}, "{}"
        if len(value) > MAX_OTHER_BYTES * 6:  # worst case of escaping; exact check below
            return f"other: larger than {MAX_OTHER_BYTES} bytes"
        try:
            value = orjson.loads(value)
        except orjson.JSONDecodeError:
            return "other: the string does not hold valid JSON"
    if type(value) is not dict:
        return f"other: must be a JSON object (or a string holding one), not {_json_type(value)}"
    if not value:
        return {}, "{}"
    try:
        text = orjson.dumps(value)
    except orjson.JSONEncodeError:
        return "other: nested too deeply"
    if len(text) > MAX_OTHER_BYTES:
        return f"other: larger than {MAX_OTHER_BYTES} bytes when serialized"
    if b"\\u0000" in text and _JSON_NUL.search(text):
        return "other: must not contain NUL characters"
    return value, text.decode()


# Valid addresses seen, as sent -> canonical: a gateway's traffic comes from a limited set of
# client addresses, and parsing one costs more than validating the rest of an event.
_IP_CACHE: dict[str, str] = {}
_IP_CACHE_SIZE = 16384


def _ip_canonical(value: str) -> str | None:
    """The canonical form of an IP address (as PostgreSQL's inet prints it), None if invalid."""
    if "%" in value:  # scoped IPv6 (fe80::1%eth0): inet has no zone ids
        return None
    try:
        if ":" in value:
            # ipaddress accepts every spelling (also the 45-character uncompressed one with a
            # dotted tail); Django prints the form inet prints (::ffff:192.0.2.1).
            return clean_ipv6_address(str(ipaddress.IPv6Address(value)))
        return str(ipaddress.IPv4Address(value))
    except (ValueError, ValidationError):
        return None


def event_parse(raw: Any, *, now: int) -> LogEvent | list[str]:
    """Validate one raw item against API.md section 2. `now` is the server's Unix time.

    Null is accepted where the spec allows it (`first_token_ms`, `ip`) and for `other`
    (meaning {}); elsewhere it is a type error (docs/ingest.md)."""
    if type(raw) is not dict:
        return [f"event must be a JSON object, not {_json_type(raw)}"]
    errors: list[str] = []
    if not raw.keys() <= KNOWN_FIELDS:
        unknown = sorted(str(name)[:64] for name in raw if name not in KNOWN_FIELDS)
        errors.append(f"unknown field(s): {', '.join(repr(name) for name in unknown[:10])}")
    get = raw.get

    # The optional strings and counters, as sent (absent ones keep LogEvent's defaults).
    values: dict[str, Any] = {}
    for name, longest in STRING_FIELDS:
        value = get(name, _ABSENT)
        if value is _ABSENT:
            continue
        if type(value) is str and len(value) <= longest and "\x00" not in value:
            values[name] = value
        elif type(value) is not str:
            errors.append(f"{name}: must be a string, not {_json_type(value)}")
        elif len(value) > longest:
            errors.append(f"{name}: at most {longest} characters")
        else:
            errors.append(f"{name}: must not contain NUL characters")

    username = get("username")
    if username is None and "username" not in raw:
        errors.append("username: required")
    elif type(username) is not str:
        errors.append(f"username: must be a string, not {_json_type(username)}")
    elif not username or len(username) > 64:
        errors.append("username: must be 1 to 64 characters")
    elif "\x00" in username:
        errors.append("username: must not contain NUL characters")

    user_id = get("user_id")
    if user_id is None and "user_id" not in raw:
        errors.append("user_id: required")
    elif type(user_id) is int and user_id > GATEWAY_ID_MAX:
        errors.append(MSG_USER_ID_LOCAL)
    elif type(user_id) is not int or user_id < 1:
        errors.append(_int_problem("user_id", user_id, 1))

    log_type = get("type", 2)
    if type(log_type) is not int or not 0 <= log_type <= 6:
        errors.append(
            _int_problem("type", log_type, 0, 6) if type(log_type) is not int
            else "type: must be one of 0 (unknown), 1 (topup), 2 (consume), 3 (manage), "
            "4 (system), 5 (error), 6 (refund)"
        )  # fmt: skip

    for name, bound in OTHER_COUNTERS:
        value = get(name, _ABSENT)
        if value is _ABSENT:
            continue
        if type(value) is int and 0 <= value <= bound:
            values[name] = value
        else:
            errors.append(_int_problem(name, value, 0, bound))
    tokens = 0
    for name in TOKEN_FIELDS:
        value = get(name, _ABSENT)
        if value is _ABSENT:
            continue
        if type(value) is int and 0 <= value <= MAX_TOKENS:
            values[name] = value
            tokens += value
        else:
            errors.append(_int_problem(name, value, 0, MAX_TOKENS))
    if tokens > MAX_TOKENS:
        errors.append(f"{' + '.join(TOKEN_FIELDS)}: must be <= {MAX_TOKENS} together, not {tokens}")

    channel_id = get("channel_id", 0)
    if type(channel_id) is not int or not 0 <= channel_id <= MAX_BIGINT:
        errors.append(_int_problem("channel_id", channel_id, 0))
        channel_id = 0
    if "channel" in raw:
        alias = raw["channel"]
        if type(alias) is not int or not 0 <= alias <= MAX_BIGINT:
            errors.append(_int_problem("channel", alias, 0))
        elif "channel_id" in raw and alias != channel_id:
            errors.append("channel: differs from channel_id (send one of them)")
        else:
            channel_id = alias

    use_time = get("use_time", 0)
    duration_ms = get("duration_ms", 0)
    use_time_ok = type(use_time) is int and 0 <= use_time <= MAX_USE_TIME
    duration_ok = type(duration_ms) is int and 0 <= duration_ms <= MAX_DURATION_MS
    if not use_time_ok:
        errors.append(_int_problem("use_time", use_time, 0, MAX_USE_TIME))
    if not duration_ok:
        errors.append(_int_problem("duration_ms", duration_ms, 0, MAX_DURATION_MS))
    if use_time_ok and duration_ok:
        # Either derived value stays within the other's bound (MAX_USE_TIME's definition).
        if "use_time" not in raw:
            use_time = duration_ms // 1000
        elif "duration_ms" not in raw:
            duration_ms = use_time * 1000

    first_token_ms = get("first_token_ms")
    if first_token_ms is not None and (
        type(first_token_ms) is not int or not 0 <= first_token_ms <= MAX_DURATION_MS
    ):
        errors.append(_int_problem("first_token_ms", first_token_ms, 0, MAX_DURATION_MS))

    is_stream = get("is_stream", False)
    if type(is_stream) is not bool:
        errors.append(f"is_stream: must be true or false, not {_json_type(is_stream)}")

    created_at = get("created_at", now)
    if type(created_at) is not int or not 0 <= created_at <= now + MAX_FUTURE_SECONDS:
        created_at = _created_at(created_at, now)
        if type(created_at) is str:
            errors.append(created_at)

    ip = get("ip")
    if ip is not None and ip != "":
        if type(ip) is not str:
            errors.append(
                f"ip: must be an IPv4 or IPv6 address string or null, not {_json_type(ip)}"
            )
        else:
            canonical = _IP_CACHE.get(ip)
            if canonical is None:
                canonical = _ip_canonical(ip.strip()) if len(ip) <= 64 else None
                if canonical is not None and len(_IP_CACHE) < _IP_CACHE_SIZE:
                    _IP_CACHE[ip] = canonical
            if canonical is None:
                errors.append(f"ip: {ip[:64]!r} is not an IPv4 or IPv6 address")
            ip = canonical
    else:
        ip = None

    other: dict[str, Any] = {}
    other_json = "{}"
    raw_other = get("other")
    if raw_other is not None:
        parsed = _other(raw_other)
        if type(parsed) is str:
            errors.append(parsed)
        else:
            other, other_json = parsed  # type: ignore[misc]

    if errors:
        return errors
    return LogEvent(
        created_at=created_at,  # type: ignore[arg-type]
        user_id=user_id,  # type: ignore[arg-type]
        username=username,  # type: ignore[arg-type]
        type=log_type,
        use_time=use_time,
        duration_ms=duration_ms,
        first_token_ms=first_token_ms,
        is_stream=is_stream,
        channel_id=channel_id,
        ip=ip,
        other=other,
        other_json=other_json,
        **values,
    )
