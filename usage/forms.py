"""Input of the dashboard pages: the range (a preset or custom dates) and the granularity, read
in the viewer's zone. Invalid input is reported beside its field; the page then shows the
default range instead of failing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, cast
from zoneinfo import ZoneInfo

from django import forms

from logs.models import LogType
from usage.buckets import DAY, BucketError, bucket_starts, local_date, local_midnight

PRESETS = (
    ("today", "Today"),
    ("yesterday", "Yesterday"),
    ("24h", "Last 24 h"),
    ("7d", "7 days"),
    ("14d", "14 days"),
    ("30d", "30 days"),
    ("this_month", "This month"),
    ("last_month", "Last month"),
    ("custom", "Custom"),
)
GRANULARITIES = (("auto", "Auto"), ("hour", "Hour"), ("day", "Day"), ("week", "Week"))
DEFAULT_PRESET = "7d"
# Charts stay readable and cheap to draw: a year of days, or 5 weeks of hours.
MAX_CHART_BUCKETS = 900
MAX_CUSTOM_DAYS = 366


@dataclass(frozen=True, slots=True)
class Window:
    """The resolved range: inclusive Unix seconds, the bucket size and the zone."""

    start: int
    end: int
    granularity: str
    tz: ZoneInfo
    preset: str

    @property
    def buckets(self) -> list[int]:
        return bucket_starts(self.start, self.end, self.tz, self.granularity)


def preset_range(preset: str, now: int, tz: ZoneInfo) -> tuple[int, int]:
    """(start, end) of a preset, inclusive, in `tz`; "N days" are N calendar days to now."""
    today = local_date(now, tz)
    midnight = local_midnight(today, tz)
    if preset == "today":
        return midnight, now
    if preset == "yesterday":
        return local_midnight(today - timedelta(days=1), tz), midnight - 1
    if preset == "24h":
        return now - DAY + 1, now
    if preset in ("7d", "14d", "30d"):
        days = int(preset[:-1])
        return local_midnight(today - timedelta(days=days - 1), tz), now
    if preset == "this_month":
        return local_midnight(today.replace(day=1), tz), now
    if preset == "last_month":
        first = today.replace(day=1)
        previous = (first - timedelta(days=1)).replace(day=1)
        return local_midnight(previous, tz), local_midnight(first, tz) - 1
    raise ValueError(f"unknown preset {preset!r}")


def auto_granularity(start: int, end: int) -> str:
    span = end - start
    if span <= 2 * DAY:
        return "hour"
    if span <= 92 * DAY:
        return "day"
    return "week"


class DashboardForm(forms.Form):
    range = forms.ChoiceField(choices=PRESETS, required=False, initial=DEFAULT_PRESET)
    start = forms.DateField(
        required=False, label="From", widget=forms.DateInput(attrs={"type": "date"})
    )
    end = forms.DateField(
        required=False, label="To", widget=forms.DateInput(attrs={"type": "date"})
    )
    granularity = forms.ChoiceField(choices=GRANULARITIES, required=False, initial="auto")

    def __init__(self, *args: Any, now: int, tz: ZoneInfo, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.now = now
        self.tz = tz

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        preset = data.get("range") or DEFAULT_PRESET
        data["range"] = preset
        if preset == "custom":
            first: date | None = data.get("start")
            last: date | None = data.get("end")
            if first is None and "start" not in self.errors:
                self.add_error("start", "Choose the first day.")
            if last is None and "end" not in self.errors:
                self.add_error("end", "Choose the last day.")
            if first and last:
                if last < first:
                    self.add_error("end", "The last day is before the first day.")
                elif (last - first).days >= MAX_CUSTOM_DAYS:
                    self.add_error("end", f"Choose at most {MAX_CUSTOM_DAYS} days.")
        return data

    def window(self) -> Window:
        """The range asked for; the default range when the form is invalid."""
        valid = self.is_valid()
        data = self.cleaned_data if valid else {}
        preset = data.get("range") or DEFAULT_PRESET
        if preset == "custom":
            start = local_midnight(data["start"], self.tz)
            end = local_midnight(data["end"] + timedelta(days=1), self.tz) - 1
        else:
            start, end = preset_range(preset, self.now, self.tz)
        granularity = data.get("granularity") or "auto"
        if granularity == "auto":
            granularity = auto_granularity(start, end)
        try:
            count = len(bucket_starts(start, end, self.tz, granularity))
        except BucketError:
            count = MAX_CHART_BUCKETS + 1
        if count > MAX_CHART_BUCKETS:
            if valid:
                self.add_error(
                    "granularity",
                    f"{count} {granularity} buckets are too many to chart; "
                    "choose a coarser granularity or a shorter range.",
                )
            granularity = auto_granularity(start, end)
        return Window(start, end, granularity, self.tz, preset)


class SiteDashboardForm(DashboardForm):
    username = forms.CharField(
        required=False,
        max_length=64,
        label="Username",
        help_text="Exact; empty for every user.",
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )


LOG_PAGE_SIZES = (("10", "10"), ("20", "20"), ("50", "50"), ("100", "100"))
DEFAULT_LOG_PAGE_SIZE = "20"
# A datetime-local value without seconds ("2026-01-07T20:30") is 16 characters long.
_MINUTE_PRECISION = 16


def _text(label: str, max_length: int, **attrs: str) -> forms.CharField:
    # No max_length validator here: the API's parameter serializer checks lengths (and `%`
    # patterns) with its own messages, which the page shows beside the field.
    widget_attrs = {"autocomplete": "off", "spellcheck": "false", "maxlength": str(max_length)}
    return forms.CharField(
        required=False,
        label=label,
        strip=False,
        widget=forms.TextInput(attrs={**widget_attrs, **attrs}),
    )


class LogFilterForm(forms.Form):
    """The filters of `/logs/` in human terms: local date-times in the viewer's zone (the
    middleware activates it, so DateTimeField makes them aware in that zone) and the text
    filters of `/api/log/self`. `api_params()` turns them into the API's query parameters,
    which the API's own serializer then validates."""

    start = forms.DateTimeField(
        required=False,
        label="From",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )
    end = forms.DateTimeField(
        required=False,
        label="To",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )
    type = forms.ChoiceField(
        required=False,
        label="Type",
        choices=(("0", "All types"), *((str(v), n) for v, n in LogType.choices if v)),
    )
    model_name = _text("Model", 128, placeholder="exact, or %pattern%")
    token_name = _text("Token", 128)
    group = _text("Group", 64)
    request_id = _text("Request id", 64)
    page_size = forms.ChoiceField(
        required=False, label="Rows", choices=LOG_PAGE_SIZES, initial=DEFAULT_LOG_PAGE_SIZE
    )

    # The form's field for each API parameter, to show the API's messages beside it.
    API_FIELDS = {
        "start_timestamp": "start",
        "end_timestamp": "end",
        "non_field_errors": "end",
        "type": "type",
        "model_name": "model_name",
        "token_name": "token_name",
        "group": "group",
        "request_id": "request_id",
        "page_size": "page_size",
    }

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("start"), data.get("end")
        if start and end and end < start:
            self.add_error("end", "The end is before the start.")
        return data

    def api_params(self) -> dict[str, str]:
        """The valid fields as the API's query parameters (empty ones left out)."""
        data = self.cleaned_data
        params: dict[str, str] = {}
        if data.get("start"):
            params["start_timestamp"] = str(int(data["start"].timestamp()))
        if data.get("end"):
            end = int(data["end"].timestamp())
            raw = str(self.data.get("end", ""))
            if len(raw.strip()) <= _MINUTE_PRECISION:
                end += 59  # "to 20:30" includes 20:30:59
            params["end_timestamp"] = str(end)
        if data.get("type") not in (None, "", "0"):
            params["type"] = data["type"]
        for name in ("model_name", "token_name", "group", "request_id", "username"):
            if data.get(name):
                params[name] = data[name]
        if data.get("channel") not in (None, "", "0"):
            params["channel"] = str(data["channel"])
        return params


class SiteLogFilterForm(LogFilterForm):
    """`/site/logs/`: adds the admin filters of `/api/log/`."""

    username = _text("Username", 64, placeholder="exact, or %pattern%")
    channel = forms.ChoiceField(required=False, label="Channel")

    API_FIELDS = {**LogFilterForm.API_FIELDS, "username": "username", "channel": "channel"}
    field_order = ("start", "end", "username", "channel", "type", "model_name")

    def __init__(self, *args: Any, channels: list[tuple[int, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        channel_field = cast(forms.ChoiceField, self.fields["channel"])
        channel_field.choices = [
            ("0", "All channels"),
            *((str(cid), f"#{cid} {name}" if name else f"#{cid}") for cid, name in channels),
        ]
