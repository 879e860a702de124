-- users: global identities, not owned by one tenant. A user reaches their own row;
-- organization staff reach the users who belong to organizations in their scope (as
-- far as the memberships policy lets them see those memberships: organization admins
-- all members, office managers the people at their facilities); MSC representatives read
-- the members of the organizations they act for; MSC admins reach all.
-- organization_ids, the organizations the user is a member of, is written with each
-- membership change (app/domain/members.py) and checked here, so a row tells by itself
-- which admins reach it.
ALTER TABLE users ENABLE ROW LEVEL SECURITY;
ALTER TABLE users FORCE ROW LEVEL SECURITY;
GRANT SELECT, INSERT, UPDATE, DELETE ON users TO msc_application;

DROP POLICY IF EXISTS users_select ON users;
CREATE POLICY users_select ON users FOR SELECT USING (
    organization_ids && (SELECT tenancy.staff_organization_ids())
    OR id = (SELECT tenancy.user_id())
    OR id = ANY ((SELECT tenancy.managed_member_ids())::uuid[])
    OR (SELECT tenancy.is_msc_admin())
    -- while logging in: the account of the email given (lower() only then: rows outside
    -- the caller's reach meet every branch)
    OR ((SELECT tenancy.is_logging_in())
        AND lower(email) = (SELECT tenancy.login_email()))
);

DROP POLICY IF EXISTS users_insert ON users;
CREATE POLICY users_insert ON users FOR INSERT WITH CHECK (
    (SELECT tenancy.is_msc_admin())
    -- accepting an invitation creates the account of the invited email, nothing else
    OR (NOT is_msc_admin
        AND tenancy.invitation_admits_account(email))
);

DROP POLICY IF EXISTS users_update ON users;
CREATE POLICY users_update ON users FOR UPDATE
    USING (id = (SELECT tenancy.user_id()) OR (SELECT tenancy.is_msc_admin()));

DROP POLICY IF EXISTS users_delete ON users;
CREATE POLICY users_delete ON users FOR DELETE
    USING ((SELECT tenancy.is_msc_admin()));

-- A user edits their own profile, never their privileges, their sign-in identity or
-- the registry's verdict on their NPI.
DROP TRIGGER IF EXISTS users_guard ON users;
CREATE TRIGGER users_guard BEFORE UPDATE ON users
    FOR EACH ROW EXECUTE FUNCTION tenancy.guard_msc_columns(
        'is_msc_admin', 'is_msc_representative', 'is_active', 'email', 'npi_verification',
        'npi_verified_at');

-- A user whom an organization names as its representative stays one: the organizations
-- let go of them first (app/domain/representatives.py does, when the role is taken away),
-- so that no organization names a user who is none (policies/organizations.sql).
CREATE OR REPLACE FUNCTION tenancy.check_representative_released() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM organizations o WHERE o.msc_representative_id = NEW.id) THEN
        PERFORM tenancy.raise_for_column(
            'check_violation',
            'the user is still the MSC representative of an organization',
            'is_msc_representative');
    END IF;
    RETURN NEW;
END
$$;

DROP TRIGGER IF EXISTS users_representative ON users;
CREATE TRIGGER users_representative BEFORE UPDATE OF is_msc_representative ON users
    FOR EACH ROW WHEN (OLD.is_msc_representative AND NOT NEW.is_msc_representative)
    EXECUTE FUNCTION tenancy.check_representative_released();

-- A user's second factor is theirs alone: its columns change only in the user's own
-- context (the MFA endpoints and the second step of signing in), never by an admin, MSC's
-- included.
CREATE OR REPLACE FUNCTION tenancy.guard_own_mfa() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    mfa_columns CONSTANT text[] := ARRAY['mfa_secret', 'mfa_enabled_at', 'mfa_last_step'];
    old_row jsonb := to_jsonb(OLD);
    new_row jsonb := to_jsonb(NEW);
    name text;
BEGIN
    IF NEW.id IS DISTINCT FROM tenancy.user_id() THEN
        FOREACH name IN ARRAY mfa_columns LOOP
            IF (old_row -> name) IS DISTINCT FROM (new_row -> name) THEN
                PERFORM tenancy.raise_for_column(
                    'insufficient_privilege',
                    format('only the user may change users.%s', name),
                    name);
            END IF;
        END LOOP;
    END IF;
    RETURN NEW;
END
$$;

DROP TRIGGER IF EXISTS users_mfa_guard ON users;
CREATE TRIGGER users_mfa_guard BEFORE UPDATE ON users
    FOR EACH ROW EXECUTE FUNCTION tenancy.guard_own_mfa();

-- A new NPI, or a new name, is unverified until the registry has been asked about it:
-- the registry vouched for this number under that name. (Runs after the guard:
-- triggers fire in name order.)
CREATE OR REPLACE FUNCTION tenancy.reset_npi_verification() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.npi IS DISTINCT FROM OLD.npi OR NEW.name IS DISTINCT FROM OLD.name THEN
        NEW.npi_verification := 'unverified';
        NEW.npi_verified_at := NULL;
    END IF;
    RETURN NEW;
END
$$;

DROP TRIGGER IF EXISTS users_npi_reset ON users;
CREATE TRIGGER users_npi_reset BEFORE UPDATE OF npi, name ON users
    FOR EACH ROW EXECUTE FUNCTION tenancy.reset_npi_verification();

-- organization_ids is the organizations of the user's memberships, nothing else: a user
-- cannot claim a membership, nor an admin drop one. The application writes it in the
-- transaction that changes the memberships, under MSC reach (system_context), the one
-- context whose reading of the memberships below is whole (an organization admin sees
-- their own organization's alone); any other context, or any other value, is refused.
-- In any order: rows written before list them in the order the user joined.
CREATE OR REPLACE FUNCTION tenancy.guard_user_organization_ids() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    -- On a Citus cluster every node's copy of users fires this; the coordinator's decides
    -- (a worker's copy cannot read the memberships, which lie on every worker).
    IF tenancy.on_worker_node() THEN
        RETURN NEW;
    END IF;
    IF NEW.organization_ids IS DISTINCT FROM
           (CASE WHEN TG_OP = 'UPDATE' THEN OLD.organization_ids ELSE '{}'::uuid[] END)
       AND NOT (tenancy.is_msc_admin()
                AND (SELECT array_agg(o ORDER BY o) FROM unnest(NEW.organization_ids) o)
                    IS NOT DISTINCT FROM
                    (SELECT array_agg(m.organization_id ORDER BY m.organization_id)
                       FROM memberships m WHERE m.user_id = NEW.id))
    THEN
        PERFORM tenancy.raise_for_column(
            'insufficient_privilege',
            'users.organization_ids follows the memberships',
            'organization_ids');
    END IF;
    RETURN NEW;
END
$$;

DROP TRIGGER IF EXISTS users_organization_ids_guard ON users;
CREATE TRIGGER users_organization_ids_guard BEFORE INSERT OR UPDATE OF organization_ids ON users
    FOR EACH ROW EXECUTE FUNCTION tenancy.guard_user_organization_ids();

-- A change of organization_ids alone is a membership change, stamped and audited on the
-- membership: the user row is neither touched nor audited for it. Nor for mfa_last_step
-- alone: a sign-in with a second factor, no change to the account.
DROP TRIGGER IF EXISTS users_updated_at ON users;
CREATE TRIGGER users_updated_at BEFORE UPDATE ON users
    FOR EACH ROW
    WHEN ((to_jsonb(OLD) - 'organization_ids' - 'mfa_last_step')
          IS DISTINCT FROM (to_jsonb(NEW) - 'organization_ids' - 'mfa_last_step'))
    EXECUTE FUNCTION tenancy.set_updated_at();

-- The password hash and the TOTP secret (encrypted as it is) never enter the trail.
DROP TRIGGER IF EXISTS users_audit ON users;
CREATE TRIGGER users_audit AFTER DELETE ON users
    FOR EACH ROW EXECUTE FUNCTION tenancy.record_audit_event('', 'password_hash', 'mfa_secret');

DROP TRIGGER IF EXISTS users_audit_insert ON users;
CREATE TRIGGER users_audit_insert AFTER INSERT ON users
    REFERENCING NEW TABLE AS inserted
    FOR EACH STATEMENT EXECUTE FUNCTION tenancy.record_audit_inserts('', 'password_hash', 'mfa_secret');

DROP TRIGGER IF EXISTS users_audit_update ON users;
CREATE TRIGGER users_audit_update AFTER UPDATE ON users
    FOR EACH ROW
    WHEN ((to_jsonb(OLD) - 'organization_ids' - 'updated_at' - 'mfa_last_step')
          IS DISTINCT FROM (to_jsonb(NEW) - 'organization_ids' - 'updated_at' - 'mfa_last_step'))
    EXECUTE FUNCTION tenancy.record_audit_event('', 'password_hash', 'mfa_secret');
