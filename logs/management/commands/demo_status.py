from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from logs.models import Log


class Command(BaseCommand):
    help = (
        "Print 'empty' when the database holds no logs, else 'seeded' (`make run` loads the "
        "demo data only into an empty database)."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdout.write("seeded" if Log.objects.exists() else "empty")
