-- provider_screenings: each screening of a provider against the exclusion lists, for
-- one organization they work for: the evidence, never changed or deleted (it goes only
-- with its organization or its provider). The organization's admins read it (with the
-- organization's scope: an admin of a parent reads its children's), MSC representatives
-- their organizations', MSC admins all. Nobody else, the provider included: a candidate
-- match is not theirs to read before a person has looked at it. Written by the
-- screening alone, in the service's context (app/domain/screening.py).
ALTER TABLE provider_screenings ENABLE ROW LEVEL SECURITY;
ALTER TABLE provider_screenings FORCE ROW LEVEL SECURITY;
REVOKE ALL ON provider_screenings FROM msc_application;
GRANT SELECT, INSERT ON provider_screenings TO msc_application;

DROP POLICY IF EXISTS provider_screenings_select ON provider_screenings;
CREATE POLICY provider_screenings_select ON provider_screenings FOR SELECT USING (
    organization_id = ANY ((SELECT tenancy.staff_organization_ids())::uuid[])
    OR (SELECT tenancy.is_msc_admin())
);

DROP POLICY IF EXISTS provider_screenings_insert ON provider_screenings;
CREATE POLICY provider_screenings_insert ON provider_screenings FOR INSERT WITH CHECK (
    (SELECT tenancy.is_msc_admin())
);

-- MSC representatives write nothing here, whatever the policies above admit
-- (tenancy.refuse_representatives_writes says why, and why a trigger).
DROP TRIGGER IF EXISTS provider_screenings_may_write ON provider_screenings;
CREATE TRIGGER provider_screenings_may_write
    BEFORE INSERT OR UPDATE OR DELETE ON provider_screenings
    FOR EACH STATEMENT EXECUTE FUNCTION tenancy.refuse_representatives_writes();
