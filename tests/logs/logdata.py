"""Helpers shared by the log API tests: storing logs and the expected item shapes."""

from __future__ import annotations

import json
from typing import Any

from logs.events import LogEvent
from logs.models import Log
from usage.services import logs_ingest

T0 = 1_735_689_600  # 2025-01-01T00:00:00Z


def store(*events: LogEvent) -> list[Log]:
    """Ingest through the real service; returns the stored rows in insertion order."""
    result = logs_ingest(events=list(events))
    assert result.accepted == len(events)
    return list(Log.objects.order_by("id"))


def bulk_logs(count: int, *, start: int = T0, **fields: Any) -> None:
    """`count` logs of user 1000 with created_at = start, start + 1, ..., stored through the
    ingest service in batches of 1000 (the real writer: it also keeps whatever the database
    needs beside the rows, such as aggregates and partitions)."""
    values: dict[str, Any] = {"user_id": 1000, "username": "user1000", "quota": 1}
    values.update(fields)
    events = [LogEvent(created_at=start + i, **values) for i in range(count)]
    for first in range(0, count, 1000):
        logs_ingest(events=events[first : first + 1000])


def admin_item(log: Log) -> dict[str, Any]:
    """The admin shape, spelled out field by field (the contract of API.md section 3)."""
    return {
        "id": log.id,
        "user_id": log.user_id,
        "created_at": log.created_at,
        "type": log.type,
        "content": log.content,
        "username": log.username,
        "token_id": log.token_id,
        "token_name": log.token_name,
        "model_name": log.model_name,
        "quota": log.quota,
        "prompt_tokens": log.prompt_tokens,
        "completion_tokens": log.completion_tokens,
        "cache_read_tokens": log.cache_read_tokens,
        "cache_creation_tokens": log.cache_creation_tokens,
        "use_time": log.use_time,
        "duration_ms": log.duration_ms,
        "first_token_ms": log.first_token_ms,
        "is_stream": log.is_stream,
        "channel": log.channel_id,
        "channel_id": log.channel_id,
        "channel_name": log.channel_name,
        "group": log.group,
        "ip": log.ip,
        "request_id": log.request_id,
        "endpoint": log.endpoint,
        "other": json.dumps(log.other, sort_keys=True, separators=(",", ":"), ensure_ascii=False),
    }


def ids(response: Any) -> list[int]:
    body = response.json()
    assert body["success"] is True, body
    data = body["data"]
    items = data["items"] if isinstance(data, dict) else data
    return [item["id"] for item in items]
