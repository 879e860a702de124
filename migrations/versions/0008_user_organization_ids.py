"""Users carry the organizations they are members of (`organization_ids`), kept by a
trigger on memberships (policies/memberships.sql), so that the users policy reads a
user's reach from the row itself instead of collecting the members of the scope on
every statement.

The data: filled from the memberships in the system context, with the users table's own
triggers off (the change is derived: no audit event, no new `updated_at`).

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "users",
        sa.Column(
            "organization_ids",
            pg.ARRAY(pg.UUID(as_uuid=True)),
            nullable=False,
            server_default=sa.text("'{}'"),
        ),
    )
    op.execute(
        "SELECT set_config('tenancy.is_msc_admin', 'true', true),"
        " set_config('tenancy.request_id', 'migration:" + revision + "', true)"
    )
    op.execute("ALTER TABLE users DISABLE TRIGGER USER")
    op.execute(
        "UPDATE users u SET organization_ids = m.organization_ids"
        "  FROM (SELECT user_id, array_agg(organization_id ORDER BY organization_id)"
        "               AS organization_ids"
        "          FROM memberships GROUP BY user_id) m"
        " WHERE m.user_id = u.id"
    )
    op.execute("ALTER TABLE users ENABLE TRIGGER USER")


def downgrade() -> None:
    # The policies at this revision name the column: put back what 0007 had first.
    op.execute(
        "DROP TRIGGER IF EXISTS memberships_sync_users ON memberships;"
        " DROP FUNCTION IF EXISTS tenancy.sync_member_organizations();"
        " DROP TRIGGER IF EXISTS users_organization_ids_guard ON users;"
        " DROP FUNCTION IF EXISTS tenancy.guard_user_organization_ids();"
        " DROP POLICY IF EXISTS users_sync_select ON users;"
        " DROP POLICY IF EXISTS users_sync_update ON users;"
        " DROP POLICY IF EXISTS users_select ON users;"
        " CREATE POLICY users_select ON users FOR SELECT USING ("
        "     id = (SELECT tenancy.user_id())"
        "     OR (SELECT tenancy.is_msc_admin())"
        "     OR lower(email) = (SELECT tenancy.login_email())"
        "     OR id = ANY ((SELECT tenancy.member_ids())::uuid[]))"
    )
    op.drop_column("users", "organization_ids")
