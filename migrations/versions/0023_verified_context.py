"""A tenant context the database can verify: one signed setting instead of many plain ones.

Until now the context was a score of settings, `tenancy.<name>`, that any statement of the
application role could set for itself, MSC reach included. From here it is one setting,
`tenancy.context`: the fields and their HMAC-SHA-256 under a key the owner role alone
reads (policies/context_key.sql, written by every migration run from TENANT_CONTEXT_KEY:
app/tenancy/policies.py, prepare_context_key). The functions the policies call read it
through tenancy.fields(), which takes only a context whose signature is the key's;
tenancy.enter signs what it resolves, and resolves only when the service asks, with a
ticket signed over its arguments (it takes one argument more, and passes it to
tenancy.put, which signs each step's context for that request alone).

The functions whose arguments change are dropped here and made again from
policies/functions.sql at head. Down, the functions as they were come back, reading the
plain settings again (the key's table and view stay: nothing below reads them).

Revision ID: 0023
Revises: 0022
Create Date: 2026-11-30
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Those whose arguments change (CREATE OR REPLACE cannot rename or add one).
_REPLACED = (
    "tenancy.enter(uuid, uuid, text, text[])",
    "tenancy.is_cross_tenant(uuid)",
    "tenancy.put(jsonb)",
    "tenancy.ids(text)",
)
_ADDED = (
    "tenancy.enter(uuid, uuid, text, text[], text)",
    "tenancy.is_cross_tenant(text[], uuid)",
    "tenancy.put(jsonb, text, uuid, uuid, text, text[])",
    "tenancy.ids(text)",
    "tenancy.scope_for(text[], text[], boolean)",
    "tenancy.field(text[], text)",
    "tenancy.fields()",
    "tenancy.field_names()",
    "tenancy.adopt(text)",
    "tenancy.signature(text)",
    "tenancy.refuse_unverified_change(text[])",
)


def upgrade() -> None:
    for function in _REPLACED:
        op.execute(f"DROP FUNCTION IF EXISTS {function}")


def downgrade() -> None:
    for function in _ADDED:
        op.execute(f"DROP FUNCTION IF EXISTS {function}")
    op.execute(_FUNCTIONS_0022)


# The functions of 0022 that this revision changes, as they were.
_FUNCTIONS_0022 = r"""
CREATE OR REPLACE FUNCTION tenancy.user_id() RETURNS uuid
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT nullif(current_setting('tenancy.user_id', true), '')::uuid
$$;

CREATE OR REPLACE FUNCTION tenancy.organization_id() RETURNS uuid
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT nullif(current_setting('tenancy.organization_id', true), '')::uuid
$$;

CREATE OR REPLACE FUNCTION tenancy.role() RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT nullif(current_setting('tenancy.role', true), '')
$$;

CREATE OR REPLACE FUNCTION tenancy.ids(setting text) RETURNS uuid[]
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT coalesce(
        string_to_array(nullif(current_setting(setting, true), ''), ',')::uuid[],
        '{}'::uuid[]
    )
$$;

CREATE OR REPLACE FUNCTION tenancy.organization_ids() RETURNS uuid[]
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT tenancy.ids('tenancy.organization_ids')
$$;

CREATE OR REPLACE FUNCTION tenancy.facility_ids() RETURNS uuid[]
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT tenancy.ids('tenancy.facility_ids')
$$;

CREATE OR REPLACE FUNCTION tenancy.assigned_facility_ids() RETURNS uuid[]
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT tenancy.ids('tenancy.assigned_facility_ids')
$$;

CREATE OR REPLACE FUNCTION tenancy.working_facility_ids() RETURNS uuid[]
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT tenancy.ids('tenancy.working_facility_ids')
$$;

CREATE OR REPLACE FUNCTION tenancy.managed_member_ids() RETURNS uuid[]
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT tenancy.ids('tenancy.managed_member_ids')
$$;

CREATE OR REPLACE FUNCTION tenancy.is_msc_admin() RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT coalesce(nullif(current_setting('tenancy.is_msc_admin', true), '')::boolean, false)
$$;

CREATE OR REPLACE FUNCTION tenancy.login_email() RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT lower(nullif(current_setting('tenancy.login_email', true), ''))
$$;

CREATE OR REPLACE FUNCTION tenancy.invitation_token_hash() RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT nullif(current_setting('tenancy.invitation_token_hash', true), '')
$$;

CREATE OR REPLACE FUNCTION tenancy.invitation_organization_id() RETURNS uuid
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT nullif(current_setting('tenancy.invitation_organization_id', true), '')::uuid
$$;

CREATE OR REPLACE FUNCTION tenancy.invitation_role() RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT nullif(current_setting('tenancy.invitation_role', true), '')
$$;

CREATE OR REPLACE FUNCTION tenancy.invitation_email() RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT lower(nullif(current_setting('tenancy.invitation_email', true), ''))
$$;

CREATE OR REPLACE FUNCTION tenancy.invitation_facility_ids() RETURNS uuid[]
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT tenancy.ids('tenancy.invitation_facility_ids')
$$;

CREATE OR REPLACE FUNCTION tenancy.password_reset_token_hash() RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT nullif(current_setting('tenancy.password_reset_token_hash', true), '')
$$;

CREATE OR REPLACE FUNCTION tenancy.request_id() RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT nullif(current_setting('tenancy.request_id', true), '')
$$;

CREATE OR REPLACE FUNCTION tenancy.staff_organization_ids() RETURNS uuid[]
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN tenancy.role() IN ('organization_admin', 'msc_representative')
                THEN tenancy.organization_ids() ELSE '{}'::uuid[] END
$$;

CREATE OR REPLACE FUNCTION tenancy.represented_organization_ids() RETURNS uuid[]
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN tenancy.role() = 'msc_representative'
                THEN tenancy.organization_ids() ELSE '{}'::uuid[] END
$$;

CREATE OR REPLACE FUNCTION tenancy.whole_organization_ids() RETURNS uuid[]
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN tenancy.role() IS DISTINCT FROM 'office_manager'
                THEN tenancy.organization_ids() ELSE '{}'::uuid[] END
$$;

CREATE OR REPLACE FUNCTION tenancy.member_organization_ids() RETURNS uuid[]
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT tenancy.ids('tenancy.member_organization_ids')
$$;

CREATE OR REPLACE FUNCTION tenancy.invited_organization_ids() RETURNS uuid[]
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT tenancy.ids('tenancy.invited_organization_id')
$$;

CREATE OR REPLACE FUNCTION tenancy.put(settings jsonb) RETURNS void
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    EXECUTE array_to_string(
        'SET LOCAL citus.propagate_set_commands = ''local'''::text
        || ARRAY(SELECT format('SET LOCAL tenancy.%I = %L', key, coalesce(value, ''))
                   FROM jsonb_each_text(settings)),
        '; ');
END
$$;

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
    managed_member_ids uuid[],
    member_organization_ids uuid[]
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
        'managed_member_ids', '', 'member_organization_ids', '', 'is_msc_admin', '',
        'login_email', '',
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
    member_organization_ids := asker.organization_ids;
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
        'member_organization_ids', array_to_string(member_organization_ids, ','),
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
                ' "assigned_facility_ids": "", "working_facility_ids": "",'
                ' "member_organization_ids": ""}');
            RETURN;
        END IF;
        PERFORM tenancy.put(jsonb_build_object(
            'organization_ids', array_to_string(organization_ids, ',')));
    END IF;
    RETURN NEXT;
END
$$;

CREATE OR REPLACE FUNCTION tenancy.is_cross_tenant(org_id uuid) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT tenancy.is_msc_admin()
       AND coalesce(NOT (org_id = ANY (tenancy.organization_ids())), true)
$$;

CREATE OR REPLACE FUNCTION tenancy.record_audit_event() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    old_row jsonb := to_jsonb(OLD);
    new_row jsonb := CASE WHEN TG_OP = 'UPDATE' THEN to_jsonb(NEW) END;
    row_data jsonb := coalesce(new_row, old_row);
    org_id uuid;
    diff jsonb;
    redacted text;
BEGIN
    IF TG_ARGV[0] <> '' THEN
        org_id := (row_data ->> TG_ARGV[0])::uuid;
    END IF;
    -- outside any organization: the trail's key for none (audit_events' default)
    org_id := coalesce(org_id, tenancy.organization_id(), '00000000-0000-0000-0000-000000000000');
    IF NOT tenancy.records_audit_of(org_id) THEN
        RETURN NULL;
    END IF;

    SELECT coalesce(
               jsonb_object_agg(key, jsonb_build_object('old', old_row -> key,
                                                        'new', new_row -> key)),
               '{}'::jsonb)
      INTO diff
      FROM jsonb_object_keys(row_data) AS key
     WHERE key NOT IN ('created_at', 'updated_at')
       AND (old_row -> key) IS DISTINCT FROM (new_row -> key);

    IF TG_OP = 'UPDATE' AND diff = '{}'::jsonb THEN
        RETURN NULL;
    END IF;

    FOR i IN 1 .. coalesce(TG_NARGS - 1, 0) LOOP
        redacted := TG_ARGV[i];
        IF diff ? redacted THEN
            diff := jsonb_set(diff, ARRAY[redacted], '{"old": "[redacted]", "new": "[redacted]"}');
        END IF;
    END LOOP;

    INSERT INTO public.audit_events (organization_id, actor_user_id, cross_tenant, action,
                              table_name, row_id, changes, request_id)
    VALUES (org_id, tenancy.user_id(), tenancy.is_cross_tenant(org_id), lower(TG_OP),
            tenancy.unsharded(TG_TABLE_NAME), (row_data ->> 'id')::uuid, diff,
            tenancy.request_id());
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION tenancy.record_audit_inserts() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    events text;
BEGIN
    -- One multi-row INSERT ... VALUES of literals: on a Citus worker an INSERT into
    -- audit_events can neither read the transition table nor come from a SELECT (Citus
    -- would copy its rows in, which row-level security refuses).
    SELECT string_agg(format('(%L, %L, %L, %L, %L, %L, %L, %L)',
                             event.org_id, tenancy.user_id(), tenancy.is_cross_tenant(event.org_id),
                             'insert', tenancy.unsharded(TG_TABLE_NAME), event.row_data ->> 'id',
                             event.changes, tenancy.request_id()), ', ')
      INTO events
      FROM (SELECT coalesce(CASE WHEN TG_ARGV[0] <> '' THEN (r.row_data ->> TG_ARGV[0])::uuid END,
                            tenancy.organization_id(),
                            '00000000-0000-0000-0000-000000000000') AS org_id,
                   r.row_data,
                   (SELECT coalesce(jsonb_object_agg(
                               field.key,
                               CASE WHEN field.key = ANY (TG_ARGV[1:])
                                    THEN '{"old": "[redacted]", "new": "[redacted]"}'::jsonb
                                    ELSE jsonb_build_object('old', NULL, 'new', field.value)
                               END), '{}'::jsonb)
                      FROM jsonb_each(r.row_data) AS field
                     WHERE field.key NOT IN ('created_at', 'updated_at')) AS changes
              FROM (SELECT to_jsonb(inserted) AS row_data FROM inserted) AS r) AS event
     WHERE tenancy.records_audit_of(event.org_id);
    IF events IS NOT NULL THEN
        EXECUTE 'INSERT INTO public.audit_events (organization_id, actor_user_id, cross_tenant,'
                ' action, table_name, row_id, changes, request_id) VALUES ' || events;
    END IF;
    RETURN NULL;
END
$$;
"""
