"""Start the retention marks (logs.0005) where the rollups already disagree with the logs.

Before the marks existed, logs and rollup rows were deleted without a record. A UTC day whose
logs number the requests its site rollup row counts lost nothing on either side (deletions only
remove, and ingest adds to both at once); the day after the last day that differs is where the
rollups can be trusted again, and `logs_before` starts there. Costs one COUNT per day of logs
(seconds at 10 M logs)."""

from django.db import migrations

DAY = 86_400


def start_marks(apps, schema_editor):
    connection = schema_editor.connection
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT created_at - created_at % {DAY}, COUNT(*) FROM logs GROUP BY 1"  # noqa: S608
        )
        logged = dict(cursor.fetchall())
        cursor.execute(
            f"SELECT bucket, SUM(requests) FROM usage_site WHERE span = {DAY} GROUP BY bucket"  # noqa: S608
        )
        rolled = dict(cursor.fetchall())
    differing = [day for day in logged.keys() | rolled.keys() if logged.get(day) != rolled.get(day)]
    if differing:
        mark = apps.get_model("logs", "RetentionMark")
        mark.objects.update_or_create(pk=1, defaults={"logs_before": max(differing) + DAY})


class Migration(migrations.Migration):
    dependencies = [
        ("usage", "0002_user_time_first_key"),
        ("logs", "0006_retention_marks"),
    ]

    operations = [migrations.RunPython(start_marks, migrations.RunPython.noop)]
