-- memberships: who belongs to which organization, with which role.
-- A user sees their own memberships everywhere (to know where they may switch);
-- organization admins see their scope's, office managers those of the people at their
-- facilities; organization admins and MSC admins change them.
ALTER TABLE memberships ENABLE ROW LEVEL SECURITY;
ALTER TABLE memberships FORCE ROW LEVEL SECURITY;
GRANT SELECT, INSERT, UPDATE, DELETE ON memberships TO msc_application;

DROP POLICY IF EXISTS memberships_select ON memberships;
CREATE POLICY memberships_select ON memberships FOR SELECT USING (
    user_id = (SELECT tenancy.user_id())
    OR (SELECT tenancy.is_msc_admin())
    OR (organization_id = ANY ((SELECT tenancy.organization_ids())::uuid[])
        AND (SELECT tenancy.role()) = 'organization_admin')
    -- an office manager sees the members assigned to the facilities they manage
    OR (organization_id = ANY ((SELECT tenancy.organization_ids())::uuid[])
        AND (SELECT tenancy.role()) = 'office_manager'
        AND user_id = ANY (ARRAY(SELECT pf.user_id FROM provider_facilities pf
                                  WHERE pf.facility_id = ANY ((SELECT tenancy.facility_ids())::uuid[]))))
);

DROP POLICY IF EXISTS memberships_insert ON memberships;
CREATE POLICY memberships_insert ON memberships FOR INSERT WITH CHECK (
    (SELECT tenancy.is_msc_admin())
    OR (organization_id = ANY ((SELECT tenancy.organization_ids())::uuid[])
        AND (SELECT tenancy.role()) = 'organization_admin')
    -- accepting an invitation: the invited user joins with the invited role
    OR (user_id = (SELECT tenancy.user_id())
        AND EXISTS (SELECT 1 FROM invitations i
                     WHERE i.token_hash = (SELECT tenancy.invitation_token_hash())
                       AND i.accepted_at IS NULL AND i.revoked_at IS NULL
                       AND i.expires_at > now()
                       AND i.organization_id = memberships.organization_id
                       AND i.role = memberships.role))
);

DROP POLICY IF EXISTS memberships_update ON memberships;
CREATE POLICY memberships_update ON memberships FOR UPDATE
    USING (
        (SELECT tenancy.is_msc_admin())
        OR (organization_id = ANY ((SELECT tenancy.organization_ids())::uuid[])
            AND (SELECT tenancy.role()) = 'organization_admin')
    );

DROP POLICY IF EXISTS memberships_delete ON memberships;
CREATE POLICY memberships_delete ON memberships FOR DELETE USING (
    (SELECT tenancy.is_msc_admin())
    OR (organization_id = ANY ((SELECT tenancy.organization_ids())::uuid[])
        AND (SELECT tenancy.role()) = 'organization_admin')
);

DROP TRIGGER IF EXISTS memberships_updated_at ON memberships;
CREATE TRIGGER memberships_updated_at BEFORE UPDATE ON memberships
    FOR EACH ROW EXECUTE FUNCTION tenancy.set_updated_at();

DROP TRIGGER IF EXISTS memberships_audit ON memberships;
CREATE TRIGGER memberships_audit AFTER INSERT OR UPDATE OR DELETE ON memberships
    FOR EACH ROW EXECUTE FUNCTION tenancy.record_audit_event('organization_id');
