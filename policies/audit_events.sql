-- audit_events: append-only. Rows are written only by tenancy.record_audit_event() and
-- tenancy.record_audit_inserts() (changes, policies/functions.sql) and
-- tenancy.record_access() (reads, policies/access_records.sql), SECURITY DEFINER trigger
-- functions running as the table owner: the application role
-- may read (as far as the select policy allows) and nothing else. Organization admins
-- and MSC representatives read their scope's events; MSC admins all.
ALTER TABLE audit_events ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_events FORCE ROW LEVEL SECURITY;
REVOKE ALL ON audit_events FROM msc_application;
GRANT SELECT ON audit_events TO msc_application;

DROP POLICY IF EXISTS audit_events_select ON audit_events;
CREATE POLICY audit_events_select ON audit_events FOR SELECT USING (
    (SELECT tenancy.is_msc_admin())
    OR (organization_id = ANY ((SELECT tenancy.organization_ids())::uuid[])
        AND (SELECT tenancy.role()) = 'organization_admin')
    -- an MSC representative reads their organizations' recent activity (the dashboard)
    OR organization_id = ANY ((SELECT tenancy.represented_organization_ids())::uuid[])
);

-- Only the owner holds INSERT (through the audit function), so this admits only it.
DROP POLICY IF EXISTS audit_events_insert ON audit_events;
CREATE POLICY audit_events_insert ON audit_events FOR INSERT WITH CHECK (true);
