"""Data residency: a database belongs to one region, and only that region's deployment
may use it. The migration step records the region; the application checks it at start."""

from __future__ import annotations

import logging

from sqlalchemy import Engine, inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import OperationalError

log = logging.getLogger(__name__)


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
    region (the migration step records it), and one not reachable yet (its roles not
    created, say, before the first migration) cannot be asked: readiness asks again."""
    try:
        with engine.connect() as connection:
            verify_region(connection, region)
    except OperationalError as exc:
        log.warning("region not checked, the database is not reachable: %s", exc.orig)


def verify_region(connection: Connection, region: str) -> None:
    """Refuse another region's database; one not migrated yet has no region."""
    if inspect(connection).has_table("deployment_region"):
        _compare(connection, region)


def _compare(connection: Connection, region: str) -> None:
    recorded = connection.execute(text("SELECT region FROM deployment_region")).scalar()
    if recorded is not None and recorded != region:
        raise RegionMismatch(
            f"this database belongs to region {recorded!r}, not {region!r}: "
            "check DATABASE_URL and REGION"
        )
