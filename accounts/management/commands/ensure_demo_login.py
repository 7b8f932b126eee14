from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.models import Role, Status, User

DEMO_USERNAME = "demo"
DEMO_PASSWORD = "tokenledger-demo"  # noqa: S105 (the published demo password of `make run`)
# Marks the account as this command's own, so that it never takes over a real user named "demo".
DEMO_DISPLAY_NAME = "Demo login (make run)"


class Command(BaseCommand):
    help = (
        "Create (or reset) the local demo login used by `make run`: user 'demo', role root, a "
        "known password. Refuses in production and leaves a real user named 'demo' alone."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--password", default=DEMO_PASSWORD)

    def handle(self, *args: Any, **options: Any) -> None:
        if settings.PRODUCTION:
            raise CommandError(
                "refusing to create a demo login with a known password in production"
            )
        password = options["password"]
        user = User.objects.filter(username=DEMO_USERNAME).first()
        if user is None:
            user = User.objects.create_user(
                DEMO_USERNAME,
                password,
                role=Role.ROOT,
                display_name=DEMO_DISPLAY_NAME,
            )
            self.stderr.write(f"Created the demo login (user id {user.id}).")
        elif user.display_name != DEMO_DISPLAY_NAME:
            self.stderr.write(
                f"A user named {DEMO_USERNAME!r} (id {user.id}) exists and is not the demo login; "
                "left unchanged. Log in with your own account (manage.py createsuperuser)."
            )
            return
        else:
            user.set_password(password)
            user.role = Role.ROOT
            user.status = Status.ENABLED
            user.save(update_fields=["password", "role", "status"])
        self.stdout.write(f"login: {DEMO_USERNAME} / password: {password}")
