"""Provider assignments to facilities over time, and the primary-facility rule.

Dates. An assignment is in force from its start date up to, not including, its end date
(`queries.active_on`: ended today, it no longer is today). Either date may lie ahead:
the assignment waits, pending, for its start date, and an active one runs to its end
date. `apply_dates`, run by the scheduler (workers/jobs.py), moves each assignment's
status as its dates come; each move is an update of the assignment, which its own
organization's trail records with the system as the actor.

The primary. A provider has at most one primary facility, whichever organization it
belongs to: the provider's row in `primary_assignments` (primary key the provider) points
at it, and an assignment is primary exactly when that row points at it (and it is
active). It is the provider's fact, not an organization's row: an organization sees the
row only while it points at one of its own assignments (policies/primary_assignments.sql),
so its assignments read `is_primary` false once the primary is elsewhere, and moving it
changes no row of theirs and writes nothing in their trail. A change that finds the row
other than it read it (another organization made another facility primary meanwhile) is
refused as a Conflict, and its transaction rolls back whole; the first change stands.

Moving the primary may touch a row the caller cannot see (pointing at another
organization's assignment); those steps run in the system context and reveal nothing to
the caller. Ending the primary assignment leaves the provider with their only other
active assignment as primary, or with none, to choose (app/domain/checklist.py asks).

Events. Each change is announced to the assignment's organization alone, in its
transaction (webhook `assignment.changed`, saying what changed), and the end of a
provider's last active assignment there as their leaving it (`provider.left`). Only a
primary chosen by a person is announced (`made_primary`), not one settle_primary falls
back on as a consequence of another change.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, replace
from itertools import groupby
from typing import NamedTuple

from sqlalchemy import CTE, ColumnElement, and_, delete, or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from app import clock
from app.domain import exclusion_reviews, queries, webhook_events, webhooks
from app.domain.errors import Conflict, Invalid
from app.domain.webhook_events import AssignmentChange as Change
from app.domain.webhook_events import LeftBecause
from app.models import (
    Facility,
    Invitation,
    Membership,
    PrimaryAssignment,
    ProviderFacility,
    User,
)
from app.models.enums import AssignmentStatus as Status
from app.models.enums import WebhookEventType
from app.tenancy.context import SESSION_KEY, TenantContext, system_context, use_context

CHANGED_MEANWHILE = "the provider's primary facility was changed meanwhile; try again"
NOT_ACTIVE = "only an active assignment can be primary"

# How many providers' primary_assignments rows point at no active assignment: 0 while
# only this module writes them. Checked by the tests and after bench/generate.py's load;
# it reads every tenant's rows, so only in MSC reach or as the owner.
DANGLING_PRIMARIES = """
    WITH pa AS MATERIALIZED (
             SELECT user_id, organization_id, facility_id FROM primary_assignments),
         -- materialized both: on a Citus cluster the tables lie on different keys
         -- (provider, organization), so the two sides meet on the coordinator
         active AS MATERIALIZED (
             SELECT user_id, organization_id, facility_id
               FROM provider_facilities WHERE status = 'active')
    SELECT count(*)
      FROM pa
      LEFT JOIN active
             ON active.user_id = pa.user_id AND active.organization_id = pa.organization_id
            AND active.facility_id = pa.facility_id
     WHERE active.user_id IS NULL"""


def primary_pointers(*criteria: ColumnElement[bool]) -> CTE:
    """The primary_assignments rows the caller sees (those pointing at assignments in
    their reach, and their own), narrowed by `criteria`, for a reader to join with
    `points_at`. Materialized: on a Citus cluster the rows lie on another key than the
    assignments, so the two meet on the coordinator."""
    return (
        select(
            PrimaryAssignment.user_id,
            PrimaryAssignment.organization_id,
            PrimaryAssignment.facility_id,
        )
        .where(*criteria)
        .cte("primary_pointer")
        .prefix_with("MATERIALIZED")
    )


def points_at(pointer: CTE) -> ColumnElement[bool]:
    """Join condition: `pointer` (primary_pointers) points at the assignment. The
    provider's one current assignment at that facility, so an active one: an ended one
    at the same facility is not primary."""
    return and_(
        pointer.c.user_id == ProviderFacility.user_id,
        pointer.c.organization_id == ProviderFacility.organization_id,
        pointer.c.facility_id == ProviderFacility.facility_id,
        ProviderFacility.status == Status.ACTIVE,
    )


def is_primary(pointer: CTE) -> ColumnElement[bool]:
    """`is_primary` of an assignment outer-joined to `pointer` on `points_at`."""
    return pointer.c.user_id.is_not(None)


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
    assignment there). A start date in the future keeps the assignment pending until
    `apply_dates` finds it come."""
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
    if exclusion_reviews.excluded_in(session, user_id, facility.organization_id):
        raise Conflict(
            "the provider is excluded in this organization (a confirmed exclusion list"
            " match): no new assignment until the exclusion is lifted",
            field="facility_id",
        )
    start = start_date or today
    status = Status.ACTIVE if start <= today else Status.PENDING
    assignment = current_assignment(session, user_id, facility.id)
    if assignment is not None and assignment.status == Status.ACTIVE:
        raise Conflict("already assigned to this facility", field="facility_id")
    if assignment is None:
        changes = [Change.CREATED]
        assignment = ProviderFacility(
            organization_id=facility.organization_id, user_id=user_id, facility_id=facility.id
        )
        session.add(assignment)
    else:
        # a pending one (an invitation's), started now or moved to another day
        changes = [Change.ACTIVATED if status == Status.ACTIVE else Change.START_DATE_SET]
    if assignment.end_date is not None and assignment.end_date <= start:
        raise Invalid("the assignment's end date is not after this start date", field="start_date")
    assignment.start_date = start
    assignment.status = status
    session.flush()
    if is_primary:
        if _move_primary(session, assignment):
            changes.append(Change.MADE_PRIMARY)
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
    webhooks.record_many(session, [_changed(session, assignment, changes)])
    return assignment


def end(
    session: Session,
    assignment: ProviderFacility,
    end_date: dt.date | None = None,
    today: dt.date | None = None,
) -> ProviderFacility:
    """Set the assignment's end date: today (the default) or a day to come. It ends now
    when it would be in force on no day from today on; otherwise `apply_dates` ends it on
    its end date. The row stays, inactive, as history."""
    if assignment.status == Status.INACTIVE:
        raise Conflict("the assignment has already ended", field="assignment_id")
    today = today or clock.today()
    # A pending assignment that has not started ends on its start date, not before.
    end_date = end_date or max(today, assignment.start_date)
    if end_date < assignment.start_date:
        raise Invalid("the end date is before the start date", field="end_date")
    if end_date < today:
        raise Invalid("the end date is in the past", field="end_date")
    assignment.end_date = end_date
    if end_date <= max(today, assignment.start_date):
        _finish(session, assignment, today)
    else:
        session.flush()
        webhooks.record_many(session, [_changed(session, assignment, [Change.END_DATE_SET])])
    session.refresh(assignment)
    return assignment


def _finish(session: Session, assignment: ProviderFacility, today: dt.date) -> None:
    """Make the assignment inactive; if it was the primary, the provider's only other
    active assignment becomes it (settle_primary). Announced to its organization, with
    the provider's leaving when it was their last active assignment there."""
    with system_context(session, anonymous=True):
        # Before the assignment itself: primary_assignments first, as in make_primary, so
        # that the two never wait on each other's rows in opposite orders.
        session.execute(
            delete(PrimaryAssignment).where(
                PrimaryAssignment.user_id == assignment.user_id,
                PrimaryAssignment.organization_id == assignment.organization_id,
                PrimaryAssignment.facility_id == assignment.facility_id,
            ),
            execution_options={"synchronize_session": False},
        )
    assignment.status = Status.INACTIVE
    session.flush()
    still_at = settle_primary(session, assignment.user_id)
    ended = _changed(session, assignment, [Change.ENDED])
    events = [ended]
    if assignment.organization_id not in still_at:
        left = webhook_events.provider_left(
            assignment.organization_id,
            provider=ended.data["provider"],
            reason=LeftBecause.ASSIGNMENTS_ENDED,
            left_on=today,
        )
        events.append(
            webhooks.event(assignment.organization_id, WebhookEventType.PROVIDER_LEFT, left)
        )
    webhooks.record_many(session, events)


def make_primary(session: Session, assignment: ProviderFacility) -> None:
    """Make `assignment` the provider's one primary facility (it must be active), and
    announce it to its organization."""
    if _move_primary(session, assignment):
        webhooks.record_many(session, [_changed(session, assignment, [Change.MADE_PRIMARY])])


def _changed(
    session: Session, assignment: ProviderFacility, changes: list[Change]
) -> webhooks.NewEvent:
    """The assignment.changed event of the change just made, for its organization: its
    facility and provider, read in one statement in the caller's context (which has
    just changed the assignment, so sees both)."""
    facility_name, name, npi = session.execute(
        select(Facility.name, User.name, User.npi)
        .join(User, User.id == assignment.user_id)
        .where(
            Facility.organization_id == assignment.organization_id,
            Facility.id == assignment.facility_id,
        )
    ).one()
    data = webhook_events.assignment_changed(
        assignment.organization_id,
        changes=changes,
        provider=webhook_events.provider(assignment.user_id, name, npi),
        assignment=webhook_events.assignment(
            assignment.id,
            assignment.facility_id,
            facility_name,
            assignment.status,
            assignment.start_date,
            assignment.end_date,
        ),
    )
    return webhooks.event(assignment.organization_id, WebhookEventType.ASSIGNMENT_CHANGED, data)


def _move_primary(session: Session, assignment: ProviderFacility) -> bool:
    """Point the provider's primary at `assignment`; False when it pointed there already."""
    if assignment.status != Status.ACTIVE:
        raise Conflict(NOT_ACTIVE, field="is_primary")
    target = Pointer(assignment.user_id, assignment.organization_id, assignment.facility_id)
    with system_context(session, anonymous=True):
        held = session.execute(
            select(PrimaryAssignment.organization_id, PrimaryAssignment.facility_id).where(
                PrimaryAssignment.user_id == assignment.user_id
            )
        ).one_or_none()
        moving = held is None or tuple(held) != (target.organization_id, target.facility_id)
        if held is None:
            _claim(session, target)
        elif moving:
            # Still as read, or refused: this update waits for a concurrent change of the
            # row and then finds it changed.
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
        _still_active(session, assignment.organization_id, assignment.id)
    session.refresh(assignment)
    return moving


def settle_primary(
    session: Session, user_id: uuid.UUID, preferred: uuid.UUID | None = None
) -> set[uuid.UUID]:
    """A provider with no primary gets one: the `preferred` active assignment (the one an
    accepted invitation named primary), or else their only active assignment. If another
    transaction gives them one meanwhile, that one stands. Returns the organizations
    where the provider has an active assignment (ids only: they go back to no caller)."""
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
                _still_active(session, choice.organization_id, choice.id)
    return {row.organization_id for row in active}


@dataclass(frozen=True)
class DateChanges:
    """What one run of `apply_dates` changed: ids of the assignments it activated and
    of those it ended."""

    activated: tuple[uuid.UUID, ...]
    ended: tuple[uuid.UUID, ...]


def apply_dates(session: Session, today: dt.date) -> DateChanges:
    """Bring every assignment's status in line with its dates on `today`: a pending one
    whose start date has come becomes active (and the primary, if it is the provider's
    only active assignment) unless the provider stands excluded at its organization, and
    one whose end date has come ends (its provider's primary
    settled as `end` settles it). Idempotent: a second run on the same day finds nothing
    to do.

    Run in MSC reach (the scheduler's system session). Each organization's changes are
    made in a context of that organization alone, without a user: its trail records
    them as the system's, not as a cross-tenant change."""
    due_to_end = and_(
        ProviderFacility.status != Status.INACTIVE, ProviderFacility.end_date <= today
    )
    # An excluded provider's pending assignments at the organization hold (an invitation
    # accepted before or as the exclusion was found): they start on the first run after
    # the exclusion is lifted (cleared or reinstated).
    due_to_start = and_(
        ProviderFacility.status == Status.PENDING,
        queries.active_on(today),
        ~exclusion_reviews.stands_excluded(
            ProviderFacility.organization_id, ProviderFacility.user_id
        ),
    )
    due = session.execute(
        select(ProviderFacility.organization_id, ProviderFacility.id)
        .where(or_(due_to_end, due_to_start))
        .order_by(ProviderFacility.organization_id, ProviderFacility.id)
    ).all()
    system: TenantContext = session.info[SESSION_KEY]
    activated: list[uuid.UUID] = []
    ended: list[uuid.UUID] = []
    try:
        for organization_id, rows in groupby(due, key=lambda row: row.organization_id):
            use_context(
                session,
                replace(
                    system,
                    user_id=None,
                    organization_id=organization_id,
                    organization_ids=(organization_id,),
                ),
            )
            for row in rows:
                # Read again: a request may have changed it since the list. Not locked
                # here: _finish takes primary_assignments first, as every change does.
                assignment = session.scalar(
                    select(ProviderFacility).where(
                        ProviderFacility.organization_id == organization_id,
                        ProviderFacility.id == row.id,
                        or_(due_to_end, due_to_start),
                    )
                )
                if assignment is None:
                    continue
                if assignment.end_date is not None and assignment.end_date <= today:
                    _finish(session, assignment, today)
                    ended.append(assignment.id)
                else:
                    assignment.status = Status.ACTIVE
                    session.flush()
                    settle_primary(session, assignment.user_id)
                    webhooks.record_many(
                        session, [_changed(session, assignment, [Change.ACTIVATED])]
                    )
                    activated.append(assignment.id)
    finally:
        use_context(session, system)
    return DateChanges(tuple(activated), tuple(ended))


class Pointer(NamedTuple):
    """What a primary_assignments row holds: the provider, and where their primary is."""

    user_id: uuid.UUID
    organization_id: uuid.UUID
    facility_id: uuid.UUID


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


def _still_active(session: Session, organization_id: uuid.UUID, assignment_id: uuid.UUID) -> None:
    """Refuse the change unless the assignment primary_assignments now points at is still
    active, holding it so until the transaction ends: one ended meanwhile (its end waits
    for this lock, then removes the row this change wrote) cannot be primary."""
    # By the whole key: a Citus cluster then reads the one shard that holds the row,
    # where by the id alone it would visit, and lock, every organization's.
    status = session.scalar(
        select(ProviderFacility.status)
        .where(
            ProviderFacility.organization_id == organization_id,
            ProviderFacility.id == assignment_id,
        )
        .with_for_update(read=True)
    )
    if status != Status.ACTIVE:
        raise Conflict(NOT_ACTIVE, field="is_primary")
