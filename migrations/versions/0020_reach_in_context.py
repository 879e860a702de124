"""The tenant tables' policies read settings only: the small sets travel in the context.

On a Citus cluster a policy of a distributed table is evaluated on the shard, where a
function that reads any of the cluster's tables is a nested distributed query, which
Citus refuses. So what those policies looked up in another table is resolved once per
request by `tenancy.enter` and carried as settings (a user's assigned and working
facilities, an office manager's people), and while an invitation is accepted, the
application sets the invitation it found open beside its token (policies/functions.sql).
`tenancy.works_at` gives way to the working facilities in the orders policy, and
`tenancy.presented_invitation` to the presented invitation's settings; `tenancy.enter`
returns the new sets, so it is dropped for the policy files (applied whole at head) to
create it again.

Downgrade puts back what 0017 had, for the service of that revision: the functions as
they were, tenancy.enter without the new sets and the orders insert policy calling
tenancy.works_at.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-01
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Functions this revision adds (created by policies/functions.sql at head).
_ADDED = (
    "tenancy.working_facility_ids()",
    "tenancy.invitation_organization_id()",
    "tenancy.invitation_role()",
    "tenancy.invitation_email()",
    "tenancy.invitation_facility_ids()",
    "tenancy.ids(text)",
)


def upgrade() -> None:
    # The orders insert policy calls works_at until the files replace it at head.
    op.execute("DROP POLICY IF EXISTS orders_insert ON orders")
    op.execute("DROP FUNCTION IF EXISTS tenancy.works_at(uuid, uuid)")
    op.execute("DROP FUNCTION IF EXISTS tenancy.presented_invitation()")
    op.execute("DROP FUNCTION IF EXISTS tenancy.enter(uuid, uuid, text, text[])")


# What 0017 had where this revision changed it, in the order they can be created: the
# readers of the settings the new ones share a helper with, the table-reading reach
# functions and predicates, and tenancy.enter.
_FUNCTIONS_0017 = (
    """
CREATE OR REPLACE FUNCTION tenancy.organization_ids() RETURNS uuid[]
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT coalesce(
        string_to_array(nullif(current_setting('tenancy.organization_ids', true), ''), ',')::uuid[],
        '{}'::uuid[]
    )
$$;
""",
    """
CREATE OR REPLACE FUNCTION tenancy.facility_ids() RETURNS uuid[]
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT coalesce(
        string_to_array(nullif(current_setting('tenancy.facility_ids', true), ''), ',')::uuid[],
        '{}'::uuid[]
    )
$$;
""",
    """
CREATE OR REPLACE FUNCTION tenancy.assigned_facility_ids() RETURNS uuid[]
LANGUAGE sql STABLE AS $$
    SELECT coalesce(array_agg(pf.facility_id), '{}'::uuid[])
      FROM provider_facilities pf
     WHERE pf.user_id = tenancy.user_id()
$$;
""",
    """
CREATE OR REPLACE FUNCTION tenancy.managed_member_ids() RETURNS uuid[]
LANGUAGE sql STABLE AS $$
    SELECT coalesce(array_agg(DISTINCT pf.user_id), '{}'::uuid[])
      FROM provider_facilities pf
     WHERE tenancy.role() = 'office_manager'
       AND pf.facility_id = ANY (tenancy.facility_ids())
$$;
""",
    """
CREATE OR REPLACE FUNCTION tenancy.works_at(organization uuid, facility uuid)
RETURNS boolean
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN EXISTS (SELECT 1 FROM provider_facilities pf
                    WHERE pf.organization_id = organization AND pf.facility_id = facility
                      AND pf.user_id = tenancy.user_id() AND pf.status = 'active');
END
$$;
""",
    """
CREATE OR REPLACE FUNCTION tenancy.presented_invitation() RETURNS invitations
LANGUAGE plpgsql STABLE AS $$
DECLARE
    presented invitations;
BEGIN
    SELECT i.* INTO presented FROM invitations i
     WHERE i.token_hash = tenancy.invitation_token_hash()
       AND i.accepted_at IS NULL AND i.revoked_at IS NULL AND i.expires_at > now();
    RETURN presented;
END
$$;
""",
    """
CREATE OR REPLACE FUNCTION tenancy.invitation_admits_membership(
    organization uuid, member_role text
) RETURNS boolean
LANGUAGE plpgsql STABLE AS $$
DECLARE
    presented invitations := tenancy.presented_invitation();
BEGIN
    RETURN coalesce(presented.organization_id = organization
                    AND presented.role = member_role, false);
END
$$;
""",
    """
CREATE OR REPLACE FUNCTION tenancy.invitation_admits_assignment(organization uuid, facility uuid)
RETURNS boolean
LANGUAGE plpgsql STABLE AS $$
DECLARE
    presented invitations := tenancy.presented_invitation();
BEGIN
    RETURN coalesce(presented.organization_id = organization
                    AND facility = ANY (presented.facility_ids), false);
END
$$;
""",
    """
CREATE OR REPLACE FUNCTION tenancy.invitation_admits_account(account_email text)
RETURNS boolean
LANGUAGE plpgsql STABLE AS $$
DECLARE
    presented invitations := tenancy.presented_invitation();
BEGIN
    RETURN coalesce(lower(presented.email) = lower(account_email), false);
END
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
    read_only_organization_ids uuid[]
)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    asker record;
    in_organization boolean;
BEGIN
    PERFORM tenancy.put(jsonb_build_object(
        'user_id', acting_user_id, 'organization_id', '', 'role', '', 'organization_ids', '',
        'facility_ids', '', 'is_msc_admin', '', 'login_email', '', 'invitation_token_hash', '',
        'password_reset_token_hash', '', 'request_id', request_id));

    SELECT u.is_msc_admin, u.is_msc_representative, u.is_active, m.role, o.status
      INTO asker
      FROM users u
      LEFT JOIN memberships m
             ON m.user_id = u.id AND m.organization_id = active_organization_id
      LEFT JOIN organizations o ON o.id = m.organization_id
     WHERE u.id = acting_user_id;
    IF NOT FOUND OR NOT asker.is_active
       OR (active_organization_id IS NOT NULL AND asker.role IS NULL
           AND NOT asker.is_msc_admin AND NOT asker.is_msc_representative)
    THEN
        PERFORM tenancy.put('{"user_id": ""}');
        RETURN;
    END IF;

    is_msc_admin := asker.is_msc_admin;
    facility_ids := '{}'::uuid[];
    IF active_organization_id IS NOT NULL AND asker.role IS NULL AND NOT asker.is_msc_admin THEN
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
        in_organization := asker.role IS NOT NULL;
        role := asker.role;
        organization_id := CASE WHEN in_organization THEN active_organization_id END;
        organization_ids := CASE WHEN in_organization THEN ARRAY[active_organization_id]
                                 ELSE '{}'::uuid[] END;
        read_only_organization_ids :=
            CASE WHEN in_organization AND asker.status = ANY (read_only_statuses)
                 THEN ARRAY[active_organization_id] ELSE '{}'::uuid[] END;
    END IF;
    PERFORM tenancy.put(jsonb_build_object(
        'organization_id', organization_id, 'role', role,
        'organization_ids', array_to_string(organization_ids, ','),
        'is_msc_admin', CASE WHEN is_msc_admin THEN 'true' ELSE '' END));

    IF role = 'office_manager' THEN
        SELECT coalesce(array_agg(f.id ORDER BY f.id), '{}'::uuid[])
          INTO facility_ids
          FROM facilities f
         WHERE f.organization_id = active_organization_id
           AND f.office_manager_id = acting_user_id;
        PERFORM tenancy.put(jsonb_build_object(
            'facility_ids', array_to_string(facility_ids, ',')));
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
                '{"user_id": "", "organization_id": "", "role": "", "organization_ids": ""}');
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

_ORDERS_INSERT_0017 = """
CREATE POLICY orders_insert ON orders FOR INSERT WITH CHECK (
    provider_id = (SELECT tenancy.user_id())
    AND (SELECT tenancy.role()) = 'provider'
    AND organization_id = ANY ((SELECT tenancy.organization_ids())::uuid[])
    AND tenancy.works_at(organization_id, facility_id)
)
"""


def downgrade() -> None:
    op.execute("DROP FUNCTION IF EXISTS tenancy.enter(uuid, uuid, text, text[])")
    for definition in _FUNCTIONS_0017:
        op.execute(definition)
    op.execute("DROP POLICY IF EXISTS orders_insert ON orders")
    op.execute(_ORDERS_INSERT_0017)
    for function in _ADDED:
        op.execute(f"DROP FUNCTION IF EXISTS {function}")
