-- exclusion_import_rows: the import's staging (app/domain/exclusion_lists.py). A list's
-- rows are streamed here with COPY, merged into exclusion_entries and removed, in one
-- transaction: no other transaction sees them. No RLS (COPY is refused on a table with
-- row-level security, and nothing here is a tenant's); written in the service's
-- context alone, like the lists (tenancy.refuse_list_writes, policies/exclusion_lists.sql).
REVOKE ALL ON exclusion_import_rows FROM msc_application;
GRANT SELECT, INSERT, DELETE ON exclusion_import_rows TO msc_application;

DROP TRIGGER IF EXISTS exclusion_import_rows_import_only ON exclusion_import_rows;
CREATE TRIGGER exclusion_import_rows_import_only
    BEFORE INSERT OR UPDATE OR DELETE ON exclusion_import_rows
    FOR EACH STATEMENT EXECUTE FUNCTION tenancy.refuse_list_writes();
