"""Turn an authenticated identity into a full tenant context, inside the request's
own transaction and under the same policies as everything else.

It is the request's first statement and its only one for the context: the function
`tenancy.enter` (policies/functions.sql) resolves the user, their membership and
role, the organization's status and the scope, and the small sets the tenant tables'
policies read instead of other tables (the user's assignments' facilities, an office
manager's people), and applies the settings as it goes, in one round trip. A
deactivated user or a removed member loses access on the next request.
So does an MSC representative no longer representing the organization: theirs is the role
`msc_representative`, acting for an organization they represent (or a descendant of one)
with its subtree as the scope, which the policies let them read and not write.
"""

from __future__ import annotations

import uuid

from sqlalchemy import bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session
from sqlalchemy.types import String

from app.tenancy.context import TenantContext, adopt_context
from app.tenancy.read_only import READ_ONLY
from app.tenancy.signing import enter_ticket

_ENTER = text(
    "SELECT is_msc_admin, role, organization_id, organization_ids, facility_ids,"
    " read_only_organization_ids, assigned_facility_ids, working_facility_ids,"
    " managed_member_ids, member_organization_ids"
    " FROM tenancy.enter(:user_id, :organization_id, :request_id, :read_only_statuses, :ticket)"
).bindparams(bindparam("read_only_statuses", type_=ARRAY(String)))
_READ_ONLY_STATUSES = sorted(READ_ONLY)


def resolve_context(
    session: Session,
    user_id: uuid.UUID,
    organization_id: uuid.UUID | None,
    request_id: str | None = None,
) -> TenantContext | None:
    """The context for `user_id` acting in `organization_id`, or None when the user is
    unknown, deactivated, or no longer a member (or representative) of that organization.
    The session's transaction carries the context once this returns (and none when it
    returns None)."""
    adopt_context(session, None)
    # A plain statement: through the connection, which begins the session's transaction
    # as the session would, without the ORM's execution around it.
    row = (
        session.connection()
        .execute(
            _ENTER,
            {
                "user_id": user_id,
                "organization_id": organization_id,
                "request_id": request_id,
                "read_only_statuses": _READ_ONLY_STATUSES,
                "ticket": enter_ticket(user_id, organization_id, request_id, _READ_ONLY_STATUSES),
            },
        )
        .one_or_none()
    )
    if row is None:
        return None
    context = TenantContext(
        user_id=user_id,
        organization_id=row.organization_id,
        role=row.role,
        organization_ids=tuple(row.organization_ids),
        facility_ids=tuple(row.facility_ids),
        assigned_facility_ids=tuple(row.assigned_facility_ids),
        working_facility_ids=tuple(row.working_facility_ids),
        managed_member_ids=tuple(row.managed_member_ids),
        member_organization_ids=tuple(row.member_organization_ids),
        is_msc_admin=row.is_msc_admin,
        request_id=request_id,
        read_only_organization_ids=tuple(row.read_only_organization_ids),
    )
    adopt_context(session, context)
    return context
