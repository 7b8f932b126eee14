"""`python -m bench <suite> [options]` (`make bench` passes `$(BENCH_ARGS)` here).

A suite is any module `bench/<name>.py` that defines

    SUITE = "<name>"                       # the command-line name
    def add_arguments(parser: argparse.ArgumentParser) -> None: ...
    def run(args: argparse.Namespace) -> bench.core.Report: ...

and the module's docstring's first line is its help. Adding `bench/reads.py` with those three
names is all it takes to add `python -m bench reads`: no list to edit here.
`python -m bench list` shows the suites; `python -m bench <suite> --help` their options;
`python -m bench` alone runs the scale suite with its defaults (1 M logs)."""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from types import ModuleType

import bench
from bench.core import log

DEFAULT_SUITE = "scale"


def suites() -> dict[str, ModuleType]:
    found: dict[str, ModuleType] = {}
    for info in pkgutil.iter_modules(bench.__path__):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"bench.{info.name}")
        name = getattr(module, "SUITE", None)
        if isinstance(name, str) and hasattr(module, "run") and hasattr(module, "add_arguments"):
            found[name] = module
    return found


def main(argv: list[str] | None = None) -> int:
    found = suites()
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Tokenledger benchmarks. Each suite prints a table and writes "
        "bench/results/<suite>-<time>.json.",
    )
    commands = parser.add_subparsers(dest="suite", metavar="<suite>")
    commands.add_parser("list", help="list the suites")
    for name, module in sorted(found.items()):
        summary = (module.__doc__ or "").strip().splitlines()[0] if module.__doc__ else ""
        sub = commands.add_parser(
            name, help=summary, description=module.__doc__,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )  # fmt: skip
        sub.add_argument("--no-write", action="store_true", help="do not write the JSON result")
        module.add_arguments(sub)
    argv = sys.argv[1:] if argv is None else argv
    # `make bench` with no BENCH_ARGS: the scale harness with its defaults.
    args = parser.parse_args(argv or [DEFAULT_SUITE])
    if args.suite in (None, "list"):
        for name, module in sorted(found.items()):
            summary = (module.__doc__ or "").strip().splitlines()[0] if module.__doc__ else ""
            print(f"{name:12} {summary}")
        return 0
    report = found[args.suite].run(args)
    print(report.table())
    if not args.no_write:
        log(f"wrote {report.write()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
