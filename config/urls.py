"""Every route of Tokenledger, in one place."""

from csp.constants import UNSAFE_INLINE
from csp.decorators import csp_update
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import path, re_path

from accounts import views as account_views
from accounts.api import StatusView, UserSelfView
from accounts.schema import RedocView, SchemaView, SwaggerView
from accounts.views import healthz
from logs.api import (
    LogCollectionView,
    LogExportView,
    LogSearchView,
    LogSelfExportView,
    LogSelfListView,
    LogSelfSearchView,
    LogSelfStatView,
    LogStatView,
)
from usage import views as usage_views
from usage.api import acedata, newapi, r9s, sub2api

# The API docs under the Content-Security-Policy (config/settings.py). Swagger UI in its split
# form: its start-up script is a second request (`?script`), not an inline <script>. Its page and
# Redoc's keep inline styles (a <style> block; Redoc's styled components). Redoc's page loads its
# fonts from Google's font service, as drf-spectacular's template has it, and its "powered by"
# logo from Redocly's CDN. Neither page shows user data.
swagger_ui = csp_update({"style-src": [UNSAFE_INLINE]})(SwaggerView.as_view(url_name="schema"))
redoc = csp_update(
    {
        "style-src": [UNSAFE_INLINE, "https://fonts.googleapis.com"],
        "font-src": ["https://fonts.gstatic.com"],
        "img-src": ["https://cdn.redoc.ly"],
        "worker-src": ["blob:"],
    }
)(RedocView.as_view(url_name="schema"))

urlpatterns = [
    # new-api family (API.md sections 2-4)
    # new-api's clients call /api/log/ with its slash and the others without one; each route
    # also accepts the other form (`/?`, `(?:/)?`) and is documented once, in new-api's form.
    # The /self/... routes come first so that no later pattern can shadow them.
    re_path(r"^api/log/self(?:/)?\Z", LogSelfListView.as_view(), name="log-self"),
    re_path(r"^api/log/self/stat(?:/)?\Z", LogSelfStatView.as_view(), name="log-self-stat"),
    re_path(r"^api/log/self/search(?:/)?\Z", LogSelfSearchView.as_view(), name="log-self-search"),
    re_path(r"^api/log/self/export(?:/)?\Z", LogSelfExportView.as_view(), name="log-self-export"),
    re_path(r"^api/log/stat(?:/)?\Z", LogStatView.as_view(), name="log-stat"),
    re_path(r"^api/log/search(?:/)?\Z", LogSearchView.as_view(), name="log-search"),
    re_path(r"^api/log/export(?:/)?\Z", LogExportView.as_view(), name="log-export"),
    re_path(r"^api/log/?\Z", LogCollectionView.as_view(), name="log-collection"),
    # --- statistics APIs (API.md sections 4-7; views in usage/api/) ---
    # new-api data statistics (section 4)
    path("api/data/", newapi.DataView.as_view(), name="data-all"),
    path("api/data/self", newapi.DataSelfView.as_view(), name="data-self"),
    path("api/data/users", newapi.DataUsersView.as_view(), name="data-users"),
    # sub2api (section 5); the fixed paths come before usage/<id>
    path("api/v1/usage", sub2api.UsageListView.as_view(), name="sub2api-usage-list"),
    path("api/v1/usage/stats", sub2api.UsageStatsView.as_view(), name="sub2api-usage-stats"),
    path(
        "api/v1/usage/dashboard/stats",
        sub2api.DashboardStatsView.as_view(),
        name="sub2api-dashboard-stats",
    ),
    path(
        "api/v1/usage/dashboard/trend",
        sub2api.DashboardTrendView.as_view(),
        name="sub2api-dashboard-trend",
    ),
    path(
        "api/v1/usage/dashboard/models",
        sub2api.DashboardModelsView.as_view(),
        name="sub2api-dashboard-models",
    ),
    path(
        "api/v1/usage/dashboard/api-keys-usage",
        sub2api.DashboardApiKeysUsageView.as_view(),
        name="sub2api-dashboard-api-keys-usage",
    ),
    # AceData (section 6)
    path(
        "api/v1/usage/apis/aggregate/",
        acedata.AceDataAggregateView.as_view(),
        name="acedata-usage-aggregate",
    ),
    # `<str:>` so that a non-numeric id gets sub2api's 400, not Django's HTML 404.
    path(
        "api/v1/usage/<str:usage_id>", sub2api.UsageDetailView.as_view(), name="sub2api-usage-get"
    ),
    # r9s.ai (section 7)
    path("api/v1/portal/management/usage", r9s.R9sUsageView.as_view(), name="r9s-usage"),
    # --- end of statistics APIs ---
    path("api/user/self", UserSelfView.as_view(), name="user-self"),
    path("api/status", StatusView.as_view(), name="status"),
    # operability
    path("healthz", healthz, name="healthz"),
    path("api/schema/", SchemaView.as_view(), name="schema"),
    path("api/docs/", swagger_ui, name="swagger-ui"),
    path("api/redoc/", redoc, name="redoc"),
    path("admin/", admin.site.urls),
    # HTML pages (UI.md)
    path("login/", account_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("account/", account_views.account, name="account"),
    path("account/tokens/", account_views.token_create, name="token-create"),
    path("account/tokens/<int:token_id>/revoke/", account_views.token_revoke, name="token-revoke"),
    path("", usage_views.dashboard, name="dashboard"),
    path("logs/", usage_views.my_logs, name="my-logs"),
    path("logs/export/", usage_views.my_logs_export, name="my-logs-export"),
    path("site/", usage_views.site_dashboard, name="site-dashboard"),
    path("site/logs/", usage_views.site_logs, name="site-logs"),
    path("site/logs/export/", usage_views.site_logs_export, name="site-logs-export"),
]

# Django's own errors (no route, an unhandled exception) answer API paths in JSON.
handler400 = "accounts.errors.bad_request"
handler403 = "accounts.errors.permission_denied"
handler404 = "accounts.errors.page_not_found"
handler500 = "accounts.errors.server_error"
