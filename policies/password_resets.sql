-- password_resets: the single-use links that let a person who forgot their password
-- choose a new one. Global rows, like the users they belong to. Issuing a link (and
-- revoking the user's earlier ones) answers an anonymous request: the service does it
-- in its own (system) context, through the MSC-admin clause, as MSC's reach does
-- everywhere. Afterwards a row is reached by the holder of its link (the token's hash,
-- set as the transaction's context), by its user (who revokes their open links by
-- changing their password), and by MSC reach; no organization's staff ever reads one.
-- Only the hash is stored.
ALTER TABLE password_resets ENABLE ROW LEVEL SECURITY;
ALTER TABLE password_resets FORCE ROW LEVEL SECURITY;
REVOKE ALL ON password_resets FROM msc_application;
GRANT SELECT, INSERT, UPDATE ON password_resets TO msc_application;

DROP POLICY IF EXISTS password_resets_select ON password_resets;
CREATE POLICY password_resets_select ON password_resets FOR SELECT USING (
    token_hash = (SELECT tenancy.password_reset_token_hash())
    OR user_id = (SELECT tenancy.user_id())
    OR (SELECT tenancy.is_msc_admin())
);

DROP POLICY IF EXISTS password_resets_insert ON password_resets;
CREATE POLICY password_resets_insert ON password_resets FOR INSERT WITH CHECK (
    (SELECT tenancy.is_msc_admin())
);

DROP POLICY IF EXISTS password_resets_update ON password_resets;
CREATE POLICY password_resets_update ON password_resets FOR UPDATE USING (
    token_hash = (SELECT tenancy.password_reset_token_hash())
    OR user_id = (SELECT tenancy.user_id())
    OR (SELECT tenancy.is_msc_admin())
);

-- What the link's holder and its user may do to an open link: close it, once, by
-- marking it used or revoked; nothing else about it changes.
CREATE OR REPLACE FUNCTION tenancy.guard_password_reset() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    settable CONSTANT text[] := ARRAY['used_at', 'revoked_at'];
BEGIN
    IF NOT tenancy.is_msc_admin()
       AND ((to_jsonb(NEW) - settable) IS DISTINCT FROM (to_jsonb(OLD) - settable)
            OR OLD.used_at IS NOT NULL OR OLD.revoked_at IS NOT NULL) THEN
        RAISE EXCEPTION 'a password reset link can only be closed, once'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END
$$;

DROP TRIGGER IF EXISTS password_resets_guard ON password_resets;
CREATE TRIGGER password_resets_guard BEFORE UPDATE ON password_resets
    FOR EACH ROW EXECUTE FUNCTION tenancy.guard_password_reset();

DROP TRIGGER IF EXISTS password_resets_audit ON password_resets;
CREATE TRIGGER password_resets_audit AFTER UPDATE OR DELETE ON password_resets
    FOR EACH ROW EXECUTE FUNCTION tenancy.record_audit_event('', 'token_hash');

DROP TRIGGER IF EXISTS password_resets_audit_insert ON password_resets;
CREATE TRIGGER password_resets_audit_insert AFTER INSERT ON password_resets
    REFERENCING NEW TABLE AS inserted
    FOR EACH STATEMENT EXECUTE FUNCTION tenancy.record_audit_inserts('', 'token_hash');
