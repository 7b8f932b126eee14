# Tokenledger. The two commands: `make run` and `make test`. `make help` lists the others.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-print-directory

VENV ?= .venv
PYTHON ?= python3.11
PY := $(VENV)/bin/python
# Rebuilt when pyproject.toml changes, so `pip install` runs only then.
DEPS_STAMP := $(VENV)/.deps-installed

HOST ?= 127.0.0.1
PORT ?= 8000
WORKERS ?= 2
THREADS ?= 4
SEED_DAYS ?= 30

# The PostgreSQL half of `make test` (pytest creates and drops test_<name>[_gwN]).
PG_TEST_URL ?= postgres://postgres@127.0.0.1:5432/tokenledger
# SKIP_POSTGRES=1 runs the suite without its PostgreSQL half (.ci/run sets it, loudly, when no
# server can be had).
SKIP_POSTGRES ?=
# pytest-xdist workers for the SQLite and PostgreSQL runs (0: no xdist).
PYTEST_WORKERS ?= 2
PYTEST_ARGS ?=
CHROMIUM ?= /usr/bin/chromium
BENCH_ARGS ?=

.PHONY: help run dev test deps assets migrate demo static lint format types \
	test-sqlite test-postgres test-schema test-browser test-clock bench clean distclean

help: ## List the targets
	@echo "Tokenledger: make run (serve with demo data), make test (everything CI runs)"
	@echo
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) \
		| awk 'BEGIN {FS = ":.*## "} {printf "  make %-14s %s\n", $$1, $$2}'
	@echo
	@echo "Variables: VENV=$(VENV) PYTHON=$(PYTHON) HOST=$(HOST) PORT=$(PORT)"
	@echo "  PG_TEST_URL=$(PG_TEST_URL)"
	@echo "  SKIP_POSTGRES=1 (no PostgreSQL half)  PYTEST_WORKERS=$(PYTEST_WORKERS)  PYTEST_ARGS=..."
	@echo "  BENCH_ARGS=... (passed to python -m bench)"

# --- setting up -----------------------------------------------------------------------------

$(PY):
	$(PYTHON) -m venv $(VENV)

$(DEPS_STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet --disable-pip-version-check '.[dev]'
	@touch $@

deps: $(DEPS_STAMP) ## Create the virtualenv and install the dependencies (when pyproject changed)

assets: ## Install the front-end packages (npm ci) when package.json exists
	@if [ -f package.json ]; then \
		if [ ! -d node_modules ] || [ package.json -nt node_modules ] \
			|| { [ -f package-lock.json ] && [ package-lock.json -nt node_modules ]; }; then \
			if [ -f package-lock.json ]; then npm ci --no-audit --no-fund; \
			else npm install --no-audit --no-fund; fi; \
			touch node_modules; \
		fi; \
		npm run --silent --if-present build; \
	fi

migrate: deps ## Apply the database migrations
	$(PY) manage.py migrate --noinput

demo: migrate ## Load 30 days of demo data, only into a database without logs
	@if [ "$$($(PY) manage.py demo_status)" = empty ]; then \
		if $(PY) manage.py help seed_demo >/dev/null 2>&1; then \
			$(PY) manage.py seed_demo --days $(SEED_DAYS); \
		else \
			echo "(seed_demo is not available in this checkout: starting with no demo data)"; \
		fi; \
	fi

static: deps assets ## Collect the static files for whitenoise
	$(PY) manage.py collectstatic --noinput --verbosity 0

# --- running --------------------------------------------------------------------------------

# gunicorn + whitenoise rather than runserver: the same server, limits (config/gunicorn.conf.py)
# and static files as in production, and two processes exercise the SQLite locking the gateway's
# writes meet. No gunicorn access log: the app logs one JSON line per request (REQUEST_LOG).
run: demo static ## Set everything up and serve http://127.0.0.1:8000/ with demo data
	@echo
	@echo "  Tokenledger: http://$(HOST):$(PORT)/"
	@$(PY) manage.py ensure_demo_login --as alice 2>&1 | sed 's/^/  /'
	@echo "  API docs:    http://$(HOST):$(PORT)/api/docs/"
	@echo
	@exec $(VENV)/bin/gunicorn -c config/gunicorn.conf.py config.wsgi:application \
		--bind $(HOST):$(PORT) --workers $(WORKERS) --threads $(THREADS) --graceful-timeout 5

dev: demo ## Like run, but Django's auto-reloading runserver with DEBUG=1
	@$(PY) manage.py ensure_demo_login
	DEBUG=1 $(PY) manage.py runserver $(HOST):$(PORT)

# --- checking -------------------------------------------------------------------------------

test: deps assets lint types test-sqlite test-postgres test-schema test-browser ## Lint, types, tests on SQLite and PostgreSQL, schema fuzzing, browser tests

lint: deps ## ruff check and ruff format --check
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: deps ## Apply ruff's fixes and formatting
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

types: deps ## mypy with the Django and DRF plugins
	$(VENV)/bin/mypy .

XDIST = $(if $(filter-out 0,$(PYTEST_WORKERS)),-n $(PYTEST_WORKERS),)

# The tests marked `replica` need the `replica` alias, which DATABASE_REPLICA_URL adds. They get
# a pytest run of their own, without xdist, with the primary's URL as the replica's (a mirror of
# the test database): with that alias in the main run, every other test's log reads would go to
# a connection outside its test transaction. The run collects only REPLICA_TESTS (collecting the
# whole tree would cost as much as the tests). Exit code 5 (PYTEST_ARGS selected none of them)
# is a success here.
REPLICA_TESTS ?= tests/config/test_replica.py
REPLICA_RUN = rc=0; $(PY) -m pytest -m replica $(REPLICA_TESTS) $(PYTEST_ARGS) || rc=$$?; \
	if [ $$rc = 5 ]; then echo "no replica test selected"; rc=0; fi; exit $$rc

test-sqlite: deps ## pytest on SQLite (no browser tests), then its replica tests
	@echo "=== pytest on SQLite ==="
	env -u DATABASE_URL $(PY) -m pytest -m "not browser and not replica" $(XDIST) $(PYTEST_ARGS)
	@echo "=== pytest on SQLite with a read replica (-m replica) ==="
	@export DATABASE_REPLICA_URL='sqlite:///$(CURDIR)/var/tokenledger.sqlite3'; \
		unset DATABASE_URL; $(REPLICA_RUN)

test-postgres: deps ## pytest on PostgreSQL (PG_TEST_URL; SKIP_POSTGRES=1 skips it), then its replica tests
	@if [ "$(SKIP_POSTGRES)" = 1 ]; then \
		echo "!!! SKIP_POSTGRES=1: the PostgreSQL half of the suite is NOT run !!!"; \
	else \
		echo "=== pytest on PostgreSQL ($(PG_TEST_URL)) ==="; \
		DATABASE_URL='$(PG_TEST_URL)' $(PY) -m pytest -m "not browser and not replica" \
			$(XDIST) $(PYTEST_ARGS); \
		echo "=== pytest on PostgreSQL with a read replica (-m replica) ==="; \
		export DATABASE_URL='$(PG_TEST_URL)' DATABASE_REPLICA_URL='$(PG_TEST_URL)'; \
		$(REPLICA_RUN); \
	fi

# schemathesis over the whole OpenAPI schema against a gunicorn that tests/fuzz/run.sh starts on
# a fresh SQLite database with a fixture (an admin, a common user, an ingest token, demo logs),
# with each of their credentials; any 5xx or conformance failure fails it. A fixed seed, about
# 3 minutes; the server is stopped and its database removed however the run ends.
test-schema: deps ## schemathesis over the OpenAPI schema against a live server (tests/fuzz/)
	@echo "=== schemathesis over the OpenAPI schema (SQLite) ==="
	PY='$(PY)' bash tests/fuzz/run.sh

# Browser tests are the ones marked `browser`; they drive Debian's Chromium ($(CHROMIUM),
# exported as CHROMIUM_PATH) through Playwright. Chromium is installed only when such tests
# exist. pytest's exit code 5 (no test collected) is a success here, and only here.
test-browser: deps assets ## Browser tests (pytest -m browser), installing Chromium if needed
	@echo "=== browser tests ==="
	@rc=0; $(PY) -m pytest -m browser --collect-only -q >/dev/null || rc=$$?; \
	if [ $$rc = 5 ]; then echo "no browser tests collected"; exit 0; fi; \
	if [ $$rc != 0 ]; then $(PY) -m pytest -m browser --collect-only -q; exit $$rc; fi; \
	if [ ! -x "$(CHROMIUM)" ]; then \
		if [ "$$(id -u)" = 0 ]; then SUDO=; elif sudo -n true 2>/dev/null; then SUDO=sudo; \
		else echo "Chromium is missing: run 'sudo apt-get install chromium'"; exit 1; fi; \
		echo "installing Debian's chromium"; \
		$$SUDO apt-get update -qq; \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; \
	fi; \
	rc=0; env -u DATABASE_URL CHROMIUM_PATH='$(CHROMIUM)' $(PY) -m pytest -m browser \
		$(PYTEST_ARGS) || rc=$$?; \
	if [ $$rc = 5 ]; then echo "no browser tests collected"; exit 0; fi; \
	exit $$rc

# The suite must not depend on the real date: this runs its SQLite and PostgreSQL halves with
# every process's clock moved by CLOCK (libfaketime's offset syntax: +1100d, -90d, +10y), which
# also moves the clock of the servers the tests start. PostgreSQL's own clock is not moved.
CLOCK ?= +1100d
FAKETIME_LIB ?= /usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1
test-clock: deps ## The suite with the clock moved by CLOCK (default +1100d; installs faketime if needed)
	@if [ ! -f "$(FAKETIME_LIB)" ]; then \
		if [ "$$(id -u)" = 0 ]; then SUDO=; elif sudo -n true 2>/dev/null; then SUDO=sudo; \
		else echo "libfaketime is missing: run 'sudo apt-get install faketime'"; exit 1; fi; \
		$$SUDO apt-get update -qq; \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq faketime >/dev/null; \
	fi
	@echo "=== the suite with the clock moved by $(CLOCK): $$(LD_PRELOAD=$(FAKETIME_LIB) FAKETIME=$(CLOCK) date -u) ==="
	$(MAKE) test-sqlite test-postgres LD_PRELOAD=$(FAKETIME_LIB) FAKETIME=$(CLOCK)

bench: deps ## Benchmarks: python -m bench, options in BENCH_ARGS (see bench/)
	$(PY) -m bench $(BENCH_ARGS)

# --- cleaning -------------------------------------------------------------------------------

clean: ## Remove caches and build output (keeps .venv, node_modules and the database)
	rm -rf .pytest_cache .mypy_cache .ruff_cache .hypothesis build *.egg-info var/staticfiles
	find . -name __pycache__ -type d -not -path './$(VENV)/*' -not -path './node_modules/*' \
		-prune -exec rm -rf {} +

distclean: clean ## Also remove .venv, node_modules and var/ (the local database!)
	rm -rf $(VENV) node_modules var
