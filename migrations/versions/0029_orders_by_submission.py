"""The analytics find an organization's orders by the day they were submitted: an index
on (organization_id, submitted_at), as (organization_id, created_at) serves the lists.
Drafts, which have no submission, sit together at its end, read by no report.

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-01
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0029"
down_revision: str | None = "0028"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_orders_organization_id_submitted_at", "orders", ["organization_id", "submitted_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_orders_organization_id_submitted_at", table_name="orders")
