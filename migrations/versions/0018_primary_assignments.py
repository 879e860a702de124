"""A provider's one primary facility moves to a table keyed by the provider.

The rule "one primary facility per provider, across organizations" was a partial unique
index, `provider_facilities (user_id) WHERE is_primary`; on a Citus cluster, where
provider_facilities is to be spread over shards by organization, no index spans them.
`primary_assignments` holds one row per provider (primary key `user_id`), pointing at
the primary assignment by organization and facility, and is to be distributed by the
provider; `provider_facilities.is_primary` stays, the organization's copy of the fact,
written with it by the domain (app/domain/assignments.py).

The data: one row per assignment marked primary, read in the system context (the owner
is bound by FORCE ROW LEVEL SECURITY). The new table's policies and triggers come with
the policy files at head (policies/primary_assignments.sql).

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UUID = pg.UUID(as_uuid=True)
TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "primary_assignments",
        sa.Column(
            "user_id",
            UUID,
            sa.ForeignKey("users.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column(
            "organization_id",
            UUID,
            sa.ForeignKey("organizations.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("facility_id", UUID, nullable=False),
        sa.Column("created_at", TZ, nullable=False, server_default=sa.func.now()),
        sa.Column("updated_at", TZ, nullable=False, server_default=sa.func.now()),
    )
    op.create_index(
        "ix_primary_assignments_organization_id", "primary_assignments", ["organization_id"]
    )
    op.execute(
        "SELECT set_config('tenancy.is_msc_admin', 'true', true),"
        " set_config('tenancy.request_id', 'migration:" + revision + "', true)"
    )
    # The partial unique index still holds here: one row per provider at most.
    op.execute(
        "INSERT INTO primary_assignments (user_id, organization_id, facility_id)"
        " SELECT user_id, organization_id, facility_id FROM provider_facilities"
        "  WHERE is_primary"
    )
    op.drop_index("uq_provider_facilities_primary", table_name="provider_facilities")


def downgrade() -> None:
    # The two agree (the domain writes them together): the index builds over the flags.
    op.create_index(
        "uq_provider_facilities_primary",
        "provider_facilities",
        ["user_id"],
        unique=True,
        postgresql_where=sa.text("is_primary"),
    )
    op.drop_table("primary_assignments")
