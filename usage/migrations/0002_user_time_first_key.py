# usage_user's key leads with the time (a batch's upserts land together at the end of the key,
# docs/aggregates.md) and user-scoped reads get a (user_id, span, bucket) index; its username
# index goes (a username filter finds its users in usage_user_total, which gains one).
#
# Django's schema editor leaves a composite primary key alone when it changes (AlterField on
# `pk` only updates the migration state), so the database side swaps it explicitly.

from django.db import migrations, models

OLD_KEY = (
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
NEW_KEY = (
    "span",
    "bucket",
    "user_id",
    "token_id",
    "model_name",
    "type",
    "endpoint",
    "username",
    "token_name",
)
COLUMNS = (
    '"span" integer NOT NULL, "bucket" bigint NOT NULL, "requests" bigint NOT NULL, '
    '"quota" bigint NOT NULL, "prompt_tokens" bigint NOT NULL, '
    '"completion_tokens" bigint NOT NULL, "cache_read_tokens" bigint NOT NULL, '
    '"cache_creation_tokens" bigint NOT NULL, "duration_ms" bigint NOT NULL, '
    '"first_token_ms" bigint NOT NULL, "first_token_count" bigint NOT NULL, '
    '"user_id" bigint NOT NULL, "username" varchar(64) NOT NULL, "token_id" bigint NOT NULL, '
    '"token_name" varchar(128) NOT NULL, "model_name" varchar(128) NOT NULL, '
    '"endpoint" varchar(128) NOT NULL, "type" smallint NOT NULL'
)
NAMES = (
    '"span", "bucket", "requests", "quota", "prompt_tokens", "completion_tokens", '
    '"cache_read_tokens", "cache_creation_tokens", "duration_ms", "first_token_ms", '
    '"first_token_count", "user_id", "username", "token_id", "token_name", "model_name", '
    '"endpoint", "type"'
)


def key_set(schema_editor, names):
    key = ", ".join(f'"{name}"' for name in names)
    run = schema_editor.execute
    if schema_editor.connection.vendor == "postgresql":
        run(
            "ALTER TABLE usage_user DROP CONSTRAINT usage_user_pkey, "
            f"ADD CONSTRAINT usage_user_pkey PRIMARY KEY ({key})"
        )
        return
    # SQLite cannot alter a primary key: copy the rows into a table with the new one.
    run(f'CREATE TABLE "usage_user__new" ({COLUMNS}, PRIMARY KEY ({key}))')
    run(f'INSERT INTO "usage_user__new" ({NAMES}) SELECT {NAMES} FROM "usage_user"')  # noqa: S608
    run('DROP TABLE "usage_user"')
    run('ALTER TABLE "usage_user__new" RENAME TO "usage_user"')


def key_time_first(apps, schema_editor):
    key_set(schema_editor, NEW_KEY)


def key_user_first(apps, schema_editor):
    key_set(schema_editor, OLD_KEY)


class Migration(migrations.Migration):
    dependencies = [
        ("usage", "0001_initial"),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name="usageuser",
            name="usage_user_span_bucket",
        ),
        migrations.RemoveIndex(
            model_name="usageuser",
            name="usage_user_username",
        ),
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="usageuser",
                    name="pk",
                    field=models.CompositePrimaryKey(
                        *NEW_KEY,
                        blank=True,
                        editable=False,
                        primary_key=True,
                        serialize=False,
                    ),
                ),
            ],
            database_operations=[
                migrations.RunPython(key_time_first, key_user_first, elidable=False),
            ],
        ),
        migrations.AddIndex(
            model_name="usageuser",
            index=models.Index(fields=["user_id", "span", "bucket"], name="usage_user_user"),
        ),
        migrations.AddIndex(
            model_name="usageusertotal",
            index=models.Index(fields=["username", "span", "bucket"], name="usage_user_total_name"),
        ),
    ]
