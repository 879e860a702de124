"""The FHIR export's profiles: each resource declares in meta.profile only the Plan-Net
and US Core profiles whose required elements, fixed values and reference targets it
satisfies, carries meta.lastUpdated, and is valid R4; another tenant's rows of a shared
provider never appear."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.bundle import Bundle
from flask.testing import FlaskClient
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from app.domain.fhir import (
    PLAN_NET,
    PLAN_NET_PRACTITIONER,
    US_CORE_LOCATION,
    US_CORE_ORGANIZATION,
    US_CORE_PRACTITIONER,
    US_CORE_PRACTITIONER_ROLE,
)
from app.models import Credential
from app.models.enums import Role
from tests import factories
from tests.conftest import TwoTenants, bearer, token_for

PLAN_NET_ORGANIZATION = f"{PLAN_NET}plannet-Organization"
PLAN_NET_LOCATION = f"{PLAN_NET}plannet-Location"
PLAN_NET_PRACTITIONER_ROLE = f"{PLAN_NET}plannet-PractitionerRole"


@dataclass(frozen=True)
class Profile:
    """What a profile demands of an instance, its base profiles' demands included.

    `required`: "a" must be present; "a.b": every `a` present has a `b` (a child's
    minimum cardinality binds only where its parent is). `fixed`: pattern or fixed values.
    `prohibited`: elements the profile sets to 0..0. `one_of`: invariants asking for at
    least one of a few elements. `targets`: the profile a reference's target must declare.
    """

    resource_type: str
    required: tuple[str, ...]
    fixed: dict[str, Any] = field(default_factory=dict)
    prohibited: tuple[str, ...] = ()
    one_of: tuple[tuple[str, ...], ...] = ()
    targets: dict[str, str] = field(default_factory=dict)


# Da Vinci PDex Plan-Net STU 1.1 (hl7.fhir.us.davinci-pdex-plan-net#1.1.0, on US Core
# 3.1.1): every profile makes meta.lastUpdated 1..1 (under a 0..1 meta, but the guide
# means every resource to carry it, hence `meta` too) and fixes `active` (Location:
# `status`) to true (active); 1.2.0 keeps the rest. US Core 3.1.1 adds what is marked.
PLAN_NET_PROFILES = {
    PLAN_NET_ORGANIZATION: Profile(
        "Organization",
        # name (US Core), type 1..* (OrgTypeVS), address 1..* (new in 1.1)
        required=("meta", "meta.lastUpdated", "active", "name", "type", "address"),
        fixed={"active": True},
        targets={"partOf": PLAN_NET_ORGANIZATION},
    ),
    PLAN_NET_LOCATION: Profile(
        "Location",
        required=("meta", "meta.lastUpdated", "name", "status"),
        fixed={"status": "active"},
        prohibited=("mode",),
        targets={"managingOrganization": PLAN_NET_ORGANIZATION, "partOf": PLAN_NET_LOCATION},
    ),
    PLAN_NET_PRACTITIONER: Profile(
        "Practitioner",
        # identifier, name, name.family (US Core); qualification.code 1..1
        required=(
            "meta",
            "meta.lastUpdated",
            "active",
            "identifier",
            "name",
            "name.family",
            "qualification.code",
        ),
        fixed={"active": True},
    ),
    PLAN_NET_PRACTITIONER_ROLE: Profile(
        "PractitionerRole",
        required=("meta", "meta.lastUpdated", "active", "telecom.system", "telecom.value"),
        fixed={"active": True},
        # pd-1 (US Core): contact details or an endpoint
        one_of=(("telecom", "endpoint"),),
        targets={
            "practitioner": PLAN_NET_PRACTITIONER,
            "organization": PLAN_NET_ORGANIZATION,
            "location": PLAN_NET_LOCATION,
        },
    ),
}
# US Core 3.1.1, whose mandatory elements later versions keep or relax.
US_CORE_PROFILES = {
    US_CORE_ORGANIZATION: Profile("Organization", required=("active", "name")),
    US_CORE_LOCATION: Profile(
        "Location", required=("name",), targets={"managingOrganization": US_CORE_ORGANIZATION}
    ),
    US_CORE_PRACTITIONER: Profile("Practitioner", required=("identifier", "name", "name.family")),
    US_CORE_PRACTITIONER_ROLE: Profile(
        "PractitionerRole",
        required=("practitioner", "organization", "telecom.system", "telecom.value"),
        one_of=(("telecom", "endpoint"),),
        targets={
            "practitioner": US_CORE_PRACTITIONER,
            "organization": US_CORE_ORGANIZATION,
            "location": US_CORE_LOCATION,
        },
    ),
}
PROFILES = PLAN_NET_PROFILES | US_CORE_PROFILES


def _values(node: Any, path: str) -> list[Any]:
    """The values at a dotted path, lists flattened; empty values count as absent."""
    found = [node]
    for name in path.split("."):
        step: list[Any] = []
        for item in found:
            value = item.get(name) if isinstance(item, dict) else None
            step += value if isinstance(value, list) else [value]
        found = [v for v in step if v not in (None, "", [], {})]
    return found


def violations(resource: dict[str, Any], url: str, bundle: dict[str, dict[str, Any]]) -> list[str]:
    """What keeps `resource` from conforming to the profile at `url`; `bundle` maps
    fullUrls to resources, to check reference targets."""
    profile = PROFILES[url]
    found: list[str] = []
    if resource["resourceType"] != profile.resource_type:
        found.append(f"resourceType: {resource['resourceType']}")
    for path in profile.required:
        parent, _, child = path.rpartition(".")
        parents = _values(resource, parent) if parent else [resource]
        if any(not _values(item, child) for item in parents):
            found.append(f"{path}: missing")
    for path, value in profile.fixed.items():
        if any(v != value for v in _values(resource, path)):
            found.append(f"{path}: not {value!r}")
    found += [f"{path}: prohibited" for path in profile.prohibited if _values(resource, path)]
    for paths in profile.one_of:
        if not any(_values(resource, path) for path in paths):
            found.append(f"{' or '.join(paths)}: missing")
    for path, target_profile in profile.targets.items():
        for reference in _values(resource, f"{path}.reference"):
            declared = bundle[reference].get("meta", {}).get("profile", [])
            if target_profile not in declared:
                found.append(f"{path}: {reference} is no {target_profile.rsplit('/', 1)[1]}")
    return found


def _entries(body: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for entry in body["entry"]:
        yield entry["fullUrl"], entry["resource"]


def test_the_checker_reports_each_kind_of_gap() -> None:
    """The profile checks fail where they should: a missing element, a missing child of
    a present parent, a wrong fixed value, a prohibited element, an unmet invariant, and
    a reference to a resource that does not declare the profile asked for."""
    organization: dict[str, Any] = {"resourceType": "Organization", "active": True, "name": "O"}
    location: dict[str, Any] = {
        "resourceType": "Location",
        "meta": {"lastUpdated": "2026-01-01T00:00:00Z"},
        "name": "L",
        "status": "inactive",
        "mode": "instance",
        "managingOrganization": {"reference": "urn:uuid:o"},
    }
    role: dict[str, Any] = {
        "resourceType": "PractitionerRole",
        "practitioner": {"reference": "urn:uuid:p"},
        "organization": {"reference": "urn:uuid:o"},
    }
    practitioner: dict[str, Any] = {
        "resourceType": "Practitioner",
        "identifier": [{"value": "1"}],
        "name": [{"text": "Cher"}],
    }
    bundle = {"urn:uuid:o": organization, "urn:uuid:p": practitioner}
    assert violations(organization, PLAN_NET_ORGANIZATION, bundle) == [
        "meta: missing",
        "type: missing",
        "address: missing",
    ]
    assert violations(organization, US_CORE_ORGANIZATION, bundle) == []
    assert violations(location, PLAN_NET_LOCATION, bundle) == [
        "status: not 'active'",
        "mode: prohibited",
        "managingOrganization: urn:uuid:o is no plannet-Organization",
    ]
    assert violations(practitioner, US_CORE_PRACTITIONER, bundle) == ["name.family: missing"]
    assert violations(role, US_CORE_PRACTITIONER_ROLE, bundle) == [
        "telecom or endpoint: missing",
        "practitioner: urn:uuid:p is no us-core-practitioner",
        "organization: urn:uuid:o is no us-core-organization",
    ]
    assert violations(practitioner, US_CORE_PRACTITIONER_ROLE, bundle)[0] == (
        "resourceType: Practitioner"
    )


def _set_updated_at(admin_engine: Engine, table: str, id_: uuid.UUID, moment: str) -> None:
    # An explicit updated_at survives the set_updated_at trigger (policies/functions.sql).
    with admin_engine.begin() as conn:
        conn.execute(
            text(f"UPDATE {table} SET updated_at = :at WHERE id = :id"),
            {"at": dt.datetime.fromisoformat(moment), "id": id_},
        )


def test_each_resource_declares_the_profiles_it_meets(
    client: FlaskClient, seeded: TwoTenants, admin_engine: Engine
) -> None:
    """Hand-computed for a small tree:

    - organizations: US Core (an organization has no address, which Plan-Net requires),
      a suspended one too (US Core asks for `active`, whatever its value);
    - locations: US Core (Plan-Net's want a Plan-Net managing organization);
    - practitioners: Plan-Net and US Core with an NPI and an active account, US Core
      only with an NPI and an inactive account, none without an NPI (no identifier);
    - roles: US Core where the facility has a phone or an email and the practitioner is
      a US Core one, else none.

    meta.lastUpdated is the row's updated_at; a practitioner's is their row's or that
    of a qualification listed, whichever is later; a role's its assignment's or its
    facility's, whichever is later (the facility gives it its contact details).
    """
    a = seeded.a
    provider = seeded.shared_provider
    with Session(admin_engine, expire_on_commit=False) as setup:
        child = factories.make_organization(
            setup, name="Child", status="suspended", parent_organization_id=a.organization.id
        )
        clinic = factories.make_facility(setup, child, name="Clinic", phone="5125550100")
        inactive = factories.make_user(
            setup, name="Dr. Ann Lee, MD", npi=factories.unique_npi(), is_active=False
        )
        unnumbered = factories.make_user(setup, name="Sam Roe")
        # Written while the provider works for A and B only (the owners follow the
        # memberships, which the one below updates).
        license_ = Credential(
            user_id=provider.id,
            owner_organization_ids=[a.organization.id, seeded.b.organization.id],
            credential_type="medical_license",
            verification_status="verified",
            number="036-1",
            state="TX",
        )
        setup.add(license_)
        setup.flush()
        for user in (provider, inactive, unnumbered):
            factories.make_membership(setup, user, child, Role.PROVIDER)
        at_clinic = {
            user.id: factories.make_assignment(setup, user, clinic).id
            for user in (provider, inactive, unnumbered)
        }
        setup.commit()
    with admin_engine.connect() as conn:
        (at_home,) = conn.execute(
            text("SELECT id FROM provider_facilities WHERE facility_id = :f"), {"f": a.facility.id}
        ).scalars()
    for table, id_, moment in (
        ("organizations", a.organization.id, "2026-03-01T09:00:00.000001+00:00"),
        ("organizations", child.id, "2026-03-02T09:00:00+00:00"),
        ("facilities", a.facility.id, "2026-03-03T09:00:00+00:00"),
        ("facilities", clinic.id, "2026-03-04T09:00:00+00:00"),
        ("users", provider.id, "2026-03-05T09:00:00+00:00"),
        ("users", inactive.id, "2026-03-06T09:00:00+00:00"),
        ("users", unnumbered.id, "2026-03-07T09:00:00+00:00"),
        ("credentials", license_.id, "2026-03-08T09:00:00+00:00"),
        ("provider_facilities", at_home, "2026-03-09T09:00:00+00:00"),
        ("provider_facilities", at_clinic[provider.id], "2026-03-01T09:00:00+00:00"),
        ("provider_facilities", at_clinic[inactive.id], "2026-03-10T09:00:00+00:00"),
        ("provider_facilities", at_clinic[unnumbered.id], "2026-03-11T09:00:00+00:00"),
    ):
        _set_updated_at(admin_engine, table, id_, moment)

    token = token_for(client, a.admin)
    response = client.get(
        f"/api/v1/admin/organizations/{a.organization.id}/fhir", headers=bearer(token)
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json(force=True)
    Bundle.model_validate(body)
    declared = {r["id"]: r["meta"].get("profile", []) for _, r in _entries(body)}
    last_updated = {r["id"]: r["meta"]["lastUpdated"] for _, r in _entries(body)}
    assert declared == {
        str(a.organization.id): [US_CORE_ORGANIZATION],
        str(child.id): [US_CORE_ORGANIZATION],
        str(a.facility.id): [US_CORE_LOCATION],
        str(clinic.id): [US_CORE_LOCATION],
        str(provider.id): [PLAN_NET_PRACTITIONER, US_CORE_PRACTITIONER],
        str(inactive.id): [US_CORE_PRACTITIONER],
        str(unnumbered.id): [],
        # a.facility has neither phone nor email
        str(at_home): [],
        str(at_clinic[provider.id]): [US_CORE_PRACTITIONER_ROLE],
        str(at_clinic[inactive.id]): [US_CORE_PRACTITIONER_ROLE],
        # Sam Roe has no NPI, so is no US Core Practitioner
        str(at_clinic[unnumbered.id]): [],
    }
    assert last_updated == {
        str(a.organization.id): "2026-03-01T09:00:00.000001Z",
        str(child.id): "2026-03-02T09:00:00.000000Z",
        str(a.facility.id): "2026-03-03T09:00:00.000000Z",
        str(clinic.id): "2026-03-04T09:00:00.000000Z",
        # the license listed, later than the provider's row
        str(provider.id): "2026-03-08T09:00:00.000000Z",
        str(inactive.id): "2026-03-06T09:00:00.000000Z",
        str(unnumbered.id): "2026-03-07T09:00:00.000000Z",
        str(at_home): "2026-03-09T09:00:00.000000Z",
        # the clinic, later than the assignment
        str(at_clinic[provider.id]): "2026-03-04T09:00:00.000000Z",
        str(at_clinic[inactive.id]): "2026-03-10T09:00:00.000000Z",
        str(at_clinic[unnumbered.id]): "2026-03-11T09:00:00.000000Z",
    }
    roles = {r["id"]: r for _, r in _entries(body) if r["resourceType"] == "PractitionerRole"}
    phone = [{"system": "phone", "value": "5125550100", "use": "work"}]
    assert roles[str(at_clinic[unnumbered.id])]["telecom"] == phone
    assert "telecom" not in roles[str(at_home)]

    # Why no Plan-Net profile but the practitioner's: what each would miss.
    by_url = dict(_entries(body))
    resources = {r["id"]: r for r in by_url.values()}
    assert violations(resources[str(child.id)], PLAN_NET_ORGANIZATION, by_url) == [
        "type: missing",
        "address: missing",
        "active: not True",
        f"partOf: urn:uuid:{a.organization.id} is no plannet-Organization",
    ]
    assert violations(resources[str(clinic.id)], PLAN_NET_LOCATION, by_url) == [
        "mode: prohibited",
        f"managingOrganization: urn:uuid:{child.id} is no plannet-Organization",
    ]
    assert violations(roles[str(at_clinic[provider.id])], PLAN_NET_PRACTITIONER_ROLE, by_url) == [
        f"organization: urn:uuid:{child.id} is no plannet-Organization",
        f"location: urn:uuid:{clinic.id} is no plannet-Location",
    ]


def test_every_resource_is_valid_r4_and_meets_what_it_declares(
    client: FlaskClient, seeded: TwoTenants, admin_engine: Engine
) -> None:
    """Over a tree with every kind of row the export reads (child organizations, active
    and closed facilities, current and ended assignments, providers with and without an
    NPI and a qualification), inactive ones included: each resource validates as its R4
    type, and meets every profile it declares."""
    a = seeded.a
    with Session(admin_engine, expire_on_commit=False) as setup:
        child = factories.make_organization(setup, parent_organization_id=a.organization.id)
        open_ = factories.make_facility(setup, child, email="desk@example.com", zip_code="73301")
        closed = factories.make_facility(setup, child, phone="5125550101", active=False)
        numbered = factories.make_user(setup, name="Dr. Jo Park", npi=factories.unique_npi())
        unnumbered = factories.make_user(setup, name="Lee")
        for user in (numbered, unnumbered):
            factories.make_membership(setup, user, child, Role.PROVIDER)
            factories.make_assignment(setup, user, open_, status="pending")
            factories.make_assignment(
                setup, user, closed, status="inactive", end_date=dt.date(2026, 2, 1)
            )
        setup.add(
            Credential(
                user_id=numbered.id,
                owner_organization_ids=[child.id],
                credential_type="board_certification",
                verification_status="verified",
                issuer="ABIM",
            )
        )
        setup.commit()

    token = token_for(client, a.admin)
    url = f"/api/v1/admin/organizations/{a.organization.id}/fhir?include_inactive=true"
    body = client.get(url, headers=bearer(token)).get_json(force=True)
    by_url = dict(_entries(body))
    # 2 organizations, 3 locations, 3 practitioners, 1 + 2 * 2 roles
    assert len(by_url) == 2 + 3 + 3 + 5
    claims = 0
    for resource in by_url.values():
        get_fhir_model_class(resource["resourceType"]).model_validate(resource)
        assert resource["meta"]["lastUpdated"].endswith("Z")
        for profile in resource["meta"].get("profile", []):
            assert violations(resource, profile, by_url) == [], (resource, profile)
            claims += 1
    # 2 organizations, 3 locations, 2 practitioners with an NPI and an active account
    # (Plan-Net's and US Core's each), and Dr. Park's 2 roles, at facilities with an
    # email or a phone (A's facility has neither; Lee has no NPI).
    assert claims == 2 + 3 + 2 * 2 + 2


def test_a_shared_providers_other_organization_never_appears(
    client: FlaskClient, seeded: TwoTenants, admin_engine: Engine
) -> None:
    """The seeded provider also works at tenant B. Exported by an MSC admin, whom row
    security lets read B's rows, A's bundle still holds no trace of B: not its
    organization, facility, assignments, nor their names."""
    b = seeded.b
    with admin_engine.connect() as conn:
        b_assignments = {
            str(i)
            for i in conn.execute(
                text("SELECT id FROM provider_facilities WHERE organization_id = :o"),
                {"o": b.organization.id},
            ).scalars()
        }
    assert b_assignments
    token = token_for(client, seeded.msc_admin)
    response = client.get(
        f"/api/v1/admin/organizations/{seeded.a.organization.id}/fhir", headers=bearer(token)
    )
    assert response.status_code == 200
    raw = response.get_data(as_text=True)
    for trace in {str(b.organization.id), str(b.facility.id), *b_assignments}:
        assert trace not in raw
    assert b.organization.name not in raw and b.facility.name not in raw
    resources = [entry["resource"] for entry in response.get_json(force=True)["entry"]]
    roles = [r for r in resources if r["resourceType"] == "PractitionerRole"]
    assert [r["location"] for r in roles] == [
        [{"reference": f"urn:uuid:{seeded.a.facility.id}", "type": "Location"}]
    ]
    assert str(seeded.shared_provider.id) in {r["id"] for r in resources}
