"""Policies a Citus cluster accepts: no subquery but a call's wrapper, no RESTRICTIVE policy.

Where the policies (policies/, applied at head after this revision) looked rows up in
another table with a subquery, they call a STABLE function instead: a predicate for the
one row written (`tenancy.works_at`, `tenancy.invitation_admits_membership`, ...) or a
set of ids wrapped like the other reach functions (`tenancy.member_organization_ids`),
whose wrapper a Citus cluster is given without (app/tenancy/policies.py). The policy
files, applied whole at head, replace the policies; nothing in this revision's own steps
concerns them.

The two RESTRICTIVE policies per table that refused an MSC representative's writes
(`<table>_may_write`, `<table>_may_delete`) give way to one statement trigger,
`<table>_may_write` (`tenancy.refuse_representatives_writes`): Citus gives a table's
shards its restrictive policies as permissive ones.

Like every revision's, this one's changes to policies/ take effect at head, when the files
are applied whole. Downgrade restores the RESTRICTIVE policies, for the service of earlier
revisions (the new functions stay, called by policies that stay); not on a Citus cluster.

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-30
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The tables whose writes an MSC representative may not make.
_WRITE_GUARDED = (
    "organizations",
    "facilities",
    "memberships",
    "provider_facilities",
    "invitations",
    "onboarding_step_completions",
    "documents",
    "credentials",
    "orders",
    "outbox_messages",
)


def upgrade() -> None:
    for table in _WRITE_GUARDED:
        op.execute(f"DROP POLICY IF EXISTS {table}_may_write ON {table}")
        op.execute(f"DROP POLICY IF EXISTS {table}_may_delete ON {table}")


def downgrade() -> None:
    # A Citus cluster would give the shards these RESTRICTIVE policies as permissive ones.
    citus = op.get_bind().exec_driver_sql("SELECT 1 FROM pg_extension WHERE extname = 'citus'")
    if citus.first() is not None:
        raise RuntimeError("0016 is not undone on a Citus cluster")
    for table in _WRITE_GUARDED:
        op.execute(f"DROP TRIGGER IF EXISTS {table}_may_write ON {table}")
        op.execute(
            f"CREATE POLICY {table}_may_write ON {table} AS RESTRICTIVE FOR ALL"
            " USING (true) WITH CHECK ((SELECT tenancy.may_write_tenant_data()))"
        )
        op.execute(
            f"CREATE POLICY {table}_may_delete ON {table} AS RESTRICTIVE FOR DELETE"
            " USING ((SELECT tenancy.may_write_tenant_data()))"
        )
    op.execute("DROP FUNCTION IF EXISTS tenancy.refuse_representatives_writes()")
