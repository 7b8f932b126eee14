from zoneinfo import ZoneInfo

from tests.factories import log_event
from usage.selectors import UsageFilter, usage_rows, usage_totals


def test_rows_bucket_in_half_hour_zone(ingest):
    base = 1_735_689_600  # 2025-01-01 00:00 UTC = 05:30 in Asia/Kolkata
    ingest([log_event(created_at=base + 1700, quota=5), log_event(created_at=base + 1900, quota=7)])
    rows = usage_rows(
        start=base,
        end=base + 7200,
        where=UsageFilter(),
        group_by=("model_name",),
        granularity="hour",
        tz=ZoneInfo("Asia/Kolkata"),
    )
    assert [(r.bucket, r.totals.quota) for r in rows] == [(base - 1800, 5), (base + 1800, 7)]
    assert usage_totals(start=base, end=base + 1800, where=UsageFilter()).quota == 5
