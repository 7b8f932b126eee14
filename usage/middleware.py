"""The viewer's timezone for HTML pages.

The browser reports its zone in the `tl_tz` cookie (static/js/app.js) and the header's
timezone form overrides it; the cookie is remembered for a year. Every page renders dates in
that zone and the dashboards bucket by it. The JSON API does not read the cookie: its families
take the zone as a parameter."""

from __future__ import annotations

from collections.abc import Callable
from zoneinfo import ZoneInfo

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from usage.buckets import BucketError, zone_get

TZ_COOKIE = "tl_tz"


def viewer_zone(request: HttpRequest) -> ZoneInfo:
    """The zone of the `tl_tz` cookie, or settings.TIME_ZONE when absent or unknown."""
    try:
        return zone_get(request.COOKIES.get(TZ_COOKIE), settings.TIME_ZONE)
    except BucketError:
        return zone_get(None, settings.TIME_ZONE)


class TimezoneMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        zone = viewer_zone(request)
        request.viewer_tz = zone  # type: ignore[attr-defined]
        timezone.activate(zone)
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()
