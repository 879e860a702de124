"""Indexes for the reports of a large tenant (a thousand facilities, ten thousand
providers):
- the dashboard's active orders per facility: by organization and status, so the count
  reads the few orders in flight rather than every order of the tree;
- who holds a valid training certificate (compliance): an index-only read of a
  provider's documents by type, which also serves every lookup by provider (it replaces
  the index on user_id alone);
- a facility's providers (hierarchy, FHIR), probed by facility whatever the
  organization.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_orders_organization_id_status_facility_id",
        "orders",
        ["organization_id", "status", "facility_id"],
        postgresql_include=["provider_id"],
    )
    op.create_index(
        "ix_documents_user_id_document_type",
        "documents",
        ["user_id", "document_type"],
        postgresql_include=["expiry_date", "organization_id"],
    )
    op.drop_index("ix_documents_user_id", table_name="documents")
    op.create_index("ix_provider_facilities_facility_id", "provider_facilities", ["facility_id"])


def downgrade() -> None:
    op.drop_index("ix_provider_facilities_facility_id", table_name="provider_facilities")
    op.create_index("ix_documents_user_id", "documents", ["user_id"])
    op.drop_index("ix_documents_user_id_document_type", table_name="documents")
    op.drop_index("ix_orders_organization_id_status_facility_id", table_name="orders")
