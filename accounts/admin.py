"""The Django admin for operators (UI.md "Django admin"): users, access tokens, channels."""

from __future__ import annotations

from typing import Any, cast

from axes.models import AccessFailureLog, AccessLog
from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.cache import add_never_cache_headers, patch_cache_control
from django.utils.html import format_html

from accounts.forms import AdminLoginForm
from accounts.models import (
    LOCAL_NAME_FORBIDDEN,
    MSG_LOCAL_NAME,
    AccessToken,
    Channel,
    Role,
    Scope,
    Status,
    User,
)
from accounts.services import (
    MSG_GRANT,
    USER_FIELDS,
    AccessTokenRefused,
    UserChangeRefused,
    access_token_check,
    access_token_create,
    access_token_revoke,
    user_change_check,
    user_delete,
    user_delete_check,
    user_manage_check,
    user_update,
    users_status_set,
)

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


def _actor(request: HttpRequest) -> User:
    """The operator acting (the admin lets in only our staff users)."""
    user = request.user
    if not isinstance(user, User):
        raise PermissionDenied
    return user


class UserCreationForm(AdminUserCreationForm):
    """Creates a local account (see UserAdmin.save_model)."""

    class Meta(AdminUserCreationForm.Meta):  # type: ignore[name-defined]
        model = User
        fields = ("username",)

    def clean_username(self) -> str:
        username: str = super().clean_username()
        if LOCAL_NAME_FORBIDDEN in username:
            raise forms.ValidationError(MSG_LOCAL_NAME)
        return username


class UserEditForm(UserChangeForm):
    """The change form. The rules of who may change what are `accounts.services`'; this form
    only shows their refusals on the fields (UserAdmin sets `actor`)."""

    actor: User | None = None

    class Meta(UserChangeForm.Meta):  # type: ignore[name-defined]
        model = User
        fields = ("username", "password", "display_name", "role", "status", "group")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        role = self.fields.get("role")
        if self.actor is not None and self.actor.role < Role.ROOT and role is not None:
            # Offer only what this actor may grant; anything else gets the rule as its error.
            choices = [(value, label) for value, label in Role.choices if value < Role.ADMIN]
            cast(forms.ChoiceField, role).choices = choices
            role.error_messages["invalid_choice"] = MSG_GRANT

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        if self.actor is None or self.instance.pk is None:
            return cleaned
        data = {
            name: cleaned[name]
            for name in self.changed_data
            if name in USER_FIELDS & cleaned.keys()
        }
        try:
            # self.instance still holds the stored values here (the form applies its data after
            # clean()); user_update checks again on the locked row.
            user_change_check(actor=self.actor, user=self.instance, data=data)
        except UserChangeRefused as refusal:
            self.add_error(refusal.field if refusal.field in self.fields else None, refusal.message)
        return cleaned


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    form = UserEditForm
    add_form = UserCreationForm
    list_display = ("username", "id", "kind", "role", "status_badge", "group", "last_activity")
    list_filter = ("is_local", "role", "status", "group")
    # `^` is a prefix match: the users table is small, and no search scans for a substring.
    search_fields = ("^username",)
    search_help_text = "Username, or its beginning."
    ordering = ("id",)
    filter_horizontal = ()
    readonly_fields = ("id", "kind", "last_login", "last_seen_at", "date_joined")
    fieldsets = (
        (None, {"fields": ("id", "kind", "username", "password")}),
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

    @admin.display(description="kind", ordering="is_local")
    def kind(self, obj: User) -> str:
        return "local account" if obj.is_local else "gateway user"

    # Who may change or delete whom is accounts.services' rule; the admin asks it, so that a
    # refused user is shown read-only (and a POST to it is a 403) and cannot be deleted.
    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if not super().has_change_permission(request, obj):
            return False
        if isinstance(obj, User):
            try:
                user_manage_check(actor=_actor(request), user=obj)
            except UserChangeRefused:
                return False
        return True

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if not super().has_delete_permission(request, obj):
            return False
        if isinstance(obj, User):
            try:
                user_delete_check(actor=_actor(request), user=obj)
            except UserChangeRefused:
                return False
        return True

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        fields = tuple(super().get_readonly_fields(request, obj))
        if isinstance(obj, User) and obj.pk == request.user.pk:
            fields += ("role", "status")  # nobody changes their own
        return fields

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> Any:
        form = super().get_form(request, obj, change=change, **kwargs)
        # modelform_factory made this class for this request: the attribute is not shared.
        form.actor = _actor(request)  # type: ignore[attr-defined]
        return form

    def save_model(self, request: HttpRequest, obj: User, form: Any, change: bool) -> None:
        if change:
            data = {name: form.cleaned_data[name] for name in form.changed_data}
            user_update(
                actor=_actor(request),
                user=obj,
                data={name: value for name, value in data.items() if name in USER_FIELDS},
            )
            return
        # A local account: the gateways' users arrive with their own ids through ingestion.
        obj.is_local = True
        obj.pk = User.objects.next_local_id()
        super().save_model(request, obj, form, change)

    def delete_model(self, request: HttpRequest, obj: User) -> None:
        user_delete(actor=_actor(request), user=obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        # has_delete_permission refused the confirmation already; this refuses the whole
        # delete if a user slipped in (UserChangeRefused is a 403).
        with transaction.atomic():
            for user in queryset.order_by("pk"):
                user_delete(actor=_actor(request), user=user)

    def _status_set(self, request: HttpRequest, queryset: QuerySet[User], status: int) -> int:
        result = users_status_set(actor=_actor(request), users=queryset, status=status)
        for user, reason in result.refused:
            self.message_user(request, f"{user.username}: {reason}", messages.ERROR)
        return result.changed

    @admin.action(description="Enable selected users")
    def enable_users(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        count = self._status_set(request, queryset, Status.ENABLED)
        self.message_user(request, f"Enabled {count} user(s).", messages.SUCCESS)

    @admin.action(description="Disable selected users (their tokens and sessions stop working)")
    def disable_users(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        count = self._status_set(request, queryset, Status.DISABLED)
        self.message_user(request, f"Disabled {count} user(s).", messages.SUCCESS)


class AccessTokenAddForm(forms.ModelForm):
    actor: User | None = None  # set by AccessTokenAdmin.get_form

    class Meta:
        model = AccessToken
        fields = ("user", "name", "scope")

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        user, scope = cleaned.get("user"), cleaned.get("scope")
        if isinstance(user, User) and scope:
            try:
                access_token_check(user=user, scope=scope, actor=self.actor)
            except AccessTokenRefused as refusal:
                self.add_error("scope" if scope == Scope.INGEST else "user", str(refusal))
        return cleaned


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
        form = super().get_form(request, obj, change, **kwargs)
        form.actor = _actor(request)  # type: ignore[attr-defined]
        return form

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if not super().has_change_permission(request, obj):
            return False
        if isinstance(obj, AccessToken):
            try:
                user_manage_check(actor=_actor(request), user=obj.user)
            except UserChangeRefused:
                return False
        return True

    has_delete_permission = has_change_permission

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
            actor=_actor(request),
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
        tokens = []
        for token in queryset.filter(revoked_at__isnull=True).select_related("user"):
            if self.has_change_permission(request, token):
                tokens.append(token)
            else:
                self.message_user(
                    request, f"{token}: only a root may revoke an admin's or a root's tokens.",
                    messages.ERROR,
                )  # fmt: skip
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
