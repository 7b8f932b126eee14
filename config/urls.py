"""Every route of Tokenledger, in one place."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from accounts import views as account_views
from accounts.views import healthz
from usage import views as usage_views
from usage.api import LogCollectionView

urlpatterns = [
    # new-api family (API.md sections 2-4)
    path("api/log/", LogCollectionView.as_view(), name="log-collection"),
    # operability
    path("healthz", healthz, name="healthz"),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="schema"), name="redoc"),
    path("admin/", admin.site.urls),
    # HTML pages (UI.md)
    path("login/", account_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("account/", account_views.account, name="account"),
    path("account/tokens/", account_views.token_create, name="token-create"),
    path("account/tokens/<int:token_id>/revoke/", account_views.token_revoke, name="token-revoke"),
    path("", usage_views.dashboard, name="dashboard"),
    path("logs/", usage_views.my_logs, name="my-logs"),
    path("site/", usage_views.site_dashboard, name="site-dashboard"),
    path("site/logs/", usage_views.site_logs, name="site-logs"),
]
