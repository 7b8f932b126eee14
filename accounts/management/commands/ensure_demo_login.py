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
        parser.add_argument(
            "--as",
            dest="as_user",
            default="",
            metavar="USERNAME",
            help=(
                "make this gateway user the demo login instead, so that its own dashboard shows "
                "its demo data; only a gateway user provisioned from logs (no password yet) or an "
                "earlier demo login qualifies; otherwise 'demo' is created as usual (a local "
                "account)"
            ),
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if settings.PRODUCTION:
            raise CommandError(
                "refusing to create a demo login with a known password in production"
            )
        password = options["password"]
        if options["as_user"] and self._adopt(options["as_user"], password):
            return
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

    def _adopt(self, username: str, password: str) -> bool:
        """Turn a provisioned gateway user into the demo login; False when it does not qualify.

        It stays a gateway user given a login (docs/auth.md "Users"): the demo's events keep
        naming it, and its own logs are what its dashboard shows."""
        user = User.objects.filter(username=username).first()
        if user is None:
            return False
        if user.is_local:
            self.stderr.write(f"User {username!r} is a local account, not a gateway user.")
            return False
        if user.display_name != DEMO_DISPLAY_NAME and user.has_usable_password():
            self.stderr.write(f"User {username!r} has a password of its own; left unchanged.")
            return False
        user.set_password(password)
        user.role = Role.ROOT
        user.status = Status.ENABLED
        user.display_name = DEMO_DISPLAY_NAME
        user.save(update_fields=["password", "role", "status", "display_name"])
        self.stdout.write(f"login: {username} / password: {password}")
        return True
