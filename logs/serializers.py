"""The new-api item shapes of a log (API.md section 3): the admin shape, and the user shape that
hides what users must not see. Also used for the OpenAPI schema of the items."""

from __future__ import annotations

from typing import Any

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

    def to_representation(self, instance: Log) -> dict[str, Any]:
        # Built directly (not field by field): the shape above is the contract, and a page of
        # 100 logs serializes in a fraction of the time.
        return {
            "id": instance.id,
            "user_id": instance.user_id,
            "created_at": instance.created_at,
            "type": instance.type,
            "content": instance.content,
            "username": instance.username,
            "token_id": instance.token_id,
            "token_name": instance.token_name,
            "model_name": instance.model_name,
            "quota": instance.quota,
            "prompt_tokens": instance.prompt_tokens,
            "completion_tokens": instance.completion_tokens,
            "cache_read_tokens": instance.cache_read_tokens,
            "cache_creation_tokens": instance.cache_creation_tokens,
            "use_time": instance.use_time,
            "duration_ms": instance.duration_ms,
            "first_token_ms": instance.first_token_ms,
            "is_stream": instance.is_stream,
            "channel": instance.channel_id,
            "channel_id": instance.channel_id,
            "channel_name": instance.channel_name,
            "group": instance.group,
            "ip": instance.ip,
            "request_id": instance.request_id,
            "endpoint": instance.endpoint,
            "other": other_json(instance.other),
        }


class LogUserItemSerializer(LogItemSerializer):
    """User item: the admin shape with the channel fields blank, `ip` null and `other` without
    the admin-only keys."""

    def to_representation(self, instance: Log) -> dict[str, Any]:
        item = super().to_representation(instance)
        item.update(
            channel=0,
            channel_id=0,
            channel_name="",
            ip=None,
            other=other_json(other_for_user(instance.other)),
        )
        return item
