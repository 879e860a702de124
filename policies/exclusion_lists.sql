-- exclusion_lists: the versions of the exclusion lists (HHS-OIG LEIE, SAM.gov) as
-- imported, the same for every tenant. No RLS: nothing in it belongs to a tenant; every
-- screening names the versions it was checked against, which everyone in reach of the
-- screening reads. Written by the import alone (app/domain/exclusion_lists.py), in the
-- service's context: tenancy.refuse_list_writes refuses any other writer.
REVOKE ALL ON exclusion_lists FROM msc_application;
GRANT SELECT, INSERT, UPDATE ON exclusion_lists TO msc_application;

DROP TRIGGER IF EXISTS exclusion_lists_import_only ON exclusion_lists;
CREATE TRIGGER exclusion_lists_import_only BEFORE INSERT OR UPDATE OR DELETE ON exclusion_lists
    FOR EACH STATEMENT EXECUTE FUNCTION tenancy.refuse_list_writes();
