-- Shared pieces of the tenancy model: the request context as read by every policy,
-- and the trigger functions that keep timestamps and the audit trail.
--
-- The context is one transaction-local setting, `tenancy.context`, made by the
-- application (app/tenancy/context.py, which says why with SET LOCAL) or by tenancy.enter
-- below: the fields' HMAC-SHA-256 under the context key, in hex, then the fields, in the
-- order tenancy.field_names() lists them, separated by U+001F. Everything below reads it
-- through tenancy.fields(), which yields the fields only when their signature is the
-- key's (policies/context_key.sql): a context that code running SQL as the application
-- role sets for itself, without the key, is no context. After a transaction ends the
-- setting reads '' on that connection, which is no context either: an unset context denies.

CREATE SCHEMA IF NOT EXISTS tenancy;
GRANT USAGE ON SCHEMA tenancy TO msc_application;

-- The context's fields by name; TenantContext.settings() (app/tenancy/context.py) writes
-- them in this order (tests/test_verified_context.py checks that the two agree).
CREATE OR REPLACE FUNCTION tenancy.field_names() RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT ARRAY['user_id', 'organization_id', 'role', 'organization_ids', 'facility_ids',
                 'assigned_facility_ids', 'working_facility_ids', 'managed_member_ids',
                 'member_organization_ids', 'is_msc_admin', 'login_email',
                 'invitation_token_hash', 'invitation_organization_id', 'invitation_role',
                 'invitation_email', 'invitation_facility_ids', 'invited_organization_id',
                 'password_reset_token_hash', 'request_id']
$$;

-- The first 16 bytes of the SHA-256 of the context this session last made current with
-- its signature checked (policies/context_key.sql), which tenancy.fields() below compares
-- with the context's. PL/pgSQL and STABLE, so that the volatile currval stays out of the
-- policies tenancy.fields() is inlined into (a Citus cluster refuses a volatile function
-- in the WHERE clause of a change).
CREATE OR REPLACE FUNCTION tenancy.held_digest() RETURNS bytea
LANGUAGE plpgsql STABLE PARALLEL RESTRICTED AS $$
BEGIN
    RETURN pg_catalog.int8send(pg_catalog.currval('tenancy.held_context_digest_1'))
           OPERATOR(pg_catalog.||)
           pg_catalog.int8send(pg_catalog.currval('tenancy.held_context_digest_2'));
END
$$;

-- The context's fields when its signature is the key's (tenancy.verified_fields), else
-- NULL: what tenancy.fields() below takes for a context it does not recognise. PL/pgSQL,
-- not SQL: it keeps its query's plan for the session, where a SQL function called from a
-- new statement plans its query again.
CREATE OR REPLACE FUNCTION tenancy.checked_fields() RETURNS text
LANGUAGE plpgsql STABLE PARALLEL RESTRICTED AS $$
BEGIN
    RETURN (SELECT v.fields FROM tenancy.verified_fields v);
END
$$;

-- The verified context's fields (joined by U+001F, as signed), or NULL. The context this
-- session made current with its signature checked (tenancy.make_current) is recognised
-- by its digest, which costs a SHA-256 of its text; any other has its signature checked
-- against the key (tenancy.checked_fields): one the application role set for itself, or
-- any on a Citus worker, whose session holds no digest. Either way each call checks
-- anew, which is why a policy wraps each reader's call so that it runs once per
-- statement, and why a reader that needs several fields takes them from one call.
-- SQL, so that the recognition is inlined into the readers and the policies: no function
-- call but tenancy.held_digest(), and that only once `tenancy.context_held` says this
-- transaction holds a digest (in a session that never held one, currval raises an
-- error: the role setting the flag itself earns that error, nothing more). Inlined, it
-- is read in the caller's search path: every name is the catalog's, qualified (and the
-- role may create nothing anywhere: tests/test_catalogue.py).
-- PARALLEL RESTRICTED, as is every reader of it: a parallel worker has the flag but not
-- the session's currval. (A policy's wrapped call runs once, in the leader, and a
-- parallel plan still takes its value.)
CREATE OR REPLACE FUNCTION tenancy.fields() RETURNS text
LANGUAGE sql STABLE PARALLEL RESTRICTED AS $$
    SELECT CASE WHEN coalesce(pg_catalog.current_setting('tenancy.context_held', true), '')
                         OPERATOR(pg_catalog.=) 'on'
                     AND pg_catalog.substr(pg_catalog.sha256(pg_catalog.convert_to(
                             pg_catalog.current_setting('tenancy.context', true), 'UTF8')), 1, 16)
                         OPERATOR(pg_catalog.=) tenancy.held_digest()
                THEN pg_catalog.substr(pg_catalog.current_setting('tenancy.context', true), 65)
                ELSE tenancy.checked_fields() END
$$;

-- One field of `fields` (tenancy.fields()), NULL when empty. With a constant name the
-- planner finds the field's place once, as it plans.
CREATE OR REPLACE FUNCTION tenancy.field(fields text, name text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT nullif(split_part(fields, chr(31), array_position(tenancy.field_names(), name)), '')
$$;

-- A field that holds a set of ids (comma-separated uuids), as an array: empty when unset.
CREATE OR REPLACE FUNCTION tenancy.ids(field text) RETURNS uuid[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT coalesce(string_to_array(field, ',')::uuid[], '{}'::uuid[])
$$;

CREATE OR REPLACE FUNCTION tenancy.user_id() RETURNS uuid
LANGUAGE sql STABLE PARALLEL RESTRICTED AS $$
    SELECT tenancy.field(tenancy.fields(), 'user_id')::uuid
$$;

-- The organization the request acts for (the token's active organization).
CREATE OR REPLACE FUNCTION tenancy.organization_id() RETURNS uuid
LANGUAGE sql STABLE PARALLEL RESTRICTED AS $$
    SELECT tenancy.field(tenancy.fields(), 'organization_id')::uuid
$$;

-- The user's role in the active organization.
CREATE OR REPLACE FUNCTION tenancy.role() RETURNS text
LANGUAGE sql STABLE PARALLEL RESTRICTED AS $$
    SELECT tenancy.field(tenancy.fields(), 'role')
$$;

-- The organizations in scope: the active one, plus its descendants for an
-- organization admin or an MSC representative (and for a representative, while
-- tenancy.enter resolves the context, the organizations they represent).
CREATE OR REPLACE FUNCTION tenancy.organization_ids() RETURNS uuid[]
LANGUAGE sql STABLE PARALLEL RESTRICTED AS $$
    SELECT tenancy.ids(tenancy.field(tenancy.fields(), 'organization_ids'))
$$;

-- The facilities an office manager manages (empty for every other role).
CREATE OR REPLACE FUNCTION tenancy.facility_ids() RETURNS uuid[]
LANGUAGE sql STABLE PARALLEL RESTRICTED AS $$
    SELECT tenancy.ids(tenancy.field(tenancy.fields(), 'facility_ids'))
$$;

-- The small sets a policy of a tenant table would otherwise look up in another table,
-- resolved once per request by tenancy.enter and carried in the context: on a Citus
-- cluster a policy of a distributed table is evaluated on the shard, where a function
-- that reads any of the cluster's tables is a nested distributed query, which Citus
-- refuses (tests/test_catalogue.py holds the tenant tables' policies to the context).
-- Being the context, they are as of the transaction's start, as the role and the scope
-- are: a change of assignments reaches the policies on the next request (or the next
-- use_context of a context resolved again).

-- The facilities of the caller's own assignments, at every organization, in any status.
CREATE OR REPLACE FUNCTION tenancy.assigned_facility_ids() RETURNS uuid[]
LANGUAGE sql STABLE PARALLEL RESTRICTED AS $$
    SELECT tenancy.ids(tenancy.field(tenancy.fields(), 'assigned_facility_ids'))
$$;

-- The facilities of the caller's ACTIVE assignments: where a provider may place orders.
CREATE OR REPLACE FUNCTION tenancy.working_facility_ids() RETURNS uuid[]
LANGUAGE sql STABLE PARALLEL RESTRICTED AS $$
    SELECT tenancy.ids(tenancy.field(tenancy.fields(), 'working_facility_ids'))
$$;

-- An office manager's people: the users assigned (in any status) to the facilities they
-- manage (empty for every other role).
CREATE OR REPLACE FUNCTION tenancy.managed_member_ids() RETURNS uuid[]
LANGUAGE sql STABLE PARALLEL RESTRICTED AS $$
    SELECT tenancy.ids(tenancy.field(tenancy.fields(), 'managed_member_ids'))
$$;

CREATE OR REPLACE FUNCTION tenancy.is_msc_admin() RETURNS boolean
LANGUAGE sql STABLE PARALLEL RESTRICTED AS $$
    SELECT coalesce(tenancy.field(tenancy.fields(), 'is_msc_admin')::boolean, false)
$$;

-- Set only by the login transaction, so the password check can read one user row
-- before anyone is authenticated.
CREATE OR REPLACE FUNCTION tenancy.login_email() RETURNS text
LANGUAGE sql STABLE PARALLEL RESTRICTED AS $$
    SELECT lower(tenancy.field(tenancy.fields(), 'login_email'))
$$;

-- Whether the transaction is a login's (tenancy.login_email set). A function, so that a
-- policy tests it without an IS NULL of its own: Citus 13 cannot pass a policy holding
-- `f() IS NULL` on to its workers ("unrecognized node type").
CREATE OR REPLACE FUNCTION tenancy.is_logging_in() RETURNS boolean
LANGUAGE sql STABLE PARALLEL RESTRICTED AS $$
    SELECT tenancy.login_email() IS NOT NULL
$$;

-- Set only while an invitation is looked up or accepted: the SHA-256 (hex) of the
-- presented token. It opens that invitation's row, and its acceptance.
CREATE OR REPLACE FUNCTION tenancy.invitation_token_hash() RETURNS text
LANGUAGE sql STABLE PARALLEL RESTRICTED AS $$
    SELECT tenancy.field(tenancy.fields(), 'invitation_token_hash')
$$;

-- The presented invitation, set only while it is accepted: its organization, role,
-- email and facilities, as the application read them under the token's capability and
-- found the invitation open, with its row locked until the transaction ends
-- (app/domain/invitations.py, accept). They are the capability that lets the new
-- member's account, membership and assignments be written (the predicates further down).
CREATE OR REPLACE FUNCTION tenancy.invitation_organization_id() RETURNS uuid
LANGUAGE sql STABLE PARALLEL RESTRICTED AS $$
    SELECT tenancy.field(tenancy.fields(), 'invitation_organization_id')::uuid
$$;

CREATE OR REPLACE FUNCTION tenancy.invitation_role() RETURNS text
LANGUAGE sql STABLE PARALLEL RESTRICTED AS $$
    SELECT tenancy.field(tenancy.fields(), 'invitation_role')
$$;

CREATE OR REPLACE FUNCTION tenancy.invitation_email() RETURNS text
LANGUAGE sql STABLE PARALLEL RESTRICTED AS $$
    SELECT lower(tenancy.field(tenancy.fields(), 'invitation_email'))
$$;

CREATE OR REPLACE FUNCTION tenancy.invitation_facility_ids() RETURNS uuid[]
LANGUAGE sql STABLE PARALLEL RESTRICTED AS $$
    SELECT tenancy.ids(tenancy.field(tenancy.fields(), 'invitation_facility_ids'))
$$;

-- Set only while a password reset link is used: the SHA-256 (hex) of its token. It opens
-- that link's row, to mark it used.
CREATE OR REPLACE FUNCTION tenancy.password_reset_token_hash() RETURNS text
LANGUAGE sql STABLE PARALLEL RESTRICTED AS $$
    SELECT tenancy.field(tenancy.fields(), 'password_reset_token_hash')
$$;

CREATE OR REPLACE FUNCTION tenancy.request_id() RETURNS text
LANGUAGE sql STABLE PARALLEL RESTRICTED AS $$
    SELECT tenancy.field(tenancy.fields(), 'request_id')
$$;

-- The reach functions below stand in for what a policy would otherwise spell out with
-- several settings or a subquery: a policy wraps each in (SELECT ...), or a set of ids in
-- IN (SELECT unnest(...)), so it runs once per statement, and only if a row reaches that
-- branch; fewer such calls keep planning short. The staff's reach into users, and into
-- their credentials and documents, goes through the organizations the row itself names
-- instead (users.organization_ids and its copies, owner_organization_ids, written with the
-- memberships: app/domain/members.py), which costs nothing per statement.
-- Those wrappers are the only subqueries a policy holds: a Citus cluster refuses any
-- subquery in the policy of a distributed table, so there the files are applied with
-- each call bare (app/tenancy/policies.py), evaluated for every row. A bare call here
-- costs a list four to five times what the policies cost it wrapped (bench/RESULTS.md,
-- "Policies a Citus cluster accepts"). A rule that must look at another table's row
-- calls a STABLE predicate (further down) instead of holding an EXISTS.

-- The scope (organization_ids of `fields`) when the role is one of `roles` (with
-- `excluding`, when it is none of them, no role included), else empty: what the reach
-- functions below return, each from one verified context. PL/pgSQL, which keeps its
-- plan for the session: it reads `fields` twice, so a SQL function would not be inlined
-- and would plan its query at every statement that calls it.
CREATE OR REPLACE FUNCTION tenancy.scope_for(
    fields text, roles text[], excluding boolean DEFAULT false
) RETURNS uuid[]
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
BEGIN
    RETURN CASE WHEN coalesce(tenancy.field(fields, 'role') = ANY (roles), false) <> excluding
                THEN tenancy.ids(tenancy.field(fields, 'organization_ids'))
                ELSE '{}'::uuid[] END;
END
$$;

-- The organizations whose members, and their rows, the caller reads as a whole: the
-- scope of an organization admin or of an MSC representative (empty for every other
-- role). Select policies only (representatives write nothing: may_write_tenant_data);
-- one branch for both, where a branch each would cost the planner and every row.
CREATE OR REPLACE FUNCTION tenancy.staff_organization_ids() RETURNS uuid[]
LANGUAGE sql STABLE PARALLEL RESTRICTED AS $$
    SELECT tenancy.scope_for(tenancy.fields(), ARRAY['organization_admin', 'msc_representative'])
$$;

-- The organizations an MSC representative reads: the scope (empty for every other role).
-- Their clauses are in the tables' SELECT policies alone; what they may not write,
-- tenancy.may_write_tenant_data says.
CREATE OR REPLACE FUNCTION tenancy.represented_organization_ids() RETURNS uuid[]
LANGUAGE sql STABLE PARALLEL RESTRICTED AS $$
    SELECT tenancy.scope_for(tenancy.fields(), ARRAY['msc_representative'])
$$;

-- Whether the caller may write tenant data at all (what each table's own policies then
-- allow): everyone but an MSC representative, who reads the organizations they represent
-- and changes nothing in them, even where another policy would let them (their own
-- credentials and documents, which they keep up when acting as a member) or code lends
-- their request MSC reach (system_context).
-- Every table holding organizations' data refuses their writes through it, in whichever
-- transaction of the session they come: the role it reads is applied anew with each one.
-- The person's own account (users, mfa_recovery_codes, password_resets) stays theirs to
-- keep up, like anyone's; audit_events, written only by the audit triggers, records that
-- upkeep too.
CREATE OR REPLACE FUNCTION tenancy.may_write_tenant_data() RETURNS boolean
LANGUAGE sql STABLE PARALLEL RESTRICTED AS $$
    SELECT tenancy.role() IS DISTINCT FROM 'msc_representative'
$$;

-- BEFORE INSERT OR UPDATE OR DELETE statement trigger, `<table>_may_write` on each table
-- holding organizations' data: the refusal holds whatever the policies admit, and is an
-- error, for a delete as for an insert or update, even when no row would be touched (on
-- one server; on a Citus cluster, a statement that reaches no shard fires no trigger).
-- A trigger and not a RESTRICTIVE policy: Citus 13 gives a table's shards its
-- restrictive policies as permissive ones, and a permissive `USING (true)` would open
-- every row to every write there.
CREATE OR REPLACE FUNCTION tenancy.refuse_representatives_writes() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NOT tenancy.may_write_tenant_data() THEN
        RAISE EXCEPTION 'an MSC representative writes no data of organizations (%)',
                        tenancy.unsharded(TG_NAME)
            USING ERRCODE = 'insufficient_privilege', TABLE = tenancy.unsharded(TG_TABLE_NAME);
    END IF;
    RETURN NULL;
END
$$;

-- BEFORE statement trigger of the exclusion lists' tables (policies/exclusion_lists.sql,
-- exclusion_entries.sql): only the service (a job, the command
-- line, in TenantContext.system) or an MSC admin writes them. A trigger rather than
-- policies, because COPY, which the import streams with, is refused on a table with
-- row-level security; a statement trigger fires for COPY as for INSERT.
CREATE OR REPLACE FUNCTION tenancy.refuse_list_writes() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    -- (an MSC representative lent MSC reach is still a representative: they write
    -- nothing, here as in the tenants' tables)
    IF NOT (coalesce(tenancy.is_msc_admin(), false) AND tenancy.may_write_tenant_data()) THEN
        RAISE EXCEPTION 'the exclusion lists are written by their import alone (%)',
                        tenancy.unsharded(TG_TABLE_NAME)
            USING ERRCODE = 'insufficient_privilege', TABLE = tenancy.unsharded(TG_TABLE_NAME);
    END IF;
    RETURN NULL;
END
$$;

-- The organizations in scope whose every facility the caller reaches: all of them,
-- except for an office manager, who reaches only the facilities they manage.
CREATE OR REPLACE FUNCTION tenancy.whole_organization_ids() RETURNS uuid[]
LANGUAGE sql STABLE PARALLEL RESTRICTED AS $$
    SELECT tenancy.scope_for(tenancy.fields(), ARRAY['office_manager'], excluding => true)
$$;

-- The organizations the caller belongs to (in any role, active or not): everyone sees
-- the organizations they may switch to. (Read by the organizations policy alone.) The
-- caller's users.organization_ids, which the domain keeps equal to their memberships'
-- organizations (policies/users.sql), carried in the context (tenancy.enter reads it):
-- a policy of organizations, a table every node of a Citus cluster holds, may be
-- evaluated on a worker, which reads no table of the cluster from there.
CREATE OR REPLACE FUNCTION tenancy.member_organization_ids() RETURNS uuid[]
LANGUAGE sql STABLE PARALLEL RESTRICTED AS $$
    SELECT tenancy.ids(tenancy.field(tenancy.fields(), 'member_organization_ids'))
$$;

-- The organization of the invitation whose token the caller presents (whatever its
-- status: the invitee sees where they are invited), set once the token has found the
-- invitation (app/domain/invitations.py, find_by_token). A setting, not a look-up of the
-- invitations: a policy of organizations, a table every node holds, may be evaluated on
-- a worker, which cannot read the invitations on the others.
CREATE OR REPLACE FUNCTION tenancy.invited_organization_ids() RETURNS uuid[]
LANGUAGE sql STABLE PARALLEL RESTRICTED AS $$
    SELECT tenancy.ids(tenancy.field(tenancy.fields(), 'invited_organization_id'))
$$;

-- Predicates for the one row a policy answers for. Those of an acceptance read the
-- presented invitation's settings: the tables it writes are tenant tables.

-- Whether the presented invitation admits a membership of `organization` in
-- `member_role`.
CREATE OR REPLACE FUNCTION tenancy.invitation_admits_membership(
    organization uuid, member_role text
) RETURNS boolean
LANGUAGE sql STABLE PARALLEL RESTRICTED AS $$
    SELECT coalesce(organization = tenancy.invitation_organization_id()
                    AND member_role = tenancy.invitation_role(), false)
$$;

-- Whether the presented invitation admits an assignment at `facility` of `organization`.
CREATE OR REPLACE FUNCTION tenancy.invitation_admits_assignment(organization uuid, facility uuid)
RETURNS boolean
LANGUAGE sql STABLE PARALLEL RESTRICTED AS $$
    SELECT coalesce(organization = tenancy.invitation_organization_id()
                    AND facility = ANY (tenancy.invitation_facility_ids()), false)
$$;

-- Whether the presented invitation is addressed to `account_email` (the account it
-- creates).
CREATE OR REPLACE FUNCTION tenancy.invitation_admits_account(account_email text)
RETURNS boolean
LANGUAGE sql STABLE PARALLEL RESTRICTED AS $$
    SELECT coalesce(lower(account_email) = tenancy.invitation_email(), false)
$$;

-- The predicates below read other tables as the caller (SECURITY INVOKER), so what they
-- find is what the caller could read; only policies of tables that stay on the
-- coordinator or become reference tables call them. PL/pgSQL, not SQL: Citus plans no
-- SQL function whose query takes the function's arguments and reads one of its tables.
-- (Applied at head, when the tables exist.)

-- Whether the caller sees invitation `invitation` of `organization` (the invitations
-- policy decides): staff manage the emails of the invitations they manage.
CREATE OR REPLACE FUNCTION tenancy.sees_invitation(organization uuid, invitation uuid)
RETURNS boolean
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN EXISTS (SELECT 1 FROM invitations i
                    WHERE i.organization_id = organization AND i.id = invitation);
END
$$;

-- The HMAC-SHA-256 (hex) of `message` under the context key, as the view
-- tenancy.verified_fields computes it (policies/context_key.sql) and the application does
-- (app/tenancy/signing.py); NULL without a key. The owner's alone, as is the key: whoever
-- could call it could sign any context.
CREATE OR REPLACE FUNCTION tenancy.signature(message text) RETURNS text
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    RETURN (SELECT tenancy.hmac(k, message) FROM tenancy.context_key k);
END
$$;
REVOKE ALL ON FUNCTION tenancy.signature(text) FROM PUBLIC;

-- Make `context`, a signed context, the transaction's, with `SET LOCAL` and
-- citus.propagate_set_commands = 'local' first, so that on a Citus cluster it reaches the
-- workers too; and when its signature is `checked` (the caller has just checked or made
-- it), hold its digest for tenancy.fields() (policies/context_key.sql says why that is
-- safe). The owner's alone: called by tenancy.adopt and tenancy.put.
-- (The flag is set with set_config, which Citus does not pass on: a worker's session
-- holds no digest, and checks the signature.)
CREATE OR REPLACE FUNCTION tenancy.make_current(context text, checked boolean) RETURNS void
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    digest bytea := sha256(convert_to(context, 'UTF8'));
BEGIN
    PERFORM set_config('citus.propagate_set_commands', 'local', true);
    EXECUTE format('SET LOCAL tenancy.context = %L', context);
    -- (a read-only transaction, or a standby, sets no sequence: its readers check the
    -- signature)
    IF checked AND NOT current_setting('transaction_read_only')::boolean THEN
        PERFORM setval('tenancy.held_context_digest_1', tenancy.int8(substring(digest FROM 1 FOR 8))),
                setval('tenancy.held_context_digest_2', tenancy.int8(substring(digest FROM 9 FOR 8))),
                set_config('tenancy.context_held', 'on', true);
    END IF;
END
$$;
REVOKE ALL ON FUNCTION tenancy.make_current(text, boolean) FROM PUBLIC;

-- Eight bytes as the bigint whose int8send they are (big-endian, two's complement).
CREATE OR REPLACE FUNCTION tenancy.int8(bytes bytea) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT ('x' || encode(bytes, 'hex'))::bit(64)::bigint
$$;

-- Make `context`, a signed context (the value of tenancy.context: app/tenancy/context.py),
-- the transaction's: the application's way, with the context as a bind parameter. A
-- context whose signature is not the key's is made the transaction's too, as no context:
-- whatever context was there before is gone. SECURITY DEFINER, to check the signature
-- with the key and hold the digest of a context that passes; reading no other table (as
-- tenancy.put).
CREATE OR REPLACE FUNCTION tenancy.adopt(context text) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    PERFORM tenancy.make_current(
        context, coalesce(tenancy.signature(substr(context, 65)) = substr(context, 1, 64), false));
END
$$;

-- Sign `context` (field name to value; a field it lacks is '') and make it the
-- transaction's: tenancy.enter's way to apply each step of what it resolves, for the
-- service's request the other arguments name. `ticket` is the service's signature of
-- that request (app/tenancy/signing.py, enter_ticket): it is what lets the caller have a
-- context signed, for the request's user (or no one) and request id alone. The service
-- sends it as a bind parameter, which no other session sees and no later statement of
-- the transaction can read back; code running SQL as the application role without the
-- key has none to give. SECURITY DEFINER, to read the key, and reading no other table:
-- on a Citus cluster a function running as the owner may not touch a table the
-- transaction changed as the application role (the key is each node's own).
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
    vouched boolean;
    payload text;
    signature text;
BEGIN
    -- one query: the ticket's check, the fields in order, and their signature
    SELECT ticket IS NOT DISTINCT FROM tenancy.hmac(k, concat_ws(
               chr(31), 'enter', acting_user_id, coalesce(active_organization_id::text, ''),
               coalesce(request_id, ''), coalesce(array_to_string(read_only_statuses, ','), ''))),
           f.payload, tenancy.hmac(k, f.payload)
      INTO vouched, payload, signature
      FROM tenancy.context_key k,
           (SELECT string_agg(coalesce(context ->> n.name, ''), chr(31) ORDER BY n.place) AS payload
              FROM unnest(tenancy.field_names()) WITH ORDINALITY AS n(name, place)) f;
    IF NOT coalesce(vouched, false)
       OR coalesce(context ->> 'user_id', '') NOT IN ('', acting_user_id::text)
       OR coalesce(context ->> 'request_id', '') IS DISTINCT FROM coalesce(request_id, '')
    THEN
        RAISE EXCEPTION 'only the service''s requests have a tenant context signed'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF array_length(string_to_array(payload, chr(31)), 1)
       <> array_length(tenancy.field_names(), 1) THEN
        RAISE EXCEPTION 'a field of the tenant context holds the separator U+001F'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM tenancy.make_current(signature || payload, true);
END
$$;

-- Resolve who is asking and apply it, in one statement per request: the request's
-- first round trip. Runs as the caller (SECURITY INVOKER), so every row it reads is one
-- the policies show at that step, exactly as if each step were its own statement; each
-- step's context is signed by tenancy.put, for the request that `ticket`, the service's
-- signature of the arguments (app/tenancy/signing.py, enter_ticket), vouches for:
--   1. only the user id: the policies show the user's own row, memberships and
--      assignments (whose facilities, and active ones, are the assigned and working
--      facilities);
--   2. the role in the active organization, and that organization as the scope;
--   3. an office manager's managed facilities, and then the people assigned to them, or
--      an organization admin's descendants (the organizations policy shows them through
--      ancestor_ids once step 2 is set).
-- An MSC representative who is no member of the organization asked for acts for it as
-- its representative: step 2 takes the role msc_representative, with the organizations
-- they represent as the scope, for which the organizations policy shows their subtrees;
-- step 3 then finds the organization asked for among them, and its subtree becomes the
-- scope, as an organization admin's does.
-- Returns one row (the context), or none, with every setting cleared, when the user is
-- unknown or deactivated, or no longer a member (or representative) of the organization
-- asked for.
-- `read_only_statuses`: organization statuses whose rows may be read but not written,
-- passed by the caller (app/tenancy/read_only.py holds that rule).
CREATE OR REPLACE FUNCTION tenancy.enter(
    acting_user_id uuid,
    active_organization_id uuid,
    request_id text,
    read_only_statuses text[],
    ticket text
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
    -- the context so far; each step adds to it and signs it whole
    context jsonb := jsonb_build_object('user_id', acting_user_id, 'request_id', request_id);
    -- what is left of it when the asker is refused: no one
    refused CONSTANT jsonb := jsonb_build_object('request_id', request_id);
BEGIN
    PERFORM tenancy.put(context, ticket, acting_user_id, active_organization_id, request_id,
                        read_only_statuses);

    SELECT u.is_msc_admin, u.is_msc_representative, u.is_active, u.organization_ids
      INTO asker
      FROM public.users u
     WHERE u.id = acting_user_id;
    IF NOT FOUND THEN
        PERFORM tenancy.put(refused, ticket, acting_user_id, active_organization_id, request_id,
                            read_only_statuses);
        RETURN;
    END IF;
    -- The membership apart, and only for an organization asked for: Citus 13 fails on a
    -- distribution column compared with a NULL parameter.
    IF active_organization_id IS NOT NULL THEN
        SELECT m.role, o.status
          INTO member_role, organization_status
          FROM public.memberships m
          LEFT JOIN public.organizations o ON o.id = m.organization_id
         WHERE m.organization_id = active_organization_id AND m.user_id = acting_user_id;
    END IF;
    IF NOT asker.is_active
       OR (active_organization_id IS NOT NULL AND member_role IS NULL
           AND NOT asker.is_msc_admin AND NOT asker.is_msc_representative)
    THEN
        PERFORM tenancy.put(refused, ticket, acting_user_id, active_organization_id, request_id,
                            read_only_statuses);
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
      FROM public.provider_facilities pf
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
          FROM public.organizations o
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
    context := context || jsonb_build_object(
        'organization_id', organization_id, 'role', role,
        'organization_ids', array_to_string(organization_ids, ','),
        'assigned_facility_ids', array_to_string(assigned_facility_ids, ','),
        'working_facility_ids', array_to_string(working_facility_ids, ','),
        'member_organization_ids', array_to_string(member_organization_ids, ','),
        'is_msc_admin', CASE WHEN is_msc_admin THEN 'true' ELSE '' END);
    PERFORM tenancy.put(context, ticket, acting_user_id, active_organization_id, request_id,
                        read_only_statuses);

    IF role = 'office_manager' THEN
        SELECT coalesce(array_agg(f.id ORDER BY f.id), '{}'::uuid[])
          INTO facility_ids
          FROM public.facilities f
         WHERE f.organization_id = active_organization_id
           AND f.office_manager_id = acting_user_id;
        context := context || jsonb_build_object('facility_ids', array_to_string(facility_ids, ','));
        PERFORM tenancy.put(context, ticket, acting_user_id, active_organization_id, request_id,
                            read_only_statuses);
        -- the policy shows the assignments at those facilities once they are set
        SELECT coalesce(array_agg(DISTINCT pf.user_id), '{}'::uuid[])
          INTO managed_member_ids
          FROM public.provider_facilities pf
         WHERE pf.organization_id = active_organization_id
           AND pf.facility_id = ANY (facility_ids);
        context := context
            || jsonb_build_object('managed_member_ids', array_to_string(managed_member_ids, ','));
        PERFORM tenancy.put(context, ticket, acting_user_id, active_organization_id, request_id,
                            read_only_statuses);
    ELSIF role IN ('organization_admin', 'msc_representative') THEN
        -- The subtree of the organization asked for, as far as the policy shows it: an
        -- organization admin's always holds their own organization; a representative's
        -- holds it only when it is one they represent or a descendant of one.
        -- Walked down parent_organization_id, level by level, by its index: under
        -- row-level security only a leakproof comparison (uuid's =) may reach an index, so
        -- `ancestor_ids @> ARRAY[...]` read every organization of the region, each through
        -- the policy. It finds what that read found as long as the policy shows every
        -- organization between the one asked for and the ones below it, as it does: a
        -- subtree whole (UNION, not UNION ALL: a walk ends even on a cycle).
        WITH RECURSIVE subtree AS (
            SELECT o.id, o.status FROM public.organizations o WHERE o.id = active_organization_id
            UNION
            SELECT c.id, c.status
              FROM public.organizations c JOIN subtree s ON c.parent_organization_id = s.id
        )
        SELECT bool_or(o.id = active_organization_id),
               active_organization_id
                   || coalesce(array_agg(o.id ORDER BY o.id)
                                   FILTER (WHERE o.id <> active_organization_id),
                               '{}'::uuid[]),
               coalesce(array_agg(o.id ORDER BY o.id)
                            FILTER (WHERE o.status = ANY (read_only_statuses)),
                        '{}'::uuid[])
          INTO in_organization, organization_ids, read_only_organization_ids
          FROM subtree o;
        IF NOT coalesce(in_organization, false) THEN
            PERFORM tenancy.put(refused, ticket, acting_user_id, active_organization_id, request_id,
                                read_only_statuses);
            RETURN;
        END IF;
        context := context
            || jsonb_build_object('organization_ids', array_to_string(organization_ids, ','));
        PERFORM tenancy.put(context, ticket, acting_user_id, active_organization_id, request_id,
                            read_only_statuses);
    END IF;
    RETURN NEXT;
END
$$;

-- Refuse a write because of one column's value: the error names the column, which the
-- application reports as the field at fault (app/errors.py). As the error's COLUMN, and
-- again in its DETAIL: a Citus cluster passes on only the message, detail and hint of an
-- error raised on a worker's shard.
CREATE OR REPLACE FUNCTION tenancy.raise_for_column(code text, message text, field text)
RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION USING ERRCODE = code, MESSAGE = message, COLUMN = field,
                          DETAIL = 'column ' || field;
END
$$;

-- A trigger's table (TG_TABLE_NAME) or name (TG_NAME) as the application knows it: on a
-- Citus cluster a trigger fires on a shard, whose table and triggers are named
-- `<name>_<shard id>`. (No table or trigger of ours ends in digits.)
CREATE OR REPLACE FUNCTION tenancy.unsharded(name text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT regexp_replace(name, '_[0-9]+$', '')
$$;

-- updated_at: when the statement that last changed the row ran. The models' updates set
-- it themselves (app/models/base.py, Timestamps), so that on a Citus cluster, where an
-- update of a reference table runs on every node's copy, the coordinator evaluates it
-- once and every copy holds the same value; this trigger sets it for a statement that
-- did not.
CREATE OR REPLACE FUNCTION tenancy.set_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.updated_at IS NOT DISTINCT FROM OLD.updated_at THEN
        NEW.updated_at := statement_timestamp();
    END IF;
    RETURN NEW;
END
$$;

-- BEFORE UPDATE trigger: the columns named in TG_ARGV change only in an MSC admin's
-- context. The policies say which rows a role may update; this says which columns.
CREATE OR REPLACE FUNCTION tenancy.guard_msc_columns() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    old_row jsonb := to_jsonb(OLD);
    new_row jsonb := to_jsonb(NEW);
BEGIN
    IF NOT tenancy.is_msc_admin() THEN
        FOR i IN 0 .. TG_NARGS - 1 LOOP
            IF (old_row -> TG_ARGV[i]) IS DISTINCT FROM (new_row -> TG_ARGV[i]) THEN
                PERFORM tenancy.raise_for_column(
                    'insufficient_privilege',
                    format('only MSC admins may change %s.%s', tenancy.unsharded(TG_TABLE_NAME), TG_ARGV[i]),
                    TG_ARGV[i]);
            END IF;
        END LOOP;
    END IF;
    RETURN NEW;
END
$$;

-- Whether an audit event for `org_id`, made in the verified context `fields`
-- (tenancy.fields()), records an MSC admin acting outside their own organizations (the
-- audit trail's cross-tenant flag).
CREATE OR REPLACE FUNCTION tenancy.is_cross_tenant(fields text, org_id uuid) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$
    SELECT coalesce(tenancy.field(fields, 'is_msc_admin')::boolean, false)
       AND coalesce(NOT (org_id = ANY (tenancy.ids(tenancy.field(fields, 'organization_ids')))),
                    true)
$$;

-- The audit trigger functions. Their arguments: TG_ARGV[0], the column holding the row's
-- organization ('' for global rows such as users; a NULL or absent organization means
-- the acting one, and outside any, the nil UUID: no organization); TG_ARGV[1..], columns
-- whose values are redacted. Every event's
-- `changes` maps each column (but created_at and updated_at) to its old and new value.
-- SECURITY DEFINER: the application role holds no INSERT on audit_events, so the
-- trail holds only what these functions write, under the session's real context. Their
-- search path is pinned with pg_temp last (unlisted, it would be searched first) and
-- they name the trail by its schema: no temporary table of the caller's can stand in
-- for it (tests/test_catalogue.py holds every such function to this; the database also
-- grants temporary tables to no one but the owner, app/tenancy/roles.py).

-- Whether this is a worker node of a Citus cluster. A change to a reference table
-- (organizations, users, ...) is made to every node's copy and fires each copy's
-- triggers; a check that must read a distributed table is made on the coordinator's copy
-- alone, as a worker's copy cannot query the other workers. Plain PostgreSQL: false.
CREATE OR REPLACE FUNCTION tenancy.on_worker_node() RETURNS boolean
LANGUAGE plpgsql STABLE AS $$
BEGIN
    IF to_regproc('pg_catalog.citus_is_coordinator') IS NULL THEN
        RETURN false;  -- no Citus (planned apart: the call below would not resolve)
    END IF;
    RETURN NOT citus_is_coordinator();
END
$$;

-- Whether this node records the audit events of organization `org`. On plain PostgreSQL,
-- always. On a Citus cluster a trigger fires on each shard a change touches, and on every
-- node's copy of a reference table (organizations, users, ...): an event is recorded by
-- the one node that holds the organization's shard of audit_events, in the backend that
-- makes the change. So it is recorded once, and through no connection but the change's
-- own (Citus refuses a transaction that modifies co-located shards through connections
-- of two users: the audit functions run as the owner). Until audit_events is
-- distributed, the coordinator records. Once it is, a table on the coordinator alone (the
-- outbox) records nothing: the coordinator would write an organization's trail through a
-- connection of the owner's, which that same rule refuses in any transaction that
-- changes the organization's rows too (docs/citus-layout.md, "outbox_messages").
CREATE OR REPLACE FUNCTION tenancy.records_audit_of(org uuid) RETURNS boolean
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
    IF to_regproc('pg_catalog.citus_is_coordinator') IS NULL THEN
        RETURN true;  -- no Citus (planned apart: the calls below would not resolve)
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_dist_partition
                    WHERE logicalrelid = 'public.audit_events'::regclass AND partmethod = 'h') THEN
        RETURN citus_is_coordinator();
    END IF;
    RETURN EXISTS (SELECT 1 FROM pg_dist_placement
                    WHERE shardid = get_shard_id_for_distribution_column('public.audit_events', org)
                      AND groupid = (SELECT groupid FROM pg_dist_local_group));
END
$$;

-- Refuse a change the service's role makes in no verified context (the audit triggers
-- call it with tenancy.fields()). The policies check the context as a statement begins;
-- a statement that replaced it on the way (set_config in its WHERE clause, say) would
-- leave the trail an event with no actor, or any actor it liked: it fails instead. A
-- change made outside the service (an operator's, connected as another role) is
-- recorded without an actor, as before.
CREATE OR REPLACE FUNCTION tenancy.refuse_unverified_change(fields text) RETURNS void
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

-- AFTER UPDATE OR DELETE row trigger: one event per changed or deleted row.
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
    context text := tenancy.fields();
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
               jsonb_object_agg(key, jsonb_build_object('old', old_row -> key, 'new', new_row -> key)),
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

-- AFTER INSERT statement trigger, REFERENCING NEW TABLE AS inserted: the insert events
-- of a whole statement in one INSERT ... SELECT. A job writing a hundred thousand rows
-- (the reminder scan) then pays one statement, not a function call and an insert per row.
CREATE OR REPLACE FUNCTION tenancy.record_audit_inserts() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    events text;
    -- the verified context, read once for the whole statement's events
    context text := tenancy.fields();
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

REVOKE ALL ON FUNCTION tenancy.record_audit_event() FROM PUBLIC;
REVOKE ALL ON FUNCTION tenancy.record_audit_inserts() FROM PUBLIC;

-- BEFORE INSERT OR UPDATE trigger of the tables that copy their owner's organizations
-- (credentials, a provider's documents: owner_organization_ids, read by their policies):
-- the copy is the owner's users.organization_ids as a set, or empty without an owner
-- user. The application writes it with the row, and again with each change of the
-- owner's memberships (app/domain/members.py); no other value is taken, so that nobody
-- opens their rows to organizations they do not belong to. Read as the caller (the owner
-- reads their own user row, MSC reach every row); an owner the caller cannot see
-- counts as having no organizations.
CREATE OR REPLACE FUNCTION tenancy.guard_owner_organization_ids() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    owner_ids uuid[];
BEGIN
    -- On a Citus cluster every node's copy fires this; the coordinator's decides (a
    -- worker's copy reads no table of the cluster).
    IF tenancy.on_worker_node() THEN
        RETURN NEW;
    END IF;
    SELECT u.organization_ids INTO owner_ids FROM users u WHERE u.id = NEW.user_id;
    owner_ids := coalesce(owner_ids, '{}'::uuid[]);
    IF NOT (NEW.owner_organization_ids @> owner_ids AND NEW.owner_organization_ids <@ owner_ids)
    THEN
        PERFORM tenancy.raise_for_column(
            'insufficient_privilege',
            format('%s.owner_organization_ids follows the owner''s memberships', tenancy.unsharded(TG_TABLE_NAME)),
            'owner_organization_ids');
    END IF;
    RETURN NEW;
END
$$;
