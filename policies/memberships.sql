-- memberships: who belongs to which organization, with which role.
-- A user sees their own active memberships everywhere (to know where they may switch);
-- organization admins and MSC representatives see their scope's, office managers those of
-- the people at their facilities; organization admins and MSC admins change them.
-- A deactivated membership (is_active false) is hidden from its member: tenancy.enter
-- reads the role through this policy with only the user id set, so it finds none, and
-- the member's tokens for that organization stop working on their next request; a login
-- or a switch to that organization finds no membership either.
ALTER TABLE memberships ENABLE ROW LEVEL SECURITY;
ALTER TABLE memberships FORCE ROW LEVEL SECURITY;
GRANT SELECT, INSERT, UPDATE, DELETE ON memberships TO msc_application;

-- The branch most rows meet comes first: the others are evaluated only for rows it
-- rejects.
DROP POLICY IF EXISTS memberships_select ON memberships;
CREATE POLICY memberships_select ON memberships FOR SELECT USING (
    (organization_id = ANY ((SELECT tenancy.organization_ids())::uuid[])
     AND ((SELECT tenancy.role()) = 'organization_admin'
          -- an office manager sees the members assigned to the facilities they manage
          OR user_id = ANY ((SELECT tenancy.managed_member_ids())::uuid[])))
    OR (user_id = (SELECT tenancy.user_id()) AND is_active)
    OR organization_id = ANY ((SELECT tenancy.represented_organization_ids())::uuid[])
    OR (SELECT tenancy.is_msc_admin())
);

DROP POLICY IF EXISTS memberships_insert ON memberships;
CREATE POLICY memberships_insert ON memberships FOR INSERT WITH CHECK (
    (SELECT tenancy.is_msc_admin())
    OR (organization_id = ANY ((SELECT tenancy.organization_ids())::uuid[])
        AND (SELECT tenancy.role()) = 'organization_admin')
    -- accepting an invitation: the invited user joins with the invited role
    OR (user_id = (SELECT tenancy.user_id())
        AND tenancy.invitation_admits_membership(organization_id, role))
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

-- MSC representatives write nothing here, whatever the policies above admit
-- (tenancy.refuse_representatives_writes says why, and why a trigger).
DROP TRIGGER IF EXISTS memberships_may_write ON memberships;
CREATE TRIGGER memberships_may_write BEFORE INSERT OR UPDATE OR DELETE ON memberships
    FOR EACH STATEMENT EXECUTE FUNCTION tenancy.refuse_representatives_writes();

DROP TRIGGER IF EXISTS memberships_updated_at ON memberships;
CREATE TRIGGER memberships_updated_at BEFORE UPDATE ON memberships
    FOR EACH ROW EXECUTE FUNCTION tenancy.set_updated_at();

DROP TRIGGER IF EXISTS memberships_audit ON memberships;
CREATE TRIGGER memberships_audit AFTER UPDATE OR DELETE ON memberships
    FOR EACH ROW EXECUTE FUNCTION tenancy.record_audit_event('organization_id');

DROP TRIGGER IF EXISTS memberships_audit_insert ON memberships;
CREATE TRIGGER memberships_audit_insert AFTER INSERT ON memberships
    REFERENCING NEW TABLE AS inserted
    FOR EACH STATEMENT EXECUTE FUNCTION tenancy.record_audit_inserts('organization_id');
