"""What base.html needs on every page: the navigation and the viewer's zone."""

from __future__ import annotations

from dataclasses import dataclass

from django.http import HttpRequest
from django.urls import reverse

from usage.middleware import viewer_zone


@dataclass(frozen=True, slots=True)
class NavItem:
    label: str
    url: str
    icon: str
    current: bool


# (label, url name, icon id in templates/includes/icons.html, admins only)
NAVIGATION = (
    ("My usage", "dashboard", "chart", False),
    ("My logs", "my-logs", "list", False),
    ("Site", "site-dashboard", "globe", True),
    ("Site logs", "site-logs", "table", True),
    ("Account", "account", "user", False),
)


def layout(request: HttpRequest) -> dict[str, object]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"viewer_tz": viewer_zone(request).key}
    is_admin = bool(getattr(user, "is_admin", False))
    entries = [
        (label, reverse(name), icon)
        for label, name, icon, admin_only in NAVIGATION
        if is_admin or not admin_only
    ]
    # The current item is the longest prefix of the path ("/site/logs/" is not "/site/").
    prefixes = [url for _, url, _ in entries if request.path.startswith(url)]
    current_url = max(prefixes, key=len, default="")
    items = [NavItem(label, url, icon, url == current_url) for label, url, icon in entries]
    return {
        "nav_items": items,
        "nav_admin_url": reverse("admin:index") if is_admin else "",
        "viewer_tz": viewer_zone(request).key,
    }
