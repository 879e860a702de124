"""An organization's dashboard: totals, a card per facility, recent activity and
onboarding progress, in a fixed number of queries whatever its size."""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, union_all
from sqlalchemy.orm import Session, aliased

from app.domain import compliance, exclusion_reviews, onboarding, queries
from app.models import AuditEvent, Facility, Organization, ProviderFacility, User
from app.models.enums import AuditAction
from app.models.order import ACTIVE_ORDER_STATUSES, Order

RECENT_ACTIVITY = 10

_VERBS = {"insert": "added", "update": "updated", "delete": "removed"}
_THINGS = {
    "organizations": "the organization",
    "facilities": "a facility",
    "memberships": "a member",
    "provider_facilities": "a facility assignment",
    "invitations": "an invitation",
    "credentials": "a credential",
    "credential_verifications": "a credential's verification",
    "documents": "a document",
    "onboarding_step_completions": "an onboarding step",
    "orders": "an order",
    "users": "a user profile",
}

# What the trail records of the system's upkeep and of a person's own sign-in secrets:
# emails queued, sent and retried (the outbox), password reset links, recovery codes.
# The trail keeps them; the activity feed shows what people did with the organization's
# data, and leaves them out.
BOOKKEEPING = ("outbox_messages", "password_resets", "mfa_recovery_codes")


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


def dashboard(
    session: Session, organization: Organization, scope: list[uuid.UUID], today: dt.date
) -> Dashboard:
    """The dashboard of `organization` over the organizations in `scope`
    (queries.scope_ids), with the figures /admin/compliance gives for that scope."""
    ids = scope
    # A card's columns only: a thousand facilities as rows, not as loaded entities.
    facilities = session.execute(
        queries.facilities_of(ids, include_inactive=True).with_only_columns(
            Facility.id, Facility.name, Facility.organization_id, Facility.active
        )
    ).all()
    providers_at = dict(
        session.execute(
            select(
                ProviderFacility.facility_id, func.count(func.distinct(ProviderFacility.user_id))
            )
            .where(queries.active_assignments_in(ids, today))
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
    overall, scores_at = _compliance_scores(session, ids, provider_ids, today)
    cards = [
        FacilityCard(
            f.id,
            f.name,
            f.organization_id,
            f.active,
            int(providers_at.get(f.id, 0)),
            int(orders_at.get(f.id, 0)),
            scores_at.get(f.id),
        )
        for f in facilities
    ]
    overview = {
        "total_facilities": len(facilities),
        "total_providers": len(provider_ids),
        "active_orders": sum(card.active_orders for card in cards),
        "compliance_score": overall,
        "document_compliance_score": compliance.mean_document_score(
            compliance.document_compliance(session, ids, today)
        ),
        **exclusion_reviews.counts(session, ids),
    }
    return Dashboard(
        organization.id,
        overview,
        cards,
        recent_activity(session, ids),
        onboarding.progress(session, organization),
    )


def _compliance_scores(
    session: Session, ids: list[uuid.UUID], provider_ids: list[uuid.UUID], today: dt.date
) -> tuple[int | None, dict[uuid.UUID, int | None]]:
    """The providers' mean score, and the mean score of those active at each facility of
    the organizations (their assignments in force there today)."""
    facts = compliance.load_facts(session, provider_ids, today, ids)
    scores = {user_id: compliance.evaluate(f, today).score for user_id, f in facts.items()}
    at: dict[uuid.UUID, list[int]] = defaultdict(list)
    for user_id, f in facts.items():
        for facility_id in f.active_facility_ids:
            at[facility_id].append(scores[user_id])
    return (
        compliance.mean_score(sum(scores.values()), len(scores)),
        {facility_id: compliance.mean_score(sum(s), len(s)) for facility_id, s in at.items()},
    )


def recent_activity(session: Session, ids: list[uuid.UUID]) -> list[Activity]:
    # The latest events of each organization, read from its end of the
    # (organization_id, occurred_at) index, hold the latest of them all: a tree's whole
    # trail is neither read, nor sorted, nor joined to its actors. One branch per
    # organization, each naming it: a Citus cluster sends each to the node holding that
    # organization's trail (it plans no join of a list of organizations to the trail).
    # What was done, not who looked: the reads recorded in the trail (accesses) are for
    # its readers and exports (app/blueprints/audit_events.py); nor the bookkeeping.
    if not ids:
        return []
    latest = union_all(
        *(
            select(AuditEvent)
            .where(
                AuditEvent.organization_id == organization_id,
                AuditEvent.action != AuditAction.ACCESS,
                AuditEvent.table_name.not_in(BOOKKEEPING),
            )
            .order_by(AuditEvent.occurred_at.desc(), AuditEvent.id)
            .limit(RECENT_ACTIVITY)
            for organization_id in ids
        )
    ).subquery("latest")
    event = aliased(AuditEvent, latest)
    rows = session.execute(
        select(event, User.name)
        .outerjoin(User, User.id == event.actor_user_id)
        .order_by(event.occurred_at.desc(), event.id)
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
    """The actor's name when the caller may see it; otherwise what the trail says of them:
    the system (a job, or a change made for a request by no one the organization may
    know of) is no one of MSC's, whatever reach it acted with."""
    if name:
        return name
    if event.actor_user_id is None:
        return "System"
    return "MSC" if event.cross_tenant else "Someone"


def _summary(actor: str | None, event: AuditEvent) -> str:
    """`Nadia Wells updated a facility (name, phone)`; a decision on a credential says
    which: `Nadia Wells rejected a credential`."""
    who = _actor(actor, event)
    if event.table_name == "credential_verifications" and event.action == "insert":
        return f"{who} {event.changes['verification_status']['new']} a credential"
    thing = _THINGS.get(event.table_name, event.table_name.replace("_", " "))
    fields = ""
    if event.action == "update" and event.changes:
        fields = f" ({', '.join(sorted(event.changes))})"
    return f"{who} {_VERBS.get(event.action, event.action)} {thing}{fields}"
