# Apart from 0002: on PostgreSQL, a table with deferred foreign-key checks pending (0002 moves
# ids) cannot be altered in the same transaction.

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_user_is_local"),
    ]

    operations = [
        migrations.AddConstraint(
            model_name="user",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("is_local", False),
                    models.Q(("id__gte", 9000000000000001), ("id__lte", 9007199254740991)),
                    _connector="OR",
                ),
                name="users_local_id_range",
            ),
        ),
    ]
