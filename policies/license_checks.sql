-- license_checks: each check of a provider's medical license against the NPPES registry,
-- recorded for each organization the provider works for (app/models/license_check.py
-- says why per organization). Read like the screenings: the organization's admins in
-- scope, MSC representatives, MSC admins; not the provider, nor another organization.
-- Written by the check alone, in the service's context (app/domain/license_checks.py),
-- whoever's change started it; a mismatch is decided (accepted, or the credential
-- rejected) by an admin of the organization the request acts for or an MSC admin. The
-- evidence is never deleted (it goes only with its organization, credential or
-- provider).
ALTER TABLE license_checks ENABLE ROW LEVEL SECURITY;
ALTER TABLE license_checks FORCE ROW LEVEL SECURITY;
REVOKE ALL ON license_checks FROM msc_application;
GRANT SELECT, INSERT, UPDATE ON license_checks TO msc_application;

DROP POLICY IF EXISTS license_checks_select ON license_checks;
CREATE POLICY license_checks_select ON license_checks FOR SELECT USING (
    organization_id = ANY ((SELECT tenancy.staff_organization_ids())::uuid[])
    OR (SELECT tenancy.is_msc_admin())
);

DROP POLICY IF EXISTS license_checks_insert ON license_checks;
CREATE POLICY license_checks_insert ON license_checks FOR INSERT WITH CHECK (
    (SELECT tenancy.is_msc_admin())
);

-- The decision on the organization's own review items, and in the decider's name: an
-- admin writes no decision of another organization's, nor one signed by someone else.
DROP POLICY IF EXISTS license_checks_update ON license_checks;
CREATE POLICY license_checks_update ON license_checks FOR UPDATE
    USING (
        (SELECT tenancy.is_msc_admin())
        OR (organization_id = ANY ((SELECT tenancy.organization_ids())::uuid[])
            AND (SELECT tenancy.role()) = 'organization_admin')
    )
    WITH CHECK (
        (SELECT tenancy.is_msc_admin())
        OR (organization_id = ANY ((SELECT tenancy.organization_ids())::uuid[])
            AND (SELECT tenancy.role()) = 'organization_admin'
            AND decided_by_id = (SELECT tenancy.user_id()))
    );

-- MSC representatives write nothing here, whatever the policies above admit
-- (tenancy.refuse_representatives_writes says why, and why a trigger).
DROP TRIGGER IF EXISTS license_checks_may_write ON license_checks;
CREATE TRIGGER license_checks_may_write
    BEFORE INSERT OR UPDATE OR DELETE ON license_checks
    FOR EACH STATEMENT EXECUTE FUNCTION tenancy.refuse_representatives_writes();

-- Every check and every decision in the organization's trail: who accepted which
-- mismatch, why; which check a later one superseded.
DROP TRIGGER IF EXISTS license_checks_audit ON license_checks;
CREATE TRIGGER license_checks_audit AFTER UPDATE OR DELETE ON license_checks
    FOR EACH ROW EXECUTE FUNCTION tenancy.record_audit_event('organization_id');

DROP TRIGGER IF EXISTS license_checks_audit_insert ON license_checks;
CREATE TRIGGER license_checks_audit_insert AFTER INSERT ON license_checks
    REFERENCING NEW TABLE AS inserted
    FOR EACH STATEMENT EXECUTE FUNCTION tenancy.record_audit_inserts('organization_id');
