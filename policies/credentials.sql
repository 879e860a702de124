-- credentials: owned by the provider (user_id), not by a tenant. The provider manages
-- their own; every organization they work for sees them, through the memberships its
-- staff can see (organization admins: all members; office managers: the people at their
-- facilities), and so do MSC representatives of those organizations (compliance); MSC
-- admins see all. Another organization's staff see nothing.
ALTER TABLE credentials ENABLE ROW LEVEL SECURITY;
ALTER TABLE credentials FORCE ROW LEVEL SECURITY;
GRANT SELECT, INSERT, UPDATE, DELETE ON credentials TO msc_application;

-- The staff's reach: the credentials of members of the organizations in scope (an
-- organization admin's or MSC representative's), found through owner_organization_ids,
-- the owner's organizations copied onto each credential (app/domain/members.py keeps it,
-- the guard below checks it); an office manager's people travel in the context.
DROP POLICY IF EXISTS credentials_select ON credentials;
CREATE POLICY credentials_select ON credentials FOR SELECT USING (
    user_id = (SELECT tenancy.user_id())
    OR (SELECT tenancy.is_msc_admin())
    OR owner_organization_ids && (SELECT tenancy.staff_organization_ids())
    OR user_id = ANY ((SELECT tenancy.managed_member_ids())::uuid[])
);

DROP POLICY IF EXISTS credentials_insert ON credentials;
CREATE POLICY credentials_insert ON credentials FOR INSERT WITH CHECK (
    user_id = (SELECT tenancy.user_id()) OR (SELECT tenancy.is_msc_admin())
);

-- Staff update to verify or reject; the guard below limits them to those columns.
DROP POLICY IF EXISTS credentials_update ON credentials;
CREATE POLICY credentials_update ON credentials FOR UPDATE
    USING (
        user_id = (SELECT tenancy.user_id())
        OR (SELECT tenancy.is_msc_admin())
        OR ((SELECT tenancy.role()) = 'organization_admin'
            AND owner_organization_ids && (SELECT tenancy.organization_ids()))
        OR user_id = ANY ((SELECT tenancy.managed_member_ids())::uuid[])
    );

DROP POLICY IF EXISTS credentials_delete ON credentials;
CREATE POLICY credentials_delete ON credentials FOR DELETE USING (
    user_id = (SELECT tenancy.user_id()) OR (SELECT tenancy.is_msc_admin())
);

-- MSC representatives write nothing here, whatever the policies above admit
-- (tenancy.refuse_representatives_writes says why, and why a trigger).
DROP TRIGGER IF EXISTS credentials_may_write ON credentials;
CREATE TRIGGER credentials_may_write BEFORE INSERT OR UPDATE OR DELETE ON credentials
    FOR EACH STATEMENT EXECUTE FUNCTION tenancy.refuse_representatives_writes();

-- The owner edits the credential, never its verification (and an edit voids it); staff
-- change the verification only. MSC admins are not limited. Whoever changes the outcome
-- (verification_status, verified_at), its history gets the change, here and nowhere
-- else: the status and when, as UTC text (the same on every node of a Citus cluster,
-- whatever a session's time zone), at verified_at for a decision and at the edit's
-- updated_at for a void. Who decided and why are the deciding organization's
-- (policies/credential_verifications.sql), never on this row every organization reads.
CREATE OR REPLACE FUNCTION tenancy.guard_credential_columns() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    verification CONSTANT text[] := ARRAY['verification_status', 'verified_at'];
    changed text[] := ARRAY(
        SELECT n.key FROM jsonb_each(to_jsonb(NEW)) n
         WHERE n.value IS DISTINCT FROM to_jsonb(OLD) -> n.key AND n.key <> 'updated_at');
    verification_changed boolean := changed && verification;
    data_changed boolean := NOT (changed <@ verification);
BEGIN
    IF 'verification_history' = ANY (changed) THEN
        PERFORM tenancy.raise_for_column(
            'insufficient_privilege',
            'the verification history follows the verification',
            'verification_history');
    END IF;
    IF NOT tenancy.is_msc_admin() THEN
        IF OLD.user_id = tenancy.user_id() THEN
            IF verification_changed THEN
                PERFORM tenancy.raise_for_column(
                    'insufficient_privilege',
                    'a provider cannot verify their own credential',
                    'verification_status');
            END IF;
            IF data_changed THEN
                NEW.verification_status := 'unverified';
                NEW.verified_at := NULL;
            END IF;
        ELSIF data_changed THEN
            PERFORM tenancy.raise_for_column(
                'insufficient_privilege',
                'only the provider edits their credential',
                changed[1]);
        END IF;
    END IF;
    IF (NEW.verification_status, NEW.verified_at)
       IS DISTINCT FROM (OLD.verification_status, OLD.verified_at) THEN
        NEW.verification_history := OLD.verification_history || jsonb_build_array(
            jsonb_build_object(
                'verification_status', NEW.verification_status,
                'changed_at', to_char(
                    coalesce(NEW.verified_at,
                             CASE WHEN NEW.updated_at IS DISTINCT FROM OLD.updated_at
                                  THEN NEW.updated_at ELSE statement_timestamp() END)
                        AT TIME ZONE 'UTC',
                    'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')));
    END IF;
    RETURN NEW;
END
$$;

DROP TRIGGER IF EXISTS credentials_guard ON credentials;
CREATE TRIGGER credentials_guard BEFORE UPDATE ON credentials
    FOR EACH ROW EXECUTE FUNCTION tenancy.guard_credential_columns();

-- A credential added with an outcome already (an import, or MSC's own entry) starts its
-- history with it, at its verification time or else its creation: replayed on any day
-- since, it reads as it stands. The writer's own history is never taken.
CREATE OR REPLACE FUNCTION tenancy.start_credential_history() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.verification_history := CASE
        WHEN NEW.verification_status = 'unverified' THEN '[]'::jsonb
        ELSE jsonb_build_array(jsonb_build_object(
            'verification_status', NEW.verification_status,
            'changed_at', to_char(
                coalesce(NEW.verified_at, NEW.created_at, statement_timestamp())
                    AT TIME ZONE 'UTC',
                'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')))
    END;
    RETURN NEW;
END
$$;

DROP TRIGGER IF EXISTS credentials_history_start ON credentials;
CREATE TRIGGER credentials_history_start BEFORE INSERT ON credentials
    FOR EACH ROW EXECUTE FUNCTION tenancy.start_credential_history();

DROP TRIGGER IF EXISTS credentials_owner_organization_ids_guard ON credentials;
CREATE TRIGGER credentials_owner_organization_ids_guard
    BEFORE INSERT OR UPDATE OF user_id, owner_organization_ids ON credentials
    FOR EACH ROW EXECUTE FUNCTION tenancy.guard_owner_organization_ids();

-- A change of owner_organization_ids alone follows a membership change, stamped and
-- audited on the membership: the credential is neither touched nor audited for it.
DROP TRIGGER IF EXISTS credentials_updated_at ON credentials;
CREATE TRIGGER credentials_updated_at BEFORE UPDATE ON credentials
    FOR EACH ROW
    WHEN ((to_jsonb(OLD) - 'owner_organization_ids')
          IS DISTINCT FROM (to_jsonb(NEW) - 'owner_organization_ids'))
    EXECUTE FUNCTION tenancy.set_updated_at();

-- Global rows: the event is filed under the acting organization.
DROP TRIGGER IF EXISTS credentials_audit ON credentials;
CREATE TRIGGER credentials_audit AFTER DELETE ON credentials
    FOR EACH ROW EXECUTE FUNCTION tenancy.record_audit_event('', 'number', 'owner_organization_ids');

DROP TRIGGER IF EXISTS credentials_audit_update ON credentials;
CREATE TRIGGER credentials_audit_update AFTER UPDATE ON credentials
    FOR EACH ROW
    WHEN ((to_jsonb(OLD) - 'owner_organization_ids' - 'updated_at')
          IS DISTINCT FROM (to_jsonb(NEW) - 'owner_organization_ids' - 'updated_at'))
    EXECUTE FUNCTION tenancy.record_audit_event('', 'number', 'owner_organization_ids');

DROP TRIGGER IF EXISTS credentials_audit_insert ON credentials;
CREATE TRIGGER credentials_audit_insert AFTER INSERT ON credentials
    REFERENCING NEW TABLE AS inserted
    FOR EACH STATEMENT EXECUTE FUNCTION tenancy.record_audit_inserts('', 'number', 'owner_organization_ids');
