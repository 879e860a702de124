"""An assignment is primary when the provider's primary_assignments row points at it.

`provider_facilities.is_primary` was each organization's copy of that row: when a
provider's primary moved from one organization to another, the system flipped the copy
of the organization it left, and that organization's trail showed its own assignment
updated by MSC, across tenants, in a request of the other organization. Read from the
row instead (policies/primary_assignments.sql shows it to an organization only while it
points at one of its assignments), an organization's rows change only by its own hand.

Down: the copy comes back, true on the active assignment each row points at, written as
the owner (the tables' policies are forced on it) with the audit triggers off: the
flags restate what the rows say, nobody changed anything.

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0027"
down_revision: str | None = "0026"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_column("provider_facilities", "is_primary")


def downgrade() -> None:
    op.add_column(
        "provider_facilities",
        sa.Column("is_primary", sa.Boolean, nullable=False, server_default=sa.false()),
    )
    for table in ("provider_facilities", "primary_assignments"):
        op.execute(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE provider_facilities DISABLE TRIGGER USER")
    # IN an uncorrelated subquery: the two tables lie on different keys on a Citus cluster
    op.execute(
        "UPDATE provider_facilities SET is_primary = true"
        " WHERE status = 'active' AND (user_id, organization_id, facility_id) IN"
        "  (SELECT user_id, organization_id, facility_id FROM primary_assignments)"
    )
    op.execute("ALTER TABLE provider_facilities ENABLE TRIGGER USER")
    for table in ("provider_facilities", "primary_assignments"):
        op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
