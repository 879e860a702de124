-- credential_verifications: each organization's decisions on the credentials of the
-- providers it reaches (verified or rejected, who decided, why), one row per decision,
-- never changed or deleted (they go with their credential). The outcome they set is
-- shared on the credential; the decision is the deciding organization's: its staff
-- read it, and so do the provider it is about and MSC admins. Another organization the
-- provider works for reads none of it.
ALTER TABLE credential_verifications ENABLE ROW LEVEL SECURITY;
ALTER TABLE credential_verifications FORCE ROW LEVEL SECURITY;
REVOKE ALL ON credential_verifications FROM msc_application;
GRANT SELECT, INSERT ON credential_verifications TO msc_application;

DROP POLICY IF EXISTS credential_verifications_select ON credential_verifications;
CREATE POLICY credential_verifications_select ON credential_verifications FOR SELECT USING (
    (SELECT tenancy.is_msc_admin())
    OR organization_id = ANY ((SELECT tenancy.organization_ids())::uuid[])
    OR user_id = (SELECT tenancy.user_id())
);

-- A decision of the organization the request acts for, by the caller, as its admin or
-- office manager (the credentials' policy and guard say on which credentials).
DROP POLICY IF EXISTS credential_verifications_insert ON credential_verifications;
CREATE POLICY credential_verifications_insert ON credential_verifications
    FOR INSERT WITH CHECK (
        (SELECT tenancy.is_msc_admin())
        OR (organization_id = (SELECT tenancy.organization_id())
            AND verified_by_id = (SELECT tenancy.user_id())
            AND (SELECT tenancy.role()) IN ('organization_admin', 'office_manager'))
    );

-- MSC representatives write nothing here, whatever the policies above admit
-- (tenancy.refuse_representatives_writes says why, and why a trigger).
DROP TRIGGER IF EXISTS credential_verifications_may_write ON credential_verifications;
CREATE TRIGGER credential_verifications_may_write
    BEFORE INSERT OR UPDATE OR DELETE ON credential_verifications
    FOR EACH STATEMENT EXECUTE FUNCTION tenancy.refuse_representatives_writes();

-- The deciding organization's trail, and only its: the reason is not redacted there.
DROP TRIGGER IF EXISTS credential_verifications_audit ON credential_verifications;
CREATE TRIGGER credential_verifications_audit AFTER DELETE ON credential_verifications
    FOR EACH ROW EXECUTE FUNCTION tenancy.record_audit_event('organization_id');

DROP TRIGGER IF EXISTS credential_verifications_audit_insert ON credential_verifications;
CREATE TRIGGER credential_verifications_audit_insert AFTER INSERT ON credential_verifications
    REFERENCING NEW TABLE AS inserted
    FOR EACH STATEMENT EXECUTE FUNCTION tenancy.record_audit_inserts('organization_id');
