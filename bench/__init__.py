"""Tokenledger's benchmark harness: `python -m bench <suite> [options]` (see bench/__main__.py).

Speed is measured here, never asserted in timed tests (BRIEF). Every suite prints a table and
writes it as JSON under `bench/results/` (not committed)."""
