"""Organization rules: who may change what, and the lifecycle of its status."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, select
from sqlalchemy.orm import Session, with_expression

from app import clock
from app.domain import onboarding, webhooks
from app.domain.errors import Conflict, Forbidden, NotFound
from app.models import Organization
from app.models.enums import OnboardingStep as Step
from app.models.enums import OrganizationStatus as Status
from app.models.enums import Role
from app.tenancy.context import TenantContext, in_scope

# pending -> active -> suspended <-> active -> inactive
STATUS_TRANSITIONS: dict[str, frozenset[str]] = {
    Status.PENDING: frozenset({Status.ACTIVE}),
    Status.ACTIVE: frozenset({Status.SUSPENDED, Status.INACTIVE}),
    Status.SUSPENDED: frozenset({Status.ACTIVE}),
    Status.INACTIVE: frozenset(),
}

# Fields only MSC admins may set; an organization admin edits the rest of their own.
MSC_ONLY_FIELDS = frozenset(
    {"status", "organization_type", "parent_organization_id", "msc_representative_id"}
)

SORTS: dict[str, ColumnElement[Any]] = {
    "name": Organization.name.asc(),
    "-name": Organization.name.desc(),
    "created_at": Organization.created_at.asc(),
    "-created_at": Organization.created_at.desc(),
    "status": Organization.status.asc(),
}


def list_organizations(context: TenantContext, filters: dict[str, Any]) -> Select[Organization]:
    """The organizations the caller acts for, filtered and sorted, each with its
    onboarding steps complete, in the same statement."""
    query = (
        select(Organization)
        .where(in_scope(Organization.id, context))
        .options(
            with_expression(Organization.onboarding_steps_completed, onboarding.completed_steps())
        )
    )
    for column in ("status", "organization_type", "onboarding_status", "parent_organization_id"):
        if column in filters:
            query = query.where(getattr(Organization, column) == filters[column])
    if "name" in filters:
        query = query.where(Organization.name.icontains(filters["name"], autoescape=True))
    return query.order_by(SORTS[filters.get("sort", "name")], Organization.id)


def get_organization(session: Session, organization_id: uuid.UUID) -> Organization | None:
    """None when it does not exist or lies outside the caller's reach (the same to them)."""
    return session.get(Organization, organization_id)


def create_organization(session: Session, data: dict[str, Any]) -> Organization:
    organization = Organization(**data)
    session.add(organization)
    session.flush()
    session.refresh(organization)
    steps = [Step.REGISTRATION]
    if onboarding.has_basics(organization):
        steps.append(Step.BASIC_INFORMATION)
    webhooks.record_many(
        session,
        [
            event
            for step in steps
            for event in onboarding.completion_events(organization, step, organization.created_at)
        ],
    )
    return organization


def update_organization(
    session: Session,
    context: TenantContext,
    organization: Organization,
    changes: dict[str, Any],
    now: datetime | None = None,
) -> Organization:
    if not context.is_msc_admin:
        if not context.reaches(organization.id):
            # visible (the user belongs to it) but outside the active organization's scope
            raise NotFound("organization not found")
        if context.role != Role.ORGANIZATION_ADMIN:
            raise Forbidden("only organization admins may edit the organization")
        forbidden = sorted(MSC_ONLY_FIELDS & changes.keys())
        if forbidden:
            raise Forbidden(
                f"only MSC admins may change {', '.join(forbidden)}",
                field=forbidden[0],
            )
    now = now or clock.now()
    had_basics, was_activated = onboarding.has_basics(organization), organization.activated_at
    if "status" in changes:
        change_status(organization, changes.pop("status"), now)
    for name, value in changes.items():
        setattr(organization, name, value)
    session.flush()
    session.refresh(organization)
    events = []
    if onboarding.has_basics(organization) and not had_basics:
        events += onboarding.completion_events(organization, Step.BASIC_INFORMATION, now)
    if organization.activated_at is not None and was_activated is None:
        events.append(onboarding.activation_event(organization))
    webhooks.record_many(session, events)
    return organization


def change_status(organization: Organization, new_status: str, now: datetime) -> None:
    if new_status == organization.status:
        return
    if new_status not in STATUS_TRANSITIONS[organization.status]:
        raise Conflict(
            f"status cannot change from {organization.status} to {new_status}",
            field="status",
        )
    organization.status = new_status
    if new_status == Status.ACTIVE and organization.activated_at is None:
        organization.activated_at = now
