"""An organization's dashboard: totals, a card per facility, recent activity and
onboarding progress, in a fixed number of queries whatever its size."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from statistics import mean
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.domain import compliance, onboarding, queries
from app.models import AuditEvent, Organization, ProviderFacility, User
from app.models.order import Order, OrderStatus

# Orders still on their way: what "active orders" counts.
ACTIVE_ORDER_STATUSES = (OrderStatus.SUBMITTED, OrderStatus.APPROVED, OrderStatus.SHIPPED)
RECENT_ACTIVITY = 10

_VERBS = {"insert": "added", "update": "updated", "delete": "removed"}
_THINGS = {
    "organizations": "the organization",
    "facilities": "a facility",
    "memberships": "a member",
    "provider_facilities": "a facility assignment",
    "invitations": "an invitation",
    "credentials": "a credential",
    "documents": "a document",
    "onboarding_step_completions": "an onboarding step",
    "orders": "an order",
    "users": "a user profile",
}


@dataclass(frozen=True)
class FacilityCard:
    id: uuid.UUID
    name: str
    organization_id: uuid.UUID
    active: bool
    providers: int
    active_orders: int
    compliance_score: int | None


@dataclass(frozen=True)
class Activity:
    occurred_at: dt.datetime
    actor_name: str
    summary: str
    table_name: str
    action: str
    row_id: uuid.UUID


@dataclass(frozen=True)
class Dashboard:
    organization_id: uuid.UUID
    overview: dict[str, Any]
    facilities: list[FacilityCard]
    recent_activity: list[Activity]
    onboarding_progress: onboarding.Progress


def dashboard(session: Session, organization: Organization, today: dt.date) -> Dashboard:
    ids = queries.tree_ids(session, organization)
    facilities = session.scalars(queries.facilities_of(ids, include_inactive=True)).all()
    providers_at = dict(
        session.execute(
            select(
                ProviderFacility.facility_id, func.count(func.distinct(ProviderFacility.user_id))
            )
            .where(queries.active_assignments_in(ids))
            .group_by(ProviderFacility.facility_id)
        ).all()
    )
    # Work in flight whatever its date, unlike analytics' orders created in a range.
    orders_at = dict(
        session.execute(
            select(Order.facility_id, func.count())
            .where(Order.organization_id.in_(ids), Order.status.in_(ACTIVE_ORDER_STATUSES))
            .group_by(Order.facility_id)
        ).all()
    )
    provider_ids = queries.provider_ids(session, ids)
    facts = compliance.load_facts(session, provider_ids, today)
    scores = {user_id: compliance.evaluate(f, today).score for user_id, f in facts.items()}

    def facility_score(facility_id: uuid.UUID) -> int | None:
        at = [scores[u] for u, f in facts.items() if facility_id in f.active_facility_ids]
        return round(mean(at)) if at else None

    cards = [
        FacilityCard(
            f.id,
            f.name,
            f.organization_id,
            f.active,
            int(providers_at.get(f.id, 0)),
            int(orders_at.get(f.id, 0)),
            facility_score(f.id),
        )
        for f in facilities
    ]
    overview = {
        "total_facilities": len(facilities),
        "total_providers": len(provider_ids),
        "active_orders": sum(card.active_orders for card in cards),
        "compliance_score": round(mean(scores.values())) if scores else None,
    }
    return Dashboard(
        organization.id,
        overview,
        cards,
        recent_activity(session, ids),
        onboarding.progress(session, organization),
    )


def recent_activity(session: Session, ids: list[uuid.UUID]) -> list[Activity]:
    rows = session.execute(
        select(AuditEvent, User.name)
        .outerjoin(User, User.id == AuditEvent.actor_user_id)
        .where(AuditEvent.organization_id.in_(ids))
        .order_by(AuditEvent.occurred_at.desc(), AuditEvent.id)
        .limit(RECENT_ACTIVITY)
    ).all()
    return [
        Activity(
            event.occurred_at,
            _actor(actor, event),
            _summary(actor, event),
            event.table_name,
            event.action,
            event.row_id,
        )
        for event, actor in rows
    ]


def _actor(name: str | None, event: AuditEvent) -> str:
    """The actor's name when the caller may see it; otherwise what the trail says of them."""
    if name:
        return name
    if event.cross_tenant:
        return "MSC"
    return "System" if event.actor_user_id is None else "Someone"


def _summary(actor: str | None, event: AuditEvent) -> str:
    """`Nadia Wells updated a facility (name, phone)`."""
    who = _actor(actor, event)
    thing = _THINGS.get(event.table_name, event.table_name.replace("_", " "))
    fields = ""
    if event.action == "update" and event.changes:
        fields = f" ({', '.join(sorted(event.changes))})"
    return f"{who} {_VERBS.get(event.action, event.action)} {thing}{fields}"
