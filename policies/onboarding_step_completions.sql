-- onboarding_step_completions: steps an organization completed by hand. Its staff read
-- them; its admins (and MSC admins) complete and reopen steps.
ALTER TABLE onboarding_step_completions ENABLE ROW LEVEL SECURITY;
ALTER TABLE onboarding_step_completions FORCE ROW LEVEL SECURITY;
GRANT SELECT, INSERT, DELETE ON onboarding_step_completions TO msc_application;

DROP POLICY IF EXISTS onboarding_step_completions_select ON onboarding_step_completions;
CREATE POLICY onboarding_step_completions_select ON onboarding_step_completions FOR SELECT USING (
    (SELECT tenancy.is_msc_admin())
    OR organization_id = ANY ((SELECT tenancy.organization_ids())::uuid[])
);

DROP POLICY IF EXISTS onboarding_step_completions_insert ON onboarding_step_completions;
CREATE POLICY onboarding_step_completions_insert ON onboarding_step_completions
    FOR INSERT WITH CHECK (
        (SELECT tenancy.is_msc_admin())
        OR (organization_id = ANY ((SELECT tenancy.organization_ids())::uuid[])
            AND (SELECT tenancy.role()) = 'organization_admin')
    );

DROP POLICY IF EXISTS onboarding_step_completions_delete ON onboarding_step_completions;
CREATE POLICY onboarding_step_completions_delete ON onboarding_step_completions
    FOR DELETE USING (
        (SELECT tenancy.is_msc_admin())
        OR (organization_id = ANY ((SELECT tenancy.organization_ids())::uuid[])
            AND (SELECT tenancy.role()) = 'organization_admin')
    );

-- MSC representatives write nothing here, whatever the policies above admit
-- (tenancy.refuse_representatives_writes says why, and why a trigger).
DROP TRIGGER IF EXISTS onboarding_step_completions_may_write ON onboarding_step_completions;
CREATE TRIGGER onboarding_step_completions_may_write BEFORE INSERT OR UPDATE OR DELETE ON onboarding_step_completions
    FOR EACH STATEMENT EXECUTE FUNCTION tenancy.refuse_representatives_writes();

DROP TRIGGER IF EXISTS onboarding_step_completions_audit ON onboarding_step_completions;
CREATE TRIGGER onboarding_step_completions_audit
    AFTER UPDATE OR DELETE ON onboarding_step_completions
    FOR EACH ROW EXECUTE FUNCTION tenancy.record_audit_event('organization_id');

DROP TRIGGER IF EXISTS onboarding_step_completions_audit_insert ON onboarding_step_completions;
CREATE TRIGGER onboarding_step_completions_audit_insert AFTER INSERT ON onboarding_step_completions
    REFERENCING NEW TABLE AS inserted
    FOR EACH STATEMENT EXECUTE FUNCTION tenancy.record_audit_inserts('organization_id');
