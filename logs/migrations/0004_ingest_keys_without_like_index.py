"""Drop the `varchar_pattern_ops` index Django adds beside the ingest_keys primary key.

Django creates it for every indexed varchar on PostgreSQL to serve `LIKE 'x%'`; request ids are
only ever looked up whole (the ingest's ON CONFLICT uses the primary key), so the second index
only doubled the index work of claiming a batch's keys."""

from django.db import migrations


def drop_like_indexes(apps, schema_editor):
    connection = schema_editor.connection
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, "ingest_keys")
    for name, details in constraints.items():
        if details["index"] and not details["primary_key"] and name.endswith("_like"):
            schema_editor.execute(f"DROP INDEX {schema_editor.quote_name(name)}")


class Migration(migrations.Migration):
    dependencies = [("logs", "0003_merge_0002_log_read_indexes_0002_partition_logs")]

    operations = [migrations.RunPython(drop_like_indexes, migrations.RunPython.noop)]
