"""Who may call each log route, under both trailing-slash forms, and the list's query count."""

from __future__ import annotations

import pytest

from logs.selectors import SMALL_MATCH
from tests.factories import log_event
from tests.logs.logdata import T0, bulk_logs, ids, store

pytestmark = pytest.mark.django_db

ADMIN_ROUTES = ["/api/log/", "/api/log/stat", "/api/log/search?keyword=x", "/api/log/export"]
SELF_ROUTES = [
    "/api/log/self",
    "/api/log/self/stat",
    "/api/log/self/search?keyword=x",
    "/api/log/self/export",
]


def other_slash_form(route: str) -> str:
    path, _, query = route.partition("?")
    path = path[:-1] if path.endswith("/") else path + "/"
    return f"{path}?{query}" if query else path


ALL_FORMS = [
    *ADMIN_ROUTES,
    *SELF_ROUTES,
    *(other_slash_form(route) for route in ADMIN_ROUTES + SELF_ROUTES),
]


@pytest.mark.parametrize("route", [*SELF_ROUTES, *(other_slash_form(r) for r in SELF_ROUTES)])
def test_users_reach_self_routes_in_both_slash_forms(user_api, route):
    response = user_api.get(route)

    assert response.status_code == 200


@pytest.mark.parametrize("route", [*ADMIN_ROUTES, *(other_slash_form(r) for r in ADMIN_ROUTES)])
def test_admins_and_roots_reach_admin_routes_in_both_slash_forms(admin_api, root_api, route):
    assert admin_api.get(route).status_code == 200
    assert root_api.get(route).status_code == 200


@pytest.mark.parametrize("route", [*ADMIN_ROUTES, *(other_slash_form(r) for r in ADMIN_ROUTES)])
def test_common_users_are_refused_on_admin_routes(user_api, route):
    response = user_api.get(route)

    assert response.status_code == 403
    assert response.json() == {"success": False, "message": "Unauthorized: insufficient privileges"}


@pytest.mark.parametrize("route", ALL_FORMS)
def test_anonymous_callers_are_refused(client, route):
    response = client.get(route)

    assert response.status_code == 401
    assert response.json() == {
        "success": False,
        "message": "Unauthorized: not logged in and no access token provided",
    }


@pytest.mark.parametrize("route", ALL_FORMS)
def test_new_api_user_header_is_required(admin_api, route):
    response = admin_api.get(route, new_api_user=False)

    assert response.status_code == 401
    assert response.json() == {
        "success": False,
        "message": "Unauthorized: New-Api-User header missing",
    }


@pytest.mark.parametrize("route", ALL_FORMS)
def test_ingest_tokens_cannot_read(ingest_api, route):
    response = ingest_api.get(route)

    assert response.status_code == 403
    assert response.json()["success"] is False


def test_seed_style_bearer_new_api_user_header_is_accepted(user_api):
    response = user_api.client.get(
        "/api/log/self",
        headers={**user_api.headers(new_api_user=False), "New-Api-User": "Bearer 1000"},
    )

    assert response.status_code == 200


def test_admin_self_routes_show_the_admins_own_logs_only(admin_api, user_api):
    own = store(
        log_event(created_at=T0, user_id=1, username="admin"),
        log_event(created_at=T0 + 1),
    )[0]

    assert ids(admin_api.get("/api/log/self")) == [own.id]
    assert admin_api.get("/api/log/self/stat").json()["data"]["quota"] == 1000


def test_list_of_many_matches_counts_from_the_rollups_and_runs_one_page_query(
    admin_api, django_assert_num_queries
):
    bulk_logs(SMALL_MATCH + 1, model_name="gpt-4o")
    admin_api.get("/api/log/")  # the first call also records the token's last use
    # 1. access token + user (authentication)
    # 2. the count from the rollups (usage_log_count): SELECT (SELECT CAST(SUM(m0) ...)),
    #    m.logs_before, m.rollups_before ... LEFT JOIN retention_marks
    # 3. the page: SELECT ... WHERE id IN (SELECT id ... ORDER BY created_at DESC, id DESC
    #    LIMIT 11 OFFSET 10)
    with django_assert_num_queries(3):
        response = admin_api.get("/api/log/", {"p": 2, "model_name": "gpt%", "type": 2})
    assert len(response.json()["data"]["items"]) == 10


def test_self_list_pages_by_cursor_with_one_page_query(user_api, django_assert_num_queries):
    bulk_logs(SMALL_MATCH + 1)
    user_api.get("/api/log/self")
    # 1. access token + user; 2. the rollup count (with the retention marks); 3. the page,
    # ORDER BY ... LIMIT 11 (no OFFSET)
    with django_assert_num_queries(3):
        first = user_api.get("/api/log/self").json()["data"]
    with django_assert_num_queries(3):
        user_api.get("/api/log/self", {"cursor": first["next_cursor"]})


def test_list_of_few_matches_reads_their_keys_then_the_page(admin_api, django_assert_num_queries):
    store(*(log_event(created_at=T0 + i) for i in range(15)))
    admin_api.get("/api/log/")
    # 1. access token + user
    # 2. the rollup count (with the retention marks): 15, at most SMALL_MATCH
    # 3. SELECT created_at, id ... (the 15 keys, in any order; the page is cut in Python)
    # 4. SELECT ... WHERE id IN (the page's 10 ids)
    with django_assert_num_queries(4):
        response = admin_api.get("/api/log/", {"channel": 0, "model_name": "gpt-4o"})
    assert len(response.json()["data"]["items"]) == 10


def test_empty_list_skips_the_page_query(user_api, django_assert_num_queries):
    user_api.get("/api/log/self")
    # 1. access token + user; 2. the rollup count (with the retention marks; 0: no page to read)
    with django_assert_num_queries(2):
        user_api.get("/api/log/self")
