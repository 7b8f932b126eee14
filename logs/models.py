"""The raw request log: one row per event the gateway reports (API.md section 0)."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from logs.querysets import LogQuerySet

# What /api/log/stat sums; the read indexes carry them (INCLUDE) for index-only stats.
STAT_COLUMNS = ["quota", "prompt_tokens", "completion_tokens"]


# The columns of a log row besides `id`, in the order ingestion writes them (COPY on
# PostgreSQL) and the CSV export reads them.
LOG_COLUMNS = (
    "created_at",
    "type",
    "content",
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
    "other",
)


class LogType(models.IntegerChoices):
    # new-api's codes (model/log.go); 0 in a filter means "all types".
    UNKNOWN = 0, "unknown"
    TOPUP = 1, "topup"
    CONSUME = 2, "consume"
    MANAGE = 3, "manage"
    SYSTEM = 4, "system"
    ERROR = 5, "error"
    REFUND = 6, "refund"


class LogManager(models.Manager.from_queryset(LogQuerySet)):  # type: ignore[misc]
    """The logs' queryset methods on `Log.objects`. On PostgreSQL a write through the ORM needs
    its time partition first (`logs.partitions.partitions_ensure_for`, as the ingest service
    calls it)."""


class Log(models.Model):
    id = models.BigAutoField(primary_key=True)
    # Unix seconds, as every API family speaks them; bucketing is integer arithmetic on this.
    created_at = models.BigIntegerField()
    type = models.SmallIntegerField(choices=LogType.choices, default=LogType.CONSUME)
    content = models.TextField(blank=True, default="")
    # No foreign key: logs outlive users, and the ingest hot path writes without joins.
    user_id = models.BigIntegerField()
    username = models.CharField(max_length=64)
    token_id = models.BigIntegerField(default=0)
    token_name = models.CharField(max_length=128, blank=True, default="")
    model_name = models.CharField(max_length=128, blank=True, default="")
    quota = models.BigIntegerField(default=0)
    prompt_tokens = models.BigIntegerField(default=0)
    completion_tokens = models.BigIntegerField(default=0)
    cache_read_tokens = models.BigIntegerField(default=0)
    cache_creation_tokens = models.BigIntegerField(default=0)
    use_time = models.IntegerField(default=0)
    duration_ms = models.BigIntegerField(default=0)
    first_token_ms = models.BigIntegerField(null=True, blank=True)
    is_stream = models.BooleanField(default=False)
    channel_id = models.BigIntegerField(default=0)
    channel_name = models.CharField(max_length=128, blank=True, default="")
    group = models.CharField(max_length=64, blank=True, default="default")
    ip = models.GenericIPAddressField(null=True, blank=True)
    request_id = models.CharField(max_length=64, blank=True, default="")
    endpoint = models.CharField(max_length=128, blank=True, default="")
    other = models.JSONField(default=dict, blank=True)

    objects = LogManager()

    class Meta:
        db_table = "logs"
        constraints = [
            models.CheckConstraint(condition=Q(type__gte=0, type__lte=6), name="logs_type_valid"),
            models.CheckConstraint(condition=Q(user_id__gt=0), name="logs_user_id_positive"),
            models.CheckConstraint(
                condition=Q(
                    token_id__gte=0,
                    quota__gte=0,
                    prompt_tokens__gte=0,
                    completion_tokens__gte=0,
                    cache_read_tokens__gte=0,
                    cache_creation_tokens__gte=0,
                    use_time__gte=0,
                    duration_ms__gte=0,
                    channel_id__gte=0,
                ),
                name="logs_counters_nonnegative",
            ),
            models.CheckConstraint(
                condition=Q(first_token_ms__isnull=True) | Q(first_token_ms__gte=0),
                name="logs_first_token_ms_nonnegative",
            ),
        ]
        # Every list is ORDER BY created_at DESC, id DESC with LIMIT, so each index ends in
        # (created_at, id): the page is read in index order and the scan stops at the limit.
        # The capped count (LIMIT 10001) walks the same index. STAT_COLUMNS (INCLUDE, PostgreSQL
        # only: Django leaves it out on SQLite) let /api/log/stat and /self/stat sum a filtered
        # range from the index alone, without visiting the rows (docs/logs-api.md, Indexes).
        indexes = [
            # GET /api/log/ unfiltered, by time range only, or by a `%` pattern (scanned newest
            # first within the range); GET /api/log/search (text keyword) and
            # /api/log/export unfiltered; keyset continuation (cursor); DELETE /api/log/ and
            # purge_logs: created_at < T, oldest first, in batches.
            models.Index(fields=["created_at", "id"], name="logs_created_id"),
            # Every user-scoped read: /api/log/self (any filter), /self/search, /self/export,
            # /self/stat; and the raw-log parts of the user-scoped statistics (usage_rows: a
            # +05:30 zone's half-hour day edges, which no hourly rollup covers), which group by
            # model and sum the token classes: with them INCLUDEd those parts are index-only
            # (a heavy user's year by Kolkata day: ~4x faster; docs/aggregates.md).
            models.Index(
                fields=["user_id", "created_at", "id"],
                include=[
                    "type",
                    "model_name",
                    *STAT_COLUMNS,
                    "cache_read_tokens",
                    "cache_creation_tokens",
                ],
                name="logs_user_created_id",
            ),
            # GET /api/log/stat (type = 2 by default: SUM(quota) over the range; rpm/tpm over
            # created_at >= now - 60), GET /api/log/?type=N, /api/log/search?keyword=<int>.
            models.Index(
                fields=["type", "created_at", "id"],
                include=STAT_COLUMNS,
                name="logs_type_created_id",
            ),
            # GET /api/log/?model_name=<exact> and /api/log/stat?model_name=<exact>.
            models.Index(
                fields=["model_name", "created_at", "id"],
                include=["type", *STAT_COLUMNS],
                name="logs_model_created_id",
            ),
            # GET /api/log/?username=<exact> (new-api filters the logged username, not the id)
            # and /api/log/stat?username=<exact>.
            models.Index(
                fields=["username", "created_at", "id"],
                include=["type", *STAT_COLUMNS],
                name="logs_username_created_id",
            ),
            # GET /api/log/?channel=N and /api/log/stat?channel=N (admin).
            models.Index(
                fields=["channel_id", "created_at", "id"],
                include=["type", *STAT_COLUMNS],
                name="logs_channel_created_id",
            ),
            # GET /api/log/?token_name=... and /api/log/stat?token_name=... (admin; user-scoped
            # queries use logs_user_created_id and filter token_name on the rows it finds).
            models.Index(
                fields=["token_name", "created_at", "id"],
                include=["type", *STAT_COLUMNS],
                name="logs_token_created_id",
            ),
            # GET /api/log/?group=... and /api/log/stat?group=... (admin). Groups are few, but a
            # rare one (say 0.1% of the logs) would otherwise make the capped count walk the
            # whole time index.
            models.Index(
                fields=["group", "created_at", "id"],
                include=["type", *STAT_COLUMNS],
                name="logs_group_created_id",
            ),
            # GET /api/log/?request_id=... and /api/log/self?request_id=... (exact). Uniqueness is
            # enforced by IngestKey, which, unlike a unique index here, survives retention.
            models.Index(
                fields=["request_id"], condition=~Q(request_id=""), name="logs_request_id"
            ),
            # Not declared here: the optional trigram index of GET /api/log/search and
            # /self/search for rare keywords (PostgreSQL only, it doubles the ingest's database
            # CPU): `manage.py search_index --create`, logs/search_index.py.
        ]

    def __str__(self) -> str:
        return f"log {self.id} ({self.username}, {self.model_name})"


class IngestKey(models.Model):
    """Every non-empty request_id ever accepted. Kept apart from the logs so that idempotency
    survives log retention: a retry of a purged request is still a duplicate, and the usage
    aggregates (which outlive the logs) are never counted twice."""

    request_id = models.CharField(max_length=64, primary_key=True)
    created_at = models.BigIntegerField()

    class Meta:
        db_table = "ingest_keys"

    def __str__(self) -> str:
        return self.request_id


class RetentionMark(models.Model):
    """How far back deletions have reached, in Unix seconds: one row (id 1), absent until the
    first deletion (then both marks are 0). Written only through `logs.retention`.

    - `logs_before`: no log with `created_at >= logs_before` was ever deleted (`DELETE
      /api/log/`, `purge_logs`, the admin action, partition drops).
    - `rollups_before`: no usage rollup row with `bucket >= rollups_before` was ever deleted
      (`purge_usage`).

    Every deleting path raises its mark, committed, before it deletes anything, and the marks
    never go down: from max(logs_before, rollups_before) on, the rollups and the logs count the
    same logs, which is what lets the log stat read the rollups there (docs/logs-api.md, Stat).
    Written by the log deletions and by usage's purge."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    logs_before = models.BigIntegerField(default=0)
    rollups_before = models.BigIntegerField(default=0)

    class Meta:
        db_table = "retention_marks"
        constraints = [
            models.CheckConstraint(condition=Q(id=1), name="retention_marks_one_row"),
        ]

    def __str__(self) -> str:
        return f"logs before {self.logs_before}, rollups before {self.rollups_before}"
