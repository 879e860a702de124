"""Invitations: how providers and office managers join an organization.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UUID = pg.UUID(as_uuid=True)
TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "invitations",
        sa.Column("id", UUID, primary_key=True, server_default=sa.text("gen_random_uuid()")),
        sa.Column(
            "organization_id",
            UUID,
            sa.ForeignKey("organizations.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("facility_ids", pg.ARRAY(UUID), nullable=False, server_default=sa.text("'{}'")),
        sa.Column("primary_facility_id", UUID),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("expires_at", TZ, nullable=False),
        sa.Column("invited_by_id", UUID, sa.ForeignKey("users.id", ondelete="SET NULL")),
        sa.Column("accepted_at", TZ),
        sa.Column("accepted_user_id", UUID, sa.ForeignKey("users.id", ondelete="SET NULL")),
        sa.Column("revoked_at", TZ),
        sa.Column("created_at", TZ, nullable=False, server_default=sa.func.now()),
        sa.Column("updated_at", TZ, nullable=False, server_default=sa.func.now()),
        sa.CheckConstraint("role IN ('provider', 'office_manager')", name="role"),
        sa.CheckConstraint(
            "primary_facility_id IS NULL OR primary_facility_id = ANY (facility_ids)",
            name="primary_among_facilities",
        ),
    )
    op.create_index(
        "uq_invitations_open",
        "invitations",
        ["organization_id", sa.text("lower(email)")],
        unique=True,
        postgresql_where=sa.text("accepted_at IS NULL AND revoked_at IS NULL"),
    )
    op.create_index("uq_invitations_token_hash", "invitations", ["token_hash"], unique=True)


def downgrade() -> None:
    # CASCADE: the insert policies of users, memberships and provider_facilities refer
    # to invitations; they are re-created when the schema is back at head.
    op.execute("DROP TABLE invitations CASCADE")
