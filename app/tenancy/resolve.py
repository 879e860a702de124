"""Turn an authenticated identity into a full tenant context, inside the request's
own transaction and under the same policies as everything else."""

from __future__ import annotations

import uuid
from dataclasses import replace

from sqlalchemy import and_, any_, literal, select
from sqlalchemy.orm import Session

from app.models import Facility, Membership, Organization, User
from app.models.enums import Role
from app.tenancy.context import TenantContext, use_context
from app.tenancy.read_only import READ_ONLY


def resolve_context(
    session: Session,
    user_id: uuid.UUID,
    organization_id: uuid.UUID | None,
    request_id: str | None = None,
) -> TenantContext | None:
    """The context for `user_id` acting in `organization_id`, or None when the user is
    unknown, deactivated, or no longer a member of that organization."""
    # Step 1: only the user id; the policies then show the user's own row and memberships.
    context = TenantContext(user_id=user_id, request_id=request_id)
    use_context(session, context)
    row = session.execute(
        select(User.is_msc_admin, User.is_active, Membership.role, Organization.status)
        .outerjoin(
            Membership,
            and_(Membership.user_id == User.id, Membership.organization_id == organization_id),
        )
        .outerjoin(Organization, Organization.id == Membership.organization_id)
        .where(User.id == user_id)
    ).one_or_none()
    if row is None or not row.is_active:
        return None
    if organization_id is not None and row.role is None and not row.is_msc_admin:
        return None

    # Step 2: role and active organization. An organization admin's scope then grows to
    # the descendants (the organizations policy shows them through ancestor_ids); an
    # office manager's narrows to the facilities they manage.
    in_org = row.role is not None
    context = replace(
        context,
        is_msc_admin=row.is_msc_admin,
        organization_id=organization_id if in_org else None,
        role=row.role,
        organization_ids=(organization_id,) if in_org and organization_id else (),
        read_only_organization_ids=(
            (organization_id,) if in_org and organization_id and row.status in READ_ONLY else ()
        ),
    )
    use_context(session, context)
    if row.role == Role.OFFICE_MANAGER and organization_id is not None:
        managed = session.scalars(
            select(Facility.id)
            .where(Facility.organization_id == organization_id)
            .where(Facility.office_manager_id == user_id)
            .order_by(Facility.id)
        ).all()
        context = replace(context, facility_ids=tuple(managed))
        use_context(session, context)
    if row.role == Role.ORGANIZATION_ADMIN and organization_id is not None:
        descendants = session.execute(
            select(Organization.id, Organization.status)
            .where(literal(organization_id) == any_(Organization.ancestor_ids))
            .order_by(Organization.id)
        ).all()
        context = replace(
            context,
            organization_ids=(
                organization_id,
                *(d.id for d in descendants if d.id != organization_id),
            ),
            read_only_organization_ids=tuple(d.id for d in descendants if d.status in READ_ONLY),
        )
        use_context(session, context)
    return context
