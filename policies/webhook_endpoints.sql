-- webhook_endpoints: where an organization's systems receive its events. Its admins
-- register, change, rotate and remove them; MSC admins see and manage all. Nobody else
-- reads them: an endpoint's URL and secret are the organization's integration details.
-- The workers (the system context, MSC reach) mark one failing or disabled.
ALTER TABLE webhook_endpoints ENABLE ROW LEVEL SECURITY;
ALTER TABLE webhook_endpoints FORCE ROW LEVEL SECURITY;
REVOKE ALL ON webhook_endpoints FROM msc_application;
GRANT SELECT, INSERT, UPDATE, DELETE ON webhook_endpoints TO msc_application;

DROP POLICY IF EXISTS webhook_endpoints_select ON webhook_endpoints;
CREATE POLICY webhook_endpoints_select ON webhook_endpoints FOR SELECT USING (
    (organization_id = ANY ((SELECT tenancy.organization_ids())::uuid[])
        AND (SELECT tenancy.role()) = 'organization_admin')
    OR (SELECT tenancy.is_msc_admin())
);

DROP POLICY IF EXISTS webhook_endpoints_insert ON webhook_endpoints;
CREATE POLICY webhook_endpoints_insert ON webhook_endpoints FOR INSERT WITH CHECK (
    (organization_id = ANY ((SELECT tenancy.organization_ids())::uuid[])
        AND (SELECT tenancy.role()) = 'organization_admin')
    OR (SELECT tenancy.is_msc_admin())
);

DROP POLICY IF EXISTS webhook_endpoints_update ON webhook_endpoints;
CREATE POLICY webhook_endpoints_update ON webhook_endpoints FOR UPDATE USING (
    (organization_id = ANY ((SELECT tenancy.organization_ids())::uuid[])
        AND (SELECT tenancy.role()) = 'organization_admin')
    OR (SELECT tenancy.is_msc_admin())
);

DROP POLICY IF EXISTS webhook_endpoints_delete ON webhook_endpoints;
CREATE POLICY webhook_endpoints_delete ON webhook_endpoints FOR DELETE USING (
    (organization_id = ANY ((SELECT tenancy.organization_ids())::uuid[])
        AND (SELECT tenancy.role()) = 'organization_admin')
    OR (SELECT tenancy.is_msc_admin())
);

-- MSC representatives write nothing here, whatever the policies above admit
-- (tenancy.refuse_representatives_writes says why, and why a trigger).
DROP TRIGGER IF EXISTS webhook_endpoints_may_write ON webhook_endpoints;
CREATE TRIGGER webhook_endpoints_may_write BEFORE INSERT OR UPDATE OR DELETE ON webhook_endpoints
    FOR EACH STATEMENT EXECUTE FUNCTION tenancy.refuse_representatives_writes();

DROP TRIGGER IF EXISTS webhook_endpoints_updated_at ON webhook_endpoints;
CREATE TRIGGER webhook_endpoints_updated_at BEFORE UPDATE ON webhook_endpoints
    FOR EACH ROW EXECUTE FUNCTION tenancy.set_updated_at();

-- Who registered, changed, rotated, disabled or removed an endpoint, in the
-- organization's trail; the secrets, sealed as they are, are left out of it.
DROP TRIGGER IF EXISTS webhook_endpoints_audit ON webhook_endpoints;
CREATE TRIGGER webhook_endpoints_audit AFTER UPDATE OR DELETE ON webhook_endpoints
    FOR EACH ROW EXECUTE FUNCTION
    tenancy.record_audit_event('organization_id', 'secret_sealed', 'previous_secret_sealed');

DROP TRIGGER IF EXISTS webhook_endpoints_audit_insert ON webhook_endpoints;
CREATE TRIGGER webhook_endpoints_audit_insert AFTER INSERT ON webhook_endpoints
    REFERENCING NEW TABLE AS inserted
    FOR EACH STATEMENT EXECUTE FUNCTION
    tenancy.record_audit_inserts('organization_id', 'secret_sealed', 'previous_secret_sealed');
