"""Usage rollups: the logs pre-aggregated per time bucket and dimension set (docs/aggregates.md).

Each table holds the same sums at several resolutions, told apart by `span` (seconds, each span
dividing the next, all aligned to the Unix epoch: UTC quarter-hours, hours, ..., UTC days; which
ones per table: usage/rollups.py); `bucket` is the bucket's start, `created_at - created_at %
span`. A row counts the logs with bucket <= created_at < bucket + span and the row's dimension
values. Rows are written only by
`usage.services.usage_rollup_apply` (in the ingest transaction) and by `usage_rebuild`; deleting
logs never touches them (`purge_usage` applies their own retention)."""

from __future__ import annotations

from django.db import models


class Rollup(models.Model):
    span = models.IntegerField()
    bucket = models.BigIntegerField()
    requests = models.BigIntegerField(default=0)
    quota = models.BigIntegerField(default=0)
    prompt_tokens = models.BigIntegerField(default=0)
    completion_tokens = models.BigIntegerField(default=0)
    cache_read_tokens = models.BigIntegerField(default=0)
    cache_creation_tokens = models.BigIntegerField(default=0)
    duration_ms = models.BigIntegerField(default=0)
    first_token_ms = models.BigIntegerField(default=0)  # sum over the logs that report one
    first_token_count = models.BigIntegerField(default=0)

    class Meta:
        abstract = True


class UsageSite(Rollup):
    """Site-wide per model and type: `/api/data/` (admin), the site dashboard's model charts and
    error rate per model. A few dozen rows per bucket."""

    # The key leads with the time range: every site-wide read is a range scan of it.
    pk = models.CompositePrimaryKey("span", "bucket", "model_name", "type")
    model_name = models.CharField(max_length=128)
    type = models.SmallIntegerField()

    class Meta:
        db_table = "usage_site"

    def __str__(self) -> str:
        return f"{self.span}@{self.bucket} {self.model_name}/{self.type}"


class UsageUser(Rollup):
    """Per user, API key, model, endpoint and type: every user-scoped read (`/api/data/self`,
    the sub2api family, AceData, r9s.ai, "my dashboard"), `/api/data/?username=`, top users.
    username and token_name follow user_id and token_id (they change only on a rename), so
    keying by them costs no rows and keeps filters on the logged names exact."""

    # User-scoped reads: user_id = ? AND span = ? AND bucket range.
    pk = models.CompositePrimaryKey(
        "user_id",
        "span",
        "bucket",
        "token_id",
        "model_name",
        "type",
        "endpoint",
        "username",
        "token_name",
    )
    user_id = models.BigIntegerField()
    username = models.CharField(max_length=64)
    token_id = models.BigIntegerField()
    token_name = models.CharField(max_length=128)
    model_name = models.CharField(max_length=128)
    endpoint = models.CharField(max_length=128)
    type = models.SmallIntegerField()

    class Meta:
        db_table = "usage_user"
        indexes = [
            # Site-wide reads grouped by user (top users), purge_usage, rebuild/verify chunks.
            models.Index(fields=["span", "bucket"], name="usage_user_span_bucket"),
            # /api/data/?username=... (admin): the logged username, not the user id.
            models.Index(fields=["username", "span", "bucket"], name="usage_user_username"),
        ]

    def __str__(self) -> str:
        return f"{self.span}@{self.bucket} user {self.user_id} {self.model_name}/{self.type}"


class UsageUserTotal(Rollup):
    """Per user and type, UTC days only: site-wide breakdowns by user (top users by quota) and
    the day part of a user's totals (one row per user and day, where usage_user has one per key,
    model and endpoint). Hours come from usage_user."""

    # Site-wide reads by user: span = ? AND bucket range, every user.
    pk = models.CompositePrimaryKey("span", "bucket", "user_id", "type", "username")
    user_id = models.BigIntegerField()
    username = models.CharField(max_length=64)
    type = models.SmallIntegerField()

    class Meta:
        db_table = "usage_user_total"
        indexes = [
            # One user's totals: user_id = ? AND span = ? AND bucket range.
            models.Index(fields=["user_id", "span", "bucket"], name="usage_user_total_user"),
        ]

    def __str__(self) -> str:
        return f"{self.span}@{self.bucket} user {self.user_id}/{self.type}"


class UsageChannel(Rollup):
    """Per upstream channel, group, model and type: the site dashboard's per-channel and
    per-group breakdowns."""

    pk = models.CompositePrimaryKey("span", "bucket", "channel_id", "group", "model_name", "type")
    channel_id = models.BigIntegerField()
    group = models.CharField(max_length=64)
    model_name = models.CharField(max_length=128)
    type = models.SmallIntegerField()

    class Meta:
        db_table = "usage_channel"
        indexes = [
            # Reads of one channel: channel_id = ? AND span = ? AND bucket range.
            models.Index(fields=["channel_id", "span", "bucket"], name="usage_channel_channel"),
        ]

    def __str__(self) -> str:
        return f"{self.span}@{self.bucket} channel {self.channel_id} {self.model_name}"
