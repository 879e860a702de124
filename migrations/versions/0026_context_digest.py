"""The verified context read as one text, and recognised by its digest once checked.

tenancy.fields() returned the context's fields as an array, splitting the whole context
for every reader of every statement, and checked the signature against the key each
time. From here it returns the fields as the one text they were signed as (each reader
takes its own field with split_part), and a context this session made current after
checking its signature is recognised by its SHA-256, held in two owner-written sequences
(policies/context_key.sql), instead of by its signature: tenancy.fields() is SQL, inlined
into the readers, and asks tenancy.held_digest() for the digest, or
tenancy.checked_fields() to check a context it does not recognise. tenancy.adopt checks
the signature as it makes the context current; tenancy.make_current does the making for
it and for tenancy.put, which signs and checks its ticket in one query.

The functions whose argument or result types change are dropped here and made again
from policies/ at head, with the view the key's check now is (tenancy.verified_fields,
made with the key, before the migrations). Down, the functions of 0025 come back as they
were, with their view; what policies/context_key.sql makes with the key, before the
migrations and whichever way they go (tenancy.verified_fields, tenancy.hmac, the two
sequences, tenancy.signature as head has it), stays, unread by 0025.

Revision ID: 0026
Revises: 0025
Create Date: 2026-11-30
"""

from collections.abc import Sequence

from alembic import op

from app.tenancy.policies import is_citus, run_on_workers, statements

revision: str = "0026"
down_revision: str | None = "0025"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_REPLACED = (
    "tenancy.fields()",
    "tenancy.field(text[], text)",
    "tenancy.scope_for(text[], text[], boolean)",
    "tenancy.is_cross_tenant(text[], uuid)",
    "tenancy.refuse_unverified_change(text[])",
)
_ADDED = (
    "tenancy.fields()",
    "tenancy.field(text, text)",
    "tenancy.scope_for(text, text[], boolean)",
    "tenancy.is_cross_tenant(text, uuid)",
    "tenancy.refuse_unverified_change(text)",
    "tenancy.make_current(text, boolean)",
    "tenancy.int8(bytea)",
    "tenancy.held_digest()",
    "tenancy.checked_fields()",
)


def upgrade() -> None:
    for function in _REPLACED:
        op.execute(f"DROP FUNCTION IF EXISTS {function}")
    # Here only: a Citus worker's copy stays, read by nothing at head. Dropped there, it
    # would be gone before this transaction commits, and the servers of 0025, which keep
    # serving until it does, would read no tenant's rows on that worker meanwhile.
    op.execute("DROP VIEW IF EXISTS tenancy.verified_context")


def downgrade() -> None:
    for function in _ADDED:
        op.execute(f"DROP FUNCTION IF EXISTS {function}")
    for statement in statements(_VIEW_0025):
        _on_every_node(statement)
    op.execute(_FUNCTIONS_0025)


def _on_every_node(statement: str) -> None:
    """Run `statement` here and, on a Citus cluster, on each worker: the key's check is
    each node's own (app/tenancy/policies.py, prepare_context_key)."""
    op.execute(statement)
    if is_citus(op.get_bind()):
        run_on_workers(op.get_bind(), statement)


# The key's check of 0025, as policies/context_key.sql made it then.
_VIEW_0025 = r"""
CREATE OR REPLACE VIEW tenancy.verified_context WITH (security_barrier) AS
SELECT pg_catalog.string_to_array(pg_catalog.substr(c.signed, 65), pg_catalog.chr(31)) AS fields
  FROM tenancy.context_key k,
       (SELECT pg_catalog.current_setting('tenancy.context', true) AS signed) c
 WHERE pg_catalog.encode(
           pg_catalog.sha256(k.outer_pad || pg_catalog.sha256(
               k.inner_pad || pg_catalog.convert_to(pg_catalog.substr(c.signed, 65), 'UTF8'))),
           'hex') = pg_catalog.substr(c.signed, 1, 64);
REVOKE ALL ON tenancy.verified_context FROM PUBLIC;
GRANT SELECT ON tenancy.verified_context TO msc_application;
"""

# The functions of 0025 that this revision changes, as they were.
_FUNCTIONS_0025 = r"""
CREATE OR REPLACE FUNCTION tenancy.fields() RETURNS text[]
LANGUAGE plpgsql STABLE PARALLEL SAFE AS $$
BEGIN
    RETURN (SELECT v.fields FROM tenancy.verified_context v);
END
$$;

CREATE OR REPLACE FUNCTION tenancy.field(fields text[], name text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT nullif(fields[array_position(tenancy.field_names(), name)], '')
$$;

CREATE OR REPLACE FUNCTION tenancy.scope_for(
    fields text[], roles text[], excluding boolean DEFAULT false
) RETURNS uuid[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN coalesce(tenancy.field(fields, 'role') = ANY (roles), false) <> excluding
                THEN tenancy.ids(tenancy.field(fields, 'organization_ids'))
                ELSE '{}'::uuid[] END
$$;

CREATE OR REPLACE FUNCTION tenancy.is_cross_tenant(fields text[], org_id uuid) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$
    SELECT coalesce(tenancy.field(fields, 'is_msc_admin')::boolean, false)
       AND coalesce(NOT (org_id = ANY (tenancy.ids(tenancy.field(fields, 'organization_ids')))),
                    true)
$$;

CREATE OR REPLACE FUNCTION tenancy.refuse_unverified_change(fields text[]) RETURNS void
LANGUAGE plpgsql STABLE AS $$
BEGIN
    -- a member of the service's group role by grant (pg_has_role would count a
    -- superuser in too)
    IF fields IS NULL AND EXISTS (
        SELECT 1 FROM pg_catalog.pg_auth_members m
          JOIN pg_catalog.pg_roles g ON g.oid = m.roleid
          JOIN pg_catalog.pg_roles u ON u.oid = m.member
         WHERE g.rolname = 'msc_application' AND u.rolname = session_user)
    THEN
        RAISE EXCEPTION 'a change of the service''s without a verified tenant context'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
END
$$;

CREATE OR REPLACE FUNCTION tenancy.adopt(context text) RETURNS void
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    EXECUTE format('SET LOCAL citus.propagate_set_commands = %L; SET LOCAL tenancy.context = %L',
                   'local', context);
END
$$;

CREATE OR REPLACE FUNCTION tenancy.put(
    context jsonb,
    ticket text,
    acting_user_id uuid,
    active_organization_id uuid,
    request_id text,
    read_only_statuses text[]
) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    payload text;
    signature text;
BEGIN
    IF ticket IS DISTINCT FROM tenancy.signature(concat_ws(
           chr(31), 'enter', acting_user_id, coalesce(active_organization_id::text, ''),
           coalesce(request_id, ''), coalesce(array_to_string(read_only_statuses, ','), '')))
       OR coalesce(context ->> 'user_id', '') NOT IN ('', acting_user_id::text)
       OR coalesce(context ->> 'request_id', '') IS DISTINCT FROM coalesce(request_id, '')
    THEN
        RAISE EXCEPTION 'only the service''s requests have a tenant context signed'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    SELECT string_agg(coalesce(context ->> f.name, ''), chr(31) ORDER BY f.place)
      INTO payload
      FROM unnest(tenancy.field_names()) WITH ORDINALITY AS f(name, place);
    IF array_length(string_to_array(payload, chr(31)), 1)
       <> array_length(tenancy.field_names(), 1) THEN
        RAISE EXCEPTION 'a field of the tenant context holds the separator U+001F'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    signature := tenancy.signature(payload);
    PERFORM tenancy.adopt(signature || payload);
END
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
    -- the verified context, read once for the event's actor, organization and request
    context text[] := tenancy.fields();
BEGIN
    PERFORM tenancy.refuse_unverified_change(context);
    IF TG_ARGV[0] <> '' THEN
        org_id := (row_data ->> TG_ARGV[0])::uuid;
    END IF;
    -- outside any organization: the trail's key for none (audit_events' default)
    org_id := coalesce(org_id, tenancy.field(context, 'organization_id')::uuid,
                       '00000000-0000-0000-0000-000000000000');
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
    VALUES (org_id, tenancy.field(context, 'user_id')::uuid,
            tenancy.is_cross_tenant(context, org_id), lower(TG_OP),
            tenancy.unsharded(TG_TABLE_NAME), (row_data ->> 'id')::uuid, diff,
            tenancy.field(context, 'request_id'));
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION tenancy.record_audit_inserts() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    events text;
    -- the verified context, read once for the whole statement's events
    context text[] := tenancy.fields();
BEGIN
    PERFORM tenancy.refuse_unverified_change(context);
    -- One multi-row INSERT ... VALUES of literals: on a Citus worker an INSERT into
    -- audit_events can neither read the transition table nor come from a SELECT (Citus
    -- would copy its rows in, which row-level security refuses).
    SELECT string_agg(format('(%L, %L, %L, %L, %L, %L, %L, %L)',
                             event.org_id, tenancy.field(context, 'user_id'),
                             tenancy.is_cross_tenant(context, event.org_id),
                             'insert', tenancy.unsharded(TG_TABLE_NAME), event.row_data ->> 'id',
                             event.changes, tenancy.field(context, 'request_id')), ', ')
      INTO events
      FROM (SELECT coalesce(CASE WHEN TG_ARGV[0] <> '' THEN (r.row_data ->> TG_ARGV[0])::uuid END,
                            tenancy.field(context, 'organization_id')::uuid,
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

CREATE OR REPLACE FUNCTION tenancy.record_access() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    -- the verified context, read once for the reach, the actor and the request
    context text[] := tenancy.fields();
BEGIN
    PERFORM tenancy.refuse_unverified_change(context);
    IF NOT (coalesce(tenancy.field(context, 'is_msc_admin')::boolean, false)
            OR NEW.organization_id
               = ANY (tenancy.ids(tenancy.field(context, 'organization_ids'))))
    THEN
        PERFORM tenancy.raise_for_column(
            'insufficient_privilege',
            'an access is recorded in the trail of an organization in reach only',
            'organization_id');
    END IF;
    INSERT INTO public.audit_events (organization_id, actor_user_id, cross_tenant, action,
                                     table_name, row_id, purpose, request_id)
    VALUES (NEW.organization_id, tenancy.field(context, 'user_id')::uuid,
            tenancy.is_cross_tenant(context, NEW.organization_id), 'access', NEW.table_name,
            NEW.row_id, NEW.purpose, tenancy.field(context, 'request_id'));
    RETURN NULL;
END
$$;
"""
