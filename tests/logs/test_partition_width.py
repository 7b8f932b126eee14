"""The default partition width follows the retention setting (docs/partitioning.md)."""

import pytest

from config.settings import log_partition_days_default


@pytest.mark.parametrize(
    ("retention_days", "width"),
    [(None, 28), (7, 1), (30, 1), (60, 1), (61, 7), (365, 7), (400, 7), (401, 28), (3650, 28)],
)
def test_partition_width_keeps_the_number_of_partitions_small(retention_days, width):
    assert log_partition_days_default(retention_days) == width
