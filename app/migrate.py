"""Running the Alembic migrations from code (CLI, local setup, tests)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.pool import NullPool

from app.database import make_engine
from app.region import record_region

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def alembic_config(owner_url: str) -> Config:
    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    config.attributes["owner_url"] = owner_url
    return config


def upgrade(owner_url: str, revision: str = "head", region: str | None = None) -> None:
    """Migrate; with `region`, also claim the database for it (refused if another
    region holds it)."""
    command.upgrade(alembic_config(owner_url), revision)
    if region is not None:
        engine = make_engine(owner_url, poolclass=NullPool)
        try:
            with engine.begin() as connection:
                record_region(connection, region)
        finally:
            engine.dispose()


def downgrade(owner_url: str, revision: str = "base") -> None:
    command.downgrade(alembic_config(owner_url), revision)
