"""Number formats of the pages (the same rules as TL.fmt in static/js/app.js)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.template import Context, Template
from django.test import override_settings

from usage.templatetags.tokenledger import compact, money


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0, "0"),
        (999, "999"),
        (1000, "1.0 K"),
        (1234, "1.2 K"),
        (12_345, "12.3 K"),
        (999_949, "999.9 K"),
        (999_960, "1.0 M"),  # not "1000.0 K"
        (3_400_000, "3.4 M"),
        (7_250_000_000, "7.3 B"),
        (2 * 10**12, "2.0 T"),
        (-1500, "-1.5 K"),
        (None, "\N{EN DASH}"),
    ],
)
def test_compact(value, text):
    assert compact(value) == text


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0, "$0.00"),
        (Decimal("1234.5"), "$1,234.50"),
        (Decimal("1"), "$1.00"),
        (Decimal("0.5"), "$0.50"),
        (Decimal("0.0123"), "$0.0123"),
        (Decimal("0.002"), "$0.002"),
        (Decimal("0.00005"), "<$0.0001"),
        (Decimal("-2.345"), "-$2.35"),
    ],
)
def test_money(value, text):
    assert money(value) == text


@override_settings(QUOTA_PER_UNIT=500_000)
def test_template_filters():
    template = Template("{% load tokenledger %}{{ q|quota_money }} {{ n|compact }}")
    assert template.render(Context({"q": 1_250_000, "n": 15_000})) == "$2.50 15.0 K"
