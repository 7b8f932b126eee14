"""Django's PostgreSQL backend, told about the partitioned `logs` table (docs/partitioning.md).

The ENGINE of every PostgreSQL database (config/settings.py). PostgreSQL lets a query select any
column of a table grouped by its primary key, and Django uses that to shorten GROUP BY clauses
to the model's pk. On the partitioned logs table the database's primary key is
(id, created_at) while the model's is id, so that shortening would be refused
("column logs.created_at must appear in the GROUP BY clause"): it is turned off for that table.
"""

from __future__ import annotations

from typing import Any

from django.db.backends.postgresql import base, features

PARTITIONED_TABLES = frozenset({"logs"})


class DatabaseFeatures(features.DatabaseFeatures):
    def allows_group_by_selected_pks_on_model(self, model: Any) -> bool:
        if model._meta.db_table in PARTITIONED_TABLES:
            return False
        return super().allows_group_by_selected_pks_on_model(model)


class DatabaseWrapper(base.DatabaseWrapper):
    features_class = DatabaseFeatures
