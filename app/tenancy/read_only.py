"""A suspended or inactive organization's rows can be read but not written.

Checked when a session flushes, whatever code made the change: any new, changed or
deleted row of such an organization (or the organization itself) is refused, except
in an MSC admin's context. The context lists those organizations (see resolve.py).
"""

from __future__ import annotations

import uuid
from itertools import chain
from typing import Any

from sqlalchemy.orm import Session

from app.domain.errors import Forbidden
from app.models import Organization
from app.models.enums import OrganizationStatus
from app.tenancy.context import SESSION_KEY, TenantContext

READ_ONLY = frozenset({OrganizationStatus.SUSPENDED, OrganizationStatus.INACTIVE})


def ensure_writable(context: TenantContext, organization_id: uuid.UUID | None) -> None:
    """The same rule for the writes a flush does not see: bulk statements, and changes
    to shared rows (credentials) made on behalf of the active organization."""
    if (
        organization_id is not None
        and not context.is_msc_admin
        and organization_id in context.read_only_organization_ids
    ):
        raise Forbidden("the organization is suspended or inactive: read-only")


def refuse_writes_to_read_only(session: Session, _flush: Any, _instances: Any) -> None:
    """Session listener (see app/database.py), before every flush."""
    context: TenantContext | None = session.info.get(SESSION_KEY)
    if context is None or not context.read_only_organization_ids:
        return
    changed = chain(
        session.new, (o for o in session.dirty if session.is_modified(o)), session.deleted
    )
    for row in changed:
        organization_id = (
            row.id if isinstance(row, Organization) else getattr(row, "organization_id", None)
        )
        ensure_writable(context, organization_id)
