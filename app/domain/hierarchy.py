"""An organization's tree: child organizations, their facilities, and each facility's
providers, built from three queries whatever its size.

The tree is made of plain JSON values (ids as text, times in ISO 8601), exactly what the
schemas in app/schemas/hierarchy.py would dump, so that it is sent as it is: a health
system's tree holds a thousand facilities and over ten thousand assignments, which model
instances and a schema dump, field by field, take most of a second to turn into JSON.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from typing import Any

from sqlalchemy import ColumnElement, Connection, DateTime, Select, Text, Uuid, cast, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from app.domain import assignments, queries
from app.models import Facility, Organization, PrimaryAssignment, ProviderFacility, User

# What the tree shows of each: the fields of OrganizationSchema, FacilitySchema and
# HierarchyProviderSchema (tests/test_hierarchy.py holds them to the schemas' dumps).
_ORGANIZATION = (
    Organization.id,
    Organization.name,
    Organization.tax_id,
    Organization.organization_type,
    Organization.primary_contact_name,
    Organization.primary_contact_email,
    Organization.primary_contact_phone,
    Organization.status,
    Organization.onboarding_status,
    Organization.msc_representative_id,
    Organization.parent_organization_id,
    Organization.created_at,
    Organization.updated_at,
    Organization.activated_at,
    Organization.require_admin_mfa,
)
_FACILITY = (
    Facility.id,
    Facility.organization_id,
    Facility.name,
    Facility.npi,
    Facility.ptan,
    Facility.facility_type,
    Facility.address,
    Facility.city,
    Facility.state,
    Facility.zip_code,
    Facility.phone,
    Facility.email,
    Facility.office_manager_id,
    Facility.mac_jurisdiction,
    Facility.place_of_service,
    Facility.active,
    Facility.created_at,
    Facility.updated_at,
)

# Assignment rows made at a time (the driver holds all of them already).
_CHUNK = 500


def _as_text(column: InstrumentedAttribute[uuid.UUID]) -> ColumnElement[str]:
    """An id as text: the database writes it for less than Python makes a UUID of it and
    prints that again, which counts by the ten thousand."""
    return cast(column, Text).label(column.key)


def _json_objects(
    connection: Connection,
    query: Select[Any],
    columns: tuple[InstrumentedAttribute[Any], ...],
) -> list[dict[str, Any]]:
    """The rows of `query`, selecting `columns`, as JSON objects valued as the schemas
    dump them: ids as text, times in Python's ISO 8601 (PostgreSQL's own drops the
    trailing zeros of the fraction)."""
    selected = [_as_text(c) if isinstance(c.type, Uuid) else c for c in columns]
    times = [c.key for c in columns if isinstance(c.type, DateTime)]
    result = connection.execute(query.with_only_columns(*selected))
    keys = list(result.keys())
    # All at once: iterating the result would fetch each row by a call of its own.
    objects = [dict(zip(keys, row, strict=True)) for row in result.all()]
    for values in objects:
        for key in times:
            if values[key] is not None:
                values[key] = values[key].isoformat()
    return objects


def hierarchy(
    session: Session,
    root: Organization,
    *,
    depth: int | None,
    include_inactive: bool,
) -> dict[str, Any]:
    """`root` with its descendants down to `depth` levels (None: all), each with its
    facilities and their current providers (and past ones with `include_inactive`)."""
    # Plain rows through the session's connection: the ORM's loading of each row would
    # cost more than the rest of the work.
    connection = session.connection()
    organizations = _json_objects(connection, queries.tree(root, depth=depth), _ORGANIZATION)
    organization_ids = [uuid.UUID(o["id"]) for o in organizations]
    facilities = _json_objects(
        connection,
        queries.facilities_of(organization_ids, include_inactive=include_inactive),
        _FACILITY,
    )

    pointer = assignments.primary_pointers(
        queries.one_of(PrimaryAssignment.organization_id, organization_ids)
    )
    providers_query = (
        select(
            _as_text(ProviderFacility.facility_id),
            _as_text(ProviderFacility.id).label("assignment_id"),
            assignments.is_primary(pointer).label("is_primary"),
            ProviderFacility.status,
            _as_text(User.id),
            User.name,
            User.npi,
        )
        .join(User, User.id == ProviderFacility.user_id)
        .outerjoin(pointer, assignments.points_at(pointer))
        .where(
            # The organizations too, though the facilities decide (each assignment is in
            # its facility's organization): given both, PostgreSQL expects few rows and
            # reads the users by id, one index probe each. Given the facilities alone, it
            # expects as many as there are and reads the whole users table instead, the
            # policy's filter on every row, which takes twice as long for a health system.
            queries.one_of(ProviderFacility.organization_id, organization_ids),
            queries.assignments_at(
                [uuid.UUID(f["id"]) for f in facilities], include_inactive=include_inactive
            ),
        )
        # By name within each facility, which is all the tree shows: facility first, names
        # are compared only within one (each comparison of text under a collation costs).
        # The assignment last: a provider may have ended and current ones at a facility.
        .order_by(ProviderFacility.facility_id, User.name, User.id, ProviderFacility.id)
    )
    providers_by_facility: dict[str, list[dict[str, Any]]] = defaultdict(list)
    # In chunks: rows that go as soon as they are read are never moved to the garbage
    # collector's oldest generation, whose growth sets off full collections, each of
    # which walks every object of the process.
    for chunk in connection.execute(providers_query).partitions(_CHUNK):
        for facility_id, assignment_id, is_primary, status, user_id, name, npi in chunk:
            providers_by_facility[facility_id].append(
                {
                    "id": user_id,
                    "name": name,
                    "npi": npi,
                    "assignment_id": assignment_id,
                    "is_primary": is_primary,
                    "status": status,
                }
            )

    facilities_by_org: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for facility in facilities:
        facilities_by_org[facility["organization_id"]].append(
            {"facility": facility, "providers": providers_by_facility[facility["id"]]}
        )

    root_id = str(root.id)
    children: dict[str, list[dict[str, Any]]] = defaultdict(list)
    nodes: dict[str, dict[str, Any]] = {}
    for o in organizations:
        nodes[o["id"]] = {
            "organization": o,
            "facilities": facilities_by_org[o["id"]],
            "children": children[o["id"]],
        }
        if o["id"] != root_id and o["parent_organization_id"] is not None:
            children[o["parent_organization_id"]].append(nodes[o["id"]])
    return nodes[root_id]
