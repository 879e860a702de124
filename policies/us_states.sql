-- us_states: public reference data (codes and MAC jurisdictions), the same for every
-- tenant. Read-only to the application; no RLS because nothing in it is tenant-owned.
REVOKE ALL ON us_states FROM msc_application;
GRANT SELECT ON us_states TO msc_application;
