"""The new-api item shapes of a log (API.md section 3): the admin shape, and the user shape that
hides what users must not see. Also used for the OpenAPI schema of the items."""

from __future__ import annotations

from typing import Any, TypedDict

import orjson
from rest_framework import serializers

from logs.models import Log

# Keys of `other` that only admins see: new-api strips admin_info and stream_status in
# formatUserLogs; channel details (error logs carry channel_id/channel_name/channel_type) are
# hidden too, since users never see channels.
HIDDEN_OTHER_KEYS = frozenset({"admin_info", "stream_status", "channel"})


def other_for_user(other: Any) -> Any:
    if not isinstance(other, dict):
        return other
    return {
        key: value
        for key, value in other.items()
        if key not in HIDDEN_OTHER_KEYS and not key.startswith("channel_")
    }


def other_json(other: Any) -> str:
    """`other` as new-api sends it: a JSON string. Keys sorted, so that both databases (jsonb
    reorders keys, SQLite keeps them) give the same bytes."""
    return orjson.dumps(other if other is not None else {}, option=orjson.OPT_SORT_KEYS).decode()


# What users never see of a log: the channel and the client address (blank or null in their
# items, left out of their CSV).
ADMIN_ONLY_FIELDS = frozenset({"channel_id", "channel_name", "ip"})


class LogItem(TypedDict):
    """A log as new-api's log APIs send it (API.md section 3)."""

    id: int
    user_id: int
    created_at: int
    type: int
    content: str
    username: str
    token_id: int
    token_name: str
    model_name: str
    quota: int
    prompt_tokens: int
    completion_tokens: int
    cache_read_tokens: int
    cache_creation_tokens: int
    use_time: int
    duration_ms: int
    first_token_ms: int | None
    is_stream: bool
    channel: int
    channel_id: int
    channel_name: str
    group: str
    ip: str | None
    request_id: str
    endpoint: str
    other: str


def log_item(log: Log, *, admin: bool) -> LogItem:
    """The item of `log`: the admin shape, or the user shape (ADMIN_ONLY_FIELDS blank, `ip`
    null, `other` without the admin-only keys). Built directly rather than field by field: a
    page of 100 logs serializes in a fraction of the time."""
    channel_id = log.channel_id if admin else 0
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
        "channel": channel_id,
        "channel_id": channel_id,
        "channel_name": log.channel_name if admin else "",
        "group": log.group,
        "ip": log.ip if admin else None,
        "request_id": log.request_id,
        "endpoint": log.endpoint,
        "other": other_json(log.other if admin else other_for_user(log.other)),
    }


class LogItemSerializer(serializers.Serializer):
    """Admin item: every log field, plus `channel` (new-api's key for the channel id)."""

    id = serializers.IntegerField()
    user_id = serializers.IntegerField()
    created_at = serializers.IntegerField(help_text="Unix seconds")
    type = serializers.IntegerField(help_text="0..6 (new-api codes)")
    content = serializers.CharField()
    username = serializers.CharField()
    token_id = serializers.IntegerField()
    token_name = serializers.CharField()
    model_name = serializers.CharField()
    quota = serializers.IntegerField()
    prompt_tokens = serializers.IntegerField()
    completion_tokens = serializers.IntegerField()
    cache_read_tokens = serializers.IntegerField()
    cache_creation_tokens = serializers.IntegerField()
    use_time = serializers.IntegerField(help_text="seconds")
    duration_ms = serializers.IntegerField()
    first_token_ms = serializers.IntegerField(allow_null=True)
    is_stream = serializers.BooleanField()
    channel = serializers.IntegerField(help_text="channel id (new-api's key); 0 for users")
    channel_id = serializers.IntegerField(help_text="0 for users")
    channel_name = serializers.CharField(help_text='"" for users')
    group = serializers.CharField()
    ip = serializers.CharField(allow_null=True, help_text="null for users")
    request_id = serializers.CharField()
    endpoint = serializers.CharField()
    other = serializers.CharField(
        help_text="JSON object serialized as a string; for users without admin_info, "
        "stream_status and channel_* keys"
    )

    def to_representation(self, instance: Log) -> LogItem:  # type: ignore[override]
        return log_item(instance, admin=True)


class LogUserItemSerializer(LogItemSerializer):
    """User item: the admin shape with the channel fields blank, `ip` null and `other` without
    the admin-only keys."""

    def to_representation(self, instance: Log) -> LogItem:  # type: ignore[override]
        return log_item(instance, admin=False)
