"""Memberships can be deactivated and reactivated (`is_active`): a deactivated membership
keeps its role and history, and its member can no longer act in the organization (the
memberships policy hides it from them, so `tenancy.enter` finds no role there).
Invitations can offer the organization admin role.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "memberships",
        sa.Column("is_active", sa.Boolean, nullable=False, server_default=sa.true()),
    )
    op.drop_constraint(op.f("ck_invitations_role"), "invitations", type_="check")
    op.create_check_constraint(
        op.f("ck_invitations_role"),
        "invitations",
        "role IN ('provider', 'office_manager', 'organization_admin')",
    )


def downgrade() -> None:
    # NOT VALID: invitations already sent to organization admins stay as history.
    op.drop_constraint(op.f("ck_invitations_role"), "invitations", type_="check")
    op.execute(
        "ALTER TABLE invitations ADD CONSTRAINT ck_invitations_role"
        " CHECK (role IN ('provider', 'office_manager')) NOT VALID"
    )
    # The policy at this revision names the column: put back what 0011 had first.
    op.execute(
        "DROP POLICY IF EXISTS memberships_select ON memberships;"
        " CREATE POLICY memberships_select ON memberships FOR SELECT USING ("
        "     (organization_id = ANY ((SELECT tenancy.organization_ids())::uuid[])"
        "      AND ((SELECT tenancy.role()) = 'organization_admin'"
        "           OR user_id = ANY ((SELECT tenancy.managed_member_ids())::uuid[])))"
        "     OR user_id = (SELECT tenancy.user_id())"
        "     OR (SELECT tenancy.is_msc_admin()))"
    )
    op.drop_column("memberships", "is_active")
