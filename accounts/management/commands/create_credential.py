from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.models import Scope, User
from accounts.services import AccessTokenRefused, access_token_create


class Command(BaseCommand):
    help = (
        "Create an access token for a user and print it (alone on the last line). "
        "Scope 'read' reads the user's data (site-wide for admins); 'ingest' may only write logs "
        "and is only for admins and roots."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--scope", choices=Scope.values, default=Scope.READ)
        parser.add_argument("--name", default="", help="a label to recognise the token by")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            user = User.objects.get(username=options["username"])
        except User.DoesNotExist:
            raise CommandError(f"no user named {options['username']!r}") from None
        try:
            token, secret = access_token_create(
                user=user, scope=options["scope"], name=options["name"]
            )
        except AccessTokenRefused as refusal:
            raise CommandError(str(refusal)) from None
        self.stderr.write(
            f"Created {token.scope} token {token.name or '(unnamed)'} for {user.username} "
            f"(id {user.id}). It is shown once; store it now."
        )
        self.stdout.write(secret)
