"""Chainable filters over the log table. Timestamps are Unix seconds; bounds are inclusive."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from django.db import models
from django.db.models import F, Q, Value
from django.db.models.lookups import Lookup

if TYPE_CHECKING:
    from django.db.backends.base.base import BaseDatabaseWrapper
    from django.db.models.sql.compiler import SQLCompiler

    from logs.models import Log  # noqa: F401

_INTEGER = re.compile(r"[+-]?[0-9]+")


def like_escape(text: str) -> str:
    """`text` as a LIKE pattern that matches it literally (escape character: backslash)."""
    return text.replace("\\", "\\\\").replace("_", "\\_").replace("%", "\\%")


class LikePattern(Lookup):  # type: ignore[type-arg]
    """`lhs LIKE rhs ESCAPE '\\'`, case-insensitive: ILIKE on PostgreSQL, LIKE on SQLite (which
    folds ASCII case). Used as an expression in `filter()`, not registered on any field."""

    lookup_name = "like_pattern"

    def as_sql(self, compiler: SQLCompiler, connection: BaseDatabaseWrapper) -> Any:
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        if connection.vendor == "postgresql":
            sql = f"{lhs} ILIKE {rhs} ESCAPE '\\'"
        elif connection.vendor == "sqlite":
            sql = f"{lhs} LIKE {rhs} ESCAPE '\\'"
        else:
            sql = f"UPPER({lhs}) LIKE UPPER({rhs}) ESCAPE '\\'"
        return sql, [*lhs_params, *rhs_params]


class LogQuerySet(models.QuerySet["Log"]):
    def for_user(self, user_id: int) -> LogQuerySet:
        return self.filter(user_id=user_id)

    def between(self, start: int | None = None, end: int | None = None) -> LogQuerySet:
        """Logs with start <= created_at <= end; None (or 0, new-api's "unset") is unbounded."""
        qs = self
        if start:
            qs = qs.filter(created_at__gte=start)
        if end:
            qs = qs.filter(created_at__lte=end)
        return qs

    def of_type(self, log_type: int | None) -> LogQuerySet:
        """0 or None means all types (new-api)."""
        return self.filter(type=log_type) if log_type else self

    def text_match(self, field: str, value: str) -> LogQuerySet:
        """new-api's explicit text filter (PR #5097): "" is no filter; a value without `%` is an
        exact, case-sensitive match; a value with `%` is a case-insensitive LIKE pattern in which
        only `%` is a wildcard (`_` and `\\` match themselves). The caller validates patterns
        (`logs.params.pattern_problem`)."""
        if not value:
            return self
        if "%" not in value:
            return self.filter(**{field: value})
        pattern = "%".join(like_escape(part) for part in value.split("%"))
        return self.filter(LikePattern(F(field), Value(pattern)))

    def equal_unless_blank(self, **fields: str | int) -> LogQuerySet:
        """Exact filters that new-api skips when the value is "" or 0."""
        wanted = {name: value for name, value in fields.items() if value}
        return self.filter(**wanted) if wanted else self

    def before_key(self, created_at: int, log_id: int) -> LogQuerySet:
        """Logs after (created_at, id) in newest-first order: the keyset continuation.

        The redundant `created_at <= c` is what lets every (x, created_at, id) index start the
        scan at the cursor instead of walking the newer rows and filtering them out."""
        return self.filter(created_at__lte=created_at).filter(
            Q(created_at__lt=created_at) | Q(id__lt=log_id)
        )

    def keyword(self, keyword: str, *, fields: Sequence[str]) -> LogQuerySet:
        """new-api's search: `type = keyword` when the keyword is an integer (a code outside
        0..6 matches nothing), else a case-insensitive substring of any of `fields` (LIKE
        wildcards in the keyword match themselves).

        The optional trigram index (`logs.search_index`) is built on the expressions this
        compares (`UPPER(col::text) LIKE UPPER(...)`, Django's `icontains`): another lookup here
        would leave it unused (tests/logs/test_search_index.py checks the plan)."""
        text = keyword.strip()
        if _INTEGER.fullmatch(text):
            code = int(text)
            return self.filter(type=code) if 0 <= code <= 6 else self.none()
        condition = Q()
        for name in fields:
            condition |= Q(**{f"{name}__icontains": keyword})
        return self.filter(condition)

    def newest_first(self) -> LogQuerySet:
        return self.order_by("-created_at", "-id")
