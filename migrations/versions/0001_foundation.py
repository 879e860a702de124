"""Foundation: organizations, users, memberships, facilities, assignments, audit trail,
and US state reference data. Their row-level security lives in policies/, applied
when the schema reaches head (see migrations/env.py).

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UUID = pg.UUID(as_uuid=True)
TZ = sa.DateTime(timezone=True)

# (code, name, Medicare A/B MAC jurisdiction)
US_STATES = [
    ("AL", "Alabama", "JJ"),
    ("AK", "Alaska", "JF"),
    ("AZ", "Arizona", "JF"),
    ("AR", "Arkansas", "JH"),
    ("CA", "California", "JE"),
    ("CO", "Colorado", "JH"),
    ("CT", "Connecticut", "JK"),
    ("DE", "Delaware", "JL"),
    ("DC", "District of Columbia", "JL"),
    ("FL", "Florida", "JN"),
    ("GA", "Georgia", "JJ"),
    ("HI", "Hawaii", "JE"),
    ("ID", "Idaho", "JF"),
    ("IL", "Illinois", "J6"),
    ("IN", "Indiana", "J8"),
    ("IA", "Iowa", "J5"),
    ("KS", "Kansas", "J5"),
    ("KY", "Kentucky", "J15"),
    ("LA", "Louisiana", "JH"),
    ("ME", "Maine", "JK"),
    ("MD", "Maryland", "JL"),
    ("MA", "Massachusetts", "JK"),
    ("MI", "Michigan", "J8"),
    ("MN", "Minnesota", "J6"),
    ("MS", "Mississippi", "JH"),
    ("MO", "Missouri", "J5"),
    ("MT", "Montana", "JF"),
    ("NE", "Nebraska", "J5"),
    ("NV", "Nevada", "JE"),
    ("NH", "New Hampshire", "JK"),
    ("NJ", "New Jersey", "JL"),
    ("NM", "New Mexico", "JH"),
    ("NY", "New York", "JK"),
    ("NC", "North Carolina", "JM"),
    ("ND", "North Dakota", "JF"),
    ("OH", "Ohio", "J15"),
    ("OK", "Oklahoma", "JH"),
    ("OR", "Oregon", "JF"),
    ("PA", "Pennsylvania", "JL"),
    ("RI", "Rhode Island", "JK"),
    ("SC", "South Carolina", "JM"),
    ("SD", "South Dakota", "JF"),
    ("TN", "Tennessee", "JJ"),
    ("TX", "Texas", "JH"),
    ("UT", "Utah", "JF"),
    ("VT", "Vermont", "JK"),
    ("VA", "Virginia", "JM"),
    ("WA", "Washington", "JF"),
    ("WV", "West Virginia", "JM"),
    ("WI", "Wisconsin", "J6"),
    ("WY", "Wyoming", "JF"),
    ("AS", "American Samoa", "JE"),
    ("GU", "Guam", "JE"),
    ("MP", "Northern Mariana Islands", "JE"),
    ("PR", "Puerto Rico", "JN"),
    ("VI", "U.S. Virgin Islands", "JN"),
]

TABLES = [
    "organizations",
    "users",
    "memberships",
    "facilities",
    "provider_facilities",
    "audit_events",
    "us_states",
]


def _id() -> sa.Column:
    return sa.Column("id", UUID, primary_key=True, server_default=sa.text("gen_random_uuid()"))


def _timestamps() -> list[sa.Column]:
    return [
        sa.Column("created_at", TZ, nullable=False, server_default=sa.func.now()),
        sa.Column("updated_at", TZ, nullable=False, server_default=sa.func.now()),
    ]


def upgrade() -> None:
    op.create_table(
        "us_states",
        sa.Column("code", sa.String(2), primary_key=True),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("mac_jurisdiction", sa.String(10)),
    )
    op.bulk_insert(
        sa.table("us_states", sa.column("code"), sa.column("name"), sa.column("mac_jurisdiction")),
        [{"code": c, "name": n, "mac_jurisdiction": j} for c, n, j in US_STATES],
    )

    op.create_table(
        "users",
        _id(),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("phone", sa.String(20)),
        sa.Column("npi", sa.String(10)),
        sa.Column("password_hash", sa.String(255)),
        sa.Column("is_msc_admin", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("is_active", sa.Boolean, nullable=False, server_default=sa.true()),
        *_timestamps(),
        sa.CheckConstraint("npi ~ '^[12][0-9]{9}$'", name="npi_format"),
    )
    op.create_index("uq_users_email", "users", [sa.text("lower(email)")], unique=True)
    op.create_index(
        "uq_users_npi", "users", ["npi"], unique=True, postgresql_where=sa.text("npi IS NOT NULL")
    )

    op.create_table(
        "organizations",
        _id(),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("tax_id", sa.String(20)),
        sa.Column("organization_type", sa.String(32), nullable=False),
        sa.Column("primary_contact_name", sa.String(255)),
        sa.Column("primary_contact_email", sa.String(320)),
        sa.Column("primary_contact_phone", sa.String(20)),
        sa.Column("status", sa.String(16), nullable=False, server_default="pending"),
        sa.Column("onboarding_status", sa.String(16), nullable=False, server_default="initiated"),
        sa.Column("msc_representative_id", UUID, sa.ForeignKey("users.id", ondelete="SET NULL")),
        sa.Column(
            "parent_organization_id", UUID, sa.ForeignKey("organizations.id", ondelete="RESTRICT")
        ),
        sa.Column("ancestor_ids", pg.ARRAY(UUID), nullable=False, server_default=sa.text("'{}'")),
        *_timestamps(),
        sa.Column("activated_at", TZ),
        sa.CheckConstraint(
            "organization_type IN ('hospital_system', 'group_practice', 'individual')", name="type"
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'active', 'suspended', 'inactive')", name="status"
        ),
        sa.CheckConstraint(
            "onboarding_status IN ('initiated', 'in_progress', 'completed')",
            name="onboarding_status",
        ),
        sa.CheckConstraint("parent_organization_id <> id", name="not_own_parent"),
    )
    op.create_index(
        "ix_organizations_parent_organization_id", "organizations", ["parent_organization_id"]
    )
    op.create_index(
        "ix_organizations_ancestor_ids", "organizations", ["ancestor_ids"], postgresql_using="gin"
    )

    op.create_table(
        "memberships",
        _id(),
        sa.Column(
            "organization_id",
            UUID,
            sa.ForeignKey("organizations.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("user_id", UUID, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("role", sa.String(32), nullable=False),
        *_timestamps(),
        sa.UniqueConstraint("organization_id", "user_id"),
        sa.CheckConstraint(
            "role IN ('organization_admin', 'office_manager', 'provider')", name="role"
        ),
    )
    op.create_index("ix_memberships_user_id", "memberships", ["user_id"])

    op.create_table(
        "facilities",
        _id(),
        sa.Column(
            "organization_id",
            UUID,
            sa.ForeignKey("organizations.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("npi", sa.String(10)),
        sa.Column("ptan", sa.String(255)),
        sa.Column("facility_type", sa.String(32), nullable=False),
        sa.Column("address", sa.String(255)),
        sa.Column("city", sa.String(100)),
        sa.Column("state", sa.String(2), sa.ForeignKey("us_states.code"), nullable=False),
        sa.Column("zip_code", sa.String(10)),
        sa.Column("phone", sa.String(20)),
        sa.Column("email", sa.String(320)),
        sa.Column("office_manager_id", UUID),
        sa.Column("mac_jurisdiction", sa.String(10)),
        sa.Column("place_of_service", sa.String(2), nullable=False, server_default="11"),
        sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
        *_timestamps(),
        sa.UniqueConstraint("organization_id", "id"),
        # The office manager must be a member of the facility's own organization.
        sa.ForeignKeyConstraint(
            ["organization_id", "office_manager_id"],
            ["memberships.organization_id", "memberships.user_id"],
            ondelete="SET NULL (office_manager_id)",
            name="fk_facilities_office_manager",
        ),
        sa.CheckConstraint(
            "facility_type IN ('hospital', 'clinic', 'wound_center', 'snf')", name="type"
        ),
        sa.CheckConstraint("npi ~ '^[12][0-9]{9}$'", name="npi_format"),
        sa.CheckConstraint("zip_code ~ '^[0-9]{5}(-[0-9]{4})?$'", name="zip_code_format"),
        sa.CheckConstraint("place_of_service ~ '^[0-9]{2}$'", name="place_of_service_format"),
    )
    op.create_index("ix_facilities_organization_id_name", "facilities", ["organization_id", "name"])

    op.create_table(
        "provider_facilities",
        _id(),
        sa.Column(
            "organization_id",
            UUID,
            sa.ForeignKey("organizations.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("user_id", UUID, nullable=False),
        sa.Column("facility_id", UUID, nullable=False),
        sa.Column("is_primary", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("start_date", sa.Date, nullable=False, server_default=sa.text("CURRENT_DATE")),
        sa.Column("end_date", sa.Date),
        sa.Column("status", sa.String(16), nullable=False, server_default="pending"),
        *_timestamps(),
        sa.ForeignKeyConstraint(
            ["organization_id", "facility_id"],
            ["facilities.organization_id", "facilities.id"],
            ondelete="CASCADE",
            name="fk_provider_facilities_facility",
        ),
        sa.ForeignKeyConstraint(
            ["organization_id", "user_id"],
            ["memberships.organization_id", "memberships.user_id"],
            name="fk_provider_facilities_membership",
        ),
        sa.CheckConstraint("status IN ('pending', 'active', 'inactive')", name="status"),
        sa.CheckConstraint("end_date IS NULL OR end_date >= start_date", name="dates_ordered"),
    )
    op.create_index(
        "uq_provider_facilities_primary",
        "provider_facilities",
        ["user_id"],
        unique=True,
        postgresql_where=sa.text("is_primary"),
    )
    op.create_index(
        "uq_provider_facilities_current",
        "provider_facilities",
        ["organization_id", "user_id", "facility_id"],
        unique=True,
        postgresql_where=sa.text("status <> 'inactive'"),
    )
    op.create_index(
        "ix_provider_facilities_organization_id_facility_id",
        "provider_facilities",
        ["organization_id", "facility_id"],
    )
    op.create_index("ix_provider_facilities_user_id", "provider_facilities", ["user_id"])

    op.create_table(
        "audit_events",
        _id(),
        sa.Column("organization_id", UUID),
        sa.Column("actor_user_id", UUID),
        sa.Column("cross_tenant", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("action", sa.String(8), nullable=False),
        sa.Column("table_name", sa.String(63), nullable=False),
        sa.Column("row_id", UUID, nullable=False),
        sa.Column("changes", pg.JSONB, nullable=False, server_default=sa.text("'{}'")),
        sa.Column("request_id", sa.String(64)),
        sa.Column("occurred_at", TZ, nullable=False, server_default=sa.func.now()),
        sa.CheckConstraint("action IN ('insert', 'update', 'delete')", name="action"),
    )
    op.create_index(
        "ix_audit_events_organization_id_occurred_at",
        "audit_events",
        ["organization_id", sa.text("occurred_at DESC")],
    )


def downgrade() -> None:
    # One statement: the policies of organizations and users refer to memberships.
    op.execute(f"DROP TABLE {', '.join(TABLES)}")
    # created by policies/functions.sql when the schema reached head
    op.execute("DROP SCHEMA IF EXISTS tenancy CASCADE")
