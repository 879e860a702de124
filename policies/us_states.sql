-- us_states: public reference data (codes and MAC jurisdictions), the same for every
-- tenant. Read-only to the application.
-- Its UPDATE privilege is Citus's due, not a right to change a row: on a cluster, a
-- write of a row that points at a state (a credential) locks the state's table on the
-- workers, and Citus asks the writer for a write privilege on it first. The policies
-- admit every read and no write, so the grant changes nothing.
-- (Not forced: the owner's migrations keep the data.)
ALTER TABLE us_states ENABLE ROW LEVEL SECURITY;
ALTER TABLE us_states NO FORCE ROW LEVEL SECURITY;
REVOKE ALL ON us_states FROM msc_application;
GRANT SELECT, UPDATE ON us_states TO msc_application;

DROP POLICY IF EXISTS us_states_select ON us_states;
CREATE POLICY us_states_select ON us_states FOR SELECT USING (true);
