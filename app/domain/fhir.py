"""An organization's tree as a FHIR R4 `Bundle` (type `collection`).

Each resource says in `meta.profile` which directory profiles it conforms to, and only
those whose required elements our data fills (README, "FHIR profiles"): Da Vinci PDex
Plan-Net where it can, else US Core, else none. Every resource carries `meta.lastUpdated`,
the time its rows last changed.

The tree is the one the hierarchy endpoint shows (app/domain/hierarchy.py): the
organization and its descendants, their facilities, and the providers assigned to them.
It is loaded from the same queries (app/domain/queries.py), three whatever its size;
only the assignment rows carry more here, since FHIR needs what the hierarchy does not
show (assignment dates, the assignment's organization, the provider's account status).

The resources are plain dicts, so the service has no runtime dependency on a FHIR
library; the tests validate them with one.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Row, or_, select
from sqlalchemy.orm import Session

from app import clock
from app.domain import queries
from app.domain.assignments import is_primary, points_at, primary_pointers
from app.models import (
    Credential,
    Facility,
    Organization,
    PrimaryAssignment,
    ProviderFacility,
    User,
)
from app.models.enums import (
    AssignmentStatus,
    CredentialType,
    OrganizationStatus,
    VerificationStatus,
)

# Canonical URLs without a version: what is claimed holds for Plan-Net STU 1.1 and 1.2
# and for US Core 3.1.1 and later, the versions Plan-Net builds on.
PLAN_NET = "http://hl7.org/fhir/us/davinci-pdex-plan-net/StructureDefinition/"
US_CORE = "http://hl7.org/fhir/us/core/StructureDefinition/"
PLAN_NET_PRACTITIONER = f"{PLAN_NET}plannet-Practitioner"
US_CORE_ORGANIZATION = f"{US_CORE}us-core-organization"
US_CORE_LOCATION = f"{US_CORE}us-core-location"
US_CORE_PRACTITIONER = f"{US_CORE}us-core-practitioner"
US_CORE_PRACTITIONER_ROLE = f"{US_CORE}us-core-practitionerrole"

US_EIN = "urn:oid:2.16.840.1.113883.4.4"
US_NPI = "http://hl7.org/fhir/sid/us-npi"
PLACE_OF_SERVICE = (
    "https://www.cms.gov/Medicare/Coding/place-of-service-codes/Place_of_Service_Code_Set"
)
# Da Vinci PDex Plan-Net's extension on Practitioner.qualification: its status (always
# `active` there) and the states where it is valid, as USPS codes.
PRACTITIONER_QUALIFICATION = f"{PLAN_NET}practitioner-qualification"
USPS_STATES = "https://www.usps.com/"
# The credentials a directory lists as qualifications, verified and in force (Plan-Net's
# status `active`): a DEA registration and an insurance are no qualification.
QUALIFICATIONS = {
    CredentialType.MEDICAL_LICENSE: "Medical license",
    CredentialType.BOARD_CERTIFICATION: "Board certification",
}
# FHIR has no standard "primary" flag on PractitionerRole (design.md), hence our own URL.
PRIMARY_FACILITY = "https://msc.example.com/fhir/StructureDefinition/primary-facility"

Resource = dict[str, Any]
# An assignment joined to its provider, as `_load` selects it.
AssignmentRow = Row[*tuple[Any, ...]]


def full_url(id_: uuid.UUID | str) -> str:
    """An entry's fullUrl: the bundle is a snapshot of no server's resources, so each
    entry is named by its id as a URN (ids are UUIDs, unique across resource types)."""
    return f"urn:uuid:{id_}"


def _reference(resource_type: str, id_: uuid.UUID) -> dict[str, str]:
    # The entry's fullUrl, which a reader resolves within the bundle (FHIR R4 Bundle,
    # "Resolving references in Bundles"); `type` still says what it points at.
    return {"reference": full_url(id_), "type": resource_type}


def _clean(text: str | None) -> str | None:
    """FHIR strings may not be empty or padded: blank values are left out altogether."""
    if text is None:
        return None
    stripped = " ".join(text.split())
    return stripped or None


def _identifier(system: str, value: str | None) -> list[dict[str, str]]:
    value = _clean(value)
    return [{"system": system, "value": value}] if value else []


def _instant(moment: datetime, timespec: str = "microseconds") -> str:
    """A FHIR `instant` in UTC, to the microsecond by default as PostgreSQL keeps it, so
    that two changes never read as one."""
    return moment.astimezone(UTC).isoformat(timespec=timespec).replace("+00:00", "Z")


def _meta(last_updated: datetime, profiles: Sequence[str]) -> Resource:
    meta: Resource = {"lastUpdated": _instant(last_updated)}
    if profiles:
        meta["profile"] = list(profiles)
    return meta


def organization_resource(organization: Organization, root_id: uuid.UUID) -> Resource:
    resource: Resource = {
        "resourceType": "Organization",
        "id": str(organization.id),
        # US Core's, which asks for `active` and `name`, both always written. Not
        # Plan-Net's: it requires an address (1..*), and an organization has none here
        # (its facilities have theirs).
        "meta": _meta(organization.updated_at, [US_CORE_ORGANIZATION]),
        "active": organization.status == OrganizationStatus.ACTIVE,
        "name": organization.name,
    }
    if identifiers := _identifier(US_EIN, organization.tax_id):
        resource["identifier"] = identifiers
    # The root's own parent lies outside the bundle (and perhaps outside the caller's
    # reach): only references that resolve inside the bundle are written.
    if organization.id != root_id and organization.parent_organization_id is not None:
        resource["partOf"] = _reference("Organization", organization.parent_organization_id)
    return resource


def _telecom(facility: Facility) -> list[dict[str, str]]:
    return [
        {"system": system, "value": value, "use": "work"}
        for system, value in (("phone", _clean(facility.phone)), ("email", _clean(facility.email)))
        if value
    ]


def location_resource(facility: Facility) -> Resource:
    address: dict[str, Any] = {"use": "work", "state": facility.state, "country": "US"}
    if line := _clean(facility.address):
        address["line"] = [line]
    if city := _clean(facility.city):
        address["city"] = city
    if postal_code := _clean(facility.zip_code):
        address["postalCode"] = postal_code
    resource: Resource = {
        "resourceType": "Location",
        "id": str(facility.id),
        # US Core's, which asks for a `name`. Not Plan-Net's: its managingOrganization
        # must be a Plan-Net Organization, which ours are not (organization_resource).
        "meta": _meta(facility.updated_at, [US_CORE_LOCATION]),
        "status": "active" if facility.active else "inactive",
        "name": facility.name,
        "mode": "instance",
        "type": [{"coding": [{"system": PLACE_OF_SERVICE, "code": facility.place_of_service}]}],
        "address": address,
        "managingOrganization": _reference("Organization", facility.organization_id),
    }
    if identifiers := _identifier(US_NPI, facility.npi):
        resource["identifier"] = identifiers
    if telecom := _telecom(facility):
        resource["telecom"] = telecom
    return resource


# Words before a name that are no part of it (a title), and after it (a degree or a
# generation), compared without their dots: "Dr. Jordan Lee, MD".
NAME_PREFIXES = frozenset({"dr", "mr", "mrs", "ms", "mx", "prof"})
NAME_SUFFIXES = frozenset(
    {"md", "do", "dpm", "dds", "dmd", "np", "pa", "pa-c", "rn", "aprn", "phd", "jr", "sr"}
    | {"ii", "iii", "iv"}
)


def _bare(word: str) -> str:
    return word.replace(".", "").rstrip(",").lower()


def human_name(name: str) -> dict[str, Any]:
    """The full name as text, and its parts: a leading title as `prefix`, trailing degrees
    and generations as `suffix` (after a comma or not), the last remaining word as the
    family name and those before it as given names (a single word is the family name)."""
    text = _clean(name) or ""
    words = text.split(" ") if text else []
    prefix = []
    while len(words) > 1 and _bare(words[0]) in NAME_PREFIXES:
        prefix.append(words.pop(0))
    suffix: list[str] = []
    while len(words) > 1 and _bare(words[-1]) in NAME_SUFFIXES:
        suffix.insert(0, words.pop().rstrip(","))
    words = [word.rstrip(",") for word in words]
    result: dict[str, Any] = {"use": "official", "text": text, "family": words[-1] if words else ""}
    if given := words[:-1]:
        result["given"] = given
    if prefix:
        result["prefix"] = prefix
    if suffix:
        result["suffix"] = suffix
    return result


def qualification(credential: Credential) -> Resource:
    """A license or board certification as a Practitioner.qualification: what it is (and
    in what specialty), its number, its issuer, its period, and the state it is valid in."""
    label = QUALIFICATIONS[CredentialType(credential.credential_type)]
    specialty = _clean(credential.specialty)
    states = [{"system": USPS_STATES, "code": credential.state}] if credential.state else []
    where_valid = [
        {"url": "whereValid", "valueCodeableConcept": {"coding": [state]}} for state in states
    ]
    result: Resource = {
        "extension": [
            {
                "url": PRACTITIONER_QUALIFICATION,
                "extension": [{"url": "status", "valueCode": "active"}, *where_valid],
            }
        ],
        "code": {"text": f"{label}: {specialty}" if specialty else label},
    }
    if number := _clean(credential.number):
        result["identifier"] = [{"value": number}]
    period = {"start": _date(credential.effective_date), "end": _date(credential.expiry_date)}
    if period := {key: value for key, value in period.items() if value is not None}:
        result["period"] = period
    if issuer := _clean(credential.issuer):
        result["issuer"] = {"display": issuer}
    return result


def practitioner_resource(row: AssignmentRow, qualifications: Sequence[Credential]) -> Resource:
    identifiers = _identifier(US_NPI, row.npi)
    profiles: list[str] = []
    # US Core requires an identifier, and the NPI is the only one a provider has here;
    # the name (with its family part) is always written. Plan-Net adds `active` fixed to
    # true, and a `code` on each qualification, which qualification() always writes.
    if identifiers:
        if row.user_active:
            profiles.append(PLAN_NET_PRACTITIONER)
        profiles.append(US_CORE_PRACTITIONER)
    # The resource shows the provider's row and the qualifications listed, so it last
    # changed when the latest of them did. A qualification that lapses or is withdrawn
    # drops out without moving it: the export reads only those it lists.
    last_updated = max([row.user_updated_at, *(c.updated_at for c in qualifications)])
    resource: Resource = {
        "resourceType": "Practitioner",
        "id": str(row.user_id),
        "meta": _meta(last_updated, profiles),
        "active": row.user_active,
        "name": [human_name(row.user_name)],
    }
    if identifiers:
        resource["identifier"] = identifiers
    if qualifications:
        resource["qualification"] = [qualification(c) for c in qualifications]
    return resource


def _date(value: date | None) -> str | None:
    return value.isoformat() if value is not None else None


def practitioner_role_resource(
    row: AssignmentRow, facility: Facility, practitioner: Resource
) -> Resource:
    """The assignment, reached through its facility's phone and email (a provider is
    called at the place they work there)."""
    period = {"start": _date(row.start_date), "end": _date(row.end_date)}
    telecom = _telecom(facility)
    # US Core's asks for contact details or an endpoint, and that the practitioner be a
    # US Core Practitioner (the organization and location always are). Not Plan-Net's:
    # its organization and location must be Plan-Net's, which ours are not.
    conforms = bool(telecom) and US_CORE_PRACTITIONER in practitioner["meta"].get("profile", [])
    resource: Resource = {
        "resourceType": "PractitionerRole",
        "id": str(row.assignment_id),
        "meta": _meta(
            max(row.assignment_updated_at, facility.updated_at),
            [US_CORE_PRACTITIONER_ROLE] if conforms else [],
        ),
        # Written on every role, false included, so a reader can tell "not primary"
        # from "unknown".
        "extension": [{"url": PRIMARY_FACILITY, "valueBoolean": row.is_primary}],
        # Pending assignments are not yet in force, so only `active` counts as active.
        "active": row.status == AssignmentStatus.ACTIVE,
        "period": {key: value for key, value in period.items() if value is not None},
        "practitioner": _reference("Practitioner", row.user_id),
        "organization": _reference("Organization", row.organization_id),
        "location": [_reference("Location", row.facility_id)],
    }
    if telecom:
        resource["telecom"] = telecom
    return resource


def _load(
    session: Session, root: Organization, include_inactive: bool
) -> tuple[Sequence[Organization], Sequence[Facility], Sequence[AssignmentRow]]:
    """Three queries, as in app/domain/hierarchy.py: the tree, then its facilities, then
    their assignments joined to their providers."""
    organizations = session.scalars(queries.tree(root)).all()
    facilities = session.scalars(
        queries.facilities_of([o.id for o in organizations], include_inactive=include_inactive)
    ).all()
    pointer = primary_pointers(
        queries.one_of(PrimaryAssignment.organization_id, [o.id for o in organizations])
    )
    assignments = session.execute(
        select(
            ProviderFacility.id.label("assignment_id"),
            ProviderFacility.facility_id,
            ProviderFacility.organization_id,
            is_primary(pointer).label("is_primary"),
            ProviderFacility.status,
            ProviderFacility.start_date,
            ProviderFacility.end_date,
            ProviderFacility.updated_at.label("assignment_updated_at"),
            User.id.label("user_id"),
            User.name.label("user_name"),
            User.npi,
            User.is_active.label("user_active"),
            User.updated_at.label("user_updated_at"),
        )
        .join(User, User.id == ProviderFacility.user_id)
        .outerjoin(pointer, points_at(pointer))
        .where(
            queries.assignments_at([f.id for f in facilities], include_inactive=include_inactive)
        )
        .order_by(User.name, User.id, ProviderFacility.start_date, ProviderFacility.id)
    ).all()
    return organizations, facilities, assignments


def _qualifications(
    session: Session, user_ids: set[uuid.UUID], today: date
) -> dict[uuid.UUID, list[Credential]]:
    """The providers' licenses and board certifications, verified and in force on
    `today`: one query, whatever the number of providers."""
    credentials = session.scalars(
        select(Credential)
        .where(
            Credential.user_id.in_(user_ids),
            Credential.credential_type.in_(list(QUALIFICATIONS)),
            Credential.verification_status == VerificationStatus.VERIFIED,
            or_(Credential.expiry_date.is_(None), Credential.expiry_date >= today),
        )
        .order_by(Credential.credential_type, Credential.state, Credential.id)
    ).all()
    by_user: dict[uuid.UUID, list[Credential]] = {}
    for credential in credentials:
        by_user.setdefault(credential.user_id, []).append(credential)
    return by_user


def organization_bundle(
    session: Session,
    root: Organization,
    *,
    include_inactive: bool,
    now: datetime | None = None,
) -> Resource:
    """`root`'s tree as a `collection` Bundle: Organizations, then Locations, then one
    Practitioner per provider (however many facilities they work at), then one
    PractitionerRole per assignment."""
    organizations, facilities, assignments = _load(session, root, include_inactive)
    timestamp = (now or clock.now()).astimezone(UTC)
    qualifications = _qualifications(
        session, {row.user_id for row in assignments}, timestamp.date()
    )
    resources: list[Resource] = [organization_resource(o, root.id) for o in organizations]
    resources += [location_resource(f) for f in facilities]
    practitioners: dict[uuid.UUID, Resource] = {}
    for row in assignments:
        if row.user_id not in practitioners:
            held = qualifications.get(row.user_id, [])
            practitioners[row.user_id] = practitioner_resource(row, held)
    resources += practitioners.values()
    by_id = {f.id: f for f in facilities}
    resources += [
        practitioner_role_resource(row, by_id[row.facility_id], practitioners[row.user_id])
        for row in assignments
    ]
    return {
        "resourceType": "Bundle",
        # A fresh id per export: the bundle is a snapshot, not a stored resource.
        "id": str(uuid.uuid4()),
        "type": "collection",
        "timestamp": _instant(timestamp, "seconds"),
        "entry": [{"fullUrl": full_url(r["id"]), "resource": r} for r in resources],
    }
