from django.apps import AppConfig


class TokenledgerConfig(AppConfig):
    """The project's own system checks (`tokenledger.*` ids); config/ has no models."""

    name = "config"
    label = "tokenledger"

    def ready(self) -> None:
        from config import checks  # noqa: F401 (registers the checks)
