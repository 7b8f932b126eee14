from tests.factories import log_event


def test_ingest_fixture_stores_logs(ingest, admin_api):
    result = ingest([log_event(request_id="r1"), log_event(request_id="r1"), log_event()])
    assert (result.accepted, result.duplicates) == (2, 1)
