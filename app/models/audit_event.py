from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    DateTime,
    Index,
    PrimaryKeyConstraint,
    String,
    false,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from app.models.base import Base, TenantRowKey, check_in
from app.models.enums import AuditAction, values

# The key under which the trail files the events of global rows (a user, what a user
# owns) made outside any organization: a distributed table's key may not be NULL
# (docs/citus-layout.md). The nil UUID, which no organization can have; shown as none.
NO_ORGANIZATION_ID = uuid.UUID(int=0)

# The longest request id the trail keeps (X-Request-ID headers and system labels).
REQUEST_ID_LENGTH = 64
# The longest access purpose (app/models/enums.py, AccessPurpose), and its shape: a name,
# which a JSON string or a log line holds as it is.
PURPOSE_LENGTH = 64
PURPOSE_NAME = "^[a-z][a-z_]*$"


class OrganizationKey(TypeDecorator[uuid.UUID | None]):
    """An event's organization, None where it is NO_ORGANIZATION_ID in the table."""

    impl = UUID(as_uuid=True)
    cache_ok = True

    def process_bind_param(self, value: uuid.UUID | None, dialect: Dialect) -> uuid.UUID:
        return NO_ORGANIZATION_ID if value is None else value

    def process_result_value(self, value: uuid.UUID | None, dialect: Dialect) -> uuid.UUID | None:
        return None if value == NO_ORGANIZATION_ID else value


class AuditEvent(TenantRowKey, Base):
    """Append-only record of a row change, written by the audit trigger, or of a read of
    sensitive data (action `access`, written through `access_records`).

    No foreign keys: the trail must outlive the rows and users it speaks of.
    """

    __tablename__ = "audit_events"
    __table_args__ = (
        PrimaryKeyConstraint("organization_id", "id"),
        CheckConstraint(check_in("action", values(AuditAction)), name="action"),
        # an access says why the data was read; a change says it by its `changes`
        CheckConstraint("(action = 'access') = (purpose IS NOT NULL)", name="purpose_of_access"),
        CheckConstraint(f"purpose ~ '{PURPOSE_NAME}'", name="purpose_name"),
        Index(
            "ix_audit_events_organization_id_occurred_at",
            "organization_id",
            text("occurred_at DESC"),
        ),
    )

    organization_id: Mapped[uuid.UUID | None] = mapped_column(
        OrganizationKey(), nullable=False, server_default=text(f"'{NO_ORGANIZATION_ID}'")
    )
    actor_user_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    # Set when an MSC admin changed a row of an organization outside their own scope.
    cross_tenant: Mapped[bool] = mapped_column(Boolean, server_default=false())
    action: Mapped[str] = mapped_column(String(8))
    table_name: Mapped[str] = mapped_column(String(63))
    row_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    # {column: {"old": ..., "new": ...}}; secrets are redacted by the trigger. Empty for
    # an access.
    changes: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'"))
    # An access's AccessPurpose: the endpoint that read the row. NULL for a change.
    purpose: Mapped[str | None] = mapped_column(String(PURPOSE_LENGTH))
    request_id: Mapped[str | None] = mapped_column(String(REQUEST_ID_LENGTH))
    occurred_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
