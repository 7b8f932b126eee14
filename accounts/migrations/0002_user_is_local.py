"""Local accounts apart from gateway users (docs/auth.md "Users", "Upgrading").

Until now both shared one id space: createsuperuser took the id after the largest, so an event
carrying that id renamed the account. This marks the accounts that no event ever named as local
and moves them into the local id range, which events may not carry. A user that an event named
(it has logs, usage rollups or a last-seen time, or the foundation's bare "!" password of a
provisioned user) stays a gateway user, also when an operator gave it a login.

A moved account keeps its password and tokens; its sessions end (the session holds the old id)
and its API clients must send the new id in New-Api-User.
"""

from __future__ import annotations

from typing import Any

from django.db import migrations, models

LOCAL_ID_MIN = 9_000_000_000_000_001  # accounts.ids at the time of writing


def _exists(cursor: Any, table: str, user_id: int) -> bool:
    cursor.execute(f"SELECT 1 FROM {table} WHERE user_id = %s LIMIT 1", [user_id])  # noqa: S608
    return cursor.fetchone() is not None


def move_local_accounts(apps: Any, schema_editor: Any) -> None:
    connection = schema_editor.connection
    User = apps.get_model("accounts", "User")
    candidates = list(
        User.objects.filter(last_seen_at__isnull=True, id__lt=LOCAL_ID_MIN)
        .exclude(password="!")  # noqa: S106 (the unusable mark, not a password)
        .order_by("id")
        .values_list("id", flat=True)
    )
    if not candidates:
        return
    tables = set(connection.introspection.table_names())
    # Where an event leaves a trace of its user id (the rollups outlive the logs).
    traces = [name for name in ("logs", "usage_user_total") if name in tables]
    largest = User.objects.filter(id__gte=LOCAL_ID_MIN).aggregate(m=models.Max("id"))["m"]
    next_id = LOCAL_ID_MIN if largest is None else largest + 1
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id FROM django_content_type WHERE app_label = 'accounts' AND model = 'user'"
        )
        row = cursor.fetchone()
        user_type = row[0] if row else None
        for old in candidates:
            if any(_exists(cursor, table, old) for table in traces):
                continue
            # Foreign keys are deferred on both databases: the references follow in this
            # transaction.
            cursor.execute(
                "UPDATE users SET id = %s, is_local = %s WHERE id = %s", [next_id, True, old]
            )
            cursor.execute(
                "UPDATE access_tokens SET user_id = %s WHERE user_id = %s", [next_id, old]
            )
            if "django_admin_log" in tables:
                cursor.execute(
                    "UPDATE django_admin_log SET user_id = %s WHERE user_id = %s", [next_id, old]
                )
                if user_type is not None:
                    cursor.execute(
                        "UPDATE django_admin_log SET object_id = %s "
                        "WHERE content_type_id = %s AND object_id = %s",
                        [str(next_id), user_type, str(old)],
                    )
            next_id += 1


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="user",
            name="is_local",
            field=models.BooleanField(
                default=False,
                editable=False,
                help_text="Made here (createsuperuser, the admin), not by a gateway's events.",
                verbose_name="local account",
            ),
        ),
        migrations.RunPython(move_local_accounts, migrations.RunPython.noop, elidable=True),
    ]
