from __future__ import annotations

import uuid

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    PrimaryKeyConstraint,
    String,
    true,
)
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, TenantRowKey, Timestamps, check_in
from app.models.enums import FacilityType, values


class Facility(TenantRowKey, Timestamps, Base):
    __tablename__ = "facilities"
    __table_args__ = (
        # Also the target of the composite foreign keys that keep children in their tenant.
        PrimaryKeyConstraint("organization_id", "id"),
        # The office manager must be a member of the facility's own organization. No ON
        # DELETE action: memberships are deactivated, not deleted (0021 says more).
        ForeignKeyConstraint(
            ["organization_id", "office_manager_id"],
            ["memberships.organization_id", "memberships.user_id"],
            name="fk_facilities_office_manager",
        ),
        CheckConstraint(check_in("facility_type", values(FacilityType)), name="type"),
        CheckConstraint("npi ~ '^[12][0-9]{9}$'", name="npi_format"),
        CheckConstraint("zip_code ~ '^[0-9]{5}(-[0-9]{4})?$'", name="zip_code_format"),
        CheckConstraint("place_of_service ~ '^[0-9]{2}$'", name="place_of_service_format"),
        # Lists by name; it carries what the select policy reads, so a count under the
        # policies is an index-only scan as it is without them.
        Index(
            "ix_facilities_organization_id_name",
            "organization_id",
            "name",
            postgresql_include=["id", "office_manager_id"],
        ),
    )

    organization_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("organizations.id", ondelete="CASCADE")
    )
    name: Mapped[str] = mapped_column(String(255))
    npi: Mapped[str | None] = mapped_column(String(10))
    ptan: Mapped[str | None] = mapped_column(String(255))
    facility_type: Mapped[str] = mapped_column(String(32))
    address: Mapped[str | None] = mapped_column(String(255))
    city: Mapped[str | None] = mapped_column(String(100))
    state: Mapped[str] = mapped_column(String(2), ForeignKey("us_states.code"))
    zip_code: Mapped[str | None] = mapped_column(String(10))
    phone: Mapped[str | None] = mapped_column(String(20))
    email: Mapped[str | None] = mapped_column(String(320))
    office_manager_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    # Filled from us_states by a trigger when not given.
    mac_jurisdiction: Mapped[str | None] = mapped_column(String(10))
    place_of_service: Mapped[str] = mapped_column(String(2), server_default="11")
    active: Mapped[bool] = mapped_column(Boolean, server_default=true())
