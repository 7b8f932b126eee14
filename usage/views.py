"""HTML pages of the dashboards. They live in `usage` because they read both the logs and the
usage statistics; they call the same selectors as the API."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from functools import wraps

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from accounts.decorators import login_required
from usage.dashboard import dashboard_build, site_dashboard_build
from usage.forms import GRANULARITIES, PRESETS, DashboardForm, SiteDashboardForm, Window
from usage.middleware import viewer_zone
from usage.selectors import UsageFilter


def admin_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Logged-in admins and roots; a logged-in common user gets 403 (not a login loop)."""

    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
        if not getattr(request.user, "is_admin", False):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return wrapper


def _choice(
    form: DashboardForm, name: str, choices: tuple[tuple[str, str], ...], default: str
) -> str:
    value = form[name].value()
    return value if value in {key for key, _ in choices} else default


def _page_context(form: DashboardForm, window: Window) -> dict[str, object]:
    return {
        "form": form,
        "presets": PRESETS,
        "granularities": GRANULARITIES,
        # What the viewer chose stays selected, even when invalid (its errors show).
        "selected_range": _choice(form, "range", PRESETS, window.preset),
        "selected_granularity": _choice(form, "granularity", GRANULARITIES, "auto"),
        "window_start": datetime.fromtimestamp(window.start, window.tz),
        "window_end": datetime.fromtimestamp(window.end, window.tz),
    }


@login_required
@require_GET
def dashboard(request: HttpRequest) -> HttpResponse:
    """My usage: the viewer's consume logs, bucketed in the viewer's zone."""
    now = int(time.time())
    form = DashboardForm(request.GET or None, now=now, tz=viewer_zone(request))
    window = form.window()
    data = dashboard_build(window=window, where=UsageFilter(user_id=request.user.pk), now=now)
    return render(request, "usage/dashboard.html", {**_page_context(form, window), "data": data})


@login_required
@require_GET
def my_logs(request: HttpRequest) -> HttpResponse:
    return render(request, "usage/pending.html", {"title": "My logs"})


@admin_required
@require_GET
def site_dashboard(request: HttpRequest) -> HttpResponse:
    """Site: every user's consume logs (or one user's), with the admin breakdowns."""
    now = int(time.time())
    form = SiteDashboardForm(request.GET or None, now=now, tz=viewer_zone(request))
    window = form.window()
    username = (form.cleaned_data.get("username") or "").strip() if form.is_bound else ""
    where = UsageFilter(username=username or None)
    site = site_dashboard_build(window=window, where=where, now=now)
    return render(
        request,
        "usage/site_dashboard.html",
        {
            **_page_context(form, window),
            "data": site.base,
            "site": site,
            "username": username,
            "breakdowns": [
                ("By channel", site.channels, "channels"),
                ("By group", site.groups, "groups"),
            ],
        },
    )


@admin_required
@require_GET
def site_logs(request: HttpRequest) -> HttpResponse:
    return render(request, "usage/pending.html", {"title": "Site logs"})
