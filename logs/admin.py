"""The Django admin of the logs: read-only, filters that use the indexes, a count that stays
cheap on large tables, and "delete logs before" through logs.services.logs_delete_before."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.functional import cached_property

from accounts.models import Channel
from logs.models import Log
from logs.services import logs_delete_before

# The admin list shows "10000+" past this many matches instead of counting a large table.
COUNT_CAP = 10_000


class CappedCountPaginator(Paginator):
    """Counts at most COUNT_CAP + 1 rows (SELECT COUNT(*) FROM (... LIMIT n)), so a page of a
    100-million-row table costs one bounded count. Pages past the cap are not offered."""

    @cached_property
    def count(self) -> int:
        return self.object_list[: COUNT_CAP + 1].count()  # type: ignore[attr-defined]


def _local_midnight_days_ago(days: int) -> int:
    today = timezone.localdate()
    start = datetime.combine(today - timedelta(days=days), datetime.min.time())
    return int(timezone.make_aware(start, timezone.get_current_timezone()).timestamp())


class CreatedFilter(admin.SimpleListFilter):
    """Day ranges on the BigInteger Unix `created_at`, in the viewer's zone (date_hierarchy
    needs a DateTimeField)."""

    title = "date"
    parameter_name = "created"
    RANGES = {
        "today": ("Today", 0, None),
        "yesterday": ("Yesterday", 1, 0),
        "7d": ("Last 7 days", 6, None),
        "30d": ("Last 30 days", 29, None),
        "older30": ("Before the last 30 days", None, 29),
    }

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(key, label) for key, (label, _, _) in self.RANGES.items()]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        spec = self.RANGES.get(self.value() or "")
        if spec is None:
            return queryset
        _, since_days, until_days = spec
        if since_days is not None:
            queryset = queryset.filter(created_at__gte=_local_midnight_days_ago(since_days))
        if until_days is not None:
            queryset = queryset.filter(created_at__lt=_local_midnight_days_ago(until_days))
        return queryset


class InputFilter(admin.SimpleListFilter):
    """An exact-match text box (the values of these columns are too many, and too costly to
    list with DISTINCT on a large table, for a list of links)."""

    template = "admin/input_filter.html"
    field_name = ""

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        # SimpleListFilter only shows itself when it has lookups; the template ignores them.
        return [("", "")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = (self.value() or "").strip()
        return queryset.filter(**{self.field_name: value}) if value else queryset

    def choices(self, changelist: Any) -> Any:
        # The template needs the other parameters of the current query to keep them.
        query = changelist.get_filters_params()
        query.pop(self.parameter_name, None)
        yield {"value": self.value() or "", "query": query, "parameter": self.parameter_name}


class ModelFilter(InputFilter):
    title = "model"
    parameter_name = "model_name"
    field_name = "model_name"


class GroupFilter(InputFilter):
    title = "group"
    parameter_name = "group"
    field_name = "group"


class ChannelFilter(admin.SimpleListFilter):
    title = "channel"
    parameter_name = "channel"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        choices = [(str(c.id), str(c)) for c in Channel.objects.order_by("id")[:200]]
        # Channels that logs name without a channel name have no row: keep the filter usable.
        value = self.value()
        if value and value.isdigit() and value not in {key for key, _ in choices}:
            choices.append((value, f"#{value}"))
        return choices

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        return queryset.filter(channel_id=int(value)) if value and value.isdigit() else queryset


class LogChangeList(ChangeList):
    # Only the primary-key ordering the indexes serve (created_at DESC, id DESC).
    def get_ordering(self, request: HttpRequest, queryset: QuerySet[Any]) -> list[Any]:
        return ["-created_at", "-id"]


class DeleteBeforeForm(forms.Form):
    before = forms.DateTimeField(
        label="Delete every log created before",
        help_text="In your timezone. Usage statistics are kept; only raw logs are deleted.",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%d"],
    )


@admin.register(Log)
class LogAdmin(admin.ModelAdmin):
    list_display = (
        "created",
        "type",
        "username",
        "token_name",
        "group",
        "model_name",
        "channel",
        "prompt_tokens",
        "completion_tokens",
        "quota",
        "duration",
        "ip",
        "request_id",
    )
    list_display_links = ("created",)
    list_filter = ("type", CreatedFilter, ModelFilter, ChannelFilter, GroupFilter)
    search_help_text = (
        "An exact request id, an exact username, or the beginning of a username followed by *."
    )
    search_fields = ("request_id",)  # the search itself is get_search_results
    list_per_page = 50
    show_full_result_count = False
    paginator = CappedCountPaginator
    actions = ("delete_before_action",)
    sortable_by = ()

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[ChangeList]:
        return LogChangeList

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Single rows are not deleted by hand; logs go by age (delete_before_view).
        return False

    def can_delete_before(self, request: HttpRequest) -> bool:
        return bool(getattr(request.user, "is_admin", False)) and request.user.is_active

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Any], search_term: str
    ) -> tuple[QuerySet[Any], bool]:
        term = search_term.strip()
        if not term:
            return queryset, False
        if term.endswith("*") and len(term) > 1:
            # A prefix (LIKE 'x%'), never a substring scan.
            return queryset.filter(username__startswith=term[:-1]), False
        return queryset.filter(Q(request_id=term) | Q(username=term)), False

    @admin.display(description="time", ordering="created_at")
    def created(self, obj: Log) -> str:
        moment = datetime.fromtimestamp(obj.created_at, tz=timezone.get_current_timezone())
        return moment.strftime("%Y-%m-%d %H:%M:%S")

    @admin.display(description="channel")
    def channel(self, obj: Log) -> str:
        if not obj.channel_id:
            return "\N{EN DASH}"
        return f"#{obj.channel_id} {obj.channel_name}".strip()

    @admin.display(description="duration")
    def duration(self, obj: Log) -> str:
        text = f"{obj.duration_ms / 1000:.1f} s"
        if obj.first_token_ms is not None:
            text += f" (first {obj.first_token_ms} ms)"
        return text

    # "Delete logs before": from the list's object tools, or as an action that proposes the
    # creation time of the newest selected log as the cut-off (to be confirmed).
    @admin.action(description="Delete all logs created before the newest selected one…")
    def delete_before_action(self, request: HttpRequest, queryset: QuerySet[Log]) -> Any:
        newest = queryset.order_by("-created_at").values_list("created_at", flat=True).first()
        url = reverse("admin:logs_log_delete_before")
        if newest is None:
            return HttpResponseRedirect(url)
        return HttpResponseRedirect(f"{url}?before={newest}")

    def get_urls(self) -> list[Any]:
        extra = [
            path(
                "delete-before/",
                self.admin_site.admin_view(self.delete_before_view),
                name="logs_log_delete_before",
            )
        ]
        return extra + super().get_urls()

    def delete_before_view(self, request: HttpRequest) -> HttpResponse:
        if not self.can_delete_before(request):
            raise PermissionDenied
        zone = timezone.get_current_timezone()
        if request.method == "POST":
            form = DeleteBeforeForm(request.POST)
            if form.is_valid():
                moment: datetime = form.cleaned_data["before"]
                if timezone.is_naive(moment):
                    moment = timezone.make_aware(moment, zone)
                before = int(moment.timestamp())
                deleted = logs_delete_before(before=before)
                self.message_user(
                    request,
                    f"Deleted {deleted} log(s) created before {moment:%Y-%m-%d %H:%M} "
                    f"({zone.key}).",
                    messages.SUCCESS,
                )
                return HttpResponseRedirect(reverse("admin:logs_log_changelist"))
        else:
            initial: dict[str, Any] = {}
            raw = request.GET.get("before", "")
            if raw.isdigit():
                initial["before"] = datetime.fromtimestamp(int(raw), tz=zone).replace(
                    tzinfo=None, second=0
                )
            form = DeleteBeforeForm(initial=initial)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "Delete logs before a date",
            "form": form,
            "zone": zone.key,
        }
        return TemplateResponse(request, "admin/logs/log/delete_before.html", context)

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> Any:
        extra_context = {
            **(extra_context or {}),
            "can_delete_before": self.can_delete_before(request),
        }
        return super().changelist_view(request, extra_context)
