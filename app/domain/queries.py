"""Read-side building blocks shared by the dashboard, analytics, hierarchy and exports.

Each is written once so that "the organization's tree", "its facilities" and "its
providers" mean the same thing on every screen and in every export. All of them read
through the caller's row-level security: they return what the caller may see.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, and_, any_, bindparam, func, or_, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import InstrumentedAttribute, Session

from app.models import Facility, Invitation, Membership, Order, Organization, ProviderFacility
from app.models.enums import AssignmentStatus, Role
from app.tenancy.context import TenantContext, in_scope

# A select of plain rows (several columns), as opposed to one of model instances.
Rows = Select[*tuple[Any, ...]]


def one_of(
    column: InstrumentedAttribute[uuid.UUID], ids: Sequence[uuid.UUID]
) -> ColumnElement[bool]:
    """`column = ANY(:ids)`: one array parameter however many ids, where an IN list sends,
    renders and plans one parameter per id (a health system has a thousand facilities)."""
    return column == any_(bindparam(None, list(ids), type_=ARRAY(column.type)))


TenantRow = TypeVar("TenantRow", Facility, Membership, ProviderFacility, Invitation, Order)


def in_reach(
    session: Session, model: type[TenantRow], row_id: uuid.UUID, context: TenantContext
) -> TenantRow | None:
    """A tenant's row by its id, when the policies show it and it belongs to an
    organization the request acts for (a provider's own rows elsewhere are theirs, but not
    this request's business). The organization in the query also lets a Citus cluster
    send it to the tenant's node alone."""
    return session.scalar(
        select(model).where(model.id == row_id, in_scope(model.organization_id, context))
    )


def _in_tree(root_id: uuid.UUID) -> ColumnElement[bool]:
    # `@>` rather than `= ANY`: only the former can use the GIN index on ancestor_ids.
    return Organization.ancestor_ids.contains([root_id])


def tree(root: Organization, *, depth: int | None = None) -> Select[Organization]:
    """`root` and its descendants down to `depth` levels below it (None: all), each
    level before the next, then by name."""
    query = select(Organization).where(_in_tree(root.id))
    if depth is not None:
        query = query.where(
            func.cardinality(Organization.ancestor_ids) <= len(root.ancestor_ids) + depth
        )
    return query.order_by(
        func.cardinality(Organization.ancestor_ids), Organization.name, Organization.id
    )


def tree_ids(session: Session, root: Organization) -> list[uuid.UUID]:
    """The ids of `root` and all its descendants."""
    return list(session.scalars(select(Organization.id).where(_in_tree(root.id))))


def scope_ids(
    session: Session, organization: Organization, *, include_descendants: bool
) -> list[uuid.UUID]:
    """The organizations a figure about `organization` covers: it alone, or it and its
    descendants. The dashboard, compliance, expirations and analytics all take their
    scope from here, so that one question gets one number on every screen."""
    if include_descendants:
        return tree_ids(session, organization)
    return [organization.id]


def facilities_of(
    organization_ids: Sequence[uuid.UUID], *, include_inactive: bool
) -> Select[Facility]:
    """The organizations' facilities (active ones only unless `include_inactive`), by name."""
    query = select(Facility).where(one_of(Facility.organization_id, organization_ids))
    if not include_inactive:
        query = query.where(Facility.active)
    return query.order_by(Facility.name, Facility.id)


def provider_ids(session: Session, organization_ids: Sequence[uuid.UUID]) -> list[uuid.UUID]:
    """Everyone who is a provider member of at least one of the organizations, whether or
    not they are assigned to a facility yet."""
    return list(
        session.scalars(
            select(func.distinct(Membership.user_id)).where(
                Membership.organization_id.in_(organization_ids), Membership.role == Role.PROVIDER
            )
        )
    )


def active_on(day: dt.date | ColumnElement[dt.date]) -> ColumnElement[bool]:
    """Assignments in force on `day`: from their start date, up to but not including
    their end date (an assignment ends *on* its end date: ended today, it is no longer in
    force today). The one definition: app/domain/assignments.py moves each assignment's
    status by it as the dates come, and every count of active assignments reads it."""
    return and_(
        ProviderFacility.start_date <= day,
        or_(ProviderFacility.end_date.is_(None), ProviderFacility.end_date > day),
    )


def in_force_on(start_date: dt.date, end_date: dt.date | None, day: dt.date) -> bool:
    """`active_on` for an assignment already loaded (its dates), for facts replayed over
    many days from one read."""
    return start_date <= day and (end_date is None or end_date > day)


def active_assignments_in(
    organization_ids: Sequence[uuid.UUID], day: dt.date
) -> ColumnElement[bool]:
    """Assignments in force in the organizations on `day`: what makes a provider active
    there. By the dates alone: one ended early has the day it was ended as its end date."""
    return and_(ProviderFacility.organization_id.in_(organization_ids), active_on(day))


def active_between(
    start: dt.date | ColumnElement[dt.date], end: dt.date | ColumnElement[dt.date]
) -> ColumnElement[bool]:
    """Assignments in force (`active_on`) on at least one day from `start` through `end`
    (both included; dates, or date columns of the query): from their start date up to the
    day before their end date, so one that ended on its start date was in force on no
    day, and one starting later is not yet."""
    return and_(
        ProviderFacility.start_date <= end,
        or_(
            ProviderFacility.end_date.is_(None),
            and_(
                ProviderFacility.end_date > start,
                ProviderFacility.end_date > ProviderFacility.start_date,
            ),
        ),
    )


def assignments_at(
    facility_ids: Sequence[uuid.UUID], *, include_inactive: bool
) -> ColumnElement[bool]:
    """Assignments at the facilities: current ones (active or pending), and ended ones too
    with `include_inactive`."""
    at = one_of(ProviderFacility.facility_id, facility_ids)
    if include_inactive:
        return at
    return and_(at, ProviderFacility.status != AssignmentStatus.INACTIVE)
