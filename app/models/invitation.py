from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    PrimaryKeyConstraint,
    String,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, UUID
from sqlalchemy.orm import Mapped, mapped_column

from app import clock
from app.models.base import Base, TenantRowKey, Timestamps, check_in
from app.models.enums import InvitationRole, InvitationStatus, values


class Invitation(TenantRowKey, Timestamps, Base):
    """An organization's request that a person join it; accepted once, by token."""

    __tablename__ = "invitations"
    __table_args__ = (
        PrimaryKeyConstraint("organization_id", "id"),
        CheckConstraint(check_in("role", values(InvitationRole)), name="role"),
        CheckConstraint(
            "primary_facility_id IS NULL OR primary_facility_id = ANY (facility_ids)",
            name="primary_among_facilities",
        ),
        # One open invitation per person and organization: inviting again replaces it.
        Index(
            "uq_invitations_open",
            "organization_id",
            func.lower(text("email")),
            unique=True,
            postgresql_where=text("accepted_at IS NULL AND revoked_at IS NULL"),
        ),
        # Unique within the tenant, as a distributed table's constraints must be; a token
        # is 256 random bits, so no two organizations' ever meet.
        Index(
            "uq_invitations_organization_id_token_hash",
            "organization_id",
            "token_hash",
            unique=True,
        ),
    )

    organization_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("organizations.id", ondelete="CASCADE")
    )
    email: Mapped[str] = mapped_column(String(320))
    name: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(32))
    facility_ids: Mapped[list[uuid.UUID]] = mapped_column(
        ARRAY(UUID(as_uuid=True)), server_default=text("'{}'")
    )
    primary_facility_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    # SHA-256 of the token, hex. The token itself is never stored.
    token_hash: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    invited_by_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id", ondelete="SET NULL")
    )
    accepted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    accepted_user_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id", ondelete="SET NULL")
    )
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    def status_at(self, now: datetime) -> InvitationStatus:
        """Derived, never stored: an invitation expires by the clock alone."""
        if self.accepted_at is not None:
            return InvitationStatus.ACCEPTED
        if self.revoked_at is not None:
            return InvitationStatus.REVOKED
        if self.expires_at <= now:
            return InvitationStatus.EXPIRED
        return InvitationStatus.PENDING

    @property
    def status(self) -> InvitationStatus:
        return self.status_at(clock.now())
