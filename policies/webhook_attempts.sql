-- webhook_attempts: the delivery log, one row per attempt, written by the workers (the
-- system context) and read by the organization's admins and MSC admins. Never changed;
-- gone only with its delivery.
ALTER TABLE webhook_attempts ENABLE ROW LEVEL SECURITY;
ALTER TABLE webhook_attempts FORCE ROW LEVEL SECURITY;
REVOKE ALL ON webhook_attempts FROM msc_application;
GRANT SELECT, INSERT ON webhook_attempts TO msc_application;

DROP POLICY IF EXISTS webhook_attempts_select ON webhook_attempts;
CREATE POLICY webhook_attempts_select ON webhook_attempts FOR SELECT USING (
    (organization_id = ANY ((SELECT tenancy.organization_ids())::uuid[])
        AND (SELECT tenancy.role()) = 'organization_admin')
    OR (SELECT tenancy.is_msc_admin())
);

DROP POLICY IF EXISTS webhook_attempts_insert ON webhook_attempts;
CREATE POLICY webhook_attempts_insert ON webhook_attempts FOR INSERT WITH CHECK (
    (SELECT tenancy.is_msc_admin())
);

-- MSC representatives write nothing here, whatever the policies above admit
-- (tenancy.refuse_representatives_writes says why, and why a trigger).
DROP TRIGGER IF EXISTS webhook_attempts_may_write ON webhook_attempts;
CREATE TRIGGER webhook_attempts_may_write BEFORE INSERT OR UPDATE OR DELETE ON webhook_attempts
    FOR EACH STATEMENT EXECUTE FUNCTION tenancy.refuse_representatives_writes();
