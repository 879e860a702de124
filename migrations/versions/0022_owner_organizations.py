"""The reach of a policy on any node: the user's organizations travel in the context, and
credentials and provider documents carry their owner's organizations.

On a Citus cluster a query joining a table every node holds (organizations, users,
credentials, documents) to a tenant's rows runs on a worker, policies and all, and a
policy evaluated there may read no table of the cluster (docs/citus-layout.md). Two
functions still did: `tenancy.member_organization_ids()` read the caller's user row, and
`tenancy.member_ids()`, the staff's reach into credentials and documents, the users of
the organizations in scope. So:

- `tenancy.enter` returns the caller's organizations (`member_organization_ids`) with
  the rest of the context, and sets them as a setting (its result changes: it is
  dropped here and made again from policies/functions.sql at head);
- credentials and a provider's documents get `owner_organization_ids`, their owner's
  `users.organization_ids`, written with the row and with each change of the owner's
  memberships (app/domain/members.py) and checked by a trigger; their policies test it
  against the scope, as the users policy tests `organization_ids`. `member_ids` goes.

The data: filled from the owners' rows, with the tables' own triggers off (a derived
copy: no audit event, no new `updated_at`).

Revision ID: 0022
Revises: 0021
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OWNED = ("credentials", "documents")


def upgrade() -> None:
    # MSC reach for the copy: the owner role is bound by the tables' forced policies, and
    # the copy must see every credential, document and user.
    op.execute(
        "SELECT set_config('tenancy.is_msc_admin', 'true', true),"
        " set_config('tenancy.request_id', 'migration:" + revision + "', true)"
    )
    for table in _OWNED:
        op.add_column(
            table,
            sa.Column(
                "owner_organization_ids",
                pg.ARRAY(pg.UUID(as_uuid=True)),
                nullable=False,
                server_default=sa.text("'{}'"),
            ),
        )
        op.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")
        op.execute(
            f"UPDATE {table} t SET owner_organization_ids = u.organization_ids"
            "  FROM users u WHERE u.id = t.user_id"
        )
        op.execute(f"ALTER TABLE {table} ENABLE TRIGGER USER")
        op.create_index(
            f"ix_{table}_owner_organization_ids",
            table,
            ["owner_organization_ids"],
            postgresql_using="gin",
        )
    op.create_check_constraint(
        op.f("ck_documents_owner_organizations_of_a_user"),
        "documents",
        "user_id IS NOT NULL OR owner_organization_ids = '{}'",
    )
    # the policies that call member_ids are made again from the files at head
    for table, policy in _READING_MEMBER_IDS:
        op.execute(f"DROP POLICY IF EXISTS {policy} ON {table}")
    op.execute("DROP FUNCTION IF EXISTS tenancy.member_ids()")
    op.execute("DROP FUNCTION IF EXISTS tenancy.enter(uuid, uuid, text, text[])")


_READING_MEMBER_IDS = (
    ("credentials", "credentials_select"),
    ("credentials", "credentials_update"),
    ("documents", "documents_select"),
)

# What 0021 had where this revision changed it.
_FUNCTIONS_0021 = (
    """
CREATE OR REPLACE FUNCTION tenancy.member_ids() RETURNS uuid[]
LANGUAGE sql STABLE AS $$
    SELECT tenancy.managed_member_ids() || coalesce(array_agg(u.id), '{}'::uuid[])
      FROM users u
     -- the scope as an InitPlan, a value the GIN index on organization_ids can search
     WHERE u.organization_ids && (SELECT tenancy.staff_organization_ids())
$$;
""",
    """
CREATE OR REPLACE FUNCTION tenancy.member_organization_ids() RETURNS uuid[]
LANGUAGE sql STABLE AS $$
    SELECT coalesce((SELECT u.organization_ids FROM users u WHERE u.id = tenancy.user_id()),
                    '{}'::uuid[])
$$;
""",
    """
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
    read_only_organization_ids uuid[],
    assigned_facility_ids uuid[],
    working_facility_ids uuid[],
    managed_member_ids uuid[]
)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    asker record;
    member_role text;
    organization_status text;
    in_organization boolean;
BEGIN
    PERFORM tenancy.put(jsonb_build_object(
        'user_id', acting_user_id, 'organization_id', '', 'role', '', 'organization_ids', '',
        'facility_ids', '', 'assigned_facility_ids', '', 'working_facility_ids', '',
        'managed_member_ids', '', 'is_msc_admin', '', 'login_email', '',
        'invitation_token_hash', '', 'invitation_organization_id', '', 'invitation_role', '',
        'invitation_email', '', 'invitation_facility_ids', '', 'invited_organization_id', '',
        'password_reset_token_hash', '',
        'request_id', request_id));

    SELECT u.is_msc_admin, u.is_msc_representative, u.is_active, u.organization_ids
      INTO asker
      FROM users u
     WHERE u.id = acting_user_id;
    IF NOT FOUND THEN
        PERFORM tenancy.put('{"user_id": ""}');
        RETURN;
    END IF;
    -- The membership apart, and only for an organization asked for: Citus 13 fails on a
    -- distribution column compared with a NULL parameter.
    IF active_organization_id IS NOT NULL THEN
        SELECT m.role, o.status
          INTO member_role, organization_status
          FROM memberships m
          LEFT JOIN organizations o ON o.id = m.organization_id
         WHERE m.organization_id = active_organization_id AND m.user_id = acting_user_id;
    END IF;
    IF NOT asker.is_active
       OR (active_organization_id IS NOT NULL AND member_role IS NULL
           AND NOT asker.is_msc_admin AND NOT asker.is_msc_representative)
    THEN
        PERFORM tenancy.put('{"user_id": ""}');
        RETURN;
    END IF;

    is_msc_admin := asker.is_msc_admin;
    facility_ids := '{}'::uuid[];
    managed_member_ids := '{}'::uuid[];
    SELECT coalesce(array_agg(pf.facility_id ORDER BY pf.facility_id), '{}'::uuid[]),
           coalesce(array_agg(pf.facility_id ORDER BY pf.facility_id)
                        FILTER (WHERE pf.status = 'active'),
                    '{}'::uuid[])
      INTO assigned_facility_ids, working_facility_ids
      FROM provider_facilities pf
     -- the organizations as well as the user: on a Citus cluster, only the shards of the
     -- user's own organizations are read
     WHERE pf.organization_id = ANY (asker.organization_ids)
       AND pf.user_id = acting_user_id;
    IF active_organization_id IS NOT NULL AND member_role IS NULL AND NOT asker.is_msc_admin THEN
        -- An MSC representative: the organizations they represent, which the
        -- organizations policy shows them by msc_representative_id, are the scope until
        -- step 3 replaces it.
        role := 'msc_representative';
        organization_id := active_organization_id;
        SELECT coalesce(array_agg(o.id), '{}'::uuid[])
          INTO organization_ids
          FROM organizations o
         WHERE o.msc_representative_id = acting_user_id;
        read_only_organization_ids := '{}'::uuid[];
    ELSE
        in_organization := member_role IS NOT NULL;
        role := member_role;
        organization_id := CASE WHEN in_organization THEN active_organization_id END;
        organization_ids := CASE WHEN in_organization THEN ARRAY[active_organization_id]
                                 ELSE '{}'::uuid[] END;
        read_only_organization_ids :=
            CASE WHEN in_organization AND organization_status = ANY (read_only_statuses)
                 THEN ARRAY[active_organization_id] ELSE '{}'::uuid[] END;
    END IF;
    PERFORM tenancy.put(jsonb_build_object(
        'organization_id', organization_id, 'role', role,
        'organization_ids', array_to_string(organization_ids, ','),
        'assigned_facility_ids', array_to_string(assigned_facility_ids, ','),
        'working_facility_ids', array_to_string(working_facility_ids, ','),
        'is_msc_admin', CASE WHEN is_msc_admin THEN 'true' ELSE '' END));

    IF role = 'office_manager' THEN
        SELECT coalesce(array_agg(f.id ORDER BY f.id), '{}'::uuid[])
          INTO facility_ids
          FROM facilities f
         WHERE f.organization_id = active_organization_id
           AND f.office_manager_id = acting_user_id;
        PERFORM tenancy.put(jsonb_build_object(
            'facility_ids', array_to_string(facility_ids, ',')));
        -- the policy shows the assignments at those facilities once they are set
        SELECT coalesce(array_agg(DISTINCT pf.user_id), '{}'::uuid[])
          INTO managed_member_ids
          FROM provider_facilities pf
         WHERE pf.organization_id = active_organization_id
           AND pf.facility_id = ANY (facility_ids);
        PERFORM tenancy.put(jsonb_build_object(
            'managed_member_ids', array_to_string(managed_member_ids, ',')));
    ELSIF role IN ('organization_admin', 'msc_representative') THEN
        -- The subtree of the organization asked for, as far as the policy shows it: an
        -- organization admin's always holds their own organization; a representative's
        -- holds it only when it is one they represent or a descendant of one.
        SELECT bool_or(o.id = active_organization_id),
               active_organization_id
                   || coalesce(array_agg(o.id ORDER BY o.id)
                                   FILTER (WHERE o.id <> active_organization_id),
                               '{}'::uuid[]),
               coalesce(array_agg(o.id ORDER BY o.id)
                            FILTER (WHERE o.status = ANY (read_only_statuses)),
                        '{}'::uuid[])
          INTO in_organization, organization_ids, read_only_organization_ids
          FROM organizations o
         WHERE o.ancestor_ids @> ARRAY[active_organization_id];
        IF NOT coalesce(in_organization, false) THEN
            PERFORM tenancy.put(
                '{"user_id": "", "organization_id": "", "role": "", "organization_ids": "",'
                ' "assigned_facility_ids": "", "working_facility_ids": ""}');
            RETURN;
        END IF;
        PERFORM tenancy.put(jsonb_build_object(
            'organization_ids', array_to_string(organization_ids, ',')));
    END IF;
    RETURN NEXT;
END
$$;
""",
)

_POLICIES_0021 = """
CREATE POLICY credentials_select ON credentials FOR SELECT USING (
    user_id = (SELECT tenancy.user_id())
    OR (SELECT tenancy.is_msc_admin())
    OR ((SELECT tenancy.role()) IN ('organization_admin', 'office_manager', 'msc_representative')
        AND user_id IN (SELECT unnest(tenancy.member_ids())))
);
CREATE POLICY credentials_update ON credentials FOR UPDATE
    USING (
        user_id = (SELECT tenancy.user_id())
        OR (SELECT tenancy.is_msc_admin())
        OR ((SELECT tenancy.role()) IN ('organization_admin', 'office_manager')
            AND user_id IN (SELECT unnest(tenancy.member_ids())))
    );
CREATE POLICY documents_select ON documents FOR SELECT USING (
    (SELECT tenancy.is_msc_admin())
    OR (organization_id = ANY ((SELECT tenancy.organization_ids())::uuid[])
        AND (SELECT tenancy.role()) = 'organization_admin')
    OR user_id = (SELECT tenancy.user_id())
    OR organization_id = ANY ((SELECT tenancy.represented_organization_ids())::uuid[])
    OR ((SELECT tenancy.role()) IN ('organization_admin', 'office_manager', 'msc_representative')
        AND user_id IN (SELECT unnest(tenancy.member_ids())))
);
"""

# The audit triggers' arguments at 0021 (the table's organization column and what they
# redact): this revision redacts owner_organization_ids too.
_AUDITED_AS_0021 = {
    "credentials": "'', 'number'",
    "documents": "'organization_id', 'storage_key'",
}


def downgrade() -> None:
    op.execute("DROP FUNCTION IF EXISTS tenancy.enter(uuid, uuid, text, text[])")
    for definition in _FUNCTIONS_0021:
        op.execute(definition)
    for table, policy in _READING_MEMBER_IDS:
        op.execute(f"DROP POLICY IF EXISTS {policy} ON {table}")
    op.execute(_POLICIES_0021)
    for table, arguments in _AUDITED_AS_0021.items():
        op.execute(
            f"DROP TRIGGER IF EXISTS {table}_owner_organization_ids_guard ON {table};"
            f" DROP TRIGGER IF EXISTS {table}_audit_update ON {table};"
            f" DROP TRIGGER IF EXISTS {table}_audit ON {table};"
            f" CREATE TRIGGER {table}_audit AFTER UPDATE OR DELETE ON {table}"
            f"  FOR EACH ROW EXECUTE FUNCTION tenancy.record_audit_event({arguments});"
            f" DROP TRIGGER IF EXISTS {table}_audit_insert ON {table};"
            f" CREATE TRIGGER {table}_audit_insert AFTER INSERT ON {table}"
            "  REFERENCING NEW TABLE AS inserted"
            f"  FOR EACH STATEMENT EXECUTE FUNCTION tenancy.record_audit_inserts({arguments});"
            f" DROP TRIGGER IF EXISTS {table}_updated_at ON {table};"
            f" CREATE TRIGGER {table}_updated_at BEFORE UPDATE ON {table}"
            "  FOR EACH ROW EXECUTE FUNCTION tenancy.set_updated_at()"
        )
    op.execute("DROP FUNCTION IF EXISTS tenancy.guard_owner_organization_ids()")
    op.drop_constraint(
        op.f("ck_documents_owner_organizations_of_a_user"), "documents", type_="check"
    )
    for table in _OWNED:
        op.drop_index(f"ix_{table}_owner_organization_ids", table)
        op.drop_column(table, "owner_organization_ids")
