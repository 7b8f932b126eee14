"""Every route of Tokenledger, in one place."""

from typing import Any

from django.contrib import admin
from django.urls import URLPattern, path
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


def new_api_path(route: str, view: Any, name: str) -> list[URLPattern]:
    """new-api's route, plus the same view at the other trailing-slash form (its clients call
    `/api/log/self` without a slash; Django habits add one). The alias is left out of the
    OpenAPI schema (`schema=None`)."""
    alias = route[:-1] if route.endswith("/") else route + "/"
    return [
        path(route, view.as_view(), name=name),
        path(alias, view.as_view(schema=None)),
    ]


urlpatterns = [
    # new-api family (API.md sections 2-4)
    # The /self/... routes come first so that no pattern added later shadows them.
    *new_api_path("api/log/self", LogSelfListView, "log-self"),
    *new_api_path("api/log/self/stat", LogSelfStatView, "log-self-stat"),
    *new_api_path("api/log/self/search", LogSelfSearchView, "log-self-search"),
    *new_api_path("api/log/self/export", LogSelfExportView, "log-self-export"),
    *new_api_path("api/log/stat", LogStatView, "log-stat"),
    *new_api_path("api/log/search", LogSearchView, "log-search"),
    *new_api_path("api/log/export", LogExportView, "log-export"),
    *new_api_path("api/log/", LogCollectionView, "log-collection"),
    # operability
    path("healthz", healthz, name="healthz"),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="schema"), name="redoc"),
    path("admin/", admin.site.urls),
]
