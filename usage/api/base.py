"""The base view of the sub2api, AceData and r9s.ai dialects: the access rules, one
request-wide "now", input validation, and every refusal or bad input answered through
`accounts.errors.error_report` in the dialect's own error shape."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.errors import ErrorReport, error_report, error_response
from accounts.models import Role, Scope
from accounts.permissions import GatewayPermission
from usage.buckets import BucketError


class FamilyView(APIView):
    """Base of the sub2api, AceData and r9s.ai views: the same credentials as new-api's routes
    (a read token or a session) without the New-Api-User header; every user may call them, and
    each view scopes what it reads to the caller. Subclasses give `error_body`."""

    permission_classes = [GatewayPermission]
    requires_new_api_user = False
    required_scope = Scope.READ
    min_role = Role.COMMON

    now: int

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        self.now = int(time.time())
        super().initial(request, *args, **kwargs)

    def error_body(self, report: ErrorReport) -> Any:
        raise NotImplementedError

    def get_exception_handler(self) -> Callable[[Exception, dict[str, Any]], Response | None]:
        def handler(exc: Exception, context: dict[str, Any]) -> Response | None:
            if isinstance(exc, BucketError):
                report: ErrorReport | None = ErrorReport(
                    status.HTTP_400_BAD_REQUEST, str(exc), bad_input=True
                )
            else:
                report = error_report(exc)
            if report is None:
                return None
            return error_response(report, self.error_body(report), report.status)

        return handler

    def validated(self, serializer_class: type[serializers.Serializer[Any]], data: Any) -> Any:
        """The validated data of `serializer_class` over `data`; a ValidationError otherwise,
        which the family's handler turns into its 400."""
        serializer = serializer_class(data=data, context={"now": self.now, "request": self.request})
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data
