# Entry points. `make run` serves the API with demo data; `make test` runs the tests.
# Without DATABASE_URL / DATABASE_ADMIN_URL / REDIS_URL both start an embedded
# PostgreSQL and Redis under .local/ (see README.md).

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install run test lint format openapi clean-local

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

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

openapi: install
	$(BIN)/flask --app wsgi openapi write --format=json openapi.json

clean-local:
	rm -rf .local
