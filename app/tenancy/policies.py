"""Applying the SQL in policies/ (row-level security, grants, triggers).

Each file is idempotent (CREATE OR REPLACE, DROP ... IF EXISTS), so a migration that
changes a table's security simply applies that table's file again.
"""

from __future__ import annotations

from sqlalchemy import Connection

from app.schema import PROJECT_ROOT

POLICIES_DIR = PROJECT_ROOT / "policies"


def apply_policy_files(connection: Connection, *names: str) -> None:
    # The raw driver connection runs a whole file (several statements, $$ bodies) as
    # one simple query, inside the migration's transaction.
    driver = connection.connection.driver_connection
    assert driver is not None
    for name in names:
        driver.execute((POLICIES_DIR / f"{name}.sql").read_text())
