"""An organization's tree: child organizations, their facilities, and each facility's
providers, built from three queries whatever its size."""

from __future__ import annotations

import uuid
from collections import defaultdict
from typing import Any

from sqlalchemy import any_ as any_of
from sqlalchemy import func, literal, select
from sqlalchemy.orm import Session

from app.models import Facility, Organization, ProviderFacility, User
from app.models.enums import AssignmentStatus


def hierarchy(
    session: Session,
    root: Organization,
    *,
    depth: int | None,
    include_inactive: bool,
) -> dict[str, Any]:
    """`root` with its descendants down to `depth` levels (None: all), each with its
    facilities and their current providers (and past ones with `include_inactive`)."""
    root_level = len(root.ancestor_ids)
    organizations_query = select(Organization).where(
        literal(root.id) == any_of(Organization.ancestor_ids)
    )
    if depth is not None:
        organizations_query = organizations_query.where(
            func.cardinality(Organization.ancestor_ids) <= root_level + depth
        )
    organizations = session.scalars(
        organizations_query.order_by(func.cardinality(Organization.ancestor_ids), Organization.name)
    ).all()
    ids = [o.id for o in organizations]

    facilities_query = select(Facility).where(Facility.organization_id.in_(ids))
    if not include_inactive:
        facilities_query = facilities_query.where(Facility.active)
    facilities = session.scalars(facilities_query.order_by(Facility.name, Facility.id)).all()

    providers_query = (
        select(
            ProviderFacility.facility_id,
            ProviderFacility.id.label("assignment_id"),
            ProviderFacility.is_primary,
            ProviderFacility.status,
            User.id,
            User.name,
            User.npi,
        )
        .join(User, User.id == ProviderFacility.user_id)
        .where(ProviderFacility.facility_id.in_([f.id for f in facilities]))
        .order_by(User.name, User.id)
    )
    if not include_inactive:
        providers_query = providers_query.where(
            ProviderFacility.status != AssignmentStatus.INACTIVE
        )
    providers_by_facility: dict[uuid.UUID, list[dict[str, Any]]] = defaultdict(list)
    for row in session.execute(providers_query):
        providers_by_facility[row.facility_id].append(
            {
                "id": row.id,
                "name": row.name,
                "npi": row.npi,
                "assignment_id": row.assignment_id,
                "is_primary": row.is_primary,
                "status": row.status,
            }
        )

    facilities_by_org: dict[uuid.UUID, list[dict[str, Any]]] = defaultdict(list)
    for facility in facilities:
        facilities_by_org[facility.organization_id].append(
            {"facility": facility, "providers": providers_by_facility[facility.id]}
        )

    children: dict[uuid.UUID, list[dict[str, Any]]] = defaultdict(list)
    nodes: dict[uuid.UUID, dict[str, Any]] = {}
    for o in organizations:
        nodes[o.id] = {
            "organization": o,
            "facilities": facilities_by_org[o.id],
            "children": children[o.id],
        }
        if o.id != root.id and o.parent_organization_id is not None:
            children[o.parent_organization_id].append(nodes[o.id])
    return nodes[root.id]
