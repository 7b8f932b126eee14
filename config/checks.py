"""Deployment checks that Django's own `check --deploy` does not make (docs/deploy.md)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Tags, Warning, register

SQLITE_ENGINE = "django.db.backends.sqlite3"


@register(Tags.security, deploy=True)
def check_allowed_hosts_wildcard(app_configs: Any, **kwargs: Any) -> list[CheckMessage]:
    wildcards = [host for host in settings.ALLOWED_HOSTS if "*" in host]
    if not wildcards:
        return []
    return [
        Warning(
            f"ALLOWED_HOSTS contains {', '.join(map(repr, wildcards))}: '*' accepts any Host "
            "header, so links and redirects built from it can point anywhere, and inside a "
            "name Django does not expand it.",
            hint="List the host names the proxy forwards; '.example.com' matches a domain "
            "and its subdomains.",
            id="tokenledger.W001",
        )
    ]


@register(Tags.database, deploy=True)
def check_production_database(app_configs: Any, **kwargs: Any) -> list[CheckMessage]:
    aliases = [
        alias
        for alias, database in settings.DATABASES.items()
        if database.get("ENGINE") == SQLITE_ENGINE
    ]
    if not aliases:
        return []
    return [
        Warning(
            f"The database {', '.join(map(repr, aliases))} is SQLite, which serialises every "
            "write: production needs PostgreSQL.",
            hint="Set DATABASE_URL=postgres://user:password@host:5432/name (docs/deploy.md).",
            id="tokenledger.W002",
        )
    ]
