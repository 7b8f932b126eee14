"""HTML views and plain endpoints of the accounts app."""

from __future__ import annotations

import logging

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.db import DatabaseError, connection
from django.db.models import F
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.cache import add_never_cache_headers, patch_cache_control
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.decorators import login_required
from accounts.forms import AccessTokenCreateForm, LoginForm, lockout_message
from accounts.models import AccessToken, User
from accounts.services import AccessTokenRefused, access_token_create, access_token_revoke

logger = logging.getLogger(__name__)


def healthz(request: HttpRequest) -> JsonResponse:
    """200 when the database answers a query, 503 otherwise (for load balancers)."""
    if request.method not in {"GET", "HEAD"}:
        response = JsonResponse({"status": "method not allowed"}, status=405)
        response["Allow"] = "GET, HEAD"
        return response
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError:
        # The reason (host names, paths) is for the operator's log, not for the world.
        logger.exception("healthz: the database did not answer")
        return JsonResponse({"status": "unavailable", "database": "unavailable"}, status=503)
    return JsonResponse({"status": "ok", "database": "ok"})


class LoginView(auth_views.LoginView):
    template_name = "registration/login.html"
    authentication_form = LoginForm
    redirect_authenticated_user = True


def login_locked_out(
    request: HttpRequest, original_response: HttpResponse | None, credentials: object
) -> HttpResponse:
    """axes' AXES_LOCKOUT_CALLABLE, for a login refused because of a lockout.

    The login page (ours or the admin's) was already rendered with the form saying why
    (`accounts.forms.LockoutMessageMixin`); it keeps its page and only gets 429 Too Many
    Requests, so scripts and monitoring see a refusal."""
    if not isinstance(original_response, HttpResponse):  # axes' async path passes no response
        return HttpResponse(lockout_message(), status=429, content_type="text/plain")
    original_response.status_code = 429
    return original_response


def _account_context(request: HttpRequest, form: AccessTokenCreateForm) -> dict[str, object]:
    user: User = request.user  # type: ignore[assignment]
    tokens = AccessToken.objects.filter(user=user).order_by(
        F("revoked_at").asc(nulls_first=True), "-created_at", "-id"
    )
    return {"form": form, "tokens": tokens}


@login_required
@require_GET
def account(request: HttpRequest) -> HttpResponse:
    """Profile and the viewer's own access tokens."""
    form = AccessTokenCreateForm(user=request.user)  # type: ignore[arg-type]
    return render(request, "accounts/account.html", _account_context(request, form))


@login_required
@require_POST
def token_create(request: HttpRequest) -> HttpResponse:
    """Create a token and show its secret in this response only. The secret is never stored
    (not even in the session), so the page says so and is not cached."""
    user: User = request.user  # type: ignore[assignment]
    form = AccessTokenCreateForm(request.POST, user=user)
    if not form.is_valid():
        return render(request, "accounts/account.html", _account_context(request, form))
    try:
        token, secret = access_token_create(
            user=user, scope=form.cleaned_data["scope"], name=form.cleaned_data["name"], actor=user
        )
    except AccessTokenRefused as refusal:
        form.add_error("scope", str(refusal))
        return render(request, "accounts/account.html", _account_context(request, form))
    response = render(request, "accounts/token_created.html", {"token": token, "secret": secret})
    add_never_cache_headers(response)
    patch_cache_control(response, no_store=True)
    return response


@login_required
@require_http_methods(["GET", "POST"])
def token_revoke(request: HttpRequest, token_id: int) -> HttpResponse:
    """GET asks for confirmation; POST revokes. Only the owner's tokens are found."""
    token = get_object_or_404(AccessToken, pk=token_id, user=request.user)
    if request.method == "POST":
        access_token_revoke(token=token)
        messages.success(request, f"Token “{token.name}” ({token.prefix}…) was revoked.")
        return redirect("account")
    return render(request, "accounts/token_revoke.html", {"token": token})
