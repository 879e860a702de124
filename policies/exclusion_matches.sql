-- exclusion_matches: the review queue, one row per organization, provider and list
-- entry matched. Read like the screenings (policies/provider_screenings.sql): the
-- organization's admins in scope, MSC representatives, MSC admins. Found by the
-- screening (the service's context); decided (candidate to excluded or cleared) by an
-- admin of the organization the request acts for or an MSC admin; never deleted.
ALTER TABLE exclusion_matches ENABLE ROW LEVEL SECURITY;
ALTER TABLE exclusion_matches FORCE ROW LEVEL SECURITY;
REVOKE ALL ON exclusion_matches FROM msc_application;
GRANT SELECT, INSERT, UPDATE ON exclusion_matches TO msc_application;

DROP POLICY IF EXISTS exclusion_matches_select ON exclusion_matches;
CREATE POLICY exclusion_matches_select ON exclusion_matches FOR SELECT USING (
    organization_id = ANY ((SELECT tenancy.staff_organization_ids())::uuid[])
    OR (SELECT tenancy.is_msc_admin())
);

DROP POLICY IF EXISTS exclusion_matches_insert ON exclusion_matches;
CREATE POLICY exclusion_matches_insert ON exclusion_matches FOR INSERT WITH CHECK (
    (SELECT tenancy.is_msc_admin())
);

DROP POLICY IF EXISTS exclusion_matches_update ON exclusion_matches;
CREATE POLICY exclusion_matches_update ON exclusion_matches FOR UPDATE
    USING (
        (SELECT tenancy.is_msc_admin())
        OR (organization_id = ANY ((SELECT tenancy.organization_ids())::uuid[])
            AND (SELECT tenancy.role()) = 'organization_admin')
    );

DROP TRIGGER IF EXISTS exclusion_matches_may_write ON exclusion_matches;
CREATE TRIGGER exclusion_matches_may_write
    BEFORE INSERT OR UPDATE OR DELETE ON exclusion_matches
    FOR EACH STATEMENT EXECUTE FUNCTION tenancy.refuse_representatives_writes();

-- Every decision is in the organization's trail: who moved which match to what, why.
DROP TRIGGER IF EXISTS exclusion_matches_audit ON exclusion_matches;
CREATE TRIGGER exclusion_matches_audit AFTER UPDATE OR DELETE ON exclusion_matches
    FOR EACH ROW EXECUTE FUNCTION tenancy.record_audit_event('organization_id');

DROP TRIGGER IF EXISTS exclusion_matches_audit_insert ON exclusion_matches;
CREATE TRIGGER exclusion_matches_audit_insert AFTER INSERT ON exclusion_matches
    REFERENCING NEW TABLE AS inserted
    FOR EACH STATEMENT EXECUTE FUNCTION tenancy.record_audit_inserts('organization_id');
