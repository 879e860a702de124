-- organizations: the tenant itself. Its id is the tenant key.
ALTER TABLE organizations ENABLE ROW LEVEL SECURITY;
ALTER TABLE organizations FORCE ROW LEVEL SECURITY;
GRANT SELECT, INSERT, UPDATE, DELETE ON organizations TO msc_application;

DROP POLICY IF EXISTS organizations_select ON organizations;
CREATE POLICY organizations_select ON organizations FOR SELECT USING (
    (SELECT tenancy.is_msc_admin())
    OR id = ANY ((SELECT tenancy.organization_ids())::uuid[])
    -- the MSC account manager reads the organizations they represent
    OR msc_representative_id = (SELECT tenancy.user_id())
    -- an MSC representative acting for one of them reads its subtree (the scope, and
    -- while tenancy.enter resolves the context, the subtrees of all they represent)
    OR ancestor_ids && (SELECT tenancy.represented_organization_ids())::uuid[]
    -- an organization admin reaches the active organization's descendants
    OR ((SELECT tenancy.role()) = 'organization_admin'
        AND (SELECT tenancy.organization_id()) = ANY (ancestor_ids))
    -- every organization the user belongs to, so they can see where they may switch to
    OR id = ANY ((SELECT tenancy.member_organization_ids())::uuid[])
    -- whoever holds an invitation's token sees the organization it invites to
    OR id = ANY ((SELECT tenancy.invited_organization_ids())::uuid[])
);

DROP POLICY IF EXISTS organizations_insert ON organizations;
CREATE POLICY organizations_insert ON organizations FOR INSERT
    WITH CHECK ((SELECT tenancy.is_msc_admin()));

DROP POLICY IF EXISTS organizations_update ON organizations;
CREATE POLICY organizations_update ON organizations FOR UPDATE
    USING (
        (SELECT tenancy.is_msc_admin())
        OR ((SELECT tenancy.role()) = 'organization_admin'
            AND id = ANY ((SELECT tenancy.organization_ids())::uuid[]))
    );

DROP POLICY IF EXISTS organizations_delete ON organizations;
CREATE POLICY organizations_delete ON organizations FOR DELETE
    USING ((SELECT tenancy.is_msc_admin()));

-- MSC representatives write nothing here, whatever the policies above admit
-- (tenancy.refuse_representatives_writes says why, and why a trigger).
DROP TRIGGER IF EXISTS organizations_may_write ON organizations;
CREATE TRIGGER organizations_may_write BEFORE INSERT OR UPDATE OR DELETE ON organizations
    FOR EACH STATEMENT EXECUTE FUNCTION tenancy.refuse_representatives_writes();

-- ancestor_ids is derived from parent_organization_id and never taken from the writer.
CREATE OR REPLACE FUNCTION tenancy.set_organization_ancestors() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    parent_path uuid[];
BEGIN
    IF NEW.parent_organization_id IS NULL THEN
        NEW.ancestor_ids := ARRAY[NEW.id];
        RETURN NEW;
    END IF;
    SELECT ancestor_ids INTO parent_path FROM organizations WHERE id = NEW.parent_organization_id;
    IF parent_path IS NULL THEN
        PERFORM tenancy.raise_for_column(
            'foreign_key_violation',
            format('parent organization %s not found', NEW.parent_organization_id),
            'parent_organization_id');
    END IF;
    IF NEW.id = ANY (parent_path) THEN
        PERFORM tenancy.raise_for_column(
            'check_violation',
            format('organization %s cannot be its own ancestor', NEW.id),
            'parent_organization_id');
    END IF;
    NEW.ancestor_ids := parent_path || NEW.id;
    RETURN NEW;
END
$$;

-- A moved organization carries its subtree along: touching each child's parent column
-- re-runs the trigger above for it, level by level.
CREATE OR REPLACE FUNCTION tenancy.move_organization_subtree() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    -- On a Citus cluster, once, from the coordinator's copy: the update reaches every
    -- node's copy of the children (tenancy.on_worker_node).
    IF tenancy.on_worker_node() THEN
        RETURN NULL;
    END IF;
    UPDATE organizations SET parent_organization_id = parent_organization_id
     WHERE parent_organization_id = NEW.id;
    RETURN NULL;
END
$$;

-- Only when the place in the hierarchy is written (or ancestor_ids itself, which is then
-- recomputed, never taken): the parent's row is read, and the admin of a child
-- organization, who does not see its parent, must still be able to edit the rest.
DROP TRIGGER IF EXISTS organizations_ancestors ON organizations;
CREATE TRIGGER organizations_ancestors
    BEFORE INSERT OR UPDATE OF parent_organization_id, ancestor_ids ON organizations
    FOR EACH ROW EXECUTE FUNCTION tenancy.set_organization_ancestors();

DROP TRIGGER IF EXISTS organizations_subtree ON organizations;
CREATE TRIGGER organizations_subtree AFTER UPDATE OF parent_organization_id ON organizations
    FOR EACH ROW WHEN (OLD.ancestor_ids IS DISTINCT FROM NEW.ancestor_ids)
    EXECUTE FUNCTION tenancy.move_organization_subtree();

-- Organization admins edit their details; status, type, place in the hierarchy and
-- representative are MSC's to change.
DROP TRIGGER IF EXISTS organizations_guard ON organizations;
CREATE TRIGGER organizations_guard BEFORE UPDATE ON organizations
    FOR EACH ROW EXECUTE FUNCTION tenancy.guard_msc_columns(
        'status', 'organization_type', 'parent_organization_id', 'msc_representative_id',
        'activated_at');

-- The representative an organization names is an MSC representative (is_msc_representative):
-- naming the user gives them read access to it and its descendants.
-- The user's row is read FOR SHARE, which holds until this transaction ends: taking the
-- role away (an UPDATE of that row, policies/users.sql) waits for it, and then sees this
-- organization naming them; or, if it came first, this waits and sees them no longer one.
-- (FOR KEY SHARE would not do: an update of other columns than the key does not wait
-- for it.)
CREATE OR REPLACE FUNCTION tenancy.check_msc_representative() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    -- On a Citus cluster the coordinator's copy decides: the lock is taken on every
    -- node's copy of the user from there (tenancy.on_worker_node).
    IF tenancy.on_worker_node() THEN
        RETURN NEW;
    END IF;
    IF NEW.msc_representative_id IS NOT NULL
       AND NOT EXISTS (SELECT 1 FROM users u
                        WHERE u.id = NEW.msc_representative_id AND u.is_msc_representative
                          FOR SHARE)
    THEN
        PERFORM tenancy.raise_for_column(
            'check_violation',
            'the user is not an MSC representative',
            'msc_representative_id');
    END IF;
    RETURN NEW;
END
$$;

DROP TRIGGER IF EXISTS organizations_representative ON organizations;
CREATE TRIGGER organizations_representative
    BEFORE INSERT OR UPDATE OF msc_representative_id ON organizations
    FOR EACH ROW EXECUTE FUNCTION tenancy.check_msc_representative();

DROP TRIGGER IF EXISTS organizations_updated_at ON organizations;
CREATE TRIGGER organizations_updated_at BEFORE UPDATE ON organizations
    FOR EACH ROW EXECUTE FUNCTION tenancy.set_updated_at();

DROP TRIGGER IF EXISTS organizations_audit ON organizations;
CREATE TRIGGER organizations_audit AFTER UPDATE OR DELETE ON organizations
    FOR EACH ROW EXECUTE FUNCTION tenancy.record_audit_event('id', 'tax_id');

DROP TRIGGER IF EXISTS organizations_audit_insert ON organizations;
CREATE TRIGGER organizations_audit_insert AFTER INSERT ON organizations
    REFERENCING NEW TABLE AS inserted
    FOR EACH STATEMENT EXECUTE FUNCTION tenancy.record_audit_inserts('id', 'tax_id');
