"""The migrations go up and down on an empty database, and match the models."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from app import migrate
from app.database import make_engine
from app.local import DatabaseUrls, drop_database, ensure_database, urls_for
from app.models import Base
from app.tenancy.roles import ensure_roles

DATABASE = f"msc_migrations_test_{os.getpid()}"


@pytest.fixture
def empty_database(server_admin_url: str) -> Iterator[DatabaseUrls]:
    ensure_database(server_admin_url, DATABASE, recreate=True)
    urls = urls_for(server_admin_url, DATABASE)
    ensure_roles(urls.admin, urls.owner, urls.app)
    ensure_roles(urls.admin, urls.owner, urls.app)  # idempotent: a second run changes nothing
    yield urls
    drop_database(server_admin_url, DATABASE)


def _tables(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return set(inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def test_upgrade_downgrade_upgrade(empty_database: DatabaseUrls) -> None:
    owner = empty_database.owner
    migrate.upgrade(owner)
    assert {"organizations", "facilities", "audit_events"} <= _tables(owner)
    migrate.downgrade(owner, "base")
    assert _tables(owner) == set()
    engine = make_engine(owner)
    with engine.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM pg_namespace WHERE nspname = 'tenancy'")) == 0
    engine.dispose()
    migrate.upgrade(owner)
    assert {"organizations", "facilities", "audit_events"} <= _tables(owner)


def test_models_match_the_migrations(database_urls: DatabaseUrls) -> None:
    engine = make_engine(database_urls.owner)
    with engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    engine.dispose()
    assert differences == []
