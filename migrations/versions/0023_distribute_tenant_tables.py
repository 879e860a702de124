"""On a Citus cluster: the tables move to their places (docs/citus-layout.md).

- **reference** (a copy on every node): the global rows that tenant rows point at or are
  read beside: users, organizations, credentials, mfa_recovery_codes, password_resets,
  documents (us_states and npi_registry_answers since 0017);
- **distributed by organization_id**, in one co-location group, so that one tenant's
  rows of every table lie on one worker: memberships, facilities, provider_facilities,
  invitations, onboarding_step_completions, orders, audit_events;
- **distributed by user_id**, in a group of its own (a provider's one primary facility
  across organizations): primary_assignments;
- **the coordinator**: outbox_messages (Citus keeps it in its metadata as a local table,
  for its foreign keys to reference tables), deployment_region, alembic_version.

Citus distributes a table only when every foreign key it then holds is one it takes (a
key between two co-located tables on the distribution column, or to a reference table),
so the keys between the tenant tables are dropped while the tables move and added again
once both ends are distributed. Their policies and triggers reach the shards when the
policy files are applied at head, right after (app/tenancy/policies.py).

On plain PostgreSQL (no `citus` extension in the database) this revision does nothing.
Its downgrade on a cluster is refused: undistributing a table copies every shard back to
the coordinator, a step for an operator (docs/deployment.md, "Citus").

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from app.tenancy.policies import is_citus

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# In the order they are made reference tables: a table after those it points at.
REFERENCE_TABLES = (
    "users",
    "organizations",
    "credentials",
    "mfa_recovery_codes",
    "password_resets",
    "documents",
)
# The first gives the co-location group its name; the others join it.
BY_ORGANIZATION = (
    "memberships",
    "facilities",
    "provider_facilities",
    "invitations",
    "onboarding_step_completions",
    "orders",
    "audit_events",
)
ORGANIZATION_COLUMN = "organization_id"
# Distributed by the provider: its rows are not a tenant's.
BY_USER = ("primary_assignments", "user_id")


def _keys_between(tables: Sequence[str]) -> list[tuple[str, str, str]]:
    """The foreign keys from one of `tables` to another: (table, name, definition)."""
    rows = op.get_bind().execute(
        sa.text(
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


def upgrade() -> None:
    if not is_citus(op.get_bind()):
        return
    # Tables with triggers (a database upgraded from 0021 has them) are distributed only
    # with this on; the triggers are the policy files' (tenancy.on_worker_node says
    # where each may act).
    op.execute("SET LOCAL citus.enable_unsafe_triggers = on")
    # A table distributed in a transaction that already changed its reference tables, or
    # that has keys to them, must be made one connection per node.
    op.execute("SET LOCAL citus.multi_shard_modify_mode = 'sequential'")

    tenant_keys = _keys_between(BY_ORGANIZATION)
    for table, name, _definition in tenant_keys:
        op.execute(f"ALTER TABLE {table} DROP CONSTRAINT {name}")

    for table in REFERENCE_TABLES:
        op.execute(sa.text("SELECT create_reference_table(:t)").bindparams(t=table))

    first, *others = BY_ORGANIZATION
    op.execute(
        sa.text("SELECT create_distributed_table(:t, :c, colocate_with => 'none')").bindparams(
            t=first, c=ORGANIZATION_COLUMN
        )
    )
    for table in others:
        op.execute(
            sa.text("SELECT create_distributed_table(:t, :c, colocate_with => :g)").bindparams(
                t=table, c=ORGANIZATION_COLUMN, g=first
            )
        )
    table, column = BY_USER
    op.execute(
        sa.text("SELECT create_distributed_table(:t, :c, colocate_with => 'none')").bindparams(
            t=table, c=column
        )
    )

    for table, name, definition in tenant_keys:
        op.execute(f"ALTER TABLE {table} ADD CONSTRAINT {name} {definition}")


def downgrade() -> None:
    if is_citus(op.get_bind()):
        raise RuntimeError(
            "0023 is not undone on a Citus cluster: undistributing the tables copies every"
            " shard back to the coordinator, an operator's step (docs/deployment.md, Citus)"
        )
