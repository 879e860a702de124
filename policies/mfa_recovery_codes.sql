-- mfa_recovery_codes: the one-time codes that stand in for a user's second factor. They
-- belong to the user alone: nobody else, MSC admins included, reads, adds, spends or
-- removes them (a user's deletion removes them through the foreign key).
ALTER TABLE mfa_recovery_codes ENABLE ROW LEVEL SECURITY;
ALTER TABLE mfa_recovery_codes FORCE ROW LEVEL SECURITY;
REVOKE ALL ON mfa_recovery_codes FROM msc_application;
GRANT SELECT, INSERT, UPDATE, DELETE ON mfa_recovery_codes TO msc_application;

DROP POLICY IF EXISTS mfa_recovery_codes_own ON mfa_recovery_codes;
CREATE POLICY mfa_recovery_codes_own ON mfa_recovery_codes FOR ALL
    USING (user_id = (SELECT tenancy.user_id()))
    WITH CHECK (user_id = (SELECT tenancy.user_id()));

-- A code is spent once: the only change a row takes is its use, and a used code stays
-- used.
CREATE OR REPLACE FUNCTION tenancy.guard_recovery_code_use() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.used_at IS NOT NULL OR NEW.used_at IS NULL
       OR (to_jsonb(NEW) - 'used_at') IS DISTINCT FROM (to_jsonb(OLD) - 'used_at') THEN
        PERFORM tenancy.raise_for_column(
            'insufficient_privilege',
            'a recovery code is only ever marked used, once',
            'used_at');
    END IF;
    RETURN NEW;
END
$$;

DROP TRIGGER IF EXISTS mfa_recovery_codes_guard ON mfa_recovery_codes;
CREATE TRIGGER mfa_recovery_codes_guard BEFORE UPDATE ON mfa_recovery_codes
    FOR EACH ROW EXECUTE FUNCTION tenancy.guard_recovery_code_use();

-- Generating, spending and replacing codes are in the trail; the hashes are not.
DROP TRIGGER IF EXISTS mfa_recovery_codes_audit ON mfa_recovery_codes;
CREATE TRIGGER mfa_recovery_codes_audit AFTER UPDATE OR DELETE ON mfa_recovery_codes
    FOR EACH ROW EXECUTE FUNCTION tenancy.record_audit_event('', 'code_hash');

DROP TRIGGER IF EXISTS mfa_recovery_codes_audit_insert ON mfa_recovery_codes;
CREATE TRIGGER mfa_recovery_codes_audit_insert AFTER INSERT ON mfa_recovery_codes
    REFERENCING NEW TABLE AS inserted
    FOR EACH STATEMENT EXECUTE FUNCTION tenancy.record_audit_inserts('', 'code_hash');
