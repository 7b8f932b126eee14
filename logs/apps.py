from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.db import DEFAULT_DB_ALIAS
from django.db.models.signals import post_migrate


class LogsConfig(AppConfig):
    name = "logs"

    def ready(self) -> None:
        post_migrate.connect(_partitions_learn, sender=self)


def _partitions_learn(sender: AppConfig, using: str = DEFAULT_DB_ALIAS, **kwargs: Any) -> None:
    # After migrate (and after a test flush), ingest starts on its fast path: the process knows
    # the partitions the migration created.
    from logs.partitions import partitions_learn

    if using == DEFAULT_DB_ALIAS:
        partitions_learn()
