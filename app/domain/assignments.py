"""Provider assignments to facilities, and the primary-facility rule.

A provider has at most one primary facility, whichever organization it belongs to
(a partial unique index holds it). Changing the primary therefore may touch a row the
caller cannot see; that one step runs in the system context, under a per-provider
advisory lock so concurrent requests take turns, and reveals nothing to the caller.
"""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import func, select, text, update
from sqlalchemy.orm import Session

from app import clock
from app.domain.errors import Conflict, Invalid
from app.models import Facility, Invitation, Membership, ProviderFacility
from app.models.enums import AssignmentStatus as Status
from app.tenancy.context import system_context


def lock_provider(session: Session, user_id: uuid.UUID) -> None:
    """Serialise primary-facility changes of one provider until the transaction ends."""
    session.execute(
        text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
        {"key": f"primary-facility:{user_id}"},
    )


def current_assignment(
    session: Session, user_id: uuid.UUID, facility_id: uuid.UUID
) -> ProviderFacility | None:
    return session.scalar(
        select(ProviderFacility).where(
            ProviderFacility.user_id == user_id,
            ProviderFacility.facility_id == facility_id,
            ProviderFacility.status != Status.INACTIVE,
        )
    )


def assign(
    session: Session,
    user_id: uuid.UUID,
    facility: Facility,
    *,
    is_primary: bool,
    start_date: dt.date | None,
    today: dt.date | None = None,
) -> ProviderFacility:
    """Assign a member of the facility's organization to it (or activate their pending
    assignment there). A start date in the future keeps the assignment pending."""
    today = today or clock.today()
    is_member = session.scalar(
        select(Membership.id).where(
            Membership.organization_id == facility.organization_id,
            Membership.user_id == user_id,
            Membership.is_active,
        )
    )
    if is_member is None:
        raise Invalid(
            "the provider is not an active member of this facility's organization",
            field="facility_id",
        )
    start = start_date or today
    status = Status.ACTIVE if start <= today else Status.PENDING
    assignment = current_assignment(session, user_id, facility.id)
    if assignment is not None and assignment.status == Status.ACTIVE:
        raise Conflict("already assigned to this facility", field="facility_id")
    if assignment is None:
        assignment = ProviderFacility(
            organization_id=facility.organization_id, user_id=user_id, facility_id=facility.id
        )
        session.add(assignment)
    assignment.start_date = start
    assignment.status = status
    session.flush()
    if is_primary:
        make_primary(session, assignment)
    else:
        invited_primary = session.scalar(
            select(Invitation.id).where(
                Invitation.accepted_user_id == user_id,
                Invitation.organization_id == facility.organization_id,
                Invitation.primary_facility_id == facility.id,
            )
        )
        settle_primary(session, user_id, assignment.id if invited_primary else None)
    session.refresh(assignment)
    return assignment


def end(
    session: Session, assignment: ProviderFacility, end_date: dt.date | None = None
) -> ProviderFacility:
    """End an assignment; the row stays, inactive, as history."""
    if assignment.status == Status.INACTIVE:
        raise Conflict("the assignment has already ended", field="assignment_id")
    today = clock.today()
    # A pending assignment that has not started ends on its start date, not before.
    end_date = end_date or max(today, assignment.start_date)
    if end_date < assignment.start_date:
        raise Invalid("the end date is before the start date", field="end_date")
    if end_date > max(today, assignment.start_date):
        # Nothing would end it on that day: an assignment ends when it is ended.
        raise Invalid("an assignment ends today, not later", field="end_date")
    lock_provider(session, assignment.user_id)
    assignment.end_date = end_date
    assignment.status = Status.INACTIVE
    assignment.is_primary = False
    session.flush()
    settle_primary(session, assignment.user_id)
    session.refresh(assignment)
    return assignment


def make_primary(session: Session, assignment: ProviderFacility) -> None:
    """Make `assignment` the provider's one primary facility (it must be active)."""
    if assignment.status != Status.ACTIVE:
        raise Conflict("only an active assignment can be primary", field="is_primary")
    lock_provider(session, assignment.user_id)
    with system_context(session, anonymous=True):
        session.execute(
            update(ProviderFacility)
            .where(
                ProviderFacility.user_id == assignment.user_id,
                ProviderFacility.is_primary,
                ProviderFacility.id != assignment.id,
            )
            .values(is_primary=False),
            execution_options={"synchronize_session": False},
        )
        session.execute(
            update(ProviderFacility)
            .where(ProviderFacility.id == assignment.id)
            .values(is_primary=True),
            execution_options={"synchronize_session": False},
        )
    session.refresh(assignment)


def settle_primary(
    session: Session, user_id: uuid.UUID, preferred: uuid.UUID | None = None
) -> None:
    """A provider with no primary gets one: the `preferred` active assignment (the one an
    accepted invitation named primary), or else their only active assignment."""
    lock_provider(session, user_id)
    with system_context(session, anonymous=True):
        active = session.scalars(
            select(ProviderFacility.id).where(
                ProviderFacility.user_id == user_id, ProviderFacility.status == Status.ACTIVE
            )
        ).all()
        has_primary = session.scalar(
            select(func.count())
            .select_from(ProviderFacility)
            .where(ProviderFacility.user_id == user_id, ProviderFacility.is_primary)
        )
        choice = preferred if preferred in active else (active[0] if len(active) == 1 else None)
        if not has_primary and choice is not None:
            session.execute(
                update(ProviderFacility)
                .where(ProviderFacility.id == choice)
                .values(is_primary=True),
                execution_options={"synchronize_session": False},
            )
