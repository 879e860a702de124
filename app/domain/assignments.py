"""Provider assignments to facilities, and the primary-facility rule.

A provider has at most one primary facility, whichever organization it belongs to: their
row in `primary_assignments` (primary key the provider) points at it, and the assignment
there carries `is_primary`, the organization's copy. Both change together, here and
nowhere else, `primary_assignments` first: its row is what concurrent changes of one
provider's primary meet on. A change that finds the row other than it read it (another
organization made another facility primary meanwhile) is refused as a Conflict, and its
transaction rolls back whole; the first change stands.

Changing the primary may touch a row the caller cannot see (the provider's primary at
another organization); those steps run in the system context and reveal nothing to the
caller.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import NamedTuple

from sqlalchemy import ColumnElement, and_, delete, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from app import clock
from app.domain.errors import Conflict, Invalid
from app.models import Facility, Invitation, Membership, PrimaryAssignment, ProviderFacility
from app.models.enums import AssignmentStatus as Status
from app.tenancy.context import system_context

CHANGED_MEANWHILE = "the provider's primary facility was changed meanwhile; try again"

# How many providers' `is_primary` flags disagree with their primary_assignments row
# (a flag it does not point at, or a row pointing at no flag): 0 while only this module
# writes them. Checked by the tests and after bench/generate.py's load; it reads every
# tenant's rows, so only in MSC reach or as the owner.
PRIMARY_DISAGREEMENTS = """
    WITH flagged AS MATERIALIZED (
             SELECT user_id, organization_id, facility_id
               FROM provider_facilities WHERE is_primary),
         -- materialized both: on a Citus cluster the tables lie on different keys
         -- (organization, provider), so the two sides meet on the coordinator
         pa AS MATERIALIZED (
             SELECT user_id, organization_id, facility_id FROM primary_assignments)
    SELECT count(DISTINCT coalesce(pa.user_id, flagged.user_id))
      FROM flagged
      FULL JOIN pa
             ON pa.user_id = flagged.user_id AND pa.organization_id = flagged.organization_id
            AND pa.facility_id = flagged.facility_id
     WHERE flagged.user_id IS NULL OR pa.user_id IS NULL"""


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
    with system_context(session, anonymous=True):
        # Before the assignment itself: primary_assignments first, as in make_primary, so
        # that the two never wait on each other's rows in opposite orders.
        session.execute(
            delete(PrimaryAssignment).where(_points_at(assignment)),
            execution_options={"synchronize_session": False},
        )
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
    target = Pointer(assignment.user_id, assignment.organization_id, assignment.facility_id)
    with system_context(session, anonymous=True):
        held = session.execute(
            select(PrimaryAssignment.organization_id, PrimaryAssignment.facility_id).where(
                PrimaryAssignment.user_id == assignment.user_id
            )
        ).one_or_none()
        if held is None:
            _claim(session, target)
        else:
            # Still as read, or refused: this update waits for a concurrent change of the
            # row and then finds it changed. (When it already points here, it only holds
            # the row until the flag below is written.)
            moved = session.connection().execute(
                update(PrimaryAssignment)
                .where(
                    PrimaryAssignment.user_id == assignment.user_id,
                    PrimaryAssignment.organization_id == held.organization_id,
                    PrimaryAssignment.facility_id == held.facility_id,
                )
                .values(organization_id=target.organization_id, facility_id=target.facility_id)
            )
            if moved.rowcount != 1:
                raise Conflict(CHANGED_MEANWHILE, field="is_primary")
            if tuple(held) != (target.organization_id, target.facility_id):
                session.execute(
                    update(ProviderFacility)
                    .where(
                        ProviderFacility.organization_id == held.organization_id,
                        ProviderFacility.facility_id == held.facility_id,
                        ProviderFacility.user_id == assignment.user_id,
                        ProviderFacility.is_primary,
                    )
                    .values(is_primary=False),
                    execution_options={"synchronize_session": False},
                )
        _mark_primary(session, assignment.organization_id, assignment.id)
    session.refresh(assignment)


def settle_primary(
    session: Session, user_id: uuid.UUID, preferred: uuid.UUID | None = None
) -> None:
    """A provider with no primary gets one: the `preferred` active assignment (the one an
    accepted invitation named primary), or else their only active assignment. If another
    transaction gives them one meanwhile, that one stands."""
    with system_context(session, anonymous=True):
        # Columns, not entities: rows read in the system context must not enter the
        # session, where the caller's later reads could find them.
        active = session.execute(
            select(
                ProviderFacility.id, ProviderFacility.organization_id, ProviderFacility.facility_id
            ).where(ProviderFacility.user_id == user_id, ProviderFacility.status == Status.ACTIVE)
        ).all()
        chosen = [row for row in active if row.id == preferred] or (
            active if len(active) == 1 else []
        )
        if chosen:
            [choice] = chosen
            pointer = Pointer(user_id, choice.organization_id, choice.facility_id)
            if _claim(session, pointer, unless_held=True):
                _mark_primary(session, choice.organization_id, choice.id)


class Pointer(NamedTuple):
    """What a primary_assignments row holds: the provider, and where their primary is."""

    user_id: uuid.UUID
    organization_id: uuid.UUID
    facility_id: uuid.UUID


def _points_at(assignment: ProviderFacility) -> ColumnElement[bool]:
    """Whether a primary_assignments row points at `assignment`."""
    return and_(
        PrimaryAssignment.user_id == assignment.user_id,
        PrimaryAssignment.organization_id == assignment.organization_id,
        PrimaryAssignment.facility_id == assignment.facility_id,
    )


def _claim(session: Session, pointer: Pointer, *, unless_held: bool = False) -> bool:
    """Write the provider's primary_assignments row where they have none. When a
    concurrent transaction has just written one, this waits for it and then finds it:
    with `unless_held` that one stands (False), else the change is refused."""
    claimed = session.execute(
        insert(PrimaryAssignment)
        .values(pointer._asdict())
        .on_conflict_do_nothing(index_elements=[PrimaryAssignment.user_id])
        .returning(PrimaryAssignment.user_id)
    ).first()
    if claimed is None and not unless_held:
        raise Conflict(CHANGED_MEANWHILE, field="is_primary")
    return claimed is not None


def _mark_primary(session: Session, organization_id: uuid.UUID, assignment_id: uuid.UUID) -> None:
    """Flag the assignment primary_assignments now points at. Still active: one ended
    meanwhile cannot be primary, and the change is refused."""
    # On the connection: a plain UPDATE, whose count of rows says whether it took. By the
    # whole key: a Citus cluster then changes the one shard that holds the row, where by
    # the id alone it would visit, and lock, every organization's.
    marked = session.connection().execute(
        update(ProviderFacility)
        .where(
            ProviderFacility.organization_id == organization_id,
            ProviderFacility.id == assignment_id,
            ProviderFacility.status == Status.ACTIVE,
        )
        .values(is_primary=True)
    )
    if marked.rowcount != 1:
        raise Conflict("only an active assignment can be primary", field="is_primary")
