-- orders: placed by a provider at a facility where they are actively assigned. MSC sees
-- and changes all; organization admins their scope; office managers the orders of the
-- facilities they manage; a provider their own, at every organization. MSC
-- representatives read their scope's (the dashboard counts them).
ALTER TABLE orders ENABLE ROW LEVEL SECURITY;
ALTER TABLE orders FORCE ROW LEVEL SECURITY;
GRANT SELECT, INSERT, UPDATE, DELETE ON orders TO msc_application;

-- The branch most rows meet comes first: the others are evaluated only for rows it
-- rejects. (An office manager's facilities are all in the active organization.)
DROP POLICY IF EXISTS orders_select ON orders;
CREATE POLICY orders_select ON orders FOR SELECT USING (
    organization_id = ANY ((SELECT tenancy.staff_organization_ids())::uuid[])
    OR facility_id = ANY ((SELECT tenancy.facility_ids())::uuid[])
    OR provider_id = (SELECT tenancy.user_id())
    OR (SELECT tenancy.is_msc_admin())
);

-- Only the provider places their own orders, acting for the order's organization, at a
-- facility where they hold an ACTIVE assignment (tenancy.working_facility_ids; the
-- facility is the organization's: the foreign key holds both). Not even MSC inserts: an
-- order is the provider's act.
DROP POLICY IF EXISTS orders_insert ON orders;
CREATE POLICY orders_insert ON orders FOR INSERT WITH CHECK (
    provider_id = (SELECT tenancy.user_id())
    AND (SELECT tenancy.role()) = 'provider'
    AND organization_id = ANY ((SELECT tenancy.organization_ids())::uuid[])
    AND facility_id = ANY ((SELECT tenancy.working_facility_ids())::uuid[])
);

-- Status changes: staff in reach (any status), and the provider on their own orders
-- while draft or submitted, which they may only submit or cancel. Which transitions
-- exist is guard_order_update's business (below) and the domain's.
DROP POLICY IF EXISTS orders_update ON orders;
CREATE POLICY orders_update ON orders FOR UPDATE
    USING (
        (SELECT tenancy.is_msc_admin())
        OR (organization_id = ANY ((SELECT tenancy.organization_ids())::uuid[])
            AND ((SELECT tenancy.role()) = 'organization_admin'
                 OR ((SELECT tenancy.role()) = 'office_manager'
                     AND facility_id = ANY ((SELECT tenancy.facility_ids())::uuid[]))
                 OR (provider_id = (SELECT tenancy.user_id())
                     AND status IN ('draft', 'submitted'))))
    )
    WITH CHECK (
        (SELECT tenancy.is_msc_admin())
        OR (organization_id = ANY ((SELECT tenancy.organization_ids())::uuid[])
            AND ((SELECT tenancy.role()) = 'organization_admin'
                 OR ((SELECT tenancy.role()) = 'office_manager'
                     AND facility_id = ANY ((SELECT tenancy.facility_ids())::uuid[]))
                 OR (provider_id = (SELECT tenancy.user_id())
                     AND status IN ('submitted', 'cancelled'))))
    );

-- Orders are history: only MSC removes one.
DROP POLICY IF EXISTS orders_delete ON orders;
CREATE POLICY orders_delete ON orders FOR DELETE USING ((SELECT tenancy.is_msc_admin()));

-- MSC representatives write nothing here, whatever the policies above admit
-- (tenancy.refuse_representatives_writes says why, and why a trigger).
DROP TRIGGER IF EXISTS orders_may_write ON orders;
CREATE TRIGGER orders_may_write BEFORE INSERT OR UPDATE OR DELETE ON orders
    FOR EACH STATEMENT EXECUTE FUNCTION tenancy.refuse_representatives_writes();

-- BEFORE UPDATE: an order never moves to another tenant, facility or provider, and its
-- status follows the lifecycle whoever writes it (the API checks the same first, with
-- a clearer answer). Errors name the column, which the API reports as the field.
CREATE OR REPLACE FUNCTION tenancy.guard_order_update() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.organization_id IS DISTINCT FROM OLD.organization_id
       OR NEW.facility_id IS DISTINCT FROM OLD.facility_id
       OR NEW.provider_id IS DISTINCT FROM OLD.provider_id THEN
        PERFORM tenancy.raise_for_column(
            'insufficient_privilege',
            'an order keeps its organization, facility and provider',
            'facility_id');
    END IF;
    IF NEW.status IS DISTINCT FROM OLD.status AND NOT (OLD.status, NEW.status) IN (
        ('draft', 'submitted'), ('draft', 'cancelled'),
        ('submitted', 'approved'), ('submitted', 'cancelled'),
        ('approved', 'shipped'), ('approved', 'cancelled'),
        ('shipped', 'delivered')
    ) THEN
        PERFORM tenancy.raise_for_column(
            'check_violation',
            format('an order cannot go from %s to %s', OLD.status, NEW.status),
            'status');
    END IF;
    RETURN NEW;
END
$$;

DROP TRIGGER IF EXISTS orders_guard ON orders;
CREATE TRIGGER orders_guard BEFORE UPDATE ON orders
    FOR EACH ROW EXECUTE FUNCTION tenancy.guard_order_update();

DROP TRIGGER IF EXISTS orders_updated_at ON orders;
CREATE TRIGGER orders_updated_at BEFORE UPDATE ON orders
    FOR EACH ROW EXECUTE FUNCTION tenancy.set_updated_at();

DROP TRIGGER IF EXISTS orders_audit ON orders;
CREATE TRIGGER orders_audit AFTER UPDATE OR DELETE ON orders
    FOR EACH ROW EXECUTE FUNCTION tenancy.record_audit_event('organization_id');

DROP TRIGGER IF EXISTS orders_audit_insert ON orders;
CREATE TRIGGER orders_audit_insert AFTER INSERT ON orders
    REFERENCING NEW TABLE AS inserted
    FOR EACH STATEMENT EXECUTE FUNCTION tenancy.record_audit_inserts('organization_id');
