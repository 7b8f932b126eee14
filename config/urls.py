"""Every route of Tokenledger, in one place."""

from django.contrib import admin
from django.urls import path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from accounts.views import healthz
from logs.api import (
    LogExportView,
    LogSearchView,
    LogSelfExportView,
    LogSelfListView,
    LogSelfSearchView,
    LogSelfStatView,
    LogStatView,
)
from usage.api import LogCollectionView

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
    # operability
    path("healthz", healthz, name="healthz"),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="schema"), name="redoc"),
    path("admin/", admin.site.urls),
]
