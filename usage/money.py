"""Quota, the gateway's unit, in currency: QUOTA_PER_UNIT quota make 1 USD (API.md section 8).

Two results of the one conversion: the pages show an exact Decimal, the statistics APIs answer
a JSON number (sub2api's cost, AceData's amount), the correctly rounded float division."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings


def quota_to_money(quota: int) -> Decimal:
    return Decimal(quota) / Decimal(settings.QUOTA_PER_UNIT)


def quota_to_cost(quota: int) -> float:
    return quota / settings.QUOTA_PER_UNIT
