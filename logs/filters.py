"""The value objects of a log read: `LogFilter`, what it is restricted to, and `LogCursor`, where
a newest-first page continues. `logs.params` validates the API's query parameters into them;
`logs.selectors`, `logs.export` and the usage selectors read them."""

from __future__ import annotations

import re
from dataclasses import dataclass

from logs.events import MAX_BIGINT

_CURSOR = re.compile(r"([0-9]{1,19})\.([0-9]{1,19})")


@dataclass(frozen=True, slots=True)
class LogCursor:
    """The position after which a newest-first page continues: the last item's (created_at, id).
    On the wire it is the opaque string `next_cursor` (docs/logs-api.md)."""

    created_at: int
    id: int

    def encode(self) -> str:
        return f"{self.created_at}.{self.id}"

    @classmethod
    def decode(cls, raw: str) -> LogCursor | None:
        match = _CURSOR.fullmatch(raw.strip())
        if match is None:
            return None
        created_at, log_id = int(match.group(1)), int(match.group(2))
        if created_at > MAX_BIGINT or log_id > MAX_BIGINT:
            return None
        return cls(created_at=created_at, id=log_id)


@dataclass(frozen=True, slots=True)
class LogFilter:
    """What a log read is restricted to. Empty strings and zeros mean "no filter" (new-api).

    - `user_id`: the caller's id for the user variants (`/api/log/self...`), None site-wide.
    - `start`, `end`: inclusive Unix-second bounds, None unbounded.
    - `type`: 0..6, 0 = all types.
    - `username`, `model_name`: exact unless the value contains `%` (then a case-insensitive
      LIKE pattern where only `%` is a wildcard); see `pattern_problem` for the valid patterns.
    - `token_name`, `group`, `request_id`: exact. `channel_id`: 0 = all channels.
    """

    user_id: int | None = None
    start: int | None = None
    end: int | None = None
    type: int = 0
    username: str = ""
    token_name: str = ""
    model_name: str = ""
    channel_id: int = 0
    group: str = ""
    request_id: str = ""
