-- facilities: owned by one organization. Everyone in scope reads them, except office
-- managers, who reach only the facilities they manage; organization admins create and
-- remove them; office managers update their own.
ALTER TABLE facilities ENABLE ROW LEVEL SECURITY;
ALTER TABLE facilities FORCE ROW LEVEL SECURITY;
GRANT SELECT, INSERT, UPDATE, DELETE ON facilities TO msc_application;

-- The branch most rows meet comes first: the others are evaluated only for rows it
-- rejects.
DROP POLICY IF EXISTS facilities_select ON facilities;
CREATE POLICY facilities_select ON facilities FOR SELECT USING (
    organization_id = ANY ((SELECT tenancy.whole_organization_ids())::uuid[])
    -- an office manager's (read by the row: resolving the context reads them so)
    OR (office_manager_id = (SELECT tenancy.user_id())
        AND organization_id = ANY ((SELECT tenancy.organization_ids())::uuid[]))
    -- a provider sees the facilities of their own assignments, at every organization
    OR id = ANY ((SELECT tenancy.assigned_facility_ids())::uuid[])
    OR (SELECT tenancy.is_msc_admin())
);

DROP POLICY IF EXISTS facilities_insert ON facilities;
CREATE POLICY facilities_insert ON facilities FOR INSERT WITH CHECK (
    (SELECT tenancy.is_msc_admin())
    OR (organization_id = ANY ((SELECT tenancy.organization_ids())::uuid[])
        AND (SELECT tenancy.role()) = 'organization_admin')
);

-- Office managers update only the facilities they manage, and cannot hand them on.
DROP POLICY IF EXISTS facilities_update ON facilities;
CREATE POLICY facilities_update ON facilities FOR UPDATE
    USING (
        (SELECT tenancy.is_msc_admin())
        OR (organization_id = ANY ((SELECT tenancy.organization_ids())::uuid[])
            AND ((SELECT tenancy.role()) = 'organization_admin'
                 OR ((SELECT tenancy.role()) = 'office_manager'
                     AND office_manager_id = (SELECT tenancy.user_id()))))
    );

DROP POLICY IF EXISTS facilities_delete ON facilities;
CREATE POLICY facilities_delete ON facilities FOR DELETE USING (
    (SELECT tenancy.is_msc_admin())
    OR (organization_id = ANY ((SELECT tenancy.organization_ids())::uuid[])
        AND (SELECT tenancy.role()) = 'organization_admin')
);

-- MSC representatives write nothing here, whatever the policies above admit
-- (tenancy.refuse_representatives_writes says why, and why a trigger).
DROP TRIGGER IF EXISTS facilities_may_write ON facilities;
CREATE TRIGGER facilities_may_write BEFORE INSERT OR UPDATE OR DELETE ON facilities
    FOR EACH STATEMENT EXECUTE FUNCTION tenancy.refuse_representatives_writes();

-- The Medicare A/B MAC follows from the state unless the writer names one: a NULL
-- jurisdiction is derived. (The application sends NULL when the state changes and no
-- jurisdiction is given.)
CREATE OR REPLACE FUNCTION tenancy.set_facility_mac_jurisdiction() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.mac_jurisdiction IS NULL THEN
        SELECT mac_jurisdiction INTO NEW.mac_jurisdiction FROM us_states WHERE code = NEW.state;
    END IF;
    RETURN NEW;
END
$$;

DROP TRIGGER IF EXISTS facilities_mac_jurisdiction ON facilities;
CREATE TRIGGER facilities_mac_jurisdiction BEFORE INSERT OR UPDATE ON facilities
    FOR EACH ROW EXECUTE FUNCTION tenancy.set_facility_mac_jurisdiction();

DROP TRIGGER IF EXISTS facilities_updated_at ON facilities;
CREATE TRIGGER facilities_updated_at BEFORE UPDATE ON facilities
    FOR EACH ROW EXECUTE FUNCTION tenancy.set_updated_at();

DROP TRIGGER IF EXISTS facilities_audit ON facilities;
CREATE TRIGGER facilities_audit AFTER UPDATE OR DELETE ON facilities
    FOR EACH ROW EXECUTE FUNCTION tenancy.record_audit_event('organization_id');

DROP TRIGGER IF EXISTS facilities_audit_insert ON facilities;
CREATE TRIGGER facilities_audit_insert AFTER INSERT ON facilities
    REFERENCING NEW TABLE AS inserted
    FOR EACH STATEMENT EXECUTE FUNCTION tenancy.record_audit_inserts('organization_id');
