-- primary_assignments: each provider's one primary facility, whichever organization it
-- belongs to; an assignment is primary exactly while this row points at it. The
-- provider sees their own row; an organization sees the row only while it points into
-- its reach, so its assignments read as not primary once the primary is elsewhere, and
-- it never learns where. Moving a provider's primary from one organization to another
-- is a step no tenant's context may take (the row points outside the writer's reach
-- before or after): app/domain/assignments.py takes it in the system context, and no
-- row of the organization it leaves changes.
ALTER TABLE primary_assignments ENABLE ROW LEVEL SECURITY;
ALTER TABLE primary_assignments FORCE ROW LEVEL SECURITY;
GRANT SELECT, INSERT, UPDATE, DELETE ON primary_assignments TO msc_application;

-- The reach of provider_facilities_select over the assignment pointed at.
DROP POLICY IF EXISTS primary_assignments_select ON primary_assignments;
CREATE POLICY primary_assignments_select ON primary_assignments FOR SELECT USING (
    organization_id = ANY ((SELECT tenancy.staff_organization_ids())::uuid[])
    OR facility_id = ANY ((SELECT tenancy.facility_ids())::uuid[])
    OR user_id = (SELECT tenancy.user_id())
    OR (SELECT tenancy.is_msc_admin())
);

-- Writes: those of provider_facilities_update over the assignment pointed at (making an
-- assignment primary, or no longer so, is an update of it), before and after the change.
DROP POLICY IF EXISTS primary_assignments_insert ON primary_assignments;
CREATE POLICY primary_assignments_insert ON primary_assignments FOR INSERT WITH CHECK (
    (SELECT tenancy.is_msc_admin())
    OR (organization_id = ANY ((SELECT tenancy.organization_ids())::uuid[])
        AND ((SELECT tenancy.role()) = 'organization_admin'
             OR ((SELECT tenancy.role()) = 'office_manager'
                 AND facility_id = ANY ((SELECT tenancy.facility_ids())::uuid[]))))
);

DROP POLICY IF EXISTS primary_assignments_update ON primary_assignments;
CREATE POLICY primary_assignments_update ON primary_assignments FOR UPDATE USING (
    (SELECT tenancy.is_msc_admin())
    OR (organization_id = ANY ((SELECT tenancy.organization_ids())::uuid[])
        AND ((SELECT tenancy.role()) = 'organization_admin'
             OR ((SELECT tenancy.role()) = 'office_manager'
                 AND facility_id = ANY ((SELECT tenancy.facility_ids())::uuid[]))))
);

DROP POLICY IF EXISTS primary_assignments_delete ON primary_assignments;
CREATE POLICY primary_assignments_delete ON primary_assignments FOR DELETE USING (
    (SELECT tenancy.is_msc_admin())
    OR (organization_id = ANY ((SELECT tenancy.organization_ids())::uuid[])
        AND ((SELECT tenancy.role()) = 'organization_admin'
             OR ((SELECT tenancy.role()) = 'office_manager'
                 AND facility_id = ANY ((SELECT tenancy.facility_ids())::uuid[]))))
);

-- MSC representatives write nothing here, whatever the policies above admit
-- (tenancy.refuse_representatives_writes says why, and why a trigger).
DROP TRIGGER IF EXISTS primary_assignments_may_write ON primary_assignments;
CREATE TRIGGER primary_assignments_may_write BEFORE INSERT OR UPDATE OR DELETE ON primary_assignments
    FOR EACH STATEMENT EXECUTE FUNCTION tenancy.refuse_representatives_writes();

DROP TRIGGER IF EXISTS primary_assignments_updated_at ON primary_assignments;
CREATE TRIGGER primary_assignments_updated_at BEFORE UPDATE ON primary_assignments
    FOR EACH ROW EXECUTE FUNCTION tenancy.set_updated_at();

-- No audit trigger: the row is the provider's choice, not an organization's data, and a
-- change of it recorded in the trail of the organization it leaves would tell that
-- organization of the other. This table is to be distributed by provider, apart from the
-- trail, which is distributed by organization: a trigger on its shards could not write
-- there either.
