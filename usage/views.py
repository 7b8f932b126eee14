"""HTML pages of the dashboards. They live in `usage` because they read both the logs and the
usage statistics; they call the same selectors as the API."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required, user_passes_test
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET


def _is_admin(user: object) -> bool:
    return bool(getattr(user, "is_admin", False))


@login_required
@require_GET
def dashboard(request: HttpRequest) -> HttpResponse:
    return render(request, "usage/pending.html", {"title": "My usage"})


@login_required
@require_GET
def my_logs(request: HttpRequest) -> HttpResponse:
    return render(request, "usage/pending.html", {"title": "My logs"})


@login_required
@user_passes_test(_is_admin)
@require_GET
def site_dashboard(request: HttpRequest) -> HttpResponse:
    return render(request, "usage/pending.html", {"title": "Site"})


@login_required
@user_passes_test(_is_admin)
@require_GET
def site_logs(request: HttpRequest) -> HttpResponse:
    return render(request, "usage/pending.html", {"title": "Site logs"})
