"""Alembic environment: migrations run as the owner role, never as the application."""

from __future__ import annotations

from alembic import context
from alembic.script import ScriptDirectory
from sqlalchemy.pool import NullPool

from app.config import Settings
from app.database import make_engine
from app.models import Base
from app.tenancy.layout import place_tables
from app.tenancy.policies import apply_policies, prepare_context_key

target_metadata = Base.metadata


def _owner_url() -> str:
    url = context.config.attributes.get("owner_url") or Settings.from_env().database_owner_url
    if not url:
        raise RuntimeError("DATABASE_OWNER_URL is not set")
    return str(url)


def run_migrations_online() -> None:
    engine = make_engine(_owner_url(), poolclass=NullPool)
    # The context key first, on its own (prepare_context_key says why): the policies'
    # functions read it.
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        prepare_context_key(connection, Settings.from_env().tenant_context_key)
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata)
        with context.begin_transaction():
            context.run_migrations()
            # Security follows the schema: at head, (re)apply every file in policies/; on
            # a Citus coordinator, once every table is in its place (which strips the
            # policies and triggers of the tables it moves: the files make them again).
            heads = set(ScriptDirectory.from_config(context.config).get_heads())
            if set(context.get_context().get_current_heads()) == heads:
                place_tables(connection)
                apply_policies(connection)
    engine.dispose()


if context.is_offline_mode():
    raise RuntimeError("offline migrations are not supported: policies are applied from files")
run_migrations_online()
