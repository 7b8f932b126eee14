"""Presentation helpers shared by every page: number formats (the same rules as `TL.fmt` in
static/js/app.js) and the vendor script tag with its CDN fallback."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache

from django import template
from django.conf import settings
from django.contrib.staticfiles import finders
from django.contrib.staticfiles.storage import staticfiles_storage
from django.utils.html import format_html

from usage.money import quota_to_money

register = template.Library()

NO_VALUE = "\N{EN DASH}"
_UNITS = ((10**12, "T"), (10**9, "B"), (10**6, "M"), (10**3, "K"))


def compact(value: int | float | Decimal | None) -> str:
    """1234 -> "1.2 K", 3_400_000 -> "3.4 M"; below 1000 the plain integer with separators."""
    if value is None:
        return NO_VALUE
    number = Decimal(value)
    sign = "-" if number < 0 else ""
    number = abs(number)
    if number < 1000:
        return f"{sign}{number.quantize(Decimal(1), ROUND_HALF_UP):,}"
    for index, (size, unit) in enumerate(_UNITS):
        if number >= size:
            scaled = (number / size).quantize(Decimal("0.1"), ROUND_HALF_UP)
            # 999_960 rounds to "1000.0 K": say "1.0 M" instead.
            if scaled >= 1000 and index > 0:
                size, unit = _UNITS[index - 1]
                scaled = (number / size).quantize(Decimal("0.1"), ROUND_HALF_UP)
            return f"{sign}{scaled:,} {unit}"
    return f"{sign}{number}"  # unreachable: the last unit is 1000


def money(value: Decimal | float | int | None) -> str:
    """Currency with 2 to 4 decimals: $1,234.50, $0.0123, <$0.0001 for tiny non-zero amounts."""
    if value is None:
        return NO_VALUE
    amount = Decimal(value)
    sign = "-" if amount < 0 else ""
    amount = abs(amount)
    if amount == 0:
        return "$0.00"
    if amount >= 1:
        return f"{sign}${amount.quantize(Decimal('0.01'), ROUND_HALF_UP):,}"
    if amount < Decimal("0.0001"):
        return f"{sign}<$0.0001"
    text = f"{amount.quantize(Decimal('0.0001'), ROUND_HALF_UP)}"
    whole, _, decimals = text.partition(".")
    decimals = decimals.rstrip("0").ljust(2, "0")
    return f"{sign}${whole}.{decimals}"


@register.filter(name="compact")
def compact_filter(value: int | float | Decimal | None) -> str:
    return compact(value)


@register.filter(name="money")
def money_filter(value: Decimal | float | int | None) -> str:
    return money(value)


@register.filter(name="ms")
def ms_filter(value: float | int | None) -> str:
    """Milliseconds: "850 ms", "1,250 ms", "12.3 s" from 10 s on."""
    if value is None:
        return NO_VALUE
    if value >= 10_000:
        return f"{value / 1000:.1f} s"
    return f"{round(value):,} ms"


@register.filter(name="percent")
def percent_filter(value: float | None) -> str:
    """A ratio as a percentage with one decimal: 0.0525 -> "5.3 %"."""
    if value is None:
        return NO_VALUE
    return f"{Decimal(value * 100).quantize(Decimal('0.1'), ROUND_HALF_UP)} %"


@register.filter(name="quota_money")
def quota_money_filter(quota: int | None) -> str:
    return money(None if quota is None else quota_to_money(quota))


@lru_cache(maxsize=8)
def _local_static(path: str) -> str | None:
    """The URL of a vendor file when this deployment has it, else None (then: CDN)."""
    try:
        if finders.find(path) or staticfiles_storage.exists(path):
            return staticfiles_storage.url(path)
    except ValueError:  # the manifest storage does not know the file
        return None
    return None


@register.simple_tag
def vendor_script(name: str) -> str:
    """A <script> for a package of settings.VENDOR_SCRIPTS: the locally installed copy, and if
    that fails to load, the pinned CDN copy checked against its SRI hash (app.js watches for the
    error: an inline onerror= handler would be refused by the Content-Security-Policy)."""
    spec = settings.VENDOR_SCRIPTS[name]
    local = _local_static(spec["path"])
    if local is None:
        return format_html(
            '<script src="{}" integrity="{}" crossorigin="anonymous" defer></script>',
            spec["cdn"],
            spec["integrity"],
        )
    return format_html(
        '<script src="{}" defer data-fallback-src="{}" data-fallback-integrity="{}"></script>',
        local,
        spec["cdn"],
        spec["integrity"],
    )
