"""HTML pages of the dashboards. They live in `usage` because they read both the logs and the
usage statistics; they call the same selectors as the API."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET


def admin_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Logged-in admins and roots; a logged-in common user gets 403 (not a login loop)."""

    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
        if not getattr(request.user, "is_admin", False):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return wrapper


@login_required
@require_GET
def dashboard(request: HttpRequest) -> HttpResponse:
    return render(request, "usage/pending.html", {"title": "My usage"})


@login_required
@require_GET
def my_logs(request: HttpRequest) -> HttpResponse:
    return render(request, "usage/pending.html", {"title": "My logs"})


@admin_required
@require_GET
def site_dashboard(request: HttpRequest) -> HttpResponse:
    return render(request, "usage/pending.html", {"title": "Site"})


@admin_required
@require_GET
def site_logs(request: HttpRequest) -> HttpResponse:
    return render(request, "usage/pending.html", {"title": "Site logs"})
