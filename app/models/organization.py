from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, DateTime, ForeignKey, Index, String, false, text
from sqlalchemy.dialects.postgresql import ARRAY, UUID
from sqlalchemy.orm import Mapped, mapped_column, query_expression

from app.models.base import Base, Timestamps, UUIDPrimaryKey, check_in
from app.models.enums import OnboardingStatus, OrganizationStatus, OrganizationType, values


class Organization(UUIDPrimaryKey, Timestamps, Base):
    __tablename__ = "organizations"
    __table_args__ = (
        CheckConstraint(check_in("organization_type", values(OrganizationType)), name="type"),
        CheckConstraint(check_in("status", values(OrganizationStatus)), name="status"),
        CheckConstraint(
            check_in("onboarding_status", values(OnboardingStatus)), name="onboarding_status"
        ),
        CheckConstraint("parent_organization_id <> id", name="not_own_parent"),
        Index("ix_organizations_parent_organization_id", "parent_organization_id"),
        Index("ix_organizations_ancestor_ids", "ancestor_ids", postgresql_using="gin"),
        Index(
            "ix_organizations_msc_representative_id",
            "msc_representative_id",
            postgresql_where=text("msc_representative_id IS NOT NULL"),
        ),
    )

    name: Mapped[str] = mapped_column(String(255))
    tax_id: Mapped[str | None] = mapped_column(String(20))
    organization_type: Mapped[str] = mapped_column(String(32))
    primary_contact_name: Mapped[str | None] = mapped_column(String(255))
    primary_contact_email: Mapped[str | None] = mapped_column(String(320))
    primary_contact_phone: Mapped[str | None] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(16), server_default=OrganizationStatus.PENDING.value)
    onboarding_status: Mapped[str] = mapped_column(
        String(16), server_default=OnboardingStatus.INITIATED.value
    )
    msc_representative_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id", ondelete="SET NULL")
    )
    parent_organization_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("organizations.id", ondelete="RESTRICT")
    )
    # This organization and every ancestor, kept by a trigger; the policies use it to
    # reach descendants without a recursive query per row.
    ancestor_ids: Mapped[list[uuid.UUID]] = mapped_column(
        ARRAY(UUID(as_uuid=True)), server_default=text("'{}'")
    )
    activated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Its organization admins, and those of its descendants, sign in with a second factor.
    require_admin_mfa: Mapped[bool] = mapped_column(Boolean, server_default=false())
    # Its onboarding steps complete, where a list selects them beside it
    # (app/domain/onboarding.py, completed_steps); None where it does not.
    onboarding_steps_completed: Mapped[int | None] = query_expression()
