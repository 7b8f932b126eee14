"""CSV rendering of log rows (`GET /api/log/export`, `/api/log/self/export`, and the dashboard's
"Download CSV"). Produces text chunk by chunk, so a response streams it without holding it."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

from logs.models import LogType
from logs.serializers import other_for_user, other_json

ADMIN_COLUMNS = (
    "id",
    "created_at",
    "created_at_utc",
    "type",
    "type_name",
    "user_id",
    "username",
    "token_id",
    "token_name",
    "model_name",
    "quota",
    "prompt_tokens",
    "completion_tokens",
    "cache_read_tokens",
    "cache_creation_tokens",
    "use_time",
    "duration_ms",
    "first_token_ms",
    "is_stream",
    "channel_id",
    "channel_name",
    "group",
    "ip",
    "request_id",
    "endpoint",
    "content",
    "other",
)
# Users never see channels or IPs: the columns are left out rather than blank.
USER_COLUMNS = tuple(c for c in ADMIN_COLUMNS if c not in {"channel_id", "channel_name", "ip"})
# A spreadsheet evaluates a cell starting with one of these as a formula (CSV injection); tab and
# carriage return are OWASP's additions to API.md's `= + - @`.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
TYPE_NAMES = dict(LogType.choices)
ROWS_PER_CHUNK = 500


def safe_cell(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _utc(timestamp: int) -> str:
    try:
        return datetime.fromtimestamp(timestamp, tz=UTC).isoformat().replace("+00:00", "Z")
    except (OverflowError, ValueError, OSError):  # beyond year 9999: the Unix column still says
        return ""


def _cells(row: dict[str, Any], columns: tuple[str, ...], admin: bool) -> list[Any]:
    derived = {
        "created_at_utc": _utc(row["created_at"]),
        "type_name": TYPE_NAMES.get(row["type"], ""),
        "is_stream": "true" if row["is_stream"] else "false",
        "other": other_json(row["other"] if admin else other_for_user(row["other"])),
    }
    return [safe_cell(derived[c] if c in derived else row[c]) for c in columns]


def csv_chunks(rows: Iterable[dict[str, Any]], *, admin: bool) -> Iterator[str]:
    """The header, then the rows (dicts of `logs.selectors.EXPORT_FIELDS`), as CSV text in
    chunks of ROWS_PER_CHUNK rows. `admin=False` drops the channel and IP columns and strips
    the admin-only keys of `other`. Text cells that a spreadsheet would run as a formula get a
    leading `'`. None is an empty cell."""
    columns = ADMIN_COLUMNS if admin else USER_COLUMNS
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(columns)
    pending = 0
    for row in rows:
        writer.writerow(_cells(row, columns, admin))
        pending += 1
        if pending >= ROWS_PER_CHUNK:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
            pending = 0
    yield buffer.getvalue()
