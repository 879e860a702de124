from __future__ import annotations

import uuid

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    PrimaryKeyConstraint,
    String,
    UniqueConstraint,
    true,
)
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, TenantRowKey, Timestamps, check_in
from app.models.enums import Role, values


class Membership(TenantRowKey, Timestamps, Base):
    """How a user belongs to a tenant, and with which role."""

    __tablename__ = "memberships"
    __table_args__ = (
        PrimaryKeyConstraint("organization_id", "id"),
        UniqueConstraint("organization_id", "user_id"),
        CheckConstraint(check_in("role", values(Role)), name="role"),
        Index("ix_memberships_user_id", "user_id"),
    )

    organization_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("organizations.id", ondelete="CASCADE")
    )
    user_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id", ondelete="CASCADE")
    )
    role: Mapped[str] = mapped_column(String(32))
    # A deactivated membership stays, with its role, for reactivation and history; its
    # member no longer sees it, so cannot act in the organization (policies/memberships.sql).
    is_active: Mapped[bool] = mapped_column(Boolean, server_default=true())
