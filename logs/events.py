"""Validation of ingested events (API.md section 2).

Deliberately plain Python: a 1000-event batch must validate in a few milliseconds, which DRF
serializers cannot do. `event_parse` returns a `LogEvent` or the list of problems with the item.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

MAX_BATCH = 1000
MAX_BODY_BYTES = 10 * 1024 * 1024
MAX_FUTURE_SECONDS = 300
MAX_OTHER_BYTES = 16 * 1024
MAX_BIGINT = 2**63 - 1

STRING_LIMITS: dict[str, tuple[int, int]] = {
    # field: (min length, max length)
    "request_id": (0, 64),
    "username": (1, 64),
    "token_name": (0, 128),
    "model_name": (0, 128),
    "channel_name": (0, 128),
    "group": (0, 64),
    "content": (0, 4096),
    "endpoint": (0, 128),
}
COUNTER_FIELDS = (
    "token_id",
    "quota",
    "prompt_tokens",
    "completion_tokens",
    "cache_read_tokens",
    "cache_creation_tokens",
    "channel_id",
)
KNOWN_FIELDS = frozenset(
    {
        *STRING_LIMITS,
        *COUNTER_FIELDS,
        "created_at",
        "type",
        "user_id",
        "use_time",
        "duration_ms",
        "first_token_ms",
        "is_stream",
        "channel",
        "ip",
        "other",
    }
)


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
        raise BatchError(f"body is not valid JSON: {exc}") from None
    if isinstance(data, dict):
        extra = sorted(set(data) - {"logs"})
        if extra:
            raise BatchError(f'unknown top-level field(s): {", ".join(extra)}; expected "logs"')
        if "logs" not in data:
            raise BatchError('missing "logs": send {"logs": [...]} or a JSON array of events')
        data = data["logs"]
    if not isinstance(data, list):
        raise BatchError('"logs" must be a JSON array of events')
    if not data:
        raise BatchError("the batch holds no events (send 1 to 1000)")
    if len(data) > MAX_BATCH:
        raise BatchError(f"the batch holds {len(data)} events; at most {MAX_BATCH} are accepted")
    return data


def _int(raw: dict[str, Any], name: str, errors: list[str], *, minimum: int, default: int) -> int:
    value = raw.get(name, default)
    if value is None and name in raw:
        errors.append(f"{name}: must be an integer, not null")
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        errors.append(f"{name}: must be an integer")
        return default
    if value < minimum:
        errors.append(f"{name}: must be >= {minimum}")
        return default
    if value > MAX_BIGINT:
        errors.append(f"{name}: must be <= {MAX_BIGINT}")
        return default
    return value


def _created_at(raw: dict[str, Any], now: int, errors: list[str]) -> int:
    value = raw.get("created_at")
    if value is None:
        return now
    if isinstance(value, bool):
        errors.append("created_at: must be Unix seconds or an ISO-8601 string")
        return now
    if isinstance(value, int):
        ts = value
    elif isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.strip())
        except ValueError:
            errors.append(f"created_at: {value[:40]!r} is not an ISO-8601 date-time")
            return now
        if parsed.tzinfo is None:
            # A gateway that sends naive times runs in UTC (docs/ingest.md).
            parsed = parsed.replace(tzinfo=UTC)
        ts = int(parsed.timestamp())
    else:
        errors.append("created_at: must be Unix seconds or an ISO-8601 string")
        return now
    if ts < 0:
        errors.append("created_at: must be >= 0 (Unix seconds)")
    elif ts > now + MAX_FUTURE_SECONDS:
        errors.append("created_at: more than 5 minutes in the future")
    return ts


def _other(raw: dict[str, Any], errors: list[str]) -> dict[str, Any]:
    value = raw.get("other")
    if value is None or value == "":
        return {}
    if isinstance(value, str):
        if len(value) > MAX_OTHER_BYTES * 4:
            errors.append(f"other: larger than {MAX_OTHER_BYTES} bytes")
            return {}
        try:
            value = orjson.loads(value)
        except orjson.JSONDecodeError:
            errors.append("other: the string does not hold valid JSON")
            return {}
    if not isinstance(value, dict):
        errors.append("other: must be a JSON object (or a string holding one)")
        return {}
    if len(orjson.dumps(value)) > MAX_OTHER_BYTES:
        errors.append(f"other: larger than {MAX_OTHER_BYTES} bytes when serialized")
        return {}
    return value


def _ip(raw: dict[str, Any], errors: list[str]) -> str | None:
    value = raw.get("ip")
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        errors.append("ip: must be an IPv4 or IPv6 address string or null")
        return None
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        errors.append(f"ip: {value[:64]!r} is not an IPv4 or IPv6 address")
        return None


def event_parse(raw: Any, *, now: int) -> LogEvent | list[str]:
    """Validate one raw item against API.md section 2. `now` is the server's Unix time."""
    if not isinstance(raw, dict):
        return ["event must be a JSON object"]
    errors: list[str] = []
    unknown = [name for name in raw if name not in KNOWN_FIELDS]
    if unknown:
        errors.append(f"unknown field(s): {', '.join(sorted(unknown)[:10])}")

    # Any: `strings` and `counters` are spread into LogEvent by name, which mypy cannot check.
    strings: dict[str, Any] = {}
    for name, (low, high) in STRING_LIMITS.items():
        if name not in raw:
            continue
        value = raw[name]
        if name == "group" and value is None:
            continue
        if not isinstance(value, str):
            errors.append(f"{name}: must be a string")
            continue
        if "\x00" in value:
            errors.append(f"{name}: must not contain NUL characters")
            continue
        if len(value) < low:
            errors.append(f"{name}: must not be empty")
        elif len(value) > high:
            errors.append(f"{name}: at most {high} characters")
        else:
            strings[name] = value
    if "username" not in raw:
        errors.append("username: required")

    if "user_id" not in raw:
        errors.append("user_id: required")
        user_id = 0
    else:
        user_id = _int(raw, "user_id", errors, minimum=1, default=0)

    log_type = _int(raw, "type", errors, minimum=0, default=2)
    if log_type > 6:
        errors.append("type: must be between 0 and 6")

    counters: dict[str, Any] = {
        name: _int(raw, name, errors, minimum=0, default=0) for name in COUNTER_FIELDS
    }
    if "channel" in raw:
        alias = _int(raw, "channel", errors, minimum=0, default=0)
        if "channel_id" in raw and alias != counters["channel_id"]:
            errors.append("channel: differs from channel_id (send one of them)")
        counters["channel_id"] = alias

    has_use_time, has_duration = "use_time" in raw, "duration_ms" in raw
    use_time = _int(raw, "use_time", errors, minimum=0, default=0)
    duration_ms = _int(raw, "duration_ms", errors, minimum=0, default=0)
    if has_duration and not has_use_time:
        use_time = duration_ms // 1000
    elif has_use_time and not has_duration:
        duration_ms = use_time * 1000
    if use_time > 2**31 - 1:
        errors.append("use_time: must be < 2^31 seconds")

    first_token_ms: int | None = None
    if raw.get("first_token_ms") is not None:
        first_token_ms = _int(raw, "first_token_ms", errors, minimum=0, default=0)

    is_stream = raw.get("is_stream", False)
    if not isinstance(is_stream, bool):
        errors.append("is_stream: must be true or false")
        is_stream = False

    created_at = _created_at(raw, now, errors)
    other = _other(raw, errors)
    ip = _ip(raw, errors)
    if errors:
        return errors
    return LogEvent(
        created_at=created_at,
        user_id=user_id,
        type=log_type,
        use_time=use_time,
        duration_ms=duration_ms,
        first_token_ms=first_token_ms,
        is_stream=is_stream,
        ip=ip,
        other=other,
        **strings,
        **counters,
    )
