"""Webhooks: an organization's endpoints, the events that happen to its data, one delivery
per event and subscribed endpoint, and every attempt to deliver it.

All four are tenant tables, keyed (organization_id, id) and distributed by organization
on a Citus cluster (docs/citus-layout.md): an organization's endpoints, events,
deliveries and attempts lie together, so recording an event with its deliveries, and
delivering one, touch one node. An event belongs to one organization and names only its
data: a change that concerns several (a shared provider's credential) records one event
for each, with its own id and payload (app/domain/webhook_events.py).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, TenantRowKey, Timestamps, check_in
from app.models.enums import WebhookDeliveryStatus, WebhookEventType, values


class WebhookEndpoint(TenantRowKey, Timestamps, Base):
    """Where an organization's systems receive its events: an HTTPS URL, the event types
    it wants, and its signing secret (sealed with OUTBOX_SECRET_KEY; shown to the admin
    once, when made or rotated). During a rotation's overlap the previous secret signs
    too, until `previous_secret_expires_at`."""

    __tablename__ = "webhook_endpoints"
    __table_args__ = (
        PrimaryKeyConstraint("organization_id", "id"),
        CheckConstraint(
            f"cardinality(event_types) > 0 AND event_types <@ ARRAY["
            f"{', '.join(repr(t) for t in values(WebhookEventType))}]::varchar[]",
            name="event_types",
        ),
        CheckConstraint(
            "(previous_secret_sealed IS NULL) = (previous_secret_expires_at IS NULL)",
            name="previous_secret_expires",
        ),
        # A disabled endpoint is an inactive one, with the reason.
        CheckConstraint("disabled_at IS NULL OR NOT active", name="disabled_is_inactive"),
    )

    organization_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("organizations.id", ondelete="CASCADE")
    )
    url: Mapped[str] = mapped_column(String(2048))
    description: Mapped[str] = mapped_column(String(500), server_default="")
    event_types: Mapped[list[str]] = mapped_column(ARRAY(String(64)))
    active: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    secret_sealed: Mapped[str] = mapped_column(Text)
    previous_secret_sealed: Mapped[str | None] = mapped_column(Text)
    previous_secret_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Since when every attempt has failed (NULL: the last one succeeded, or none was
    # made). Failing for WEBHOOK_DISABLE_AFTER_HOURS disables the endpoint.
    failing_since: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Set when the workers disabled the endpoint (its admins are emailed); cleared when
    # an admin makes it active again.
    disabled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    disabled_reason: Mapped[str | None] = mapped_column(Text)
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id", ondelete="SET NULL")
    )


class WebhookEvent(TenantRowKey, Base):
    """Something that happened to an organization's data, written in the same transaction
    as the change. Its id is the `webhook-id` of every delivery of it, the receivers'
    de-duplication key; `key` names the occurrence, so that a scan run twice (the
    reminder windows) records it once."""

    __tablename__ = "webhook_events"
    __table_args__ = (
        PrimaryKeyConstraint("organization_id", "id"),
        CheckConstraint(check_in("type", values(WebhookEventType)), name="type"),
        Index("uq_webhook_events_organization_id_key", "organization_id", "key", unique=True),
        Index("ix_webhook_events_organization_id_occurred_at", "organization_id", "occurred_at"),
    )

    organization_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("organizations.id", ondelete="CASCADE")
    )
    type: Mapped[str] = mapped_column(String(64))
    key: Mapped[str] = mapped_column(String(255))
    occurred_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.statement_timestamp()
    )
    # The event's `data`, as delivered (app/domain/webhook_events.py builds it).
    data: Mapped[dict[str, Any]] = mapped_column(JSONB)


class WebhookDelivery(TenantRowKey, Timestamps, Base):
    """One event for one endpoint: its delivery's state, claimed and retried by the
    workers as the outbox's emails are (app/domain/webhooks.py)."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        PrimaryKeyConstraint("organization_id", "id"),
        ForeignKeyConstraint(
            ["organization_id", "endpoint_id"],
            ["webhook_endpoints.organization_id", "webhook_endpoints.id"],
            ondelete="CASCADE",
        ),
        ForeignKeyConstraint(
            ["organization_id", "event_id"],
            ["webhook_events.organization_id", "webhook_events.id"],
            ondelete="CASCADE",
        ),
        CheckConstraint(check_in("status", values(WebhookDeliveryStatus)), name="status"),
        Index(
            "uq_webhook_deliveries_organization_id_endpoint_id_event_id",
            "organization_id",
            "endpoint_id",
            "event_id",
            unique=True,
        ),
        # The relay's scan: what is due.
        Index("ix_webhook_deliveries_status_next_attempt_at", "status", "next_attempt_at"),
        Index("ix_webhook_deliveries_organization_id_event_id", "organization_id", "event_id"),
    )

    organization_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    endpoint_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    event_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    status: Mapped[str] = mapped_column(
        String(16), server_default=WebhookDeliveryStatus.PENDING.value
    )
    attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    next_attempt_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.statement_timestamp()
    )
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)


class WebhookAttempt(TenantRowKey, Base):
    """One attempt to deliver: what the endpoint answered (status code, the first
    WEBHOOK_RESPONSE_MAX_BYTES of its body) or why none came, and how long it took."""

    __tablename__ = "webhook_attempts"
    __table_args__ = (
        PrimaryKeyConstraint("organization_id", "id"),
        ForeignKeyConstraint(
            ["organization_id", "delivery_id"],
            ["webhook_deliveries.organization_id", "webhook_deliveries.id"],
            ondelete="CASCADE",
        ),
        Index(
            "ix_webhook_attempts_organization_id_endpoint_id_attempted_at",
            "organization_id",
            "endpoint_id",
            "attempted_at",
        ),
        Index("ix_webhook_attempts_organization_id_event_id", "organization_id", "event_id"),
    )

    organization_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    delivery_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    endpoint_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    event_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    number: Mapped[int] = mapped_column(Integer)
    attempted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    url: Mapped[str] = mapped_column(String(2048))
    status_code: Mapped[int | None] = mapped_column(Integer)
    latency_ms: Mapped[int] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    response_body: Mapped[str | None] = mapped_column(Text)
