-- invitations: an organization asks a person (by email) to join as provider, office
-- manager or organization admin. Organization admins see and manage their scope's (and
-- invite any role into it, admins included); office managers the ones they sent
-- (providers, to their own facilities). The invitee, holding the token, sees
-- exactly that invitation while accepting it. MSC representatives read their scope's.
-- Never deleted: revoked or accepted rows stay as history.
ALTER TABLE invitations ENABLE ROW LEVEL SECURITY;
ALTER TABLE invitations FORCE ROW LEVEL SECURITY;
REVOKE ALL ON invitations FROM msc_application;
GRANT SELECT, INSERT, UPDATE ON invitations TO msc_application;

DROP POLICY IF EXISTS invitations_select ON invitations;
CREATE POLICY invitations_select ON invitations FOR SELECT USING (
    (SELECT tenancy.is_msc_admin())
    OR (organization_id = ANY ((SELECT tenancy.organization_ids())::uuid[])
        AND ((SELECT tenancy.role()) = 'organization_admin'
             OR ((SELECT tenancy.role()) = 'office_manager'
                 AND invited_by_id = (SELECT tenancy.user_id()))))
    -- an MSC representative reads whom their organizations invited (onboarding)
    OR organization_id = ANY ((SELECT tenancy.represented_organization_ids())::uuid[])
    OR token_hash = (SELECT tenancy.invitation_token_hash())
);

DROP POLICY IF EXISTS invitations_insert ON invitations;
CREATE POLICY invitations_insert ON invitations FOR INSERT WITH CHECK (
    (SELECT tenancy.is_msc_admin())
    OR (organization_id = ANY ((SELECT tenancy.organization_ids())::uuid[])
        AND ((SELECT tenancy.role()) = 'organization_admin'
             OR ((SELECT tenancy.role()) = 'office_manager'
                 AND invitations.role = 'provider'
                 AND invited_by_id = (SELECT tenancy.user_id())
                 AND facility_ids <@ (SELECT tenancy.facility_ids())::uuid[])))
);

DROP POLICY IF EXISTS invitations_update ON invitations;
CREATE POLICY invitations_update ON invitations FOR UPDATE
    USING (
        (SELECT tenancy.is_msc_admin())
        OR (organization_id = ANY ((SELECT tenancy.organization_ids())::uuid[])
            AND ((SELECT tenancy.role()) = 'organization_admin'
                 OR ((SELECT tenancy.role()) = 'office_manager'
                     AND invited_by_id = (SELECT tenancy.user_id()))))
        OR token_hash = (SELECT tenancy.invitation_token_hash())
    );

-- MSC representatives write nothing here, whatever the policies above admit
-- (tenancy.refuse_representatives_writes says why, and why a trigger).
DROP TRIGGER IF EXISTS invitations_may_write ON invitations;
CREATE TRIGGER invitations_may_write BEFORE INSERT OR UPDATE OR DELETE ON invitations
    FOR EACH STATEMENT EXECUTE FUNCTION tenancy.refuse_representatives_writes();

-- The token opens one change only: its own acceptance, by the accepting user.
CREATE OR REPLACE FUNCTION tenancy.guard_invitation_acceptance() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    settable CONSTANT text[] := ARRAY['accepted_at', 'accepted_user_id', 'updated_at'];
BEGIN
    IF tenancy.invitation_token_hash() IS NOT NULL AND NOT tenancy.is_msc_admin()
       AND ((to_jsonb(NEW) - settable) IS DISTINCT FROM (to_jsonb(OLD) - settable)
            OR NEW.accepted_user_id IS DISTINCT FROM tenancy.user_id()
            OR NEW.accepted_at IS NULL) THEN
        RAISE EXCEPTION 'an invitation token only accepts the invitation'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END
$$;

DROP TRIGGER IF EXISTS invitations_guard ON invitations;
CREATE TRIGGER invitations_guard BEFORE UPDATE ON invitations
    FOR EACH ROW EXECUTE FUNCTION tenancy.guard_invitation_acceptance();

DROP TRIGGER IF EXISTS invitations_updated_at ON invitations;
CREATE TRIGGER invitations_updated_at BEFORE UPDATE ON invitations
    FOR EACH ROW EXECUTE FUNCTION tenancy.set_updated_at();

DROP TRIGGER IF EXISTS invitations_audit ON invitations;
CREATE TRIGGER invitations_audit AFTER UPDATE OR DELETE ON invitations
    FOR EACH ROW EXECUTE FUNCTION tenancy.record_audit_event('organization_id', 'token_hash');

DROP TRIGGER IF EXISTS invitations_audit_insert ON invitations;
CREATE TRIGGER invitations_audit_insert AFTER INSERT ON invitations
    REFERENCING NEW TABLE AS inserted
    FOR EACH STATEMENT EXECUTE FUNCTION tenancy.record_audit_inserts('organization_id', 'token_hash');
