"""MSC representatives: MSC staff who read the organizations they look after.

`users.is_msc_representative` says who is one (only MSC admins change it, see
policies/users.sql); an organization's `msc_representative_id` must name one (a trigger,
policies/organizations.sql). `tenancy.enter` lets a representative act for the
organizations they represent and their descendants, which the tables' policies let them
read; every table holding organizations' data refuses their writes
(`tenancy.may_write_tenant_data`).

The data: every user already named as an organization's representative becomes one, so
that the rule holds for the rows written before it; the change is made in the system
context and lands in the audit trail.

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "users",
        sa.Column("is_msc_representative", sa.Boolean, nullable=False, server_default=sa.false()),
    )
    # A representative's first step on each request: the organizations they represent.
    op.create_index(
        "ix_organizations_msc_representative_id",
        "organizations",
        ["msc_representative_id"],
        postgresql_where=sa.text("msc_representative_id IS NOT NULL"),
    )
    op.execute(
        "SELECT set_config('tenancy.is_msc_admin', 'true', true),"
        " set_config('tenancy.request_id', 'migration:" + revision + "', true)"
    )
    op.execute(
        "UPDATE users SET is_msc_representative = true"
        " WHERE id IN (SELECT msc_representative_id FROM organizations)"
    )


# The tables whose policies refuse an MSC representative's writes (policies/<table>.sql).
_WRITE_GUARDED = (
    "organizations",
    "facilities",
    "memberships",
    "provider_facilities",
    "invitations",
    "onboarding_step_completions",
    "documents",
    "credentials",
    "orders",
    "outbox_messages",
)

# What the policies had at 0014, where this revision changed them: tenancy.enter without
# representatives (it reads the column this revision adds), the select policies without
# their clauses (they call tenancy.represented_organization_ids), and the users column
# guard without the column.
_ENTER_0014 = """
CREATE OR REPLACE FUNCTION tenancy.enter(
    acting_user_id uuid,
    active_organization_id uuid,
    request_id text,
    read_only_statuses text[]
) RETURNS TABLE (
    is_msc_admin boolean,
    role text,
    organization_id uuid,
    organization_ids uuid[],
    facility_ids uuid[],
    read_only_organization_ids uuid[]
)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    asker record;
    in_organization boolean;
BEGIN
    PERFORM set_config('tenancy.user_id', coalesce(acting_user_id::text, ''), true),
            set_config('tenancy.organization_id', '', true),
            set_config('tenancy.role', '', true),
            set_config('tenancy.organization_ids', '', true),
            set_config('tenancy.facility_ids', '', true),
            set_config('tenancy.is_msc_admin', '', true),
            set_config('tenancy.login_email', '', true),
            set_config('tenancy.invitation_token_hash', '', true),
            set_config('tenancy.password_reset_token_hash', '', true),
            set_config('tenancy.request_id', coalesce(request_id, ''), true);

    SELECT u.is_msc_admin, u.is_active, m.role, o.status
      INTO asker
      FROM users u
      LEFT JOIN memberships m
             ON m.user_id = u.id AND m.organization_id = active_organization_id
      LEFT JOIN organizations o ON o.id = m.organization_id
     WHERE u.id = acting_user_id;
    IF NOT FOUND OR NOT asker.is_active
       OR (active_organization_id IS NOT NULL AND asker.role IS NULL AND NOT asker.is_msc_admin)
    THEN
        PERFORM set_config('tenancy.user_id', '', true);
        RETURN;
    END IF;

    in_organization := asker.role IS NOT NULL;
    is_msc_admin := asker.is_msc_admin;
    role := asker.role;
    organization_id := CASE WHEN in_organization THEN active_organization_id END;
    organization_ids := CASE WHEN in_organization THEN ARRAY[active_organization_id]
                             ELSE '{}'::uuid[] END;
    facility_ids := '{}'::uuid[];
    read_only_organization_ids :=
        CASE WHEN in_organization AND asker.status = ANY (read_only_statuses)
             THEN ARRAY[active_organization_id] ELSE '{}'::uuid[] END;
    PERFORM set_config('tenancy.organization_id', coalesce(organization_id::text, ''), true),
            set_config('tenancy.role', coalesce(role, ''), true),
            set_config('tenancy.organization_ids', array_to_string(organization_ids, ','), true),
            set_config('tenancy.is_msc_admin', CASE WHEN is_msc_admin THEN 'true' ELSE '' END,
                       true);

    IF role = 'office_manager' THEN
        SELECT coalesce(array_agg(f.id ORDER BY f.id), '{}'::uuid[])
          INTO facility_ids
          FROM facilities f
         WHERE f.organization_id = active_organization_id
           AND f.office_manager_id = acting_user_id;
        PERFORM set_config('tenancy.facility_ids', array_to_string(facility_ids, ','), true);
    ELSIF role = 'organization_admin' THEN
        SELECT active_organization_id
                   || coalesce(array_agg(o.id ORDER BY o.id)
                                   FILTER (WHERE o.id <> active_organization_id),
                               '{}'::uuid[]),
               coalesce(array_agg(o.id ORDER BY o.id)
                            FILTER (WHERE o.status = ANY (read_only_statuses)),
                        '{}'::uuid[])
          INTO organization_ids, read_only_organization_ids
          FROM organizations o
         WHERE o.ancestor_ids @> ARRAY[active_organization_id];
        PERFORM set_config('tenancy.organization_ids', array_to_string(organization_ids, ','),
                           true);
    END IF;
    RETURN NEXT;
END
$$;
"""

_SELECT_POLICIES_0014 = """
DROP POLICY IF EXISTS audit_events_select ON audit_events;
CREATE POLICY audit_events_select ON audit_events FOR SELECT USING (
    (SELECT tenancy.is_msc_admin())
    OR (organization_id = ANY ((SELECT tenancy.organization_ids())::uuid[])
        AND (SELECT tenancy.role()) = 'organization_admin')
);
DROP POLICY IF EXISTS credentials_select ON credentials;
CREATE POLICY credentials_select ON credentials FOR SELECT USING (
    user_id = (SELECT tenancy.user_id())
    OR (SELECT tenancy.is_msc_admin())
    OR ((SELECT tenancy.role()) IN ('organization_admin', 'office_manager')
        AND user_id IN (SELECT unnest(tenancy.member_ids())))
);
DROP POLICY IF EXISTS documents_select ON documents;
CREATE POLICY documents_select ON documents FOR SELECT USING (
    (SELECT tenancy.is_msc_admin())
    OR (organization_id = ANY ((SELECT tenancy.organization_ids())::uuid[])
        AND (SELECT tenancy.role()) = 'organization_admin')
    OR user_id = (SELECT tenancy.user_id())
    OR ((SELECT tenancy.role()) IN ('organization_admin', 'office_manager')
        AND user_id IN (SELECT unnest(tenancy.member_ids())))
);
DROP POLICY IF EXISTS invitations_select ON invitations;
CREATE POLICY invitations_select ON invitations FOR SELECT USING (
    (SELECT tenancy.is_msc_admin())
    OR (organization_id = ANY ((SELECT tenancy.organization_ids())::uuid[])
        AND ((SELECT tenancy.role()) = 'organization_admin'
             OR ((SELECT tenancy.role()) = 'office_manager'
                 AND invited_by_id = (SELECT tenancy.user_id()))))
    OR token_hash = (SELECT tenancy.invitation_token_hash())
);
DROP POLICY IF EXISTS memberships_select ON memberships;
CREATE POLICY memberships_select ON memberships FOR SELECT USING (
    (organization_id = ANY ((SELECT tenancy.organization_ids())::uuid[])
     AND ((SELECT tenancy.role()) = 'organization_admin'
          OR user_id = ANY ((SELECT tenancy.managed_member_ids())::uuid[])))
    OR (user_id = (SELECT tenancy.user_id()) AND is_active)
    OR (SELECT tenancy.is_msc_admin())
);
DROP POLICY IF EXISTS orders_select ON orders;
CREATE POLICY orders_select ON orders FOR SELECT USING (
    organization_id = ANY ((SELECT tenancy.staff_organization_ids())::uuid[])
    OR facility_id = ANY ((SELECT tenancy.facility_ids())::uuid[])
    OR provider_id = (SELECT tenancy.user_id())
    OR (SELECT tenancy.is_msc_admin())
);
DROP POLICY IF EXISTS organizations_select ON organizations;
CREATE POLICY organizations_select ON organizations FOR SELECT USING (
    (SELECT tenancy.is_msc_admin())
    OR id = ANY ((SELECT tenancy.organization_ids())::uuid[])
    OR id = ANY (ARRAY(SELECT m.organization_id FROM memberships m
                        WHERE m.user_id = (SELECT tenancy.user_id())))
    OR msc_representative_id = (SELECT tenancy.user_id())
    OR id = ANY (ARRAY(SELECT i.organization_id FROM invitations i
                        WHERE i.token_hash = (SELECT tenancy.invitation_token_hash())))
    OR ((SELECT tenancy.role()) = 'organization_admin'
        AND (SELECT tenancy.organization_id()) = ANY (ancestor_ids))
);
DROP POLICY IF EXISTS provider_facilities_select ON provider_facilities;
CREATE POLICY provider_facilities_select ON provider_facilities FOR SELECT USING (
    organization_id = ANY ((SELECT tenancy.staff_organization_ids())::uuid[])
    OR facility_id = ANY ((SELECT tenancy.facility_ids())::uuid[])
    OR user_id = (SELECT tenancy.user_id())
    OR (SELECT tenancy.is_msc_admin())
);
DROP POLICY IF EXISTS users_select ON users;
CREATE POLICY users_select ON users FOR SELECT USING (
    organization_ids && (SELECT tenancy.staff_organization_ids())
    OR id = (SELECT tenancy.user_id())
    OR id = ANY ((SELECT tenancy.managed_member_ids())::uuid[])
    OR (SELECT tenancy.is_msc_admin())
    OR ((SELECT tenancy.login_email()) IS NOT NULL
        AND lower(email) = (SELECT tenancy.login_email()))
);
"""

_USERS_GUARD_0014 = """
DROP TRIGGER IF EXISTS users_guard ON users;
CREATE TRIGGER users_guard BEFORE UPDATE ON users
    FOR EACH ROW EXECUTE FUNCTION tenancy.guard_msc_columns(
        'is_msc_admin', 'is_active', 'email', 'npi_verification', 'npi_verified_at');
"""


def downgrade() -> None:
    # Everything this revision added to the policies (applied at head) goes, and what it
    # changed is put back as 0014 had it, before the column goes: until the migrations
    # reach head again (which applies policies/ whole), 0014's service runs on these, and
    # every request of its resolves its context through tenancy.enter.
    op.execute(_ENTER_0014)
    for table in _WRITE_GUARDED:
        op.execute(
            f"DROP POLICY IF EXISTS {table}_may_write ON {table};"
            f" DROP POLICY IF EXISTS {table}_may_delete ON {table};"
        )
    op.execute("DROP FUNCTION IF EXISTS tenancy.may_write_tenant_data()")
    op.execute(_SELECT_POLICIES_0014)
    op.execute("DROP FUNCTION IF EXISTS tenancy.represented_organization_ids()")
    op.execute(_USERS_GUARD_0014)
    op.execute(
        "DROP TRIGGER IF EXISTS users_representative ON users;"
        " DROP FUNCTION IF EXISTS tenancy.check_representative_released();"
        " DROP TRIGGER IF EXISTS organizations_representative ON organizations;"
        " DROP FUNCTION IF EXISTS tenancy.check_msc_representative();"
    )
    op.drop_index("ix_organizations_msc_representative_id", table_name="organizations")
    op.drop_column("users", "is_msc_representative")
