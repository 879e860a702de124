"""Applying the SQL in policies/ (row-level security, grants, triggers).

The files describe the security of the schema at its newest revision. They are
idempotent (CREATE OR REPLACE, DROP ... IF EXISTS) and applied whole, in the same
transaction, each time the migrations bring a database to head; so a policy change is
an edit of one file, and a fresh database never sees a policy that names a table a
later revision creates.
"""

from __future__ import annotations

from sqlalchemy import Connection

from app.migrate import PROJECT_ROOT

POLICIES_DIR = PROJECT_ROOT / "policies"
# Shared functions come first: the table files use them.
FIRST = "functions.sql"


def policy_files() -> list[str]:
    names = sorted(path.name for path in POLICIES_DIR.glob("*.sql"))
    names.remove(FIRST)
    return [FIRST, *names]


def apply_policies(connection: Connection) -> None:
    # The raw driver connection runs a whole file (several statements, $$ bodies) as
    # one simple query, inside the migration's transaction.
    driver = connection.connection.driver_connection
    assert driver is not None
    for name in policy_files():
        driver.execute((POLICIES_DIR / name).read_text())
