-- audit_events: append-only. The audit trigger inserts as the writing role, so the
-- application may insert (only as itself) but has no UPDATE or DELETE privilege and
-- no policy that would allow either. Organization admins read their scope's events.
ALTER TABLE audit_events ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_events FORCE ROW LEVEL SECURITY;
REVOKE ALL ON audit_events FROM msc_application;
GRANT SELECT, INSERT ON audit_events TO msc_application;

DROP POLICY IF EXISTS audit_events_select ON audit_events;
CREATE POLICY audit_events_select ON audit_events FOR SELECT USING (
    (SELECT tenancy.is_msc_admin())
    OR (organization_id = ANY ((SELECT tenancy.organization_ids())::uuid[])
        AND (SELECT tenancy.role()) = 'organization_admin')
);

DROP POLICY IF EXISTS audit_events_insert ON audit_events;
CREATE POLICY audit_events_insert ON audit_events FOR INSERT WITH CHECK (
    actor_user_id IS NOT DISTINCT FROM (SELECT tenancy.user_id())
);
