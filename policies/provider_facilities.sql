-- provider_facilities: a provider's assignments. The provider sees all of theirs, at
-- every organization; an organization sees only its own assignments of a shared
-- provider, so it never learns where else the provider works.
ALTER TABLE provider_facilities ENABLE ROW LEVEL SECURITY;
ALTER TABLE provider_facilities FORCE ROW LEVEL SECURITY;
GRANT SELECT, INSERT, UPDATE, DELETE ON provider_facilities TO msc_application;

-- Staff reach: organization admins the whole scope, office managers their facilities;
-- MSC representatives read the whole scope.
-- The branch most rows meet comes first: the others are evaluated only for rows it
-- rejects. (An office manager's facilities are all in the active organization.)
DROP POLICY IF EXISTS provider_facilities_select ON provider_facilities;
CREATE POLICY provider_facilities_select ON provider_facilities FOR SELECT USING (
    organization_id = ANY ((SELECT tenancy.staff_organization_ids())::uuid[])
    OR facility_id = ANY ((SELECT tenancy.facility_ids())::uuid[])
    OR user_id = (SELECT tenancy.user_id())
    OR (SELECT tenancy.is_msc_admin())
);

DROP POLICY IF EXISTS provider_facilities_insert ON provider_facilities;
CREATE POLICY provider_facilities_insert ON provider_facilities FOR INSERT WITH CHECK (
    (SELECT tenancy.is_msc_admin())
    OR (organization_id = ANY ((SELECT tenancy.organization_ids())::uuid[])
        AND ((SELECT tenancy.role()) = 'organization_admin'
             OR ((SELECT tenancy.role()) = 'office_manager'
                 AND facility_id = ANY ((SELECT tenancy.facility_ids())::uuid[]))))
    -- accepting an invitation: the invited user's assignments at the invited facilities
    OR (user_id = (SELECT tenancy.user_id())
        AND tenancy.invitation_admits_assignment(organization_id, facility_id))
);

DROP POLICY IF EXISTS provider_facilities_update ON provider_facilities;
CREATE POLICY provider_facilities_update ON provider_facilities FOR UPDATE
    USING (
        (SELECT tenancy.is_msc_admin())
        OR (organization_id = ANY ((SELECT tenancy.organization_ids())::uuid[])
            AND ((SELECT tenancy.role()) = 'organization_admin'
                 OR ((SELECT tenancy.role()) = 'office_manager'
                     AND facility_id = ANY ((SELECT tenancy.facility_ids())::uuid[]))))
    );

DROP POLICY IF EXISTS provider_facilities_delete ON provider_facilities;
CREATE POLICY provider_facilities_delete ON provider_facilities FOR DELETE USING (
    (SELECT tenancy.is_msc_admin())
    OR (organization_id = ANY ((SELECT tenancy.organization_ids())::uuid[])
        AND (SELECT tenancy.role()) = 'organization_admin')
);

-- MSC representatives write nothing here, whatever the policies above admit
-- (tenancy.refuse_representatives_writes says why, and why a trigger).
DROP TRIGGER IF EXISTS provider_facilities_may_write ON provider_facilities;
CREATE TRIGGER provider_facilities_may_write BEFORE INSERT OR UPDATE OR DELETE ON provider_facilities
    FOR EACH STATEMENT EXECUTE FUNCTION tenancy.refuse_representatives_writes();

DROP TRIGGER IF EXISTS provider_facilities_updated_at ON provider_facilities;
CREATE TRIGGER provider_facilities_updated_at BEFORE UPDATE ON provider_facilities
    FOR EACH ROW EXECUTE FUNCTION tenancy.set_updated_at();

DROP TRIGGER IF EXISTS provider_facilities_audit ON provider_facilities;
CREATE TRIGGER provider_facilities_audit AFTER UPDATE OR DELETE ON provider_facilities
    FOR EACH ROW EXECUTE FUNCTION tenancy.record_audit_event('organization_id');

DROP TRIGGER IF EXISTS provider_facilities_audit_insert ON provider_facilities;
CREATE TRIGGER provider_facilities_audit_insert AFTER INSERT ON provider_facilities
    REFERENCING NEW TABLE AS inserted
    FOR EACH STATEMENT EXECUTE FUNCTION tenancy.record_audit_inserts('organization_id');
