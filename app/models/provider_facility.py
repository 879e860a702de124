from __future__ import annotations

import uuid
from datetime import date

from sqlalchemy import (
    CheckConstraint,
    Date,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    PrimaryKeyConstraint,
    String,
    text,
)
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, TenantRowKey, Timestamps, check_in
from app.models.enums import AssignmentStatus, values


class ProviderFacility(TenantRowKey, Timestamps, Base):
    """A provider's assignment to a facility; ended assignments stay as history.

    Whether it is the provider's primary one is not a column here: it is the provider's
    `primary_assignments` row, which each organization sees only while it points at one
    of its own assignments (app/domain/assignments.py)."""

    __tablename__ = "provider_facilities"
    __table_args__ = (
        PrimaryKeyConstraint("organization_id", "id"),
        # Composite keys keep an assignment inside its tenant: the facility and the
        # provider's membership must both belong to the same organization.
        ForeignKeyConstraint(
            ["organization_id", "facility_id"],
            ["facilities.organization_id", "facilities.id"],
            ondelete="CASCADE",
            name="fk_provider_facilities_facility",
        ),
        ForeignKeyConstraint(
            ["organization_id", "user_id"],
            ["memberships.organization_id", "memberships.user_id"],
            name="fk_provider_facilities_membership",
        ),
        CheckConstraint(check_in("status", values(AssignmentStatus)), name="status"),
        CheckConstraint("end_date IS NULL OR end_date >= start_date", name="dates_ordered"),
        Index(
            "uq_provider_facilities_current",
            "organization_id",
            "user_id",
            "facility_id",
            unique=True,
            postgresql_where=text("status <> 'inactive'"),
        ),
        Index(
            "ix_provider_facilities_organization_id_facility_id", "organization_id", "facility_id"
        ),
        Index("ix_provider_facilities_user_id", "user_id"),
        # A facility's providers (hierarchy, FHIR) whatever the organization.
        Index("ix_provider_facilities_facility_id", "facility_id"),
    )

    organization_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("organizations.id", ondelete="CASCADE")
    )
    user_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    facility_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    start_date: Mapped[date] = mapped_column(Date, server_default=text("CURRENT_DATE"))
    end_date: Mapped[date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16), server_default=AssignmentStatus.PENDING.value)
