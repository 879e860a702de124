"""Indexes that carry what the select policies read: a count of an organization's
facilities or orders under the policies is then an index-only scan, as it is without
them (facilities: id and office_manager_id; orders: provider_id).

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (index, table, key columns, columns the policy reads besides)
COVERED = (
    (
        "ix_facilities_organization_id_name",
        "facilities",
        ["organization_id", "name"],
        ["id", "office_manager_id"],
    ),
    (
        "ix_orders_organization_id_facility_id",
        "orders",
        ["organization_id", "facility_id"],
        ["provider_id"],
    ),
)


def upgrade() -> None:
    for name, table, columns, included in COVERED:
        op.drop_index(name, table_name=table)
        op.create_index(name, table, columns, postgresql_include=included)


def downgrade() -> None:
    for name, table, columns, _included in COVERED:
        op.drop_index(name, table_name=table)
        op.create_index(name, table, columns)
