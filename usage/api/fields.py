"""The fields and helpers the statistics dialects' input serializers share (API.md sections
4-7): zones, local dates, instants, Unix seconds, ids and choices.

Each endpoint's query parameters are declared once, in its dialect's module: the view validates
with the class and drf-spectacular documents the same class (`extend_schema(parameters=[...])`).
`validate()` resolves defaults, zones and inclusive ranges into Unix seconds, so a view receives
`start`, `end` (both inclusive) and `timezone` (a ZoneInfo) ready for the selectors. The output
serializers beside them only document the responses (views build plain dicts, which is much
faster for thousands of rows); tests check the two agree.
"""

from __future__ import annotations

import time
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import ResolvedComponent
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from logs.events import MAX_BIGINT
from usage.buckets import (
    MAX_TIMESTAMP,
    YEAR_PATTERN,
    BucketError,
    date_parse,
    instant_parse,
    zone_get,
    zone_names,
)

MODEL_MAX_LENGTH = 128  # logs.model_name


def server_zone() -> ZoneInfo:
    return zone_get(None, settings.TIME_ZONE)


def request_now(serializer: serializers.Serializer[Any]) -> int:
    """The instant a request is answered at: views pass one `now` in the context so that every
    part of a response ("today", "the last 5 minutes", defaults) agrees."""
    now = serializer.context.get("now")
    return int(now) if now is not None else int(time.time())


# --- Fields ------------------------------------------------------------------------------------


class ZoneField(serializers.Field):
    """An IANA time zone name (`Asia/Kolkata`); absent or blank: the server's TIME_ZONE. An
    unknown name is an error, never a silent fallback."""

    default_error_messages = {"invalid": "must be an IANA time zone name"}

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        kwargs.setdefault("default", server_zone)
        kwargs.setdefault(
            "help_text",
            "IANA time zone name, e.g. `Asia/Kolkata`; default: the server's TIME_ZONE.",
        )
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> ZoneInfo:
        if not isinstance(data, str):
            self.fail("invalid")
        try:
            return zone_get(data, settings.TIME_ZONE)
        except BucketError as exc:
            raise serializers.ValidationError(str(exc)) from None

    def to_representation(self, value: Any) -> str:
        return str(value)


class ZoneFieldSchema(OpenApiSerializerFieldExtension):
    """Every time zone parameter refers to one `TimeZone` component: the names `zone_get`
    accepts. (Sent empty, the parameter counts as absent: `allowEmptyValue`, accounts/schema.py.)"""

    target_class = ZoneField

    def map_serializer_field(self, auto_schema: AutoSchema, direction: str) -> dict[str, Any]:
        component = ResolvedComponent(
            name="TimeZone",
            type=ResolvedComponent.SCHEMA,
            object="TimeZone",
            schema={
                "type": "string",
                "enum": sorted(zone_names()),
                "description": "An IANA time zone name.",
            },
        )
        auto_schema.registry.register_on_missing(component)
        return component.ref


# A date as the schema states it: the layout, a real calendar day (`format`), years 1970..9998.
DATE_SCHEMA = {
    "type": "string",
    "format": "date",
    "pattern": f"^{YEAR_PATTERN}-[0-9]{{2}}-[0-9]{{2}}$",
}


@extend_schema_field(DATE_SCHEMA)
class LocalDateField(serializers.Field):
    """A calendar date written exactly `YYYY-MM-DD`, read in the request's zone later."""

    default_error_messages = {"invalid": "use YYYY-MM-DD, e.g. 2025-01-31"}

    def to_internal_value(self, data: Any) -> date:
        if not isinstance(data, str):
            self.fail("invalid")
        try:
            return date_parse(data)
        except BucketError as exc:
            raise serializers.ValidationError(str(exc)) from None

    def to_representation(self, value: Any) -> str:
        return value.isoformat()


@extend_schema_field(
    {
        "type": "string",
        "maxLength": 64,
        "anyOf": [
            DATE_SCHEMA,
            {"type": "string", "format": "date-time", "pattern": f"^{YEAR_PATTERN}-"},
        ],
    }
)
class InstantField(serializers.Field):
    """An ISO 8601 date or date-time; resolved against the request's zone in `validate()`."""

    default_error_messages = {"invalid": "use an ISO 8601 date-time, e.g. 2024-08-01T00:00:00Z"}

    def to_internal_value(self, data: Any) -> date | datetime:
        if not isinstance(data, str):
            self.fail("invalid")
        try:
            return instant_parse(data)
        except BucketError as exc:
            raise serializers.ValidationError(str(exc)) from None

    def to_representation(self, value: Any) -> str:
        return value.isoformat()


class UnixSecondsField(serializers.IntegerField):
    """Unix seconds, 0..MAX_TIMESTAMP (the end of year 9998). A value that is not an integer
    reads `invalid <name>`, as new-api words it."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("min_value", 0)
        kwargs.setdefault("max_value", MAX_TIMESTAMP)
        kwargs.setdefault(
            "error_messages",
            {
                "min_value": "must be >= 0 (Unix seconds)",
                "max_value": f"must be <= {MAX_TIMESTAMP} (Unix seconds)",
            },
        )
        super().__init__(**kwargs)

    def bind(self, field_name: str, parent: Any) -> None:
        super().bind(field_name, parent)
        self.error_messages["invalid"] = f"invalid {field_name}: use an integer (Unix seconds)"
        self.error_messages["max_string_length"] = self.error_messages["invalid"]


def id_field(**kwargs: Any) -> serializers.IntegerField:
    return serializers.IntegerField(min_value=0, max_value=MAX_BIGINT, **kwargs)


def choice_field(choices: tuple[str, ...], **kwargs: Any) -> serializers.ChoiceField:
    return serializers.ChoiceField(
        choices=choices,
        error_messages={"invalid_choice": f"must be one of {', '.join(choices)}"},
        **kwargs,
    )


def ordered(attrs: dict[str, Any], first: str, second: str) -> None:
    if attrs["start"] > attrs["end"]:
        raise serializers.ValidationError(f"{first} is after {second}")
