from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import (
    CheckConstraint,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    Numeric,
    PrimaryKeyConstraint,
    String,
)
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, TenantRowKey, Timestamps, check_in
from app.models.enums import values


class OrderStatus(StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    APPROVED = "approved"
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    CANCELLED = "cancelled"


# Work in flight, whatever its date: what the dashboard counts as active orders.
ACTIVE_ORDER_STATUSES = (OrderStatus.SUBMITTED, OrderStatus.APPROVED, OrderStatus.SHIPPED)
# Orders that are business: submitted and not cancelled, whatever came after. What the
# analytics count (orders, revenue, ordering providers, facilities' use) and what the
# onboarding checklist takes as a first order; a draft is an intention, a cancelled
# order none any more.
BUSINESS_ORDER_STATUSES = (*ACTIVE_ORDER_STATUSES, OrderStatus.DELIVERED)


class Order(TenantRowKey, Timestamps, Base):
    """A provider's supply order at one facility: minimal, what dashboards and analytics
    count. Each status change stamps its own *_at column."""

    __tablename__ = "orders"
    __table_args__ = (
        PrimaryKeyConstraint("organization_id", "id"),
        # Composite keys keep an order inside its tenant: the facility belongs to the
        # order's organization and the provider is a member of it. No ON DELETE: orders
        # are history, so a facility or membership with orders is not deleted silently.
        ForeignKeyConstraint(
            ["organization_id", "facility_id"],
            ["facilities.organization_id", "facilities.id"],
            name="fk_orders_facility",
        ),
        ForeignKeyConstraint(
            ["organization_id", "provider_id"],
            ["memberships.organization_id", "memberships.user_id"],
            name="fk_orders_membership",
        ),
        CheckConstraint(check_in("status", values(OrderStatus)), name="status"),
        CheckConstraint("amount >= 0", name="amount_not_negative"),
        CheckConstraint("line_count >= 1", name="line_count_positive"),
        # Lists: newest first per organization.
        Index("ix_orders_organization_id_created_at", "organization_id", "created_at"),
        # Analytics: an organization's orders by the day they were submitted.
        Index("ix_orders_organization_id_submitted_at", "organization_id", "submitted_at"),
        # provider_id rides along for the select policy: a count under the policies is an
        # index-only scan as it is without them.
        Index(
            "ix_orders_organization_id_facility_id",
            "organization_id",
            "facility_id",
            postgresql_include=["provider_id"],
        ),
        # The dashboard's active orders per facility: a few rows among a tenant's many,
        # found by status (in the key, not a partial index's predicate, which a generic
        # plan with the statuses as parameters could not use).
        Index(
            "ix_orders_organization_id_status_facility_id",
            "organization_id",
            "status",
            "facility_id",
            postgresql_include=["provider_id"],
        ),
        # The provider's own orders, at every organization (policy and checklist).
        Index("ix_orders_provider_id", "provider_id"),
    )

    organization_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("organizations.id", ondelete="CASCADE")
    )
    facility_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    provider_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    status: Mapped[str] = mapped_column(String(16), server_default=OrderStatus.SUBMITTED.value)
    amount: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    line_count: Mapped[int] = mapped_column(Integer)
    submitted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    approved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    shipped_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    cancelled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
