"""DRF views of the accounts app: new-api's `/api/user/self` and `/api/status`, the two calls
new-api's web frontend makes before any page (docs/newapi-frontend.md)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from drf_spectacular.utils import OpenApiExample, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.models import Role, User
from accounts.newapi import NEW_API_ERROR, NewApiView, envelope_schema, ok
from accounts.permissions import gateway_user
from usage.selectors import usage_user_consumption

NO_BALANCE = "Always 0: Tokenledger keeps no balance (a followed gateway database will provide it)."
NOT_KEPT = "Always empty: Tokenledger does not keep it."


class UserSelfSerializer(serializers.Serializer[Any]):
    """new-api's `GET /api/user/self` body (controller/user.go GetSelf): every key its web
    frontend and clients read. Tokenledger knows the identity and the consumption; the keys of
    what it does not keep (balance, sign-in bindings, affiliate data, settings) are sent with
    neutral values, because the frontend cannot do without them (a missing quota reads $NaN)."""

    id = serializers.IntegerField(help_text="The gateway's user id.")
    username = serializers.CharField()
    display_name = serializers.CharField()
    role = serializers.IntegerField(help_text="new-api's codes: 1 common, 10 admin, 100 root.")
    status = serializers.IntegerField(help_text="1 enabled, 2 disabled.")
    group = serializers.CharField()
    quota = serializers.IntegerField(help_text=NO_BALANCE)
    used_quota = serializers.IntegerField(
        help_text="Quota of every consume log (type 2) of the user, as the usage rollups hold it."
    )
    request_count = serializers.IntegerField(help_text="How many consume logs the user has.")
    email = serializers.CharField(help_text=NOT_KEPT)
    github_id = serializers.CharField(help_text=NOT_KEPT)
    discord_id = serializers.CharField(help_text=NOT_KEPT)
    oidc_id = serializers.CharField(help_text=NOT_KEPT)
    wechat_id = serializers.CharField(help_text=NOT_KEPT)
    telegram_id = serializers.CharField(help_text=NOT_KEPT)
    linux_do_id = serializers.CharField(help_text=NOT_KEPT)
    aff_code = serializers.CharField(help_text=NOT_KEPT)
    aff_count = serializers.IntegerField(help_text="Always 0.")
    aff_quota = serializers.IntegerField(help_text="Always 0.")
    aff_history_quota = serializers.IntegerField(help_text="Always 0.")
    inviter_id = serializers.IntegerField(help_text="Always 0.")
    setting = serializers.CharField(help_text="Always empty: the frontend's defaults apply.")
    stripe_customer = serializers.CharField(help_text=NOT_KEPT)
    sidebar_modules = serializers.CharField(help_text="Always empty: the default sidebar.")
    permissions = inline_serializer(
        "UserSelfPermissions",
        {
            "sidebar_settings": serializers.BooleanField(),
            "sidebar_modules": serializers.DictField(),
        },
        help_text="What new-api derives from the role: which sidebar areas the frontend shows.",
    )


def sidebar_permissions(role: int) -> dict[str, Any]:
    """new-api's permissions of a role (calculateUserPermissions): roots get no sidebar
    settings, admins no system settings, common users no admin area."""
    if role >= Role.ROOT:
        return {"sidebar_settings": False, "sidebar_modules": {}}
    if role >= Role.ADMIN:
        return {"sidebar_settings": True, "sidebar_modules": {"admin": {"setting": False}}}
    return {"sidebar_settings": True, "sidebar_modules": {"admin": False}}


# The text keys of GetSelf that Tokenledger does not keep: e-mail, sign-in bindings, billing.
NOT_KEPT_TEXT = (
    "email",
    "github_id",
    "discord_id",
    "oidc_id",
    "wechat_id",
    "telegram_id",
    "linux_do_id",
    "aff_code",
    "stripe_customer",
)


def user_self_data(user: User) -> dict[str, Any]:
    consumed = usage_user_consumption(user_id=user.pk)
    return {
        "id": user.pk,
        "username": user.username,
        "display_name": user.display_name,
        "role": user.role,
        "status": user.status,
        "group": user.group,
        "quota": 0,
        "used_quota": consumed.quota,
        "request_count": consumed.requests,
        **dict.fromkeys(NOT_KEPT_TEXT, ""),
        **dict.fromkeys(("aff_count", "aff_quota", "aff_history_quota", "inviter_id"), 0),
        "setting": "",
        "sidebar_modules": "",
        "permissions": sidebar_permissions(user.role),
    }


class UserSelfView(NewApiView):
    """new-api's `GET /api/user/self` (UserAuth): who the credential belongs to and what it has
    consumed. A dashboard calls it first to learn its user id and role."""

    @extend_schema(
        operation_id="user_self",
        summary="The calling user and its consumption (new-api UserAuth)",
        description=(
            "new-api's keys, all of them: `used_quota` and `request_count` sum the user's "
            "consume logs; `quota` (the balance) is 0 and the keys of what Tokenledger does not "
            "keep (sign-in bindings, affiliate data, settings) are empty or 0."
        ),
        responses={
            200: envelope_schema("UserSelfResponse", UserSelfSerializer()),
            401: NEW_API_ERROR,
            403: NEW_API_ERROR,
        },
    )
    def get(self, request: Request) -> Response:
        return ok(user_self_data(gateway_user(request)))


class StatusSerializer(serializers.Serializer[Any]):
    """The public subset of new-api's `GET /api/status` (controller/misc.go GetStatus) that its
    web frontend needs to show amounts and its dashboard: the quota rate and display settings,
    and neutral values for the keys the classic theme copies into localStorage on every page
    (a missing one becomes the string "undefined" there)."""

    quota_per_unit = serializers.IntegerField(help_text="The QUOTA_PER_UNIT setting.")
    quota_display_type = serializers.CharField(help_text='Always "USD".')
    display_in_currency = serializers.BooleanField(help_text="Always true.")
    data_export_default_time = serializers.CharField(
        help_text='Always "hour": the dashboard\'s default granularity.'
    )
    enable_data_export = serializers.BooleanField(help_text="Always true: the dashboard works.")
    system_name = serializers.CharField(help_text="Always empty: the frontend's own name.")
    logo = serializers.CharField(help_text="Always empty: the frontend's own logo.")
    footer_html = serializers.CharField(help_text="Always empty.")
    docs_link = serializers.CharField(help_text="Always empty.")
    chats = serializers.ListField(help_text="Always empty.")
    enable_drawing = serializers.BooleanField(help_text="Always false.")
    enable_task = serializers.BooleanField(help_text="Always false.")
    mj_notify_enabled = serializers.BooleanField(help_text="Always false.")
    default_collapse_sidebar = serializers.BooleanField(help_text="Always false.")
    api_info_enabled = serializers.BooleanField(help_text="Always false: no API info panel.")
    announcements_enabled = serializers.BooleanField(help_text="Always false.")
    faq_enabled = serializers.BooleanField(help_text="Always false.")
    uptime_kuma_enabled = serializers.BooleanField(help_text="Always false: no status panel.")
    setup = serializers.BooleanField(help_text="Always true: no setup wizard to run.")


def status_data() -> dict[str, Any]:
    return {
        "quota_per_unit": settings.QUOTA_PER_UNIT,
        "quota_display_type": "USD",
        "display_in_currency": True,
        "data_export_default_time": "hour",
        "enable_data_export": True,
        **dict.fromkeys(("system_name", "logo", "footer_html", "docs_link"), ""),
        "chats": [],
        **dict.fromkeys(
            (
                "enable_drawing",
                "enable_task",
                "mj_notify_enabled",
                "default_collapse_sidebar",
                "api_info_enabled",
                "announcements_enabled",
                "faq_enabled",
                "uptime_kuma_enabled",
            ),
            False,
        ),
        "setup": True,
    }


class StatusView(NewApiView):
    """new-api's `GET /api/status`: public (no credential read, none needed), as new-api's."""

    authentication_classes: list[type] = []
    permission_classes = [AllowAny]
    requires_new_api_user = False

    @extend_schema(
        operation_id="status",
        tags=["new-api"],
        summary="Display settings for new-api's web frontend (public)",
        description=(
            "The public subset of new-api's site status its frontend needs: `quota_per_unit` "
            "converts a quota into an amount (without it every amount reads $NaN); the other "
            "keys have neutral values (no panel, no custom name or logo)."
        ),
        auth=[],
        responses={200: envelope_schema("StatusResponse", StatusSerializer())},
        examples=[
            OpenApiExample(
                "defaults",
                response_only=True,
                value={"success": True, "message": "", "data": status_data()},
            )
        ],
    )
    def get(self, request: Request) -> Response:
        return ok(status_data())
