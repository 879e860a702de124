"""Facilities: where providers work. Validation of reference data happens here, so
the API and any other writer get the same answers."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import ColumnElement, exists, select
from sqlalchemy.orm import Session

from app.domain import onboarding
from app.domain.errors import Forbidden, Invalid
from app.domain.queries import Rows
from app.models import Facility, Membership, Organization, UsState
from app.models.enums import OnboardingStep as Step
from app.models.enums import Role
from app.tenancy.context import TenantContext, in_scope

# What an office manager may change on a facility they manage ("update-facility-info").
OFFICE_MANAGER_FIELDS = frozenset(
    {"name", "address", "city", "state", "zip_code", "phone", "email", "place_of_service"}
)

SORTS: dict[str, ColumnElement[Any]] = {
    "name": Facility.name.asc(),
    "-name": Facility.name.desc(),
    "created_at": Facility.created_at.asc(),
    "-created_at": Facility.created_at.desc(),
    "state": Facility.state.asc(),
}


def list_facilities(context: TenantContext, filters: dict[str, Any]) -> Rows:
    """Plain rows of every column: a list only reads them, so no instance is built or
    tracked for any."""
    query = select(*Facility.__table__.columns).where(in_scope(Facility.organization_id, context))
    for column in ("organization_id", "facility_type", "state", "active"):
        if column in filters:
            query = query.where(getattr(Facility, column) == filters[column])
    if "name" in filters:
        query = query.where(Facility.name.icontains(filters["name"], autoescape=True))
    return query.order_by(SORTS[filters.get("sort", "name")], Facility.id)


def create_facility(session: Session, organization: Organization, data: dict[str, Any]) -> Facility:
    _check_references(session, organization.id, data)
    facility = Facility(organization_id=organization.id, **data)
    session.add(facility)
    session.flush()
    onboarding.mark_started(session, organization.id)
    onboarding.announce_step(session, organization, Step.ADD_FACILITIES)
    session.refresh(facility)
    return facility


def update_facility(
    session: Session, context: TenantContext, facility: Facility, changes: dict[str, Any]
) -> Facility:
    if context.role == Role.OFFICE_MANAGER and not context.is_msc_admin:
        forbidden = sorted(changes.keys() - OFFICE_MANAGER_FIELDS)
        if forbidden:
            raise Forbidden(
                f"office managers cannot change {', '.join(forbidden)}",
                field=forbidden[0],
            )
    _check_references(session, facility.organization_id, changes)
    if "state" in changes and "mac_jurisdiction" not in changes:
        changes["mac_jurisdiction"] = None  # a new state: the database derives its MAC
    for name, value in changes.items():
        setattr(facility, name, value)
    session.flush()
    session.refresh(facility)
    return facility


def _check_references(session: Session, organization_id: uuid.UUID, data: dict[str, Any]) -> None:
    if "state" in data and session.get(UsState, data["state"]) is None:
        raise Invalid("not a US state or territory code", field="state")
    jurisdiction = data.get("mac_jurisdiction")
    if jurisdiction is not None and not session.scalar(
        select(exists().where(UsState.mac_jurisdiction == jurisdiction))
    ):
        raise Invalid("not a Medicare A/B MAC jurisdiction", field="mac_jurisdiction")
    manager_id = data.get("office_manager_id")
    if manager_id is not None:
        is_manager = session.scalar(
            select(Membership.id).where(
                Membership.organization_id == organization_id,
                Membership.user_id == manager_id,
                Membership.role == Role.OFFICE_MANAGER,
                Membership.is_active,
            )
        )
        if is_manager is None:
            raise Invalid(
                "not an active office manager of this organization",
                field="office_manager_id",
            )
