"""Providers as an organization sees them: its members with their assignments there.

Which providers and assignments a caller reaches is the policies' business; these
queries only shape and filter what is visible.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, null, or_, select, tuple_
from sqlalchemy.orm import Session, aliased

from app.domain import assignments
from app.domain.queries import Rows
from app.models import (
    Facility,
    Membership,
    Organization,
    PrimaryAssignment,
    ProviderFacility,
    User,
)
from app.models.enums import AssignmentStatus as Status
from app.models.enums import Role
from app.tenancy.context import TenantContext, in_scope

# Current assignments (active, then pending) before ended ones.
CURRENT_FIRST = case(
    (ProviderFacility.status == Status.ACTIVE, 0),
    (ProviderFacility.status == Status.PENDING, 1),
    else_=2,
)

# A provider's status in an organization, from their assignments there.
_STATUS = case(
    (func.bool_or(ProviderFacility.status == Status.ACTIVE), Status.ACTIVE.value),
    (func.bool_or(ProviderFacility.status == Status.PENDING), Status.PENDING.value),
    else_=Status.INACTIVE.value,
)


def personal_contact(visible: bool) -> Any:
    """The personal phone column, or NULL for roles that do not need it."""
    return (User.phone if visible else null()).label("phone")


def personal_date_of_birth(visible: bool) -> Any:
    """The date of birth, for the roles that see personal contact data (who adjudicate
    exclusion screening's candidates by it), or NULL."""
    return (User.date_of_birth if visible else null()).label("date_of_birth")


def list_providers(context: TenantContext, filters: dict[str, Any], *, with_contact: bool) -> Rows:
    """One row per (provider, organization) membership of the organizations in scope."""
    pointer = assignments.primary_pointers(in_scope(PrimaryAssignment.organization_id, context))
    query = (
        select(
            User.id,
            User.name,
            User.email,
            User.npi,
            personal_contact(with_contact),
            personal_date_of_birth(with_contact),
            Membership.organization_id,
            _STATUS.label("status"),
            func.array_agg(ProviderFacility.facility_id)
            .filter(assignments.is_primary(pointer))[1]
            .label("primary_facility_id"),
        )
        .join(Membership, Membership.user_id == User.id)
        .outerjoin(
            ProviderFacility,
            and_(
                ProviderFacility.user_id == User.id,
                ProviderFacility.organization_id == Membership.organization_id,
            ),
        )
        .outerjoin(pointer, assignments.points_at(pointer))
        .where(Membership.role == Role.PROVIDER, in_scope(Membership.organization_id, context))
        # every user column named, not just the key: PostgreSQL infers the rest from it,
        # a Citus coordinator, planning a query whose filters reach no shard, does not
        .group_by(
            User.id,
            User.name,
            User.email,
            User.npi,
            User.phone,
            User.date_of_birth,
            Membership.organization_id,
        )
    )
    if "organization_id" in filters:
        query = query.where(Membership.organization_id == filters["organization_id"])
    if "facility_id" in filters:
        at_facility = aliased(ProviderFacility)
        # IN an uncorrelated subquery, not EXISTS: a Citus cluster plans no correlated
        # subquery beside the users, a table every node holds
        query = query.where(
            tuple_(User.id, Membership.organization_id).in_(
                select(at_facility.user_id, at_facility.organization_id).where(
                    at_facility.facility_id == filters["facility_id"],
                    at_facility.status != Status.INACTIVE,
                )
            )
        )
    if "search" in filters:
        term = filters["search"]
        query = query.where(
            or_(
                User.name.icontains(term, autoescape=True),
                User.npi.startswith(term, autoescape=True),
            )
        )
    if "status" in filters:
        query = query.having(filters["status"] == _STATUS)
    return query.order_by(User.name, User.id, Membership.organization_id)


def provider_view(
    session: Session, provider_id: uuid.UUID, context: TenantContext, *, with_contact: bool
) -> Any:
    """The provider's row of `list_providers`, or None when out of reach: their
    membership in the caller's organization, else (a parent organization's staff, MSC
    admins acting for none) the first of their memberships in scope."""
    rows = session.execute(
        list_providers(context, {}, with_contact=with_contact).where(User.id == provider_id)
    ).all()
    own = [row for row in rows if row.organization_id == context.organization_id]
    return next(iter(own or rows), None)


def get_provider(session: Session, provider_id: uuid.UUID, context: TenantContext) -> User | None:
    """The user if the caller reaches them as a member of an organization in scope."""
    return session.scalar(
        select(User).where(
            User.id == provider_id,
            # uncorrelated (see list_providers); the scope names the shards to look in
            User.id.in_(
                select(Membership.user_id).where(
                    Membership.user_id == provider_id,
                    in_scope(Membership.organization_id, context),
                )
            ),
        )
    )


def assignments_query(*pointers: ColumnElement[bool]) -> Rows:
    """Assignments with their facility and organization names, newest first; whether
    each is primary read from the primary_assignments rows `pointers` select."""
    pointer = assignments.primary_pointers(*pointers)
    return (
        select(
            ProviderFacility.id,
            ProviderFacility.user_id,
            ProviderFacility.organization_id,
            Organization.name.label("organization_name"),
            ProviderFacility.facility_id,
            Facility.name.label("facility_name"),
            assignments.is_primary(pointer).label("is_primary"),
            ProviderFacility.status,
            ProviderFacility.start_date,
            ProviderFacility.end_date,
        )
        # on the whole key: a Citus cluster joins two tables distributed by organization
        # only on it (a join on the id alone would have to repartition them)
        .join(
            Facility,
            (Facility.organization_id == ProviderFacility.organization_id)
            & (Facility.id == ProviderFacility.facility_id),
        )
        .join(Organization, Organization.id == ProviderFacility.organization_id)
        .outerjoin(pointer, assignments.points_at(pointer))
        .order_by(CURRENT_FIRST, ProviderFacility.start_date.desc(), ProviderFacility.id)
    )


def assignment_view(session: Session, assignment: ProviderFacility) -> Any:
    """One assignment in the shape of assignments_query()."""
    return session.execute(
        assignments_query(PrimaryAssignment.user_id == assignment.user_id).where(
            ProviderFacility.organization_id == assignment.organization_id,
            ProviderFacility.id == assignment.id,
        )
    ).one()


def own_assignment(
    session: Session, context: TenantContext, assignment_id: uuid.UUID
) -> ProviderFacility | None:
    """One of the caller's own assignments, at any organization they belong to (None for
    anyone else's); the organizations also keep a Citus cluster to their nodes."""
    return session.scalar(
        select(ProviderFacility).where(
            ProviderFacility.id == assignment_id,
            ProviderFacility.user_id == context.user_id,
            ProviderFacility.organization_id.in_(context.member_organization_ids),
        )
    )


def assignments_of(provider_id: uuid.UUID, scope: TenantContext | None) -> Rows:
    """The provider's assignments in the organizations of `scope`, or with None, at
    every organization the policies show."""
    query = assignments_query(PrimaryAssignment.user_id == provider_id).where(
        ProviderFacility.user_id == provider_id
    )
    if scope is not None:
        query = query.where(in_scope(ProviderFacility.organization_id, scope))
    return query


def providers_at(facility: Facility, *, with_contact: bool) -> Rows:
    """The people assigned to a facility (current and past), with their assignment."""
    pointer = assignments.primary_pointers(
        PrimaryAssignment.organization_id == facility.organization_id,
        PrimaryAssignment.facility_id == facility.id,
    )
    return (
        select(
            User.id,
            User.name,
            User.email,
            User.npi,
            personal_contact(with_contact),
            ProviderFacility.id.label("assignment_id"),
            assignments.is_primary(pointer).label("is_primary"),
            ProviderFacility.status,
            ProviderFacility.start_date,
            ProviderFacility.end_date,
        )
        .join(ProviderFacility, ProviderFacility.user_id == User.id)
        .outerjoin(pointer, assignments.points_at(pointer))
        # the facility's organization too: it names the one shard that holds them
        .where(
            ProviderFacility.organization_id == facility.organization_id,
            ProviderFacility.facility_id == facility.id,
        )
        .order_by(CURRENT_FIRST, User.name, User.id, ProviderFacility.id)
    )
