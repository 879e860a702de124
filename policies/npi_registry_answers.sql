-- npi_registry_answers: a cache of the public NPPES NPI Registry, the same for every
-- tenant (like us_states). No RLS: nothing in it belongs to a tenant.
REVOKE ALL ON npi_registry_answers FROM msc_application;
GRANT SELECT, INSERT, UPDATE ON npi_registry_answers TO msc_application;
