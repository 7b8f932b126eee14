"""Every route of Tokenledger, in one place."""

from django.contrib import admin
from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from accounts.views import healthz
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
]
