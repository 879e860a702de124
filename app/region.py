"""Data residency: a database belongs to one region, and only that region's deployment
may use it. The migration step records the region; the application checks it at start."""

from __future__ import annotations

from sqlalchemy import Engine, inspect, text
from sqlalchemy.engine import Connection


class RegionMismatch(RuntimeError):
    pass


def record_region(connection: Connection, region: str) -> None:
    """Claim the database for `region` (as the owner), or refuse if another holds it."""
    connection.execute(
        text("INSERT INTO deployment_region (region) VALUES (:r) ON CONFLICT DO NOTHING"),
        {"r": region},
    )
    _compare(connection, region)


def check_region(engine: Engine, region: str) -> None:
    """Refuse to serve another region's database. A database not migrated yet has no
    region: the migration step will record it."""
    with engine.connect() as connection:
        if not inspect(connection).has_table("deployment_region"):
            return
        _compare(connection, region)


def _compare(connection: Connection, region: str) -> None:
    recorded = connection.execute(text("SELECT region FROM deployment_region")).scalar()
    if recorded is not None and recorded != region:
        raise RegionMismatch(
            f"this database belongs to region {recorded!r}, not {region!r}: "
            "check DATABASE_URL and REGION"
        )
