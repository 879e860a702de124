-- documents: metadata of uploaded files. An organization's documents (tax forms,
-- banking letters) are for its admins; a provider's (license copies, certificates) for
-- the provider and the staff of organizations they work for, as with credentials. MSC
-- representatives read both (onboarding, compliance), though no endpoint hands them a
-- document itself (app/permissions.py, OPEN_DOCUMENTS).
ALTER TABLE documents ENABLE ROW LEVEL SECURITY;
ALTER TABLE documents FORCE ROW LEVEL SECURITY;
GRANT SELECT, INSERT, UPDATE, DELETE ON documents TO msc_application;

DROP POLICY IF EXISTS documents_select ON documents;
CREATE POLICY documents_select ON documents FOR SELECT USING (
    (SELECT tenancy.is_msc_admin())
    OR (organization_id = ANY ((SELECT tenancy.organization_ids())::uuid[])
        AND (SELECT tenancy.role()) = 'organization_admin')
    OR user_id = (SELECT tenancy.user_id())
    OR organization_id = ANY ((SELECT tenancy.represented_organization_ids())::uuid[])
    -- a provider's documents: to the staff as the provider's credentials are
    -- (policies/credentials.sql)
    OR owner_organization_ids && (SELECT tenancy.staff_organization_ids())
    OR user_id = ANY ((SELECT tenancy.managed_member_ids())::uuid[])
);

DROP POLICY IF EXISTS documents_insert ON documents;
CREATE POLICY documents_insert ON documents FOR INSERT WITH CHECK (
    (SELECT tenancy.is_msc_admin())
    OR (organization_id = ANY ((SELECT tenancy.organization_ids())::uuid[])
        AND (SELECT tenancy.role()) = 'organization_admin')
    OR user_id = (SELECT tenancy.user_id())
);

DROP POLICY IF EXISTS documents_update ON documents;
CREATE POLICY documents_update ON documents FOR UPDATE
    USING (
        (SELECT tenancy.is_msc_admin())
        OR (organization_id = ANY ((SELECT tenancy.organization_ids())::uuid[])
            AND (SELECT tenancy.role()) = 'organization_admin')
        OR user_id = (SELECT tenancy.user_id())
    );

DROP POLICY IF EXISTS documents_delete ON documents;
CREATE POLICY documents_delete ON documents FOR DELETE USING (
    (SELECT tenancy.is_msc_admin())
    OR (organization_id = ANY ((SELECT tenancy.organization_ids())::uuid[])
        AND (SELECT tenancy.role()) = 'organization_admin')
    OR user_id = (SELECT tenancy.user_id())
);

-- MSC representatives write nothing here, whatever the policies above admit
-- (tenancy.refuse_representatives_writes says why, and why a trigger).
DROP TRIGGER IF EXISTS documents_may_write ON documents;
CREATE TRIGGER documents_may_write BEFORE INSERT OR UPDATE OR DELETE ON documents
    FOR EACH STATEMENT EXECUTE FUNCTION tenancy.refuse_representatives_writes();

-- A provider's documents copy the provider's organizations, as credentials do
-- (tenancy.guard_owner_organization_ids); an organization's copy none.
DROP TRIGGER IF EXISTS documents_owner_organization_ids_guard ON documents;
CREATE TRIGGER documents_owner_organization_ids_guard
    BEFORE INSERT OR UPDATE OF user_id, owner_organization_ids ON documents
    FOR EACH ROW EXECUTE FUNCTION tenancy.guard_owner_organization_ids();

-- A change of owner_organization_ids alone follows a membership change, stamped and
-- audited on the membership.
DROP TRIGGER IF EXISTS documents_updated_at ON documents;
CREATE TRIGGER documents_updated_at BEFORE UPDATE ON documents
    FOR EACH ROW
    WHEN ((to_jsonb(OLD) - 'owner_organization_ids')
          IS DISTINCT FROM (to_jsonb(NEW) - 'owner_organization_ids'))
    EXECUTE FUNCTION tenancy.set_updated_at();

-- Provider documents have no organization: their events go under the acting one.
DROP TRIGGER IF EXISTS documents_audit ON documents;
CREATE TRIGGER documents_audit AFTER DELETE ON documents
    FOR EACH ROW EXECUTE FUNCTION tenancy.record_audit_event('organization_id', 'storage_key', 'owner_organization_ids');

DROP TRIGGER IF EXISTS documents_audit_update ON documents;
CREATE TRIGGER documents_audit_update AFTER UPDATE ON documents
    FOR EACH ROW
    WHEN ((to_jsonb(OLD) - 'owner_organization_ids' - 'updated_at')
          IS DISTINCT FROM (to_jsonb(NEW) - 'owner_organization_ids' - 'updated_at'))
    EXECUTE FUNCTION tenancy.record_audit_event('organization_id', 'storage_key', 'owner_organization_ids');

DROP TRIGGER IF EXISTS documents_audit_insert ON documents;
CREATE TRIGGER documents_audit_insert AFTER INSERT ON documents
    REFERENCING NEW TABLE AS inserted
    FOR EACH STATEMENT EXECUTE FUNCTION tenancy.record_audit_inserts('organization_id', 'storage_key', 'owner_organization_ids');
