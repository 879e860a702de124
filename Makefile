# Entry points. `make run` serves the API with demo data; `make test` runs the tests;
# `make test-fast` leaves out the slow, process-starting and Helm chart tests.
# Without DATABASE_URL / DATABASE_ADMIN_URL / REDIS_URL both start an embedded
# PostgreSQL and Redis under .local/ (see README.md).

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install run test test-fast lint format openapi clean-local

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

run: install
	$(BIN)/python -m app.demo

test: install
	$(BIN)/python -m pytest

test-fast: install
	$(BIN)/python -m pytest -m "not slow and not process and not deploy"

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

openapi: install
	$(BIN)/flask --app wsgi openapi write --format=json openapi.json

clean-local:
	rm -rf .local
