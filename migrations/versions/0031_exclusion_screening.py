"""Exclusion screening: the lists (HHS-OIG LEIE, SAM.gov) as imported, version by
version; each provider's screenings per organization, kept as evidence; the review
queue of matches; and a provider's date of birth, by which screening tells apart two
people of one name.

The lists are global reference data (no tenant's), written by the import alone; the
screenings and matches are tenant rows under row-level security (policies/). The import
streams a list's rows into `exclusion_import_rows` (COPY; the application role may make
no temporary table) and merges them into the entries in the same transaction, which
leaves that table empty.

Revision ID: 0031
Revises: 0030
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

revision: str = "0031"
down_revision: str | None = "0030"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _uuid_key() -> sa.Column[object]:
    return sa.Column(
        "id", pg.UUID(as_uuid=True), server_default=sa.text("gen_random_uuid()"), nullable=False
    )


def upgrade() -> None:
    op.add_column("users", sa.Column("date_of_birth", sa.Date()))
    op.create_table(
        "exclusion_lists",
        _uuid_key(),
        sa.Column("source", sa.String(8), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("published_on", sa.Date(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("entry_count", sa.Integer(), nullable=False),
        sa.Column(
            "imported_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("statement_timestamp()"),
            nullable=False,
        ),
        sa.CheckConstraint("source IN ('leie', 'sam')", name=op.f("ck_exclusion_lists_source")),
        sa.CheckConstraint("kind IN ('full', 'supplement')", name=op.f("ck_exclusion_lists_kind")),
        sa.CheckConstraint("sha256 ~ '^[0-9a-f]{64}$'", name=op.f("ck_exclusion_lists_sha256_hex")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exclusion_lists")),
        sa.UniqueConstraint("source", "sha256", name=op.f("uq_exclusion_lists_source_sha256")),
    )
    op.create_table(
        "exclusion_entries",
        _uuid_key(),
        sa.Column("source", sa.String(8), nullable=False),
        sa.Column("entry_key", sa.String(128), nullable=False),
        sa.Column("list_id", pg.UUID(as_uuid=True), nullable=False),
        sa.Column("last_name", sa.Text()),
        sa.Column("first_name", sa.Text()),
        sa.Column("middle_name", sa.Text()),
        sa.Column("business_name", sa.Text()),
        sa.Column("name_key", sa.Text()),
        sa.Column("npi", sa.String(10)),
        sa.Column("date_of_birth", sa.Date()),
        sa.Column("state", sa.String(2)),
        sa.Column("general", sa.Text()),
        sa.Column("specialty", sa.Text()),
        sa.Column("exclusion_type", sa.Text()),
        sa.Column("excluded_on", sa.Date()),
        sa.Column("reinstated_on", sa.Date()),
        sa.Column("withdrawn_list_id", pg.UUID(as_uuid=True)),
        sa.CheckConstraint("source IN ('leie', 'sam')", name=op.f("ck_exclusion_entries_source")),
        sa.ForeignKeyConstraint(
            ["list_id"],
            ["exclusion_lists.id"],
            name=op.f("fk_exclusion_entries_list_id_exclusion_lists"),
        ),
        sa.ForeignKeyConstraint(
            ["withdrawn_list_id"],
            ["exclusion_lists.id"],
            name=op.f("fk_exclusion_entries_withdrawn_list_id_exclusion_lists"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exclusion_entries")),
        sa.UniqueConstraint(
            "source", "entry_key", name=op.f("uq_exclusion_entries_source_entry_key")
        ),
    )
    op.create_index(
        "ix_exclusion_entries_npi_in_force",
        "exclusion_entries",
        ["npi"],
        postgresql_where=sa.text("withdrawn_list_id IS NULL AND npi IS NOT NULL"),
    )
    op.create_index(
        "ix_exclusion_entries_name_key_in_force",
        "exclusion_entries",
        ["name_key"],
        postgresql_where=sa.text("withdrawn_list_id IS NULL"),
    )
    op.create_table(
        "exclusion_import_rows",
        sa.Column("list_id", pg.UUID(as_uuid=True), nullable=False),
        sa.Column("line", sa.Integer(), nullable=False),
        sa.Column("entry_key", sa.String(128), nullable=False),
        sa.Column("last_name", sa.Text()),
        sa.Column("first_name", sa.Text()),
        sa.Column("middle_name", sa.Text()),
        sa.Column("business_name", sa.Text()),
        sa.Column("npi", sa.String(10)),
        sa.Column("date_of_birth", sa.Date()),
        sa.Column("state", sa.String(2)),
        sa.Column("general", sa.Text()),
        sa.Column("specialty", sa.Text()),
        sa.Column("exclusion_type", sa.Text()),
        sa.Column("excluded_on", sa.Date()),
        sa.Column("reinstated_on", sa.Date()),
        sa.PrimaryKeyConstraint("list_id", "line", name=op.f("pk_exclusion_import_rows")),
    )
    op.create_table(
        "provider_screenings",
        sa.Column("organization_id", pg.UUID(as_uuid=True), nullable=False),
        _uuid_key(),
        sa.Column("user_id", pg.UUID(as_uuid=True), nullable=False),
        sa.Column(
            "screened_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("statement_timestamp()"),
            nullable=False,
        ),
        sa.Column("reason", sa.String(16), nullable=False),
        sa.Column("list_ids", pg.ARRAY(pg.UUID(as_uuid=True)), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("matches", pg.JSONB(), server_default=sa.text("'[]'"), nullable=False),
        sa.CheckConstraint(
            "reason IN ('acceptance', 'profile_change', 'list_import', 'monthly', 'manual')",
            name=op.f("ck_provider_screenings_reason"),
        ),
        sa.CheckConstraint(
            "outcome IN ('clear', 'candidate', 'excluded')",
            name=op.f("ck_provider_screenings_outcome"),
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_provider_screenings_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_provider_screenings_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("organization_id", "id", name=op.f("pk_provider_screenings")),
    )
    op.create_index(
        "ix_provider_screenings_user_id_screened_at",
        "provider_screenings",
        ["user_id", "screened_at"],
    )
    op.create_index(
        "ix_provider_screenings_organization_id_screened_at",
        "provider_screenings",
        ["organization_id", "screened_at"],
    )
    op.create_table(
        "exclusion_matches",
        sa.Column("organization_id", pg.UUID(as_uuid=True), nullable=False),
        _uuid_key(),
        sa.Column("user_id", pg.UUID(as_uuid=True), nullable=False),
        sa.Column("entry_id", pg.UUID(as_uuid=True), nullable=False),
        sa.Column("match_kind", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column(
            "found_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("statement_timestamp()"),
            nullable=False,
        ),
        sa.Column("decided_at", sa.DateTime(timezone=True)),
        sa.Column("decided_by_id", pg.UUID(as_uuid=True)),
        sa.Column("decision_reason", sa.Text()),
        sa.CheckConstraint(
            "match_kind IN ('npi', 'name_and_date_of_birth', 'name_and_state')",
            name=op.f("ck_exclusion_matches_match_kind"),
        ),
        sa.CheckConstraint(
            "status IN ('candidate', 'excluded', 'cleared', 'reinstated')",
            name=op.f("ck_exclusion_matches_status"),
        ),
        sa.CheckConstraint(
            "decided_by_id IS NULL OR decision_reason IS NOT NULL",
            name=op.f("ck_exclusion_matches_decision_has_reason"),
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_exclusion_matches_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_exclusion_matches_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["entry_id"],
            ["exclusion_entries.id"],
            name=op.f("fk_exclusion_matches_entry_id_exclusion_entries"),
        ),
        sa.ForeignKeyConstraint(
            ["decided_by_id"],
            ["users.id"],
            name=op.f("fk_exclusion_matches_decided_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("organization_id", "id", name=op.f("pk_exclusion_matches")),
        sa.UniqueConstraint(
            "organization_id",
            "user_id",
            "entry_id",
            name=op.f("uq_exclusion_matches_organization_id_user_id_entry_id"),
        ),
    )
    op.create_index(
        "ix_exclusion_matches_organization_id_status",
        "exclusion_matches",
        ["organization_id", "status"],
    )


def downgrade() -> None:
    op.drop_table("exclusion_matches")
    op.drop_table("provider_screenings")
    op.drop_table("exclusion_import_rows")
    op.drop_table("exclusion_entries")
    op.drop_table("exclusion_lists")
    op.drop_column("users", "date_of_birth")
