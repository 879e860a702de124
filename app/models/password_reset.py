from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Index, String, func, text
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, UUIDPrimaryKey
from app.models.enums import PasswordResetStatus


class PasswordReset(UUIDPrimaryKey, Base):
    """A link that lets a person who forgot their password choose a new one: single use,
    short-lived, sent to the account's email. Global, like the user it belongs to."""

    __tablename__ = "password_resets"
    __table_args__ = (
        Index("uq_password_resets_token_hash", "token_hash", unique=True),
        # A new link, or a changed password, revokes the user's links still open.
        Index(
            "ix_password_resets_user_id_open",
            "user_id",
            postgresql_where=text("used_at IS NULL AND revoked_at IS NULL"),
        ),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id", ondelete="CASCADE")
    )
    # SHA-256 of the token, hex. The token itself is never stored.
    token_hash: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    def status_at(self, now: datetime) -> PasswordResetStatus:
        """Derived, never stored: a link expires by the clock alone."""
        if self.used_at is not None:
            return PasswordResetStatus.USED
        if self.revoked_at is not None:
            return PasswordResetStatus.REVOKED
        if self.expires_at <= now:
            return PasswordResetStatus.EXPIRED
        return PasswordResetStatus.PENDING
