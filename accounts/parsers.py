"""The JSON parser of every DRF view (REST_FRAMEWORK's DEFAULT_PARSER_CLASSES).

DRF's own JSONParser reads with the standard library, which recurses once per level of nesting:
a body nested about a thousand levels deep ends in a RecursionError, a 500. So does a body that
the standard library could still read but the view's validation cannot: DRF validates nested
values recursively too (and `str()` of a deep list recurses). This parser reads with orjson,
which the ingest path reads with already (`logs.events.batch_parse`) and which stops at 1024
levels, then refuses anything nested deeper than MAX_DEPTH levels: DRF's ParseError, a 400 in
the family's error shape."""

from __future__ import annotations

import codecs
from collections.abc import Mapping
from typing import IO, Any

import orjson
from django.conf import settings
from rest_framework import parsers
from rest_framework.exceptions import ParseError

# Far more than any body of the API needs (api-keys-usage's is 2 levels), far less than what
# recursive validation survives.
MAX_DEPTH = 64


def json_depth_exceeds(value: Any, limit: int) -> bool:
    """Whether `value` (parsed JSON) nests lists and dicts more than `limit` levels deep; the
    top-level value is level 1. Iterative, so that it never recurses itself."""
    pending: list[tuple[Any, int]] = [(value, 1)]
    while pending:
        item, level = pending.pop()
        if isinstance(item, dict):
            item = item.values()
        elif not isinstance(item, list):
            continue
        if level > limit:
            return True
        pending.extend((child, level + 1) for child in item)
    return False


class JSONParser(parsers.JSONParser):
    """`application/json` bodies, read by orjson. What it reads differs from DRF's parser only
    past the standard library's limits: nesting deeper than MAX_DEPTH levels is refused, and an
    integer beyond 64 bits becomes a float (which an integer field then refuses)."""

    def parse(
        self,
        stream: IO[Any] | None,
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        raw = stream.read() if stream is not None else b""
        try:
            # orjson reads UTF-8 bytes; a body declared in another charset is decoded first.
            if codecs.lookup(encoding).name != "utf-8":
                raw = raw.decode(encoding)
            data = orjson.loads(raw)
        except (LookupError, UnicodeDecodeError, orjson.JSONDecodeError) as exc:
            raise ParseError(f"JSON parse error - {exc}") from None
        if json_depth_exceeds(data, MAX_DEPTH):
            raise ParseError(f"JSON parse error - nested more than {MAX_DEPTH} levels deep")
        return data
