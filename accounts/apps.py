from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Registers the OpenAPI descriptions of our authentication classes (drf-spectacular finds
        # extensions by subclass registration, so the module only has to be imported).
        from accounts import schema  # noqa: F401
