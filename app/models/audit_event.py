from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, CheckConstraint, DateTime, Index, String, false, func, text
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, UUIDPrimaryKey

# The longest request id the trail keeps (X-Request-ID headers and system labels).
REQUEST_ID_LENGTH = 64


class AuditEvent(UUIDPrimaryKey, Base):
    """Append-only record of a row change, written by the audit trigger.

    No foreign keys: the trail must outlive the rows and users it speaks of.
    """

    __tablename__ = "audit_events"
    __table_args__ = (
        CheckConstraint("action IN ('insert', 'update', 'delete')", name="action"),
        Index(
            "ix_audit_events_organization_id_occurred_at",
            "organization_id",
            text("occurred_at DESC"),
        ),
    )

    organization_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    actor_user_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    # Set when an MSC admin changed a row of an organization outside their own scope.
    cross_tenant: Mapped[bool] = mapped_column(Boolean, server_default=false())
    action: Mapped[str] = mapped_column(String(8))
    table_name: Mapped[str] = mapped_column(String(63))
    row_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    # {column: {"old": ..., "new": ...}}; secrets are redacted by the trigger.
    changes: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'"))
    request_id: Mapped[str | None] = mapped_column(String(REQUEST_ID_LENGTH))
    occurred_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
