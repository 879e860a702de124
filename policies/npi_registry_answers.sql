-- npi_registry_answers: a cache of the public NPPES NPI Registry, the same for every
-- tenant (like us_states). No RLS: nothing in it belongs to a tenant.
-- The application reads it and writes it only through tenancy.remember_npi_answer, which
-- admits nothing but a registry's answer about a valid number: so a caller holding the
-- application role (an injected statement, a leaked credential) cannot fill the table
-- every tenant's verifications read with rows of its own making.
REVOKE ALL ON npi_registry_answers FROM msc_application;
GRANT SELECT ON npi_registry_answers TO msc_application;

-- Whether `npi` is a National Provider Identifier: ten digits, the first 1 or 2, the
-- last the Luhn check digit over the prefix 80840 and the first nine (which adds 24),
-- as app/domain/reference.py checks it.
CREATE OR REPLACE FUNCTION tenancy.is_valid_npi(npi text) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN npi ~ '^[12][0-9]{9}$' THEN
        (10 - (24 + (SELECT sum(CASE WHEN place % 2 = 1  -- every other, from the 9th
                                     THEN (2 * digit) / 10 + (2 * digit) % 10
                                     ELSE digit END)
                       FROM (SELECT place, substr(npi, place, 1)::int AS digit
                               FROM generate_series(1, 9) AS place) AS digits)) % 10) % 10
        = substr(npi, 10, 1)::int
    ELSE false END
$$;

-- Keep the registry's answer about `npi`, as fetched at `fetched_at`: a result (a JSON
-- object whose `number` is `npi`) or {} for "no such number". Of two answers about one
-- number the later fetched is kept, whichever comes last (two lookups racing).
-- Refused, with the parameter at fault named as the column (a 422 naming the field if
-- it ever reached a request): a malformed NPI; an answer that is not an object, neither
-- {} nor a result whose `number` is `npi`, or larger than any the client accepts
-- (app/integrations/nppes.py, MAX_ANSWER_BYTES); a fetch time missing, or ahead of the
-- database's clock by more than the few minutes two servers' clocks may differ (a time
-- in the future would hold its answer against every answer fetched until then).
-- SECURITY DEFINER, the application role holding no INSERT or UPDATE on the table: its
-- search path pinned with pg_temp last and the table named by its schema, so that no
-- temporary table of the caller's stands in for the cache (tests/test_catalogue.py).
CREATE OR REPLACE FUNCTION tenancy.remember_npi_answer(
    npi text, answer jsonb, fetched_at timestamptz
) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
#variable_conflict use_column
BEGIN
    -- the service's only (a request's or a job's verified context): SQL run as the
    -- application role without the context key writes nothing here either
    IF tenancy.fields() IS NULL THEN
        RAISE EXCEPTION 'the NPI cache is written by the service alone'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF NOT coalesce(tenancy.is_valid_npi(remember_npi_answer.npi), false) THEN
        PERFORM tenancy.raise_for_column(
            'check_violation', 'not a valid NPI (10 digits, with its check digit)', 'npi');
    END IF;
    IF coalesce(jsonb_typeof(remember_npi_answer.answer), '') <> 'object' THEN
        PERFORM tenancy.raise_for_column(
            'check_violation', 'the registry''s answer must be a JSON object', 'answer');
    END IF;
    IF remember_npi_answer.answer <> '{}'::jsonb
       AND (remember_npi_answer.answer ->> 'number') IS DISTINCT FROM remember_npi_answer.npi
    THEN
        PERFORM tenancy.raise_for_column(
            'check_violation', 'the registry''s answer must be {} or a result about this number',
            'answer');
    END IF;
    IF octet_length(remember_npi_answer.answer::text) > 1000000 THEN
        PERFORM tenancy.raise_for_column(
            'check_violation', 'the registry''s answer is too large', 'answer');
    END IF;
    IF remember_npi_answer.fetched_at IS NULL
       OR remember_npi_answer.fetched_at > statement_timestamp() + interval '5 minutes'
    THEN
        PERFORM tenancy.raise_for_column(
            'check_violation', 'an answer cannot be fetched in the future', 'fetched_at');
    END IF;
    INSERT INTO public.npi_registry_answers AS cached (npi, answer, fetched_at)
    VALUES (remember_npi_answer.npi, remember_npi_answer.answer, remember_npi_answer.fetched_at)
    ON CONFLICT (npi) DO UPDATE
       SET answer = excluded.answer, fetched_at = excluded.fetched_at
     WHERE cached.fetched_at <= excluded.fetched_at;
END
$$;

REVOKE ALL ON FUNCTION tenancy.remember_npi_answer(text, jsonb, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tenancy.remember_npi_answer(text, jsonb, timestamptz)
    TO msc_application;
