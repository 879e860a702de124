"""Where each table lives on a Citus cluster, and moving the tables there.

docs/citus-layout.md gives the decision per table and why:

- **reference** (a copy on every node): the global rows that tenant rows point at or are
  read beside;
- **distributed by organization_id**, in one co-location group, so that one
  organization's rows of every table lie on one worker;
- **the coordinator**: every other table (the outbox, the NPI Registry's cache, the
  region's claim, Alembic's version), which Citus keeps in its metadata as a local table
  where it holds a foreign key to a reference table.

The tables are moved at head, every time the migrations run on a coordinator
(migrations/env.py), so that a database becomes distributed however it arrived there:
made on the cluster, or restored there from one server, its revisions all applied. Only
the tables not yet in their places move, which makes the step cheap once they all are.
On one server (no `citus` extension in the database) nothing happens.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, text

from app.tenancy.policies import is_citus

# In the order they are made reference tables: a table after those it points at.
REFERENCE = (
    "us_states",
    "users",
    "organizations",
    # A provider's one primary facility across organizations, read beside every tenant's
    # assignments: a copy on each node keeps those reads on the tenant's node.
    "primary_assignments",
    "credentials",
    "mfa_recovery_codes",
    "password_resets",
    "documents",
    # The exclusion lists every tenant's screenings are checked against and point at.
    "exclusion_lists",
    "exclusion_entries",
    # The import's staging, merged into exclusion_entries in one statement.
    "exclusion_import_rows",
)
# The first gives the co-location group its name; the others join it.
BY_ORGANIZATION = (
    "memberships",
    "facilities",
    "provider_facilities",
    "invitations",
    "onboarding_step_completions",
    "orders",
    "credential_verifications",
    "audit_events",
    # the trail's door (app/models/access_record.py): with it, shard by shard
    "access_records",
    "provider_screenings",
    "exclusion_matches",
    "license_checks",
    # An organization's webhook endpoints, events, deliveries and attempts, together.
    "webhook_endpoints",
    "webhook_events",
    "webhook_deliveries",
    "webhook_attempts",
)
ORGANIZATION_COLUMN = "organization_id"


def place_tables(connection: Connection) -> None:
    """Move every table not yet in its place there, in the connection's transaction.

    The tables that move (and those Citus does not know yet) lose their policies and
    triggers first (Citus refuses to
    distribute a table whose policy holds a subquery, as one server's policies do, and
    the copy of its rows must fire no trigger) and their forced row-level security (the
    owner copies every row): the caller applies the policy files right after, which make
    all three again (app/tenancy/policies.py). The foreign keys between tenant tables
    are dropped while they move and added again once both ends are distributed: Citus
    takes a key between two distributed tables only when both are co-located."""
    if not is_citus(connection):
        return
    placed = _placed(connection)
    reference = [t for t in REFERENCE if placed.get(t) != ("n", "t")]
    by_organization = [t for t in BY_ORGANIZATION if placed.get(t) != ("h", "s")]
    moving = [*reference, *by_organization]
    if not moving:
        return
    connection.execute(text("SET LOCAL citus.enable_unsafe_triggers = on"))
    # A table distributed in a transaction that already changed a reference table, or
    # that has keys to them, must be made one connection per node.
    connection.execute(text("SET LOCAL citus.multi_shard_modify_mode = 'sequential'"))
    # With them, every table Citus does not know yet: a table keeping a foreign key to a
    # new reference table becomes a Citus local table at that moment, policies and all.
    tables = connection.execute(
        text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    ).scalars()
    for name in sorted(set(moving) | (set(tables) - set(placed))):
        _strip(connection, name)
    tenant_keys = _keys_between(connection, BY_ORGANIZATION)
    for name, key, _definition in tenant_keys:
        connection.execute(text(f"ALTER TABLE {name} DROP CONSTRAINT {key}"))

    # A table distributed until now (primary_assignments was, by provider) is made one
    # table again first, its keys dropped meanwhile: Citus undistributes no table that
    # holds keys to reference tables.
    redistributed = [t for t in reference if placed.get(t) == ("h", "s")]
    own_keys = _keys_of(connection, redistributed)
    for name, key, _definition in own_keys:
        connection.execute(text(f"ALTER TABLE {name} DROP CONSTRAINT {key}"))
    for name in redistributed:
        connection.execute(text("SELECT undistribute_table(:t)"), {"t": name})
    for name in reference:
        connection.execute(text("SELECT create_reference_table(:t)"), {"t": name})
    for name, key, definition in own_keys:
        connection.execute(text(f"ALTER TABLE {name} ADD CONSTRAINT {key} {definition}"))
    group = BY_ORGANIZATION[0]
    for name in by_organization:
        connection.execute(
            text("SELECT create_distributed_table(:t, :c, colocate_with => :g)"),
            {"t": name, "c": ORGANIZATION_COLUMN, "g": "none" if name == group else group},
        )
    for name, key, definition in tenant_keys:
        connection.execute(text(f"ALTER TABLE {name} ADD CONSTRAINT {key} {definition}"))


def _placed(connection: Connection) -> dict[str, tuple[str, str]]:
    """Each table Citus knows: (partition method, replication model); ('n', 't') for a
    reference table, ('h', 's') for a distributed one, ('n', 's') for a local one."""
    rows = connection.execute(
        text("SELECT logicalrelid::text, partmethod, repmodel FROM pg_dist_partition")
    )
    return {name: (method, model) for name, method, model in rows}


def _strip(connection: Connection, table: str) -> None:
    """Drop the table's policies and own triggers, and stop forcing its policies on the
    owner: until the policy files make them again."""
    policies = connection.execute(
        text("SELECT policyname FROM pg_policies WHERE schemaname = 'public' AND tablename = :t"),
        {"t": table},
    ).scalars()
    for policy in list(policies):
        connection.execute(text(f'DROP POLICY "{policy}" ON {table}'))
    triggers = connection.execute(
        text(
            "SELECT tgname FROM pg_trigger"
            " WHERE tgrelid = CAST(:t AS regclass) AND NOT tgisinternal"
        ),
        {"t": table},
    ).scalars()
    for trigger in list(triggers):
        connection.execute(text(f'DROP TRIGGER "{trigger}" ON {table}'))
    connection.execute(text(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY"))


def _keys_of(connection: Connection, tables: Sequence[str]) -> list[tuple[str, str, str]]:
    """The foreign keys `tables` hold: (table, name, definition)."""
    if not tables:
        return []
    rows = connection.execute(
        text(
            "SELECT c.conrelid::regclass::text, c.conname, pg_get_constraintdef(c.oid)"
            "  FROM pg_constraint c"
            " WHERE c.contype = 'f' AND c.conrelid = ANY (CAST(:tables AS regclass[]))"
            " ORDER BY 1, 2"
        ),
        {"tables": list(tables)},
    )
    return [(name, key, definition) for name, key, definition in rows]


def _keys_between(connection: Connection, tables: Sequence[str]) -> list[tuple[str, str, str]]:
    """The foreign keys from one of `tables` to another: (table, name, definition)."""
    rows = connection.execute(
        text(
            "SELECT c.conrelid::regclass::text, c.conname, pg_get_constraintdef(c.oid)"
            "  FROM pg_constraint c"
            " WHERE c.contype = 'f'"
            "   AND c.conrelid = ANY (CAST(:tables AS regclass[]))"
            "   AND c.confrelid = ANY (CAST(:tables AS regclass[]))"
            " ORDER BY 1, 2"
        ),
        {"tables": list(tables)},
    )
    return [(table, name, definition) for table, name, definition in rows]
