-- The key the tenant context is signed with, the view that checks the signature, and
-- each session's digest of the context it last checked.
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

-- The HMAC-SHA-256 (hex) of `message` under `key`: every signature the database makes or
-- checks (the view below, tenancy.signature and tenancy.put, policies/functions.sql), as
-- the application makes it (app/tenancy/signing.py). SQL, inlined where it is used;
-- every name qualified, as the caller's search path is the one in force where it is.
CREATE OR REPLACE FUNCTION tenancy.hmac(key tenancy.context_key, message text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT pg_catalog.encode(
               pg_catalog.sha256(key.outer_pad OPERATOR(pg_catalog.||) pg_catalog.sha256(
                   key.inner_pad OPERATOR(pg_catalog.||) pg_catalog.convert_to(message, 'UTF8'))),
               'hex')
$$;

-- One row, the context's fields (its text after the signature: the fields joined by
-- U+001F, in tenancy.field_names() order), when the setting's signature is the key's; no
-- row otherwise (no key, no setting, another key's signature, a field changed after
-- signing). Read with the view owner's right to the key, which it never shows: the
-- application role selects from it and learns whether its own context holds, nothing
-- more. Every name is the catalog's, bound as the view is made, so no search path or
-- temporary object of a caller's changes what it reads.
-- (The signatures are compared as text: a difference in how long the comparison takes
-- is a few nanoseconds within a statement's microseconds, nothing a caller can time.)
CREATE OR REPLACE VIEW tenancy.verified_fields WITH (security_barrier) AS
SELECT pg_catalog.substr(c.signed, 65) AS fields
  FROM tenancy.context_key k,
       (SELECT pg_catalog.current_setting('tenancy.context', true) AS signed) c
 WHERE tenancy.hmac(k, pg_catalog.substr(c.signed, 65)) = pg_catalog.substr(c.signed, 1, 64);
REVOKE ALL ON tenancy.verified_fields FROM PUBLIC;
GRANT SELECT ON tenancy.verified_fields TO msc_application;

-- The SHA-256 of the context this session last adopted after checking its signature
-- (tenancy.make_current, policies/functions.sql), in two halves of 64 bits: a session's own
-- value of each (currval), which only the owner sets (setval), each session its own.
-- tenancy.fields() compares the context with it, a hash of a kilobyte, instead of
-- checking the signature again, which reads the key (three times the cost, once for
-- every reader of every statement). Holding a digest changes nothing anyone may do: it
-- is only ever set for a context whose signature the key has just confirmed, and it
-- admits only that same text (a second preimage of 128 bits of SHA-256 is out of
-- reach). The application role reads its session's value (SELECT allows currval, not
-- nextval or setval), and the sequence's last value, which is the digest of whichever
-- context a session made current last: a digest is no secret, and admits only its own
-- context, whose signature the key confirmed. Unlogged: a logged sequence's setval gives the
-- transaction an id and its commit a flush of the write-ahead log, which a request that
-- writes nothing would pay for; a session's value needs no log.
CREATE UNLOGGED SEQUENCE IF NOT EXISTS tenancy.held_context_digest_1
    MINVALUE -9223372036854775808 MAXVALUE 9223372036854775807;
CREATE UNLOGGED SEQUENCE IF NOT EXISTS tenancy.held_context_digest_2
    MINVALUE -9223372036854775808 MAXVALUE 9223372036854775807;
REVOKE ALL ON tenancy.held_context_digest_1, tenancy.held_context_digest_2 FROM PUBLIC;
GRANT SELECT ON tenancy.held_context_digest_1, tenancy.held_context_digest_2 TO msc_application;
