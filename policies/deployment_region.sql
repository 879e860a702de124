-- deployment_region: which region this database serves (one row, written by the
-- migration step). The application only reads it, at start-up.
REVOKE ALL ON deployment_region FROM msc_application;
GRANT SELECT ON deployment_region TO msc_application;
