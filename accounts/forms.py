"""Forms of the login and account pages."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.conf import settings
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm

from accounts.models import Scope, User

MSG_DISABLED = "This account is disabled. Ask an administrator to enable it."


def lockout_message() -> str:
    """What a locked-out login is told (docs/auth.md, "Login lockout"). The same for every
    account and address, so it does not reveal whether the account exists."""
    reason = "Too many failed logins for this account or from your address"
    cool_off = settings.AXES_COOLOFF_TIME
    if cool_off is None:
        return f"{reason}: logins are locked until an administrator unlocks them."
    minutes = max(1, round(cool_off.total_seconds() / 60))
    unit = "minute" if minutes == 1 else "minutes"
    return (
        f"{reason}: logins are locked for {minutes} {unit}. "
        "Try again later, or ask an administrator to unlock them."
    )


class LockoutMessageMixin:
    """Says why a login was refused while axes has the account or the address locked out.

    axes' backend refuses the attempt inside authenticate() and flags the request, so the form
    sees only "invalid login"; the flag turns it into the lockout message (and
    `accounts.views.login_locked_out` into a 429). Checked first: a locked-out guesser learns
    nothing else about the account, not even that it is disabled."""

    request: Any

    def clean(self) -> dict[str, Any]:
        try:
            return super().clean()  # type: ignore[misc]
        except forms.ValidationError:
            if getattr(self.request, "axes_locked_out", False):
                raise forms.ValidationError(lockout_message(), code="locked_out") from None
            raise


class LoginForm(LockoutMessageMixin, AuthenticationForm):
    """Django's login form, telling a disabled user why they cannot log in.

    Django's backend refuses inactive users without saying so; the reason is given only to
    someone who typed that user's correct password, so it reveals nothing to a guesser."""

    error_messages = {**AuthenticationForm.error_messages, "inactive": MSG_DISABLED}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["username"].widget.attrs.update({"autocomplete": "username"})
        self.fields["password"].widget.attrs.update({"autocomplete": "current-password"})

    def clean(self) -> dict[str, Any]:
        try:
            return super().clean()
        except forms.ValidationError as error:
            if error.code == "invalid_login" and self._is_disabled_with_password():
                raise forms.ValidationError(MSG_DISABLED, code="inactive") from None
            raise

    def _is_disabled_with_password(self) -> bool:
        username = self.cleaned_data.get("username")
        password = self.cleaned_data.get("password")
        if not username or not password:
            return False
        user = User.objects.filter(username=username).first()
        return user is not None and not user.is_active and user.check_password(password)


class AdminLoginForm(LockoutMessageMixin, AdminAuthenticationForm):
    """The admin's login form, with the lockout message (accounts/admin.py installs it)."""


class AccessTokenCreateForm(forms.Form):
    name = forms.CharField(
        max_length=64,
        help_text="A label to recognise the token by, e.g. the script or host that uses it.",
        widget=forms.TextInput(attrs={"autocomplete": "off", "placeholder": "grafana-exporter"}),
    )
    scope = forms.ChoiceField(
        choices=Scope.choices,
        initial=Scope.READ,
        widget=forms.RadioSelect,
        help_text="read: your usage and logs through the API. ingest: may only write logs.",
    )

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # An ingest token writes logs for any user id, so only operators may hold one
        # (accounts.services.access_token_check, which the view's service call applies again).
        if not user.is_admin:
            scope = cast(forms.ChoiceField, self.fields["scope"])
            scope.choices = [(Scope.READ.value, Scope.READ.label)]
            self.fields["scope"].help_text = (
                "read: your usage and logs through the API. Ingest tokens (for gateways) "
                "are created by administrators."
            )

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        if not name:
            raise forms.ValidationError("Give the token a name.")
        return name
