"""What every suite shares: the report (table + JSON), statistics and machine facts."""

from __future__ import annotations

import contextlib
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = Path(__file__).resolve().parent / "results"


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile (p95 of 20 samples is the 19th smallest)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(pct / 100 * len(ordered) + 0.5 - 1e-9)))
    return ordered[rank - 1]


def machine() -> dict[str, Any]:
    """The conditions of a measurement, recorded beside it."""
    info: dict[str, Any] = {
        "host": platform.node(),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
    }
    with contextlib.suppress(OSError):
        info["loadavg_1m"] = round(os.getloadavg()[0], 2)
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        info["commit"] = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
            timeout=10,
        ).stdout.strip()
    return info


@dataclass
class Report:
    """One suite's result: a table (`columns`, `rows` of dicts) plus free-form `meta`."""

    suite: str
    columns: list[str]
    rows: list[dict[str, Any]] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)
    started: float = field(default_factory=time.time)

    def add(self, **row: Any) -> None:
        self.rows.append(row)

    def table(self) -> str:
        def cell(value: Any) -> str:
            if isinstance(value, float):
                return f"{value:,.1f}" if abs(value) >= 100 else f"{value:.2f}"
            if isinstance(value, int):
                return f"{value:,}"
            return "" if value is None else str(value)

        cells = [[cell(row.get(column)) for column in self.columns] for row in self.rows]
        widths = [
            max(len(column), *(len(line[i]) for line in cells)) if cells else len(column)
            for i, column in enumerate(self.columns)
        ]
        lines = [
            "  ".join(column.ljust(widths[i]) for i, column in enumerate(self.columns)),
            "  ".join("-" * width for width in widths),
        ]
        for line in cells:
            lines.append(
                "  ".join(
                    value.rjust(widths[i])
                    if value[:1].isdigit() or value[:1] == "-"
                    else value.ljust(widths[i])
                    for i, value in enumerate(line)
                )
            )
        return "\n".join(lines)

    def write(self, directory: Path = RESULTS_DIR) -> Path:
        directory.mkdir(parents=True, exist_ok=True)
        stamp = datetime.fromtimestamp(self.started, tz=UTC).strftime("%Y%m%dT%H%M%SZ")
        path = directory / f"{self.suite}-{stamp}.json"
        payload = {
            "suite": self.suite,
            "started_at": datetime.fromtimestamp(self.started, tz=UTC).isoformat(),
            "machine": machine(),
            "meta": self.meta,
            "columns": self.columns,
            "rows": self.rows,
        }
        path.write_text(json.dumps(payload, indent=2, default=str) + "\n")
        return path


def process_cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of these processes (Linux /proc; 0 for the ones that are gone).

    On a machine shared with other work, wall-clock throughput swings with the neighbours' load;
    the CPU spent per request by our own processes is the steadier figure."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / ticks


def children(pid: int) -> list[int]:
    """The direct children of a process (Linux /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(entry.name))
    return found


def log(message: str) -> None:
    """Progress on stderr, so that stdout holds only the table."""
    print(message, file=sys.stderr, flush=True)
