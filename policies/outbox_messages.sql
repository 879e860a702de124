-- outbox_messages: emails waiting to be sent. Written by the change that causes them,
-- in its own transaction and under its writer's reach; relayed, sent and retried by the
-- workers in the system context (MSC reach, request id `job:...`); read by MSC admins,
-- and by an organization's staff for the messages sent in its name (INSERT ... ON
-- CONFLICT needs the writer to see the row it may conflict with). Staff who replace or
-- revoke an invitation cancel its email while it waits, and change nothing else.
ALTER TABLE outbox_messages ENABLE ROW LEVEL SECURITY;
ALTER TABLE outbox_messages FORCE ROW LEVEL SECURITY;
REVOKE ALL ON outbox_messages FROM msc_application;
GRANT SELECT, INSERT, UPDATE ON outbox_messages TO msc_application;

DROP POLICY IF EXISTS outbox_messages_select ON outbox_messages;
CREATE POLICY outbox_messages_select ON outbox_messages FOR SELECT USING (
    (SELECT tenancy.is_msc_admin())
    OR (organization_id = ANY ((SELECT tenancy.organization_ids())::uuid[])
        AND (SELECT tenancy.role()) IN ('organization_admin', 'office_manager'))
);

DROP POLICY IF EXISTS outbox_messages_insert ON outbox_messages;
CREATE POLICY outbox_messages_insert ON outbox_messages FOR INSERT WITH CHECK (
    (SELECT tenancy.is_msc_admin())
    OR (organization_id = ANY ((SELECT tenancy.organization_ids())::uuid[])
        AND (SELECT tenancy.role()) IN ('organization_admin', 'office_manager'))
);

DROP POLICY IF EXISTS outbox_messages_update ON outbox_messages;
CREATE POLICY outbox_messages_update ON outbox_messages FOR UPDATE USING (
    (SELECT tenancy.is_msc_admin())
    OR (organization_id = ANY ((SELECT tenancy.organization_ids())::uuid[])
        AND (SELECT tenancy.role()) IN ('organization_admin', 'office_manager')
        -- an invitation the caller manages (the invitations policy decides)
        AND tenancy.sees_invitation(organization_id, invitation_id))
);

-- MSC representatives write nothing here, whatever the policies above admit
-- (tenancy.refuse_representatives_writes says why, and why a trigger).
DROP TRIGGER IF EXISTS outbox_messages_may_write ON outbox_messages;
CREATE TRIGGER outbox_messages_may_write BEFORE INSERT OR UPDATE OR DELETE ON outbox_messages
    FOR EACH STATEMENT EXECUTE FUNCTION tenancy.refuse_representatives_writes();

-- What staff (the policy's only other way in) may do to a row: cancel it while it
-- waits, erasing its secret.
CREATE OR REPLACE FUNCTION tenancy.guard_outbox_cancellation() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    settable CONSTANT text[] := ARRAY['status', 'sealed_payload', 'updated_at'];
BEGIN
    IF tenancy.role() IS NOT NULL AND NOT tenancy.is_msc_admin()
       AND ((to_jsonb(NEW) - settable) IS DISTINCT FROM (to_jsonb(OLD) - settable)
            OR OLD.status NOT IN ('pending', 'queued')
            OR NEW.status <> 'cancelled'
            OR NEW.sealed_payload IS NOT NULL) THEN
        RAISE EXCEPTION 'staff only cancel an email that waits to be sent'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END
$$;

DROP TRIGGER IF EXISTS outbox_messages_guard ON outbox_messages;
CREATE TRIGGER outbox_messages_guard BEFORE UPDATE ON outbox_messages
    FOR EACH ROW EXECUTE FUNCTION tenancy.guard_outbox_cancellation();

DROP TRIGGER IF EXISTS outbox_messages_updated_at ON outbox_messages;
CREATE TRIGGER outbox_messages_updated_at BEFORE UPDATE ON outbox_messages
    FOR EACH ROW EXECUTE FUNCTION tenancy.set_updated_at();

DROP TRIGGER IF EXISTS outbox_messages_audit ON outbox_messages;
CREATE TRIGGER outbox_messages_audit AFTER UPDATE OR DELETE ON outbox_messages
    FOR EACH ROW EXECUTE FUNCTION tenancy.record_audit_event('organization_id', 'payload', 'sealed_payload');

DROP TRIGGER IF EXISTS outbox_messages_audit_insert ON outbox_messages;
CREATE TRIGGER outbox_messages_audit_insert AFTER INSERT ON outbox_messages
    REFERENCING NEW TABLE AS inserted
    FOR EACH STATEMENT EXECUTE FUNCTION tenancy.record_audit_inserts('organization_id', 'payload', 'sealed_payload');
