-- webhook_deliveries: one event for one endpoint, and how its delivery stands. Made with
-- the event (the service's context), claimed, retried and marked by the workers (the
-- system context); an organization's admins read theirs and replay them (the delivery
-- starts over, or is made for an event the endpoint was never sent). Gone only with its
-- endpoint or event.
ALTER TABLE webhook_deliveries ENABLE ROW LEVEL SECURITY;
ALTER TABLE webhook_deliveries FORCE ROW LEVEL SECURITY;
REVOKE ALL ON webhook_deliveries FROM msc_application;
GRANT SELECT, INSERT, UPDATE ON webhook_deliveries TO msc_application;

DROP POLICY IF EXISTS webhook_deliveries_select ON webhook_deliveries;
CREATE POLICY webhook_deliveries_select ON webhook_deliveries FOR SELECT USING (
    (organization_id = ANY ((SELECT tenancy.organization_ids())::uuid[])
        AND (SELECT tenancy.role()) = 'organization_admin')
    OR (SELECT tenancy.is_msc_admin())
);

DROP POLICY IF EXISTS webhook_deliveries_insert ON webhook_deliveries;
CREATE POLICY webhook_deliveries_insert ON webhook_deliveries FOR INSERT WITH CHECK (
    (organization_id = ANY ((SELECT tenancy.organization_ids())::uuid[])
        AND (SELECT tenancy.role()) = 'organization_admin')
    OR (SELECT tenancy.is_msc_admin())
);

DROP POLICY IF EXISTS webhook_deliveries_update ON webhook_deliveries;
CREATE POLICY webhook_deliveries_update ON webhook_deliveries FOR UPDATE USING (
    (organization_id = ANY ((SELECT tenancy.organization_ids())::uuid[])
        AND (SELECT tenancy.role()) = 'organization_admin')
    OR (SELECT tenancy.is_msc_admin())
);

-- MSC representatives write nothing here, whatever the policies above admit
-- (tenancy.refuse_representatives_writes says why, and why a trigger).
DROP TRIGGER IF EXISTS webhook_deliveries_may_write ON webhook_deliveries;
CREATE TRIGGER webhook_deliveries_may_write BEFORE INSERT OR UPDATE OR DELETE ON webhook_deliveries
    FOR EACH STATEMENT EXECUTE FUNCTION tenancy.refuse_representatives_writes();

DROP TRIGGER IF EXISTS webhook_deliveries_updated_at ON webhook_deliveries;
CREATE TRIGGER webhook_deliveries_updated_at BEFORE UPDATE ON webhook_deliveries
    FOR EACH ROW EXECUTE FUNCTION tenancy.set_updated_at();

-- A replay, in the organization's trail: who started which deliveries over. Only a
-- replay makes a delivery due anew with no attempt counted; the workers either count an
-- attempt or leave the due time as it is, and their progress is the delivery log's
-- (webhook_attempts), not the trail's.
DROP TRIGGER IF EXISTS webhook_deliveries_audit_replay ON webhook_deliveries;
CREATE TRIGGER webhook_deliveries_audit_replay AFTER UPDATE ON webhook_deliveries
    FOR EACH ROW
    WHEN (NEW.attempts = 0 AND NEW.next_attempt_at IS DISTINCT FROM OLD.next_attempt_at)
    EXECUTE FUNCTION tenancy.record_audit_event('organization_id');
