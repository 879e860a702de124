-- The key the tenant context is signed with, and the view that checks the signature.
--
-- The context (policies/functions.sql, tenancy.fields) is one transaction-local setting,
-- `tenancy.context`: the HMAC-SHA-256 of its fields under this key, in hex, then the
-- fields. The application signs what it sets with the same key (TENANT_CONTEXT_KEY,
-- app/tenancy/signing.py, which also writes the key here); tenancy.enter signs what it
-- resolves. The table is the owner's alone: code that runs SQL as the application role
-- cannot read the key, so cannot sign, so every context it makes up is no context.
--
-- Applied on every node of a Citus cluster, each holding its own copy (a plain table,
-- not one of the cluster's): the policies of a shard read it on the worker that holds
-- the shard, where a query of the cluster's tables is refused (app/tenancy/policies.py).
CREATE SCHEMA IF NOT EXISTS tenancy;

-- HMAC-SHA-256 as two SHA-256 passes (RFC 2104), with the key's inner and outer pads
-- stored ready: PostgreSQL's own sha256(), no extension.
CREATE TABLE IF NOT EXISTS tenancy.context_key (
    only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    inner_pad bytea NOT NULL CHECK (length(inner_pad) = 64),
    outer_pad bytea NOT NULL CHECK (length(outer_pad) = 64)
);
REVOKE ALL ON tenancy.context_key FROM PUBLIC;
REVOKE ALL ON tenancy.context_key FROM msc_application;

-- One row, the context's fields (split at U+001F, in tenancy.field_names() order), when the
-- setting's signature is the key's; no row otherwise (no key, no setting, another key's
-- signature, a field changed after signing). Read with the view owner's right to the key,
-- which it never shows: the application role selects from it and learns whether its own
-- context holds, nothing more. Every name is the catalog's, bound as the view is made,
-- so no search path or temporary object of a caller's changes what it reads.
-- (The signatures are compared as text: a difference in how long the comparison takes
-- is a few nanoseconds within a statement's microseconds, nothing a caller can time.)
CREATE OR REPLACE VIEW tenancy.verified_context WITH (security_barrier) AS
SELECT pg_catalog.string_to_array(pg_catalog.substr(c.signed, 65), pg_catalog.chr(31)) AS fields
  FROM tenancy.context_key k,
       (SELECT pg_catalog.current_setting('tenancy.context', true) AS signed) c
 WHERE pg_catalog.encode(
           pg_catalog.sha256(k.outer_pad || pg_catalog.sha256(
               k.inner_pad || pg_catalog.convert_to(pg_catalog.substr(c.signed, 65), 'UTF8'))),
           'hex') = pg_catalog.substr(c.signed, 1, 64);
REVOKE ALL ON tenancy.verified_context FROM PUBLIC;
GRANT SELECT ON tenancy.verified_context TO msc_application;
