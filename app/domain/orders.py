"""Orders: placed by providers at facilities where they are actively assigned, then
moved through their lifecycle by staff (approve, ship, deliver) or by the provider
(submit, cancel their own while draft or submitted).

The policies decide which orders a caller reaches and may write; these functions add
the answers the policies cannot give (422 naming facility_id, 409 naming status) and
the explicit tenant filter of lists.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Date, Select, cast, exists, func, select, update
from sqlalchemy.orm import Session

from app.domain import exclusion_reviews
from app.domain.errors import Conflict, Forbidden, Invalid
from app.domain.queries import in_reach
from app.models import Facility, ProviderFacility
from app.models.enums import AssignmentStatus, Role
from app.models.order import BUSINESS_ORDER_STATUSES, Order, OrderStatus
from app.tenancy.context import TenantContext, in_scope

# The lifecycle: from each status, the statuses it may move to.
TRANSITIONS: dict[str, frozenset[str]] = {
    OrderStatus.DRAFT: frozenset({OrderStatus.SUBMITTED, OrderStatus.CANCELLED}),
    OrderStatus.SUBMITTED: frozenset({OrderStatus.APPROVED, OrderStatus.CANCELLED}),
    OrderStatus.APPROVED: frozenset({OrderStatus.SHIPPED, OrderStatus.CANCELLED}),
    OrderStatus.SHIPPED: frozenset({OrderStatus.DELIVERED}),
    OrderStatus.DELIVERED: frozenset(),
    OrderStatus.CANCELLED: frozenset(),
}

# What the provider may do to their own order, and while it is what; the rest is staff's.
PROVIDER_FROM = frozenset({OrderStatus.DRAFT, OrderStatus.SUBMITTED})
PROVIDER_MOVES = frozenset({OrderStatus.SUBMITTED, OrderStatus.CANCELLED})

# The timestamp each status stamps when reached.
STAMPS: dict[str, str] = {
    OrderStatus.SUBMITTED: "submitted_at",
    OrderStatus.APPROVED: "approved_at",
    OrderStatus.SHIPPED: "shipped_at",
    OrderStatus.DELIVERED: "delivered_at",
    OrderStatus.CANCELLED: "cancelled_at",
}


def place_order(
    session: Session, context: TenantContext, facility: Facility, data: dict[str, Any]
) -> Order:
    """The caller's own order at `facility` (already found within the caller's reach)."""
    # MSC admins hold every permission, but an order is a provider's own act.
    if context.role != Role.PROVIDER or context.user_id is None:
        raise Forbidden("orders are placed by providers themselves")
    if not facility.active:
        raise Invalid("the facility is not active", field="facility_id")
    assigned = session.scalar(
        select(
            exists().where(
                ProviderFacility.user_id == context.user_id,
                ProviderFacility.organization_id == facility.organization_id,
                ProviderFacility.facility_id == facility.id,
                ProviderFacility.status == AssignmentStatus.ACTIVE,
            )
        )
    )
    if not assigned:
        # The insert policy would refuse too, but only as "not found".
        raise Invalid("you have no active assignment at this facility", field="facility_id")
    # 42 CFR 1001.1901: no program pays for what an excluded person orders.
    if exclusion_reviews.excluded_in(session, context.user_id, facility.organization_id):
        raise Conflict(
            "you are excluded from federal health care programs in this organization's"
            " records (an exclusion list match): it accepts no new orders from you",
            field="facility_id",
        )
    status = data.get("status", OrderStatus.SUBMITTED)
    order = Order(
        organization_id=facility.organization_id,
        facility_id=facility.id,
        provider_id=context.user_id,
        status=status,
        amount=data["amount"],
        line_count=data["line_count"],
    )
    if status == OrderStatus.SUBMITTED:
        # The transaction's time, as created_at: both stamps agree.
        order.submitted_at = func.now()
    session.add(order)
    session.flush()
    session.refresh(order)
    return order


def get_order(session: Session, context: TenantContext, order_id: uuid.UUID) -> Order | None:
    """The order if the policies show it and it belongs to an organization the caller
    acts for (a provider's orders elsewhere are theirs, but not this session's business)."""
    return in_reach(session, Order, order_id, context)


def list_orders(context: TenantContext, filters: dict[str, Any]) -> Select[Order]:
    """Orders the caller reaches in the organizations they act for, newest first. The
    role filters repeat the policies, so the query says what it means and plans well."""
    query = select(Order).where(in_scope(Order.organization_id, context))
    if not context.is_msc_admin:
        if context.role == Role.PROVIDER:
            query = query.where(Order.provider_id == context.user_id)
        elif context.role == Role.OFFICE_MANAGER:
            query = query.where(Order.facility_id.in_(context.facility_ids))
    for column in ("status", "facility_id"):
        if column in filters:
            query = query.where(getattr(Order, column) == filters[column])
    # Calendar days of creation (the date of created_at): the list holds drafts too,
    # which the analytics, counting by day of submission, leave out.
    if filters.get("from_date") is not None:
        query = query.where(cast(Order.created_at, Date) >= filters["from_date"])
    if filters.get("to_date") is not None:
        query = query.where(cast(Order.created_at, Date) <= filters["to_date"])
    return query.order_by(Order.created_at.desc(), Order.id.desc())


def _is_staff_for(context: TenantContext, order: Order) -> bool:
    if context.is_msc_admin:
        return True
    if order.organization_id not in context.organization_ids:
        return False
    if context.role == Role.ORGANIZATION_ADMIN:
        return True
    return context.role == Role.OFFICE_MANAGER and order.facility_id in context.facility_ids


def change_status(session: Session, context: TenantContext, order: Order, status: str) -> Order:
    """Move `order` to `status` and stamp the matching *_at column."""
    current = order.status
    if status not in TRANSITIONS[current]:
        raise Conflict(f"an order cannot go from {current} to {status}", field="status")
    is_owner = order.provider_id == context.user_id
    staff = _is_staff_for(context, order)
    # The provider submits or cancels their own order; staff do the rest (and may
    # cancel too). Submitting is the provider's act, even for staff.
    allowed = (is_owner and current in PROVIDER_FROM and status in PROVIDER_MOVES) or (
        staff and status != OrderStatus.SUBMITTED
    )
    if not allowed:
        raise Forbidden(f"you may not move this order to {status}", field="status")
    # Conditional on the status read: of two concurrent changes, the second finds the
    # order moved on and answers 409 instead of overwriting the first. By the whole key,
    # so that a Citus cluster changes the one shard that holds it.
    changed = session.execute(
        update(Order)
        .where(
            Order.organization_id == order.organization_id,
            Order.id == order.id,
            Order.status == current,
        )
        .values({"status": status, STAMPS[status]: func.now()})
        .returning(Order.id),
        execution_options={"synchronize_session": False},
    ).first()
    if changed is None:
        raise Conflict("the order's status changed meanwhile; reload it", field="status")
    session.refresh(order)
    return order


def has_ordered(session: Session, user_id: uuid.UUID) -> bool:
    """Whether the user has placed an order (one in a business status: neither draft nor
    cancelled) that the caller can see: the provider checklist's "first order
    submission" item."""
    return bool(
        session.scalar(
            select(
                exists().where(
                    Order.provider_id == user_id, Order.status.in_(BUSINESS_ORDER_STATUSES)
                )
            )
        )
    )
