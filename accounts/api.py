"""DRF views of the accounts app."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.models import User
from accounts.newapi import NEW_API_ERROR, NewApiView, envelope_schema, ok
from accounts.permissions import gateway_user


class UserSelfSerializer(serializers.ModelSerializer[User]):
    class Meta:
        model = User
        fields = ("id", "username", "display_name", "role", "status", "group")


class UserSelfView(NewApiView):
    """new-api's `GET /api/user/self` (UserAuth): who the credential belongs to. A dashboard calls
    it first to learn its user id and role."""

    @extend_schema(
        operation_id="user_self",
        summary="The calling user (new-api UserAuth)",
        responses={
            200: envelope_schema("UserSelfResponse", UserSelfSerializer()),
            401: NEW_API_ERROR,
            403: NEW_API_ERROR,
        },
    )
    def get(self, request: Request) -> Response:
        return ok(UserSelfSerializer(gateway_user(request)).data)
