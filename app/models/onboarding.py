from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    CheckConstraint,
    DateTime,
    ForeignKey,
    PrimaryKeyConstraint,
    String,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, TenantRowKey, check_in
from app.models.enums import OnboardingStep, values


class OnboardingStepCompletion(TenantRowKey, Base):
    """A step an organization marked complete by hand. Steps backed by data (facilities,
    invitations, documents) complete themselves and need no row; reopening a step
    deletes its row (the audit trail keeps the history)."""

    __tablename__ = "onboarding_step_completions"
    __table_args__ = (
        PrimaryKeyConstraint("organization_id", "id"),
        UniqueConstraint("organization_id", "step"),
        CheckConstraint(check_in("step", values(OnboardingStep)), name="step"),
    )

    organization_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("organizations.id", ondelete="CASCADE")
    )
    step: Mapped[str] = mapped_column(String(32))
    completed_by_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id", ondelete="SET NULL")
    )
    completed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
