"""Usage statistics reads, one module per job:

- `rows`: the filter, the totals and the aggregate reads (`usage_rows`, `usage_records`,
  `usage_totals`) every statistics family and the dashboard pages share;
- `statement`: the SQL those reads compile to, one statement per read;
- `log_stat`: the log API's stat and count, read from the rollups;
- `logs`: the per-request usage logs and the other reads the statistics APIs need;
- `maintenance`: where the raw logs are complete, where the rollups end, `usage_verify`.

Callers import from `usage.selectors`."""

from usage.selectors.log_stat import usage_log_count, usage_log_stat, usage_logs_page
from usage.selectors.logs import (
    USAGE_LOG_FIELDS,
    UsageLogPage,
    usage_log_get,
    usage_log_page,
    usage_recent_totals,
    usage_top_endpoints,
    usage_user_consumption,
)
from usage.selectors.maintenance import (
    RollupDifference,
    VerifyResult,
    usage_complete_since,
    usage_rollup_end,
    usage_verify,
)
from usage.selectors.rows import (
    DIMENSIONS,
    SPAN_LIMIT,
    UsageFilter,
    UsageRow,
    UsageTotals,
    usage_records,
    usage_rows,
    usage_totals,
)
from usage.selectors.statement import FEW_RANGES, RAW_MEASURE, TEXT_DIMENSIONS

__all__ = [
    "DIMENSIONS",
    "FEW_RANGES",
    "RAW_MEASURE",
    "SPAN_LIMIT",
    "TEXT_DIMENSIONS",
    "USAGE_LOG_FIELDS",
    "RollupDifference",
    "UsageFilter",
    "UsageLogPage",
    "UsageRow",
    "UsageTotals",
    "VerifyResult",
    "usage_complete_since",
    "usage_log_count",
    "usage_log_get",
    "usage_log_page",
    "usage_log_stat",
    "usage_logs_page",
    "usage_recent_totals",
    "usage_records",
    "usage_rollup_end",
    "usage_rows",
    "usage_top_endpoints",
    "usage_totals",
    "usage_user_consumption",
    "usage_verify",
]
