"""Credentials, documents, onboarding step completions, NPI verification.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UUID = pg.UUID(as_uuid=True)
TZ = sa.DateTime(timezone=True)


def _id() -> sa.Column:
    return sa.Column("id", UUID, primary_key=True, server_default=sa.text("gen_random_uuid()"))


def _timestamps() -> list[sa.Column]:
    return [
        sa.Column("created_at", TZ, nullable=False, server_default=sa.func.now()),
        sa.Column("updated_at", TZ, nullable=False, server_default=sa.func.now()),
    ]


def upgrade() -> None:
    op.add_column(
        "users",
        sa.Column("npi_verification", sa.String(16), nullable=False, server_default="unverified"),
    )
    op.add_column("users", sa.Column("npi_verified_at", TZ))
    op.add_column(
        "users",
        sa.Column("dea_not_applicable", sa.Boolean, nullable=False, server_default=sa.false()),
    )
    op.create_index(
        "ix_users_npi_pending",
        "users",
        ["id"],
        postgresql_where=sa.text("npi_verification = 'pending'"),
    )
    op.create_check_constraint(
        "npi_verification",
        "users",
        "npi_verification IN ('unverified', 'pending', 'verified', 'mismatch', 'not_found')",
    )

    op.create_table(
        "credentials",
        _id(),
        sa.Column("user_id", UUID, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("credential_type", sa.String(32), nullable=False),
        sa.Column("number", sa.String(64)),
        sa.Column("state", sa.String(2), sa.ForeignKey("us_states.code")),
        sa.Column("issuer", sa.String(255)),
        sa.Column("specialty", sa.String(255)),
        sa.Column("dea_schedules", pg.ARRAY(sa.String(3))),
        sa.Column("coverage_per_claim", sa.Numeric(14, 2)),
        sa.Column("coverage_aggregate", sa.Numeric(14, 2)),
        sa.Column("effective_date", sa.Date),
        sa.Column("expiry_date", sa.Date),
        sa.Column(
            "verification_status", sa.String(16), nullable=False, server_default="unverified"
        ),
        sa.Column("verified_by_id", UUID, sa.ForeignKey("users.id", ondelete="SET NULL")),
        sa.Column("verified_at", TZ),
        sa.Column("rejection_reason", sa.Text),
        *_timestamps(),
        sa.CheckConstraint(
            "credential_type IN ('medical_license', 'dea_registration',"
            " 'malpractice_insurance', 'board_certification')",
            name="type",
        ),
        sa.CheckConstraint(
            "verification_status IN ('unverified', 'verified', 'rejected')", name="verification"
        ),
        sa.CheckConstraint(
            "expiry_date IS NULL OR effective_date IS NULL OR expiry_date >= effective_date",
            name="dates_ordered",
        ),
        sa.CheckConstraint(
            "verification_status <> 'rejected' OR rejection_reason IS NOT NULL",
            name="rejection_has_reason",
        ),
    )
    op.create_index("ix_credentials_user_id", "credentials", ["user_id"])
    op.create_index("ix_credentials_expiry_date", "credentials", ["expiry_date"])

    op.create_table(
        "documents",
        _id(),
        sa.Column("organization_id", UUID, sa.ForeignKey("organizations.id", ondelete="CASCADE")),
        sa.Column("user_id", UUID, sa.ForeignKey("users.id", ondelete="CASCADE")),
        sa.Column("credential_id", UUID, sa.ForeignKey("credentials.id", ondelete="SET NULL")),
        sa.Column("document_type", sa.String(32), nullable=False),
        sa.Column("filename", sa.String(255), nullable=False),
        sa.Column("content_type", sa.String(64), nullable=False),
        sa.Column("size_bytes", sa.BigInteger, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("storage_key", sa.String(255), nullable=False),
        sa.Column("expiry_date", sa.Date),
        sa.Column("uploaded_by_id", UUID, sa.ForeignKey("users.id", ondelete="SET NULL")),
        *_timestamps(),
        sa.CheckConstraint(
            "document_type IN ('tax_form', 'banking_letter', 'license_copy',"
            " 'insurance_certificate', 'training_certificate')",
            name="type",
        ),
        sa.CheckConstraint("(organization_id IS NULL) <> (user_id IS NULL)", name="one_owner"),
        sa.CheckConstraint("size_bytes > 0", name="not_empty"),
        sa.CheckConstraint("sha256 ~ '^[0-9a-f]{64}$'", name="sha256_hex"),
    )
    op.create_index("ix_documents_organization_id", "documents", ["organization_id"])
    op.create_index("ix_documents_user_id", "documents", ["user_id"])
    op.create_index("ix_documents_expiry_date", "documents", ["expiry_date"])

    op.create_table(
        "onboarding_step_completions",
        _id(),
        sa.Column(
            "organization_id",
            UUID,
            sa.ForeignKey("organizations.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("step", sa.String(32), nullable=False),
        sa.Column("completed_by_id", UUID, sa.ForeignKey("users.id", ondelete="SET NULL")),
        sa.Column("completed_at", TZ, nullable=False),
        sa.UniqueConstraint("organization_id", "step"),
        sa.CheckConstraint(
            "step IN ('registration', 'basic_information', 'tax_documentation',"
            " 'banking_setup', 'add_facilities', 'invite_office_managers',"
            " 'provider_invitations', 'training_and_certification', 'go_live')",
            name="step",
        ),
    )

    op.create_table(
        "npi_registry_answers",
        sa.Column("npi", sa.String(10), primary_key=True),
        sa.Column("answer", pg.JSONB, nullable=False),
        sa.Column("fetched_at", TZ, nullable=False),
    )


def downgrade() -> None:
    # CASCADE: policies of other tables may refer to these; they are re-created at head.
    op.execute(
        "DROP TABLE npi_registry_answers, onboarding_step_completions, documents, credentials"
        " CASCADE"
    )
    op.drop_constraint("ck_users_npi_verification", "users")
    op.drop_index("ix_users_npi_pending", "users")
    for column in ("dea_not_applicable", "npi_verified_at", "npi_verification"):
        op.drop_column("users", column)
