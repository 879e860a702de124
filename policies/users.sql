-- users: global identities, not owned by one tenant. A user reaches their own row;
-- organization staff reach the users who belong to organizations in their scope (as
-- far as the memberships policy lets them see those memberships); MSC admins reach all.
ALTER TABLE users ENABLE ROW LEVEL SECURITY;
ALTER TABLE users FORCE ROW LEVEL SECURITY;
GRANT SELECT, INSERT, UPDATE, DELETE ON users TO msc_application;

DROP POLICY IF EXISTS users_select ON users;
CREATE POLICY users_select ON users FOR SELECT USING (
    id = (SELECT tenancy.user_id())
    OR (SELECT tenancy.is_msc_admin())
    OR lower(email) = (SELECT tenancy.login_email())
    OR id = ANY ((SELECT tenancy.member_ids())::uuid[])
);

DROP POLICY IF EXISTS users_insert ON users;
CREATE POLICY users_insert ON users FOR INSERT WITH CHECK (
    (SELECT tenancy.is_msc_admin())
    -- accepting an invitation creates the account of the invited email, nothing else
    OR (NOT is_msc_admin
        AND EXISTS (SELECT 1 FROM invitations i
                     WHERE i.token_hash = (SELECT tenancy.invitation_token_hash())
                       AND i.accepted_at IS NULL AND i.revoked_at IS NULL
                       AND i.expires_at > now()
                       AND lower(i.email) = lower(users.email)))
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
        'is_msc_admin', 'is_active', 'email', 'npi_verification', 'npi_verified_at');

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

DROP TRIGGER IF EXISTS users_updated_at ON users;
CREATE TRIGGER users_updated_at BEFORE UPDATE ON users
    FOR EACH ROW EXECUTE FUNCTION tenancy.set_updated_at();

DROP TRIGGER IF EXISTS users_audit ON users;
CREATE TRIGGER users_audit AFTER INSERT OR UPDATE OR DELETE ON users
    FOR EACH ROW EXECUTE FUNCTION tenancy.record_audit_event('', 'password_hash');
