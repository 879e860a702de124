-- webhook_events: what happened to an organization's data, for its endpoints. Recorded
-- by the service (app/domain/webhooks.py, in the system context) in the same
-- transaction as the change, whoever made it: a provider accepting an invitation
-- reaches no endpoint, yet their joining is the organization's event. Read by the
-- organization's admins and MSC admins; never changed, and gone only with the
-- organization.
ALTER TABLE webhook_events ENABLE ROW LEVEL SECURITY;
ALTER TABLE webhook_events FORCE ROW LEVEL SECURITY;
REVOKE ALL ON webhook_events FROM msc_application;
GRANT SELECT, INSERT ON webhook_events TO msc_application;

DROP POLICY IF EXISTS webhook_events_select ON webhook_events;
CREATE POLICY webhook_events_select ON webhook_events FOR SELECT USING (
    (organization_id = ANY ((SELECT tenancy.organization_ids())::uuid[])
        AND (SELECT tenancy.role()) = 'organization_admin')
    OR (SELECT tenancy.is_msc_admin())
);

DROP POLICY IF EXISTS webhook_events_insert ON webhook_events;
CREATE POLICY webhook_events_insert ON webhook_events FOR INSERT WITH CHECK (
    (SELECT tenancy.is_msc_admin())
);

-- MSC representatives write nothing here, whatever the policies above admit
-- (tenancy.refuse_representatives_writes says why, and why a trigger).
DROP TRIGGER IF EXISTS webhook_events_may_write ON webhook_events;
CREATE TRIGGER webhook_events_may_write BEFORE INSERT OR UPDATE OR DELETE ON webhook_events
    FOR EACH STATEMENT EXECUTE FUNCTION tenancy.refuse_representatives_writes();
