"""The NPI Registry's cache is written only through `tenancy.remember_npi_answer`.

The application role keeps SELECT on `npi_registry_answers` and loses INSERT and UPDATE:
it writes through a function of the owner's (policies/npi_registry_answers.sql, made at
head) that admits only a registry's answer about a valid number. The rows it wrote
directly are not kept: the cache is emptied, and each number is asked again at its next
verification.

On a Citus cluster the table leaves the reference tables for the coordinator. The
function writes it as the owner, in transactions that write reference tables (users)
as the application role, and Citus refuses a transaction that modifies a reference
table's placements as one user and then those of the same co-location group (every
reference table's) as another ("placements that were modified in this transaction by a
different user"). A plain table of the coordinator has no placements; nothing joins the
cache to another table, and it is read on the coordinator, where requests arrive.

Revision ID: 0024
Revises: 0023
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from app.tenancy.policies import is_citus

revision: str = "0024"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TABLE = "npi_registry_answers"


def _is_reference_table() -> bool:
    return bool(
        op.get_bind().scalar(
            sa.text(
                "SELECT EXISTS (SELECT 1 FROM pg_dist_partition"
                " WHERE logicalrelid = CAST(:t AS regclass) AND repmodel = 't')"
            ).bindparams(t=_TABLE)
        )
    )


def upgrade() -> None:
    op.execute(f"TRUNCATE {_TABLE}")
    # A database made on one server and restored on a cluster never had it as a reference
    # table: at head it stays where it is (app/tenancy/layout.py).
    if is_citus(op.get_bind()) and _is_reference_table():
        op.execute(sa.text("SELECT undistribute_table(:t)").bindparams(t=_TABLE))


def downgrade() -> None:
    # What the service of 0023 writes directly, where 0017 placed it.
    if is_citus(op.get_bind()):
        op.execute(sa.text("SELECT create_reference_table(:t)").bindparams(t=_TABLE))
    op.execute(f"GRANT INSERT, UPDATE ON {_TABLE} TO msc_application")
    op.execute("DROP FUNCTION IF EXISTS tenancy.remember_npi_answer(text, jsonb, timestamptz)")
    op.execute("DROP FUNCTION IF EXISTS tenancy.is_valid_npi(text)")
