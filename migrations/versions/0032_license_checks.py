"""License cross-check: each medical license a provider enters, checked against the
NPPES registry's record of the provider's NPI (the licenses and states its taxonomies
list), kept as evidence, with the mismatches as a review queue.

`license_checks` is a tenant table (distributed by organization on a Citus cluster): a
check of one credential is computed once, from public data, and recorded for each
organization the provider works for, as the exclusion screenings are
(app/models/license_check.py says why); the review decision on a mismatch (accepted
with a reason, or the credential rejected) is the deciding organization's alone.

Revision ID: 0032
Revises: 0031
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

revision: str = "0032"
down_revision: str | None = "0031"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "license_checks",
        sa.Column("organization_id", pg.UUID(as_uuid=True), nullable=False),
        sa.Column(
            "id", pg.UUID(as_uuid=True), server_default=sa.text("gen_random_uuid()"), nullable=False
        ),
        sa.Column("credential_id", pg.UUID(as_uuid=True), nullable=False),
        sa.Column("user_id", pg.UUID(as_uuid=True), nullable=False),
        sa.Column(
            "checked_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("statement_timestamp()"),
            nullable=False,
        ),
        sa.Column("npi", sa.String(10)),
        sa.Column("state", sa.String(2), nullable=False),
        sa.Column("outcome", sa.String(24), nullable=False),
        sa.Column("detail", sa.Text()),
        sa.Column("registry_fetched_at", sa.DateTime(timezone=True)),
        sa.Column("registry_licenses", pg.JSONB(), server_default=sa.text("'[]'"), nullable=False),
        sa.Column("review_status", sa.String(16)),
        sa.Column("decided_at", sa.DateTime(timezone=True)),
        sa.Column("decided_by_id", pg.UUID(as_uuid=True)),
        sa.Column("decision_reason", sa.Text()),
        sa.CheckConstraint(
            "outcome IN ('match', 'number_not_listed', 'state_not_listed', 'pending')",
            name=op.f("ck_license_checks_outcome"),
        ),
        sa.CheckConstraint(
            "review_status IN ('open', 'accepted', 'rejected', 'superseded')",
            name=op.f("ck_license_checks_review_status"),
        ),
        sa.CheckConstraint(
            "(outcome IN ('number_not_listed', 'state_not_listed')) = (review_status IS NOT NULL)",
            name=op.f("ck_license_checks_mismatch_is_reviewed"),
        ),
        sa.CheckConstraint(
            "outcome = 'pending' OR registry_fetched_at IS NOT NULL",
            name=op.f("ck_license_checks_answer_dated"),
        ),
        sa.CheckConstraint(
            "review_status NOT IN ('accepted', 'rejected')"
            " OR (decision_reason IS NOT NULL AND decided_at IS NOT NULL)",
            name=op.f("ck_license_checks_decision_has_reason"),
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_license_checks_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["credential_id"],
            ["credentials.id"],
            name=op.f("fk_license_checks_credential_id_credentials"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_license_checks_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["decided_by_id"],
            ["users.id"],
            name=op.f("fk_license_checks_decided_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("organization_id", "id", name=op.f("pk_license_checks")),
    )
    op.create_index(
        "ix_license_checks_organization_id_review_status",
        "license_checks",
        ["organization_id", "review_status"],
    )
    op.create_index(
        "ix_license_checks_credential_id_checked_at",
        "license_checks",
        ["credential_id", "checked_at"],
    )


def downgrade() -> None:
    op.drop_table("license_checks")
