from __future__ import annotations

import ipaddress
from typing import Any

from axes.utils import reset
from django.core.management.base import BaseCommand, CommandError, CommandParser


class Command(BaseCommand):
    help = (
        "Lift a login lockout (docs/auth.md, 'Login lockout'): forget the failed logins recorded "
        "for the given usernames and/or client addresses, so they may log in again at once."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("usernames", nargs="*", metavar="username")
        parser.add_argument(
            "--ip",
            action="append",
            default=[],
            metavar="ADDRESS",
            help="a client address to unlock (repeatable)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        usernames: list[str] = options["usernames"]
        addresses = [self._address(value) for value in options["ip"]]
        if not usernames and not addresses:
            raise CommandError("name at least one username or --ip address to unlock")
        for username in usernames:
            self._report(f"user {username!r}", reset(username=username))
        for address in addresses:
            self._report(f"address {address}", reset(ip=address))

    def _address(self, value: str) -> str:
        try:
            # The spelling axes stores (an IPv6 address compressed, lower case).
            return str(ipaddress.ip_address(value.strip()))
        except ValueError:
            raise CommandError(f"--ip {value!r} is not an IPv4 or IPv6 address") from None

    def _report(self, who: str, cleared: int) -> None:
        if cleared:
            records = "record" if cleared == 1 else "records"
            self.stdout.write(f"Unlocked {who}: {cleared} failed-login {records} cleared.")
        else:
            self.stdout.write(f"No failed logins recorded for {who}: nothing to unlock.")
