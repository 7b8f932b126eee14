"""One item shape: the builder, its TypedDict and the serializer fields the schema is made from
name the same keys, and users' items hide exactly what their CSV leaves out."""

from __future__ import annotations

import pytest

from logs.export import ADMIN_COLUMNS, USER_COLUMNS
from logs.models import Log
from logs.serializers import (
    ADMIN_ONLY_FIELDS,
    LogItem,
    LogItemSerializer,
    LogUserItemSerializer,
    log_item,
)
from tests.factories import log_event

pytestmark = pytest.mark.django_db


def test_the_builder_the_typed_dict_and_the_schema_fields_name_the_same_keys(ingest):
    ingest([log_event(request_id="shape", channel_id=3, channel_name="primary", ip="203.0.113.9")])
    log = Log.objects.get(request_id="shape")

    for admin in (True, False):
        assert list(log_item(log, admin=admin)) == list(LogItem.__annotations__)
    assert list(LogItemSerializer().fields) == list(LogItem.__annotations__)
    assert LogItemSerializer(log).data == log_item(log, admin=True)
    assert LogUserItemSerializer(log).data == log_item(log, admin=False)


def test_users_items_blank_what_their_csv_leaves_out(ingest):
    ingest(
        [
            log_event(
                request_id="hidden",
                channel_id=3,
                channel_name="primary",
                ip="203.0.113.9",
                other={"admin_info": {"node": "a"}, "model_ratio": 2},
            )
        ]
    )
    log = Log.objects.get(request_id="hidden")
    admin, user = log_item(log, admin=True), log_item(log, admin=False)

    assert set(ADMIN_COLUMNS) - set(USER_COLUMNS) == ADMIN_ONLY_FIELDS
    assert {key: admin[key] for key in ADMIN_ONLY_FIELDS} == {  # type: ignore[literal-required]
        "channel_id": 3,
        "channel_name": "primary",
        "ip": "203.0.113.9",
    }
    assert {key: user[key] for key in ADMIN_ONLY_FIELDS} == {  # type: ignore[literal-required]
        "channel_id": 0,
        "channel_name": "",
        "ip": None,
    }
    assert (admin["channel"], user["channel"]) == (3, 0)
    assert admin["other"] == '{"admin_info":{"node":"a"},"model_ratio":2}'
    assert user["other"] == '{"model_ratio":2}'
