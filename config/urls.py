"""Every route of Tokenledger, in one place."""

from django.contrib import admin
from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from accounts.api import UserSelfView
from accounts.views import healthz
from usage.api import LogCollectionView

urlpatterns = [
    # new-api family (API.md sections 2-4)
    path("api/log/", LogCollectionView.as_view(), name="log-collection"),
    path("api/user/self", UserSelfView.as_view(), name="user-self"),
    # operability
    path("healthz", healthz, name="healthz"),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="schema"), name="redoc"),
    path("admin/", admin.site.urls),
]

# Django's own errors (no route, an unhandled exception) answer API paths in JSON.
handler400 = "accounts.errors.bad_request"
handler403 = "accounts.errors.permission_denied"
handler404 = "accounts.errors.page_not_found"
handler500 = "accounts.errors.server_error"
