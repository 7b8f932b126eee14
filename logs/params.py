"""Query parameters of the log reads (API.md section 3), declared once: these input serializers
validate `request.query_params` and, exploded by drf-spectacular, document them in the OpenAPI
schema. The validated result is a `LogFilter`, the input of `logs.selectors`. They are DRF
serializers rather than django-filter FilterSets: docs/logs-api.md, "Why input serializers".

Every message names the parameter and says what to send instead (API.md section 9)."""

from __future__ import annotations

import re
from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from logs.events import MAX_BIGINT
from logs.filters import LogCursor, LogFilter

DEFAULT_PAGE_SIZE = 10  # new-api's ItemsPerPage
MAX_PAGE_SIZE = 100
MAX_KEYWORD = 128
# Raw integers longer than this are out of any bigint range; checked before int() parses them.
_INTEGER = re.compile(r"[+-]?[0-9]+")


def pattern_problem(name: str, value: str) -> str | None:
    """new-api's checks of a `%` pattern (`sanitizeLikePattern`), with its reasons in English."""
    if "%" not in value:
        return None
    if "%%" in value:
        return f"{name}: consecutive % wildcards are not allowed in a search pattern"
    if value.count("%") > 2:
        return f"{name}: a search pattern may contain at most 2 % wildcards"
    if len(value.replace("%", "")) < 2:
        return f"{name}: a fuzzy search needs at least 2 characters besides %"
    return None


@extend_schema_field(OpenApiTypes.INT)
class IntParam(serializers.Field):
    """An integer query parameter. "" and absence give the default; a non-integer gets
    "invalid <name>" (API.md section 3); range problems say the allowed range."""

    def __init__(
        self, *, minimum: int | None = 0, maximum: int = MAX_BIGINT, default: int = 0, **kwargs: Any
    ) -> None:
        self.minimum = minimum
        self.maximum = maximum
        kwargs.setdefault("required", False)
        super().__init__(default=default, **kwargs)

    def to_internal_value(self, data: Any) -> int:
        text = str(data).strip()
        if not _INTEGER.fullmatch(text):
            raise serializers.ValidationError(f"invalid {self.field_name}")
        # Compare the digits' length first: int() of a 10 KB string is refused by Python itself.
        huge = len(text.lstrip("+-").lstrip("0")) > 19
        value = 0 if huge else int(text)
        too_low = self.minimum is not None and (value < self.minimum or (huge and "-" in text))
        if huge or too_low or value > self.maximum:
            if self.minimum is not None and self.maximum < MAX_BIGINT:
                reason = f"must be between {self.minimum} and {self.maximum}"
            elif too_low:
                reason = f"must be >= {self.minimum}"
            else:
                reason = f"must be <= {self.maximum}"
            raise serializers.ValidationError(f"{self.field_name} {reason}")
        return value

    def to_representation(self, value: Any) -> Any:
        return value


@extend_schema_field(OpenApiTypes.INT)
class LenientIntParam(IntParam):
    """`p` and the page sizes: any integer is accepted and the view clamps it (API.md)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(minimum=None, **kwargs)

    def to_internal_value(self, data: Any) -> int:
        text = str(data).strip()
        if not _INTEGER.fullmatch(text):
            raise serializers.ValidationError(f"invalid {self.field_name}")
        # A huge page number or size is still just "too big": clamp it, do not refuse it.
        if len(text.lstrip("+-").lstrip("0")) > 19:
            return -MAX_BIGINT if text.startswith("-") else MAX_BIGINT
        return max(-MAX_BIGINT, min(MAX_BIGINT, int(text)))


class TextParam(serializers.CharField):
    """A string filter: "" means no filter; no trimming (exact means exact); no NUL; at most
    the column's length (a longer value could never match, so it is refused with the limit)."""

    def __init__(self, *, max_length: int, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        kwargs.setdefault("allow_blank", True)
        kwargs.setdefault("default", "")
        kwargs.setdefault("trim_whitespace", False)
        super().__init__(**kwargs)
        self.max_length_param = max_length
        # CharField's own validators (NUL, length) carry messages without the parameter name.
        self.validators = []

    def to_internal_value(self, data: Any) -> str:
        value = str(data)
        if "\x00" in value:
            raise serializers.ValidationError(f"{self.field_name} must not contain NUL characters")
        if len(value) > self.max_length_param:
            raise serializers.ValidationError(
                f"{self.field_name} must be at most {self.max_length_param} characters"
            )
        return value


class PatternParam(TextParam):
    """`model_name` and `username`: exact, or a `%` pattern validated as new-api does."""

    def to_internal_value(self, data: Any) -> str:
        value = super().to_internal_value(data)
        problem = pattern_problem(self.field_name or "", value)
        if problem:
            raise serializers.ValidationError(problem)
        return value


@extend_schema_field(OpenApiTypes.STR)
class CursorParam(serializers.Field):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(required=False, default=None, **kwargs)

    def to_internal_value(self, data: Any) -> LogCursor | None:
        if str(data).strip() == "":
            return None
        cursor = LogCursor.decode(str(data))
        if cursor is None:
            raise serializers.ValidationError(
                "invalid cursor: send the next_cursor of the previous page unchanged"
            )
        return cursor

    def to_representation(self, value: Any) -> Any:
        return value


class LogFilterParams(serializers.Serializer):
    """The filters of `GET /api/log/`, `/api/log/stat` and `/api/log/export` (admin)."""

    start_timestamp = IntParam(help_text="Unix seconds, inclusive; 0 or absent: unbounded.")
    end_timestamp = IntParam(help_text="Unix seconds, inclusive; 0 or absent: unbounded.")
    type = IntParam(
        maximum=6,
        help_text="Log type: 1 topup, 2 consume, 3 manage, 4 system, 5 error, 6 refund; 0 = all.",
    )
    username = PatternParam(
        max_length=64,
        help_text="Exact username, or a pattern with `%` wildcards (at most 2, not adjacent, "
        "at least 2 other characters; case-insensitive; `_` is literal).",
    )
    token_name = TextParam(max_length=128, help_text="Exact token (API key) name.")
    model_name = PatternParam(
        max_length=128, help_text="Exact model name, or a `%` pattern (rules as `username`)."
    )
    channel = IntParam(help_text="Channel id; 0 or absent: all channels.")
    group = TextParam(max_length=64, help_text="Exact group.")
    request_id = TextParam(max_length=64, help_text="Exact request id.")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        start, end = attrs.get("start_timestamp", 0), attrs.get("end_timestamp", 0)
        if start and end and start > end:
            raise serializers.ValidationError(
                f"start_timestamp ({start}) is after end_timestamp ({end})"
            )
        return attrs

    def log_filter(self, *, user_id: int | None = None) -> LogFilter:
        """The validated parameters as a `LogFilter`; `user_id` scopes it to one user."""
        data = self.validated_data
        return LogFilter(
            user_id=user_id,
            start=data["start_timestamp"] or None,
            end=data["end_timestamp"] or None,
            type=data["type"],
            username=data.get("username", ""),
            token_name=data["token_name"],
            model_name=data["model_name"],
            channel_id=data.get("channel", 0),
            group=data["group"],
            request_id=data["request_id"],
        )


class LogSelfFilterParams(LogFilterParams):
    """The user variants: `username` and `channel` are not read (new-api's GetUserLogs), the
    caller's id scopes everything."""

    username = None  # type: ignore[assignment]
    channel = None  # type: ignore[assignment]


class PageParamsMixin(serializers.Serializer):
    p = LenientIntParam(default=1, help_text="Page number, 1-based; values below 1 mean 1.")
    page_size = LenientIntParam(
        help_text=f"Items per page, default {DEFAULT_PAGE_SIZE}, clamped to 1..{MAX_PAGE_SIZE}; "
        "0 or absent: `ps`, then `size`, then the default."
    )
    ps = LenientIntParam(help_text="Alias of `page_size`.")
    size = LenientIntParam(help_text="Alias of `page_size`.")
    cursor = CursorParam(
        help_text="Keyset continuation (extension): the `next_cursor` of the previous page. "
        "When given, the page starts right after that log whatever `p` says; pages stay fast "
        "at any depth (docs/logs-api.md)."
    )

    def paging(self) -> tuple[int, int, LogCursor | None]:
        """(page, page_size, cursor) after new-api's defaults and our clamping."""
        data = self.validated_data
        page = max(1, data["p"])
        size = data["page_size"] or data["ps"] or data["size"] or DEFAULT_PAGE_SIZE
        return page, min(MAX_PAGE_SIZE, max(1, size)), data["cursor"]


class LogPageParams(PageParamsMixin, LogFilterParams):
    """`GET /api/log/` (admin)."""


class LogSelfPageParams(LogPageParams):
    """`GET /api/log/self` (`username` and `channel` not read, as in LogSelfFilterParams)."""

    username = None  # type: ignore[assignment]
    channel = None  # type: ignore[assignment]


class LogSearchParams(serializers.Serializer):
    keyword = TextParam(
        max_length=MAX_KEYWORD,
        help_text=f"Required, 1..{MAX_KEYWORD} characters. An integer matches the log type; "
        "anything else is a case-insensitive substring of content, model, token name, request "
        "id (and username, admins only); `%` and `_` match themselves.",
    )

    def validate_keyword(self, value: str) -> str:
        if not value.strip():
            raise serializers.ValidationError("keyword is required")
        return value


class LogDeleteParams(serializers.Serializer):
    target_timestamp = IntParam(
        help_text="Unix seconds: logs with created_at < target_timestamp are deleted.",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not attrs["target_timestamp"]:
            raise serializers.ValidationError("target timestamp is required")
        return attrs
