-- access_records: the door through which the application records a read of sensitive
-- data (app/models/access_record.py). A row inserted here becomes one audit event,
-- action 'access', written by tenancy.record_access() below, and is never kept: the
-- application role may insert and nothing else, and the policy admits no row, so the
-- table holds nothing even without its trigger (an access then fails to be recorded,
-- and with it the read).
--
-- No `<table>_may_write` trigger: an MSC representative's reads are recorded like
-- anyone's (writing the trail is not writing an organization's data).
ALTER TABLE access_records ENABLE ROW LEVEL SECURITY;
ALTER TABLE access_records FORCE ROW LEVEL SECURITY;
REVOKE ALL ON access_records FROM msc_application;
GRANT INSERT ON access_records TO msc_application;

DROP POLICY IF EXISTS access_records_insert ON access_records;
CREATE POLICY access_records_insert ON access_records FOR INSERT WITH CHECK (false);

-- BEFORE INSERT row trigger: the access event of the row, which it then drops. Who read
-- (the actor), under which request, and whether an MSC admin read outside their own
-- organizations (the cross-tenant flag, as tenancy.is_cross_tenant decides it for the
-- changes) come from the transaction's context, never from the row; the organization
-- must be one the context reaches (an MSC admin's: any, and none), so nobody files
-- events into a trail outside their reach. SECURITY DEFINER with the search path pinned
-- and the trail named by its schema, as the audit trigger functions
-- (policies/functions.sql). On a Citus cluster the table lies with the trail, shard by
-- shard, so this fires on the node holding the organization's shard of audit_events
-- and writes it there.
CREATE OR REPLACE FUNCTION tenancy.record_access() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    -- the verified context, read once for the reach, the actor and the request
    context text := tenancy.fields();
BEGIN
    PERFORM tenancy.refuse_unverified_change(context);
    IF NOT (coalesce(tenancy.field(context, 'is_msc_admin')::boolean, false)
            OR NEW.organization_id
               = ANY (tenancy.ids(tenancy.field(context, 'organization_ids'))))
    THEN
        PERFORM tenancy.raise_for_column(
            'insufficient_privilege',
            'an access is recorded in the trail of an organization in reach only',
            'organization_id');
    END IF;
    INSERT INTO public.audit_events (organization_id, actor_user_id, cross_tenant, action,
                                     table_name, row_id, purpose, request_id)
    VALUES (NEW.organization_id, tenancy.field(context, 'user_id')::uuid,
            tenancy.is_cross_tenant(context, NEW.organization_id), 'access', NEW.table_name,
            NEW.row_id, NEW.purpose, tenancy.field(context, 'request_id'));
    RETURN NULL;
END
$$;

REVOKE ALL ON FUNCTION tenancy.record_access() FROM PUBLIC;

DROP TRIGGER IF EXISTS access_records_record ON access_records;
CREATE TRIGGER access_records_record BEFORE INSERT ON access_records
    FOR EACH ROW EXECUTE FUNCTION tenancy.record_access();
