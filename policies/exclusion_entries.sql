-- exclusion_entries: the exclusions the lists carry, the same for every tenant, kept
-- after a reinstatement (a screening's evidence points at them). No RLS, like
-- exclusion_lists; written by the import alone (tenancy.refuse_list_writes,
-- policies/exclusion_lists.sql).
REVOKE ALL ON exclusion_entries FROM msc_application;
GRANT SELECT, INSERT, UPDATE ON exclusion_entries TO msc_application;

DROP TRIGGER IF EXISTS exclusion_entries_import_only ON exclusion_entries;
CREATE TRIGGER exclusion_entries_import_only
    BEFORE INSERT OR UPDATE OR DELETE ON exclusion_entries
    FOR EACH STATEMENT EXECUTE FUNCTION tenancy.refuse_list_writes();

-- How screening compares a person's name with a list's: lower case, without
-- accents and punctuation (José is jose, O'Brien obrien, Smith-Jones smithjones), without titles and
-- suffixes (Dr., Jr., III, MD, ...), then the first word and the last: "Dr. Mary Ann
-- Smith-Jones, MD" and the LEIE's FIRSTNAME "MARY ANN", LASTNAME "SMITH-JONES" both
-- give 'mary smithjones'. NULL when fewer than two words are left (no name to match).
-- The same function for both sides, so that they can only agree by the same rule.
-- Scalar string functions only (no array, no set): it runs on every provider's name at
-- each screening and on every new entry at each import.
CREATE OR REPLACE FUNCTION tenancy.name_key(full_name text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN strpos(words, ' ') > 0
                THEN split_part(words, ' ', 1) || ' ' || substring(words FROM '[^ ]+$') END
      FROM (SELECT btrim(regexp_replace(
                regexp_replace(
                    regexp_replace(translate(lower(coalesce(full_name, '')),
                                             'áàâäãåéèêëíìîïóòôöõøúùûüñçý',
                                             'aaaaaaeeeeiiiioooooouuuuncy'),
                                   '[^a-z0-9 ,]', '', 'g'),
                    '\m(dr|mr|mrs|ms|miss|prof|jr|sr|ii|iii|iv|v|md|do|phd|dds|dmd|dpm|od|np|pa|pac'
                    '|rn|aprn|crna|dnp|facp|facs|esq)\M',
                    ' ', 'g'),
                '[ ,]+', ' ', 'g')) AS words) AS named
$$;
