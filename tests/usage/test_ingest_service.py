"""`usage.services.logs_ingest`, the only writer of logs (the aggregates hook in there)."""

from __future__ import annotations

from logs.models import Log
from tests.factories import log_event


def test_logs_ingest_returns_the_stored_events_in_batch_order(ingest):
    first = ingest([log_event(request_id="a", quota=1)])
    events = [
        log_event(request_id="b", quota=2),
        log_event(request_id="a", quota=3),  # stored before: a duplicate
        log_event(quota=4),  # no request id: never a duplicate
        log_event(request_id="b", quota=5),  # second copy in the batch
        log_event(request_id="c", quota=6),
    ]

    result = ingest(events)

    assert (first.accepted, first.duplicates) == (1, 0)
    assert (result.accepted, result.duplicates) == (3, 2)
    assert result.accepted_events == [events[0], events[2], events[4]]
    assert sorted(Log.objects.values_list("quota", flat=True)) == [1, 2, 4, 6]


def test_logs_ingest_of_nothing_touches_nothing(ingest, django_assert_num_queries):
    with django_assert_num_queries(0):
        result = ingest([])

    assert (result.accepted, result.duplicates, result.accepted_events) == (0, 0, [])
