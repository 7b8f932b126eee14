"""CSV rendering of log rows (`GET /api/log/export`, `/api/log/self/export`, and the dashboard's
"Download CSV"). Produces text chunk by chunk, so a response streams it without holding it."""

from __future__ import annotations

import csv
import io
import itertools
import operator
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

from django.http import StreamingHttpResponse

from logs.filters import LogFilter
from logs.models import LOG_COLUMNS, LogType
from logs.selectors import logs_export_rows
from logs.serializers import ADMIN_ONLY_FIELDS, other_for_user, other_json

# The CSV's columns: every column of a log (LOG_COLUMNS), each derived one (the UTC time, the
# type's name) beside its source, the free text (`content`, `other`) last.
_TEXT_LAST = ("content", "other")
ADMIN_COLUMNS = (
    "id",
    "created_at",
    "created_at_utc",
    "type",
    "type_name",
    *(name for name in LOG_COLUMNS if name not in {"created_at", "type", *_TEXT_LAST}),
    *_TEXT_LAST,
)
# Users never see channels or IPs: the columns are left out rather than blank.
USER_COLUMNS = tuple(c for c in ADMIN_COLUMNS if c not in ADMIN_ONLY_FIELDS)
# A spreadsheet evaluates a cell starting with one of these as a formula (CSV injection); tab and
# carriage return are OWASP's additions to API.md's `= + - @`.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
TYPE_NAMES = dict(LogType.choices)
ROWS_PER_CHUNK = 500
# Free text from the gateway: the cells a spreadsheet might run. Numbers, and the values we
# derive (time, type name, is_stream, the JSON of `other`, which starts with `{`), are safe.
TEXT_COLUMNS = frozenset(
    {
        "username",
        "token_name",
        "model_name",
        "channel_name",
        "group",
        "request_id",
        "endpoint",
        "content",
        "ip",
    }
)


def safe_cell(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _utc(timestamp: int) -> str:
    try:
        return datetime.fromtimestamp(timestamp, tz=UTC).isoformat().replace("+00:00", "Z")
    except (OverflowError, ValueError, OSError):  # beyond year 9999: the Unix column still says
        return ""


def _text_cell(column: str) -> Callable[[dict[str, Any]], Any]:
    def cell(row: dict[str, Any]) -> Any:
        return safe_cell(row[column])

    return cell


def _cell_getters(columns: tuple[str, ...], admin: bool) -> list[Callable[[dict[str, Any]], Any]]:
    """One function per column, chosen once per export rather than once per cell."""
    derived: dict[str, Callable[[dict[str, Any]], Any]] = {
        "created_at_utc": lambda row: _utc(row["created_at"]),
        "type_name": lambda row: TYPE_NAMES.get(row["type"], ""),
        "is_stream": lambda row: "true" if row["is_stream"] else "false",
        "other": (
            (lambda row: other_json(row["other"]))
            if admin
            else (lambda row: other_json(other_for_user(row["other"])))
        ),
    }
    getters: list[Callable[[dict[str, Any]], Any]] = []
    for column in columns:
        if column in derived:
            getters.append(derived[column])
        elif column in TEXT_COLUMNS:
            getters.append(_text_cell(column))
        else:
            getters.append(operator.itemgetter(column))
    return getters


def csv_chunks(rows: Iterable[dict[str, Any]], *, admin: bool) -> Iterator[str]:
    """The header, then the rows (dicts of `logs.selectors.EXPORT_FIELDS`), as CSV text in
    chunks of ROWS_PER_CHUNK rows. `admin=False` drops the channel and IP columns and strips
    the admin-only keys of `other`. Text cells that a spreadsheet would run as a formula get a
    leading `'`. None is an empty cell."""
    columns = ADMIN_COLUMNS if admin else USER_COLUMNS
    getters = _cell_getters(columns, admin)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(columns)
    pending = 0
    for row in rows:
        writer.writerow([get(row) for get in getters])
        pending += 1
        if pending >= ROWS_PER_CHUNK:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
            pending = 0
    yield buffer.getvalue()


def csv_response(*, filters: LogFilter, admin: bool) -> StreamingHttpResponse:
    """The streamed CSV download of every log `filters` selects (the API's exports and the log
    pages' "Download CSV"). The first chunk is read before the response starts, so that a
    database failure there still raises (the caller answers it); once streaming, a failure can
    only cut the file short."""
    rows = logs_export_rows(filters=filters)
    first = next(rows, None)
    rows = itertools.chain([] if first is None else [first], rows)
    response = StreamingHttpResponse(
        csv_chunks(rows, admin=admin), content_type="text/csv; charset=utf-8"
    )
    stamp = datetime.now(tz=UTC).strftime("%Y%m%dT%H%M%SZ")
    response["Content-Disposition"] = f'attachment; filename="logs-{stamp}.csv"'
    response["Cache-Control"] = "no-store"
    return response
