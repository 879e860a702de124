from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, Timestamps, UUIDPrimaryKey, check_in
from app.models.enums import MessageKind, OutboxStatus, values


class OutboxMessage(UUIDPrimaryKey, Timestamps, Base):
    """An email to send, written in the same transaction as the change that causes it.

    The idempotency key names the message (a reminder: credential, expiry date, window
    and recipient), so it is created once; the status records its delivery."""

    __tablename__ = "outbox_messages"
    __table_args__ = (
        CheckConstraint(check_in("kind", values(MessageKind)), name="kind"),
        CheckConstraint(check_in("status", values(OutboxStatus)), name="status"),
        Index("uq_outbox_messages_idempotency_key", "idempotency_key", unique=True),
        # The relay's scan: what is due.
        Index("ix_outbox_messages_status_next_attempt_at", "status", "next_attempt_at"),
        Index("ix_outbox_messages_organization_id", "organization_id"),
        Index(
            "ix_outbox_messages_invitation_id",
            "invitation_id",
            postgresql_where=text("invitation_id IS NOT NULL"),
        ),
    )

    # The organization the message speaks for; NULL for a provider's own reminder.
    organization_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("organizations.id", ondelete="CASCADE")
    )
    # The invitation an invitation email belongs to: replacing or revoking the invitation
    # cancels the email while it waits (app/domain/outbox.py). No foreign key: the
    # outbox stays on a Citus cluster's coordinator, the invitations are distributed
    # (docs/citus-layout.md); an invitation goes only with its organization, and its
    # messages with it.
    invitation_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    kind: Mapped[str] = mapped_column(String(32))
    idempotency_key: Mapped[str] = mapped_column(String(255))
    recipient_email: Mapped[str] = mapped_column(String(320))
    recipient_user_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id", ondelete="SET NULL")
    )
    subject: Mapped[str] = mapped_column(String(255))
    template: Mapped[str] = mapped_column(String(64))
    # What the template needs.
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)
    # What the template needs that is secret (an invitation's accept link), encrypted
    # with OUTBOX_SECRET_KEY; erased with the sent mark, and when the message is cancelled.
    sealed_payload: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), server_default=OutboxStatus.PENDING.value)
    attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    next_attempt_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    # Until when a worker's claim holds; an expired lease means the worker died.
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The SMTP server's answer to the end of the message (its acceptance).
    smtp_reply: Mapped[str | None] = mapped_column(String(512))
    # The trace context (W3C traceparent, tracestate) of the request or job that wrote
    # the message, which its send continues (app/tracing.py); NULL when nothing was traced.
    trace_context: Mapped[dict[str, str] | None] = mapped_column(JSONB)
