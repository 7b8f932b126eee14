"""HTML pages of the dashboards and the log pages; they call the same selectors as the API."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import wraps
from typing import cast
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import orjson
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET

from accounts.decorators import login_required
from accounts.errors import detail_message
from accounts.models import Channel
from logs.export import TYPE_NAMES, csv_response
from logs.params import (
    LogFilterParams,
    LogPageParams,
    LogSelfFilterParams,
    LogSelfPageParams,
)
from logs.selectors import MAX_OFFSET, PageTooDeep
from logs.serializers import LogItemSerializer, LogUserItemSerializer
from usage.dashboard import dashboard_build, site_dashboard_build
from usage.forms import (
    DEFAULT_LOG_PAGE_SIZE,
    GRANULARITIES,
    PRESETS,
    DashboardForm,
    LogFilterForm,
    SiteDashboardForm,
    SiteLogFilterForm,
    Window,
)
from usage.middleware import viewer_zone
from usage.selectors import UsageFilter, usage_log_stat, usage_logs_page


def admin_required(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
    """Logged-in admins and roots; a logged-in common user gets 403 (not a login loop)."""

    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponseBase:
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
    return render(
        request,
        "usage/dashboard.html",
        {**_page_context(form, window), "data": data, "live_url": reverse("log-self-stat")},
    )


@login_required
@require_GET
def my_logs(request: HttpRequest) -> HttpResponse:
    """My logs: the caller's logs through the selectors of `/api/log/self`."""
    return _logs_page(request, admin=False)


@login_required
@require_GET
def my_logs_export(request: HttpRequest) -> HttpResponseBase:
    """The CSV of `/logs/`'s filters: what `/api/log/self/export` answers for them."""
    return _logs_export(request, admin=False)


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
            "live_url": _site_live_url(username),
            "username": username,
            "breakdowns": [
                ("By channel", site.channels, "channels"),
                ("By group", site.groups, "groups"),
            ],
        },
    )


def _site_live_url(username: str) -> str | None:
    """The stat API the live card refreshes from: the same 60 s window and consume logs as the
    card. None for a username with `%` (the API would read it as a pattern, the page does not)."""
    if "%" in username:
        return None
    url = reverse("log-stat")
    return f"{url}?{urlencode({'username': username})}" if username else url


@admin_required
@require_GET
def site_logs(request: HttpRequest) -> HttpResponse:
    """Site logs: every log through the selectors of `/api/log/`, with the admin columns."""
    return _logs_page(request, admin=True)


@admin_required
@require_GET
def site_logs_export(request: HttpRequest) -> HttpResponseBase:
    """The CSV of `/site/logs/`'s filters: what `/api/log/export` answers for them."""
    return _logs_export(request, admin=True)


# --- the log pages ---------------------------------------------------------------------------
# The page's form speaks in local date-times; `LogFilterForm.api_params()` turns it into the
# API's query parameters, which the API's own serializers (`LogPageParams`, ...) validate and
# turn into the `LogFilter` the selectors take. So a page shows what the API answers for the
# same parameters (docs/ui.md).


@dataclass(frozen=True, slots=True)
class LogQuery:
    form: LogFilterForm
    api_params: dict[str, str]
    params: LogFilterParams | None  # None when the input is refused: then no query runs


def _log_query(request: HttpRequest, *, admin: bool, paged: bool) -> LogQuery:
    form: LogFilterForm
    data = request.GET.copy()
    # A bound select shows the submitted value: without one it would show its first option
    # (10) while the page used the default, and the next Apply would change the page size.
    data.setdefault("page_size", DEFAULT_LOG_PAGE_SIZE)
    if admin:
        channels = list(Channel.objects.order_by("id").values_list("id", "name"))
        form = SiteLogFilterForm(data, channels=channels)
    else:
        form = LogFilterForm(data)
    # The API's serializer also checks the fields the form accepted, so that every problem of
    # the input is shown at once.
    form_valid = form.is_valid()
    api_params = form.api_params()
    query = dict(api_params)
    if paged:
        query["page_size"] = form.cleaned_data.get("page_size") or DEFAULT_LOG_PAGE_SIZE
        for name in ("p", "cursor"):
            if request.GET.get(name):
                query[name] = request.GET[name]
        params_class: type[LogFilterParams] = LogPageParams if admin else LogSelfPageParams
    else:
        params_class = LogFilterParams if admin else LogSelfFilterParams
    params = params_class(data=query)
    if params.is_valid() and form_valid:
        return LogQuery(form, api_params, params)
    for name, messages in params.errors.items() if params.errors else ():
        field = form.API_FIELDS.get(name)
        for message in messages:
            form.add_error(field, str(message))
    return LogQuery(form, api_params, None)


def _scope(request: HttpRequest, admin: bool) -> int | None:
    return None if admin else int(request.user.pk or 0)


def _filter_query(request: HttpRequest, **changes: object) -> str:
    """The page's own query string without its position, plus `changes` (None drops a key)."""
    query = request.GET.copy()
    for name in ("p", "cursor"):
        query.pop(name, None)
    for name, value in changes.items():
        query.pop(name, None)
        if value is not None:
            query[name] = str(value)
    for name in [key for key, value in query.items() if value in ("", "0") and key != "p"]:
        query.pop(name)
    return query.urlencode()


def _log_rows(items: list[dict[str, object]], tz: ZoneInfo) -> list[dict[str, object]]:
    rows = []
    for item in items:
        other = orjson.loads(str(item["other"]))
        rows.append(
            {
                **item,
                "time": datetime.fromtimestamp(int(str(item["created_at"])), tz),
                "type_name": TYPE_NAMES.get(int(str(item["type"])), ""),
                "other_pretty": orjson.dumps(
                    other, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS
                ).decode(),
                "has_other": bool(other),
            }
        )
    return rows


def _logs_page(request: HttpRequest, *, admin: bool) -> HttpResponse:
    query = _log_query(request, admin=admin, paged=True)
    context: dict[str, object] = {
        "admin": admin,
        "title": "Site logs" if admin else "My logs",
        "form": query.form,
        "result": None,
    }
    if query.params is not None:
        page, page_size, cursor = cast(LogPageParams, query.params).paging()
        filters = query.params.log_filter(user_id=_scope(request, admin))
        try:
            result = usage_logs_page(
                filters=filters,
                page=page,
                page_size=page_size,
                cursor=cursor,
                now=int(time.time()),
            )
        except PageTooDeep as exc:
            query.form.add_error(None, str(exc))
        else:
            shape = LogItemSerializer if admin else LogUserItemSerializer
            items = list(shape(result.items, many=True).data)
            first = (page - 1) * page_size + 1
            previous = None
            if page > 1 and (page - 2) * page_size < MAX_OFFSET:
                previous = _filter_query(request, p=page - 1 if page > 2 else None)
            api_query = urlencode(query.api_params)
            context.update(
                result=result,
                rows=_log_rows(items, viewer_zone(request)),
                stat=usage_log_stat(filters=filters, now=int(time.time())),
                first_index=first,
                last_index=first + len(items) - 1,
                next_query=(
                    _filter_query(request, cursor=result.next_cursor.encode(), p=page + 1)
                    if result.next_cursor
                    else None
                ),
                previous_query=previous,
                first_query=_filter_query(request) if page > 1 else None,
                export_url=reverse("site-logs-export" if admin else "my-logs-export")
                + (f"?{api_query}" if api_query else ""),
                api_export_url=reverse("log-export" if admin else "log-self-export")
                + (f"?{api_query}" if api_query else ""),
            )
    return render(request, "usage/logs.html", context)


def _logs_export(request: HttpRequest, *, admin: bool) -> HttpResponseBase:
    """Takes the API's parameters (the page links here with them), so the file is the API's."""
    params = (LogFilterParams if admin else LogSelfFilterParams)(data=request.GET)
    if not params.is_valid():
        return HttpResponseBadRequest(
            detail_message(params.errors), content_type="text/plain; charset=utf-8"
        )
    return csv_response(filters=params.log_filter(user_id=_scope(request, admin)), admin=admin)
