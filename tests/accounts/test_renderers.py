"""FastJSONRenderer writes the bytes DRF's JSONRenderer writes, and hands DRF what it cannot."""

from __future__ import annotations

from decimal import Decimal

import pytest
from rest_framework.renderers import JSONRenderer

from accounts.renderers import FastJSONRenderer

EVERY_CHARACTER_CLASS = (
    "".join(chr(code) for code in range(0x250))  # controls, quotes, backslash, DEL, Latin
    + "\u2028\u2029"  # JavaScript line separators
    + "\ufeff\ud7ff\ue000\U0001f600"  # BOM, around the surrogates, outside the BMP
)


@pytest.mark.parametrize(
    "data",
    [
        {"success": True, "message": "", "data": []},
        {"text": EVERY_CHARACTER_CLASS, "nested": [{"a": [None, False, True]}, [], {}]},
        [0, -1, 2**63 - 1, -(2**63), 2**64 - 1, "", "模型-名", "a\u2028b\u2029c"],
        {
            "success": True,
            "message": "",
            "data": [{"model_name": "gpt-4o", "count": 3, "quota": 73000, "created_at": 1741600800}]
            * 3,
        },
    ],
)
def test_same_bytes_as_drf(data):
    assert FastJSONRenderer().render(data) == JSONRenderer().render(data)


@pytest.mark.parametrize(
    "data",
    [
        {"amount": Decimal("1.50")},  # not JSON to orjson
        {1: "integer key"},
        {"big": 2**64},  # past 64 bits
        None,  # DRF renders no body
    ],
)
def test_what_orjson_cannot_write_is_rendered_by_drf(data):
    assert FastJSONRenderer().render(data) == JSONRenderer().render(data)


def test_a_requested_indent_is_rendered_by_drf():
    data = {"data": [{"a": 1}]}
    media_type = "application/json; indent=2"

    body = FastJSONRenderer().render(data, media_type, {})

    assert body == JSONRenderer().render(data, media_type, {})
    assert b"\n  " in body
