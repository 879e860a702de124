# Entry points. `make install` sets up the Python environment and builds the console;
# `make run` serves the API (and the console at /console/) with demo data; `make test`
# runs the tests; `make test-fast` leaves out the slow, process-starting and Helm chart tests.
# Without DATABASE_URL / DATABASE_ADMIN_URL / REDIS_URL both start an embedded
# PostgreSQL and Redis under .local/ (see README.md).
# `make test-citus` runs CITUS_TESTS on a local three-node Citus cluster
# (scripts/citus_cluster.py).

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
CONSOLE := console
# What must hold on a Citus cluster as on one server: the whole quick suite (the
# tenancy, the policies and the catalogue, a pooled connection's hygiene, the API over
# the tenants' data), but the migrations' downgrades (0016 is not undone on Citus) and
# the benchmarks' smoke runs (docs/citus-layout.md says why their RLS-tax plans fail
# there).
CITUS_TESTS ?= tests -m "not slow and not process and not deploy" \
	--ignore=tests/test_migrations.py --ignore=tests/test_bench_smoke.py

.PHONY: install run test test-fast test-citus lint format openapi clean-local

install: $(VENV)/.installed $(CONSOLE)/dist/index.html

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

# The console (console/, served at /console/): its packages exactly as the lockfile says,
# then its build, which the service serves from console/dist. Node.js and npm come from
# the virtualenv (the `console` extra), so no system Node is needed.
NPM := PATH="$(abspath $(BIN)):$$PATH" npm
$(CONSOLE)/node_modules/.installed: $(VENV)/.installed $(CONSOLE)/package.json $(CONSOLE)/package-lock.json
	cd $(CONSOLE) && $(NPM) ci --no-audit --no-fund
	touch $@

$(CONSOLE)/dist/index.html: $(CONSOLE)/node_modules/.installed $(CONSOLE)/index.html \
		$(CONSOLE)/vite.config.ts $(CONSOLE)/tsconfig.json $(wildcard $(CONSOLE)/src/* $(CONSOLE)/src/*/*)
	cd $(CONSOLE) && $(NPM) run build

run: install
	$(BIN)/python -m app.demo

test: install
	$(BIN)/python -m pytest

test-fast: install
	$(BIN)/python -m pytest -m "not slow and not process and not deploy"

# The cluster keeps running afterwards (`$(BIN)/python scripts/citus_cluster.py stop`).
test-citus: install
	set -a && citus_env="$$($(BIN)/python scripts/citus_cluster.py start)" && eval "$$citus_env" && \
		REDIS_URL="$(REDIS_URL)" $(BIN)/python -m pytest $(CITUS_TESTS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/bandit -q -c pyproject.toml -r app workers
	cd $(CONSOLE) && $(NPM) run typecheck

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

openapi: install
	$(BIN)/flask --app wsgi openapi write --format=json openapi.json

clean-local:
	rm -rf .local
