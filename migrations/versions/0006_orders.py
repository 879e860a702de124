"""Orders: minimal supply orders placed by providers at their facilities. Row-level
security lives in policies/orders.sql, applied when the schema reaches head.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UUID = pg.UUID(as_uuid=True)
TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "orders",
        sa.Column("id", UUID, primary_key=True, server_default=sa.text("gen_random_uuid()")),
        sa.Column(
            "organization_id",
            UUID,
            sa.ForeignKey("organizations.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("facility_id", UUID, nullable=False),
        sa.Column("provider_id", UUID, nullable=False),
        sa.Column("status", sa.String(16), nullable=False, server_default="submitted"),
        sa.Column("amount", sa.Numeric(12, 2), nullable=False),
        sa.Column("line_count", sa.Integer, nullable=False),
        sa.Column("created_at", TZ, nullable=False, server_default=sa.func.now()),
        sa.Column("updated_at", TZ, nullable=False, server_default=sa.func.now()),
        sa.Column("submitted_at", TZ),
        sa.Column("approved_at", TZ),
        sa.Column("shipped_at", TZ),
        sa.Column("delivered_at", TZ),
        sa.Column("cancelled_at", TZ),
        # The order stays in its tenant: its facility and its provider's membership
        # belong to the same organization.
        sa.ForeignKeyConstraint(
            ["organization_id", "facility_id"],
            ["facilities.organization_id", "facilities.id"],
            name="fk_orders_facility",
        ),
        sa.ForeignKeyConstraint(
            ["organization_id", "provider_id"],
            ["memberships.organization_id", "memberships.user_id"],
            name="fk_orders_membership",
        ),
        sa.CheckConstraint(
            "status IN ('draft', 'submitted', 'approved', 'shipped', 'delivered', 'cancelled')",
            name="status",
        ),
        sa.CheckConstraint("amount >= 0", name="amount_not_negative"),
        sa.CheckConstraint("line_count >= 1", name="line_count_positive"),
    )
    op.create_index(
        "ix_orders_organization_id_created_at", "orders", ["organization_id", "created_at"]
    )
    op.create_index(
        "ix_orders_organization_id_facility_id", "orders", ["organization_id", "facility_id"]
    )
    op.create_index("ix_orders_provider_id", "orders", ["provider_id"])


def downgrade() -> None:
    op.drop_table("orders")
    # created by policies/orders.sql when the schema reached head
    op.execute("DROP FUNCTION IF EXISTS tenancy.guard_order_update()")
