"""The Django admin for operators (UI.md "Django admin"): users, access tokens, channels."""

from __future__ import annotations

from typing import Any

from axes.models import AccessFailureLog, AccessLog
from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django.contrib.auth.models import Group
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.cache import add_never_cache_headers, patch_cache_control
from django.utils.html import format_html

from accounts.forms import AdminLoginForm
from accounts.models import AccessToken, Channel, Scope, Status, User
from accounts.services import access_token_create, access_token_revoke

admin.site.site_header = "Tokenledger administration"
admin.site.site_title = "Tokenledger admin"
admin.site.index_title = "Operators"
admin.site.site_url = "/"
admin.site.login_form = AdminLoginForm  # says why a locked-out login is refused
# Django's permission groups mean nothing here: access follows the gateway's role.
admin.site.unregister(Group)
# axes: its access attempts are the login lockouts (deleting one unlocks it, as `unlock_login`
# does); its logs of logins and of failures are turned off (config/settings.py), so not listed.
admin.site.unregister(AccessLog)
admin.site.unregister(AccessFailureLog)


class UserCreationForm(AdminUserCreationForm):
    class Meta(AdminUserCreationForm.Meta):  # type: ignore[name-defined]
        model = User
        fields = ("username",)


class UserEditForm(UserChangeForm):
    class Meta(UserChangeForm.Meta):  # type: ignore[name-defined]
        model = User
        fields = ("username", "password", "display_name", "role", "status", "group")


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    form = UserEditForm
    add_form = UserCreationForm
    list_display = ("username", "id", "role", "status_badge", "group", "last_activity")
    list_filter = ("role", "status", "group")
    # `^` is a prefix match: the users table is small, and no search scans for a substring.
    search_fields = ("^username",)
    search_help_text = "Username, or its beginning."
    ordering = ("id",)
    filter_horizontal = ()
    readonly_fields = ("id", "last_login", "last_seen_at", "date_joined")
    fieldsets = (
        (None, {"fields": ("id", "username", "password")}),
        ("Gateway profile", {"fields": ("display_name", "role", "status", "group")}),
        ("Activity", {"fields": ("last_login", "last_seen_at", "date_joined")}),
    )
    add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": ("username", "usable_password", "password1", "password2"),
            },
        ),
    )
    actions = ("enable_users", "disable_users")

    @admin.display(description="status", ordering="status")
    def status_badge(self, obj: User) -> str:
        # Colours in static/css/admin.css: the Content-Security-Policy refuses style attributes.
        state = "enabled" if obj.status == Status.ENABLED else "disabled"
        return format_html('<strong class="tl-{}">{}</strong>', state, obj.get_status_display())

    @admin.display(description="last activity", ordering="last_login")
    def last_activity(self, obj: User) -> Any:
        moments = [m for m in (obj.last_login, obj.last_seen_at) if m is not None]
        return max(moments) if moments else None

    def save_model(self, request: HttpRequest, obj: User, form: Any, change: bool) -> None:
        if not change and obj.pk is None:
            # Local accounts take the next id; gateway users arrive with theirs via ingestion.
            obj.pk = User.objects.next_id()
        super().save_model(request, obj, form, change)

    @admin.action(description="Enable selected users")
    def enable_users(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        count = queryset.exclude(status=Status.ENABLED).update(status=Status.ENABLED)
        self.message_user(request, f"Enabled {count} user(s).", messages.SUCCESS)

    @admin.action(description="Disable selected users (their tokens and sessions stop working)")
    def disable_users(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        me = request.user.pk or 0
        if queryset.filter(pk=me).exists():
            self.message_user(request, "You cannot disable yourself.", messages.ERROR)
            queryset = queryset.exclude(pk=me)
        count = queryset.exclude(status=Status.DISABLED).update(status=Status.DISABLED)
        self.message_user(request, f"Disabled {count} user(s).", messages.SUCCESS)


class AccessTokenAddForm(forms.ModelForm):
    class Meta:
        model = AccessToken
        fields = ("user", "name", "scope")


class RevokedFilter(admin.SimpleListFilter):
    title = "status"
    parameter_name = "revoked"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("no", "active"), ("yes", "revoked")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() == "no":
            return queryset.filter(revoked_at__isnull=True)
        if self.value() == "yes":
            return queryset.filter(revoked_at__isnull=False)
        return queryset


@admin.register(AccessToken)
class AccessTokenAdmin(admin.ModelAdmin):
    """Tokens are created through accounts.services (the secret is shown once, on the page
    answering the add form, and never stored); key_hash is never displayed."""

    list_display = (
        "name",
        "user",
        "scope",
        "prefix_display",
        "created_at",
        "last_used_at",
        "state",
    )
    list_filter = ("scope", RevokedFilter)
    search_fields = ("name", "^prefix", "user__username")
    list_select_related = ("user",)
    raw_id_fields = ("user",)
    exclude = ("key_hash",)
    actions = ("revoke_tokens",)

    @admin.display(description="prefix", ordering="prefix")
    def prefix_display(self, obj: AccessToken) -> str:
        return format_html("<code>{}…</code>", obj.prefix)

    @admin.display(description="status", ordering="revoked_at")
    def state(self, obj: AccessToken) -> str:
        if obj.revoked_at is None:
            return format_html('<strong class="tl-enabled">{}</strong>', "active")
        return format_html('<span class="tl-disabled">revoked {}</span>', obj.revoked_at.date())

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> Any:
        if obj is None:
            kwargs["form"] = AccessTokenAddForm
        return super().get_form(request, obj, change, **kwargs)

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return ("user", "name", "scope")
        return ("user", "name", "scope", "prefix", "created_at", "last_used_at", "revoked_at")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return ()
        return ("user", "scope", "prefix", "created_at", "last_used_at", "revoked_at")

    def save_model(self, request: HttpRequest, obj: AccessToken, form: Any, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        token, secret = access_token_create(
            user=form.cleaned_data["user"],
            scope=form.cleaned_data.get("scope") or Scope.READ,
            name=form.cleaned_data.get("name") or "",
        )
        # The admin goes on with `obj` (change message, redirect): make it the stored row.
        for model_field in AccessToken._meta.concrete_fields:
            setattr(obj, model_field.attname, getattr(token, model_field.attname))
        obj._state.adding = False
        obj._state.db = token._state.db
        obj.new_secret = secret  # type: ignore[attr-defined]

    def response_add(
        self, request: HttpRequest, obj: AccessToken, post_url_continue: str | None = None
    ) -> HttpResponse:
        secret = getattr(obj, "new_secret", None)
        if secret is None:
            return super().response_add(request, obj, post_url_continue)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "Token created",
            "token": obj,
            "secret": secret,
        }
        response = TemplateResponse(request, "admin/accounts/accesstoken/created.html", context)
        add_never_cache_headers(response)
        patch_cache_control(response, no_store=True)
        return response

    @admin.action(description="Revoke selected tokens")
    def revoke_tokens(self, request: HttpRequest, queryset: QuerySet[AccessToken]) -> None:
        tokens = list(queryset.filter(revoked_at__isnull=True))
        for token in tokens:
            access_token_revoke(token=token)
        self.message_user(request, f"Revoked {len(tokens)} token(s).", messages.SUCCESS)


@admin.register(Channel)
class ChannelAdmin(admin.ModelAdmin):
    list_display = ("id", "name", "updated_at")
    list_display_links = ("id",)
    list_editable = ("name",)
    search_fields = ("=id", "name")
    ordering = ("id",)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return ("id", "updated_at") if obj is not None else ("updated_at",)
