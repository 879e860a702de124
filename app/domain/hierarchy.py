"""An organization's tree: child organizations, their facilities, and each facility's
providers, built from three queries whatever its size."""

from __future__ import annotations

import uuid
from collections import defaultdict
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.domain import queries
from app.models import Organization, ProviderFacility, User


def hierarchy(
    session: Session,
    root: Organization,
    *,
    depth: int | None,
    include_inactive: bool,
) -> dict[str, Any]:
    """`root` with its descendants down to `depth` levels (None: all), each with its
    facilities and their current providers (and past ones with `include_inactive`)."""
    organizations = session.scalars(queries.tree(root, depth=depth)).all()
    facilities = session.scalars(
        queries.facilities_of([o.id for o in organizations], include_inactive=include_inactive)
    ).all()

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
        .where(
            queries.assignments_at([f.id for f in facilities], include_inactive=include_inactive)
        )
        .order_by(User.name, User.id)
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
