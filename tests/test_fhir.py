"""The FHIR export: a valid R4 Bundle of the caller's tree only, with resolvable
references, and a constant number of statements."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Iterator
from typing import Any

from fhir.resources.R4B.bundle import Bundle
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from app.domain.fhir import (
    PLACE_OF_SERVICE,
    PRACTITIONER_QUALIFICATION,
    PRIMARY_FACILITY,
    US_EIN,
    US_NPI,
    USPS_STATES,
    human_name,
)
from app.models import Credential
from app.models.enums import Role
from tests import factories
from tests.api_helpers import counting_statements
from tests.conftest import TwoTenants, bearer, token_for


def _url(organization_id: uuid.UUID) -> str:
    return f"/api/v1/admin/organizations/{organization_id}/fhir"


def _by_type(bundle: dict[str, Any]) -> dict[str, dict[str, dict[str, Any]]]:
    """resourceType -> id -> resource."""
    found: dict[str, dict[str, dict[str, Any]]] = {}
    for entry in bundle["entry"]:
        resource = entry["resource"]
        assert entry["fullUrl"] == f"urn:uuid:{resource['id']}"
        found.setdefault(resource["resourceType"], {})[resource["id"]] = resource
    return found


def _references(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "reference":
                yield item
            else:
                yield from _references(item)
    elif isinstance(value, list):
        for item in value:
            yield from _references(item)


def test_human_name_splits_on_the_last_space() -> None:
    assert human_name("Mary  Ann Smith") == {
        "use": "official",
        "text": "Mary Ann Smith",
        "family": "Smith",
        "given": ["Mary", "Ann"],
    }
    assert human_name("Cher") == {"use": "official", "text": "Cher", "family": "Cher"}


def test_a_title_is_a_prefix_and_a_degree_a_suffix_not_a_name() -> None:
    """ "Dr." is no given name, nor "MD" a family name (FHIR HumanName prefix, suffix)."""
    assert human_name("Dr. Jane Q. Public, MD") == {
        "use": "official",
        "text": "Dr. Jane Q. Public, MD",
        "family": "Public",
        "given": ["Jane", "Q."],
        "prefix": ["Dr."],
        "suffix": ["MD"],
    }
    assert human_name("Dr. Lee") == {
        "use": "official",
        "text": "Dr. Lee",
        "family": "Lee",
        "prefix": ["Dr."],
    }
    # A lone word is the name, whatever it reads like.
    assert human_name("Dr")["family"] == "Dr"


def test_bundle_is_valid_fhir_of_the_callers_tree_only(
    client: FlaskClient, seeded: TwoTenants, admin_engine: Engine
) -> None:
    a, b = seeded.a, seeded.b
    with Session(admin_engine, expire_on_commit=False) as setup:
        child = factories.make_organization(
            setup, name="Child", tax_id="12-3456789", parent_organization_id=a.organization.id
        )
        clinic = factories.make_facility(
            setup,
            child,
            name="Child Clinic",
            npi=factories.unique_npi(),
            address="1 Main St",
            city="Austin",
            zip_code="78701",
            phone="5125550100",
            email="clinic@example.com",
            place_of_service="22",
        )
        closed = factories.make_facility(setup, child, name="Closed Clinic", active=False)
        colleague = factories.make_user(setup, name="Mary Ann Smith", npi=factories.unique_npi())
        factories.make_membership(setup, colleague, child, Role.PROVIDER)
        current = factories.make_assignment(setup, colleague, clinic)
        factories.make_membership(setup, seeded.shared_provider, child, Role.PROVIDER)
        ended = factories.make_assignment(
            setup,
            seeded.shared_provider,
            closed,
            status="inactive",
            end_date=dt.date(2026, 3, 31),
        )
        setup.commit()
    with admin_engine.connect() as conn:
        b_assignments = conn.execute(
            text("SELECT id FROM provider_facilities WHERE organization_id = :o"),
            {"o": b.organization.id},
        ).scalars()
        b_ids = {str(i) for i in b_assignments} | {
            str(b.organization.id),
            str(b.facility.id),
            str(b.admin.id),
            str(b.office_manager.id),
        }

    token = token_for(client, a.admin)
    response = client.get(_url(a.organization.id), headers=bearer(token))
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "application/fhir+json"
    body = response.get_json(force=True)
    # A malformed resource (wrong type, empty string, unknown shape) fails here.
    parsed = Bundle.model_validate(body)
    assert parsed.type == "collection"
    assert parsed.timestamp is not None and parsed.timestamp.utcoffset() == dt.timedelta(0)
    for b_id in b_ids:
        assert b_id not in response.get_data(as_text=True)

    found = _by_type(body)
    assert set(found["Organization"]) == {str(a.organization.id), str(child.id)}
    assert set(found["Location"]) == {str(a.facility.id), str(clinic.id)}
    assert set(found["Practitioner"]) == {str(seeded.shared_provider.id), str(colleague.id)}
    roles = found["PractitionerRole"]
    assert len(roles) == 2 and str(current.id) in roles and str(ended.id) not in roles
    # Every reference is the fullUrl of an entry of the bundle, which a reader resolves.
    full_urls = {entry["fullUrl"] for entry in body["entry"]}
    assert set(_references(body)) <= full_urls
    assert full_urls == {f"urn:uuid:{id_}" for resources in found.values() for id_ in resources}

    root = found["Organization"][str(a.organization.id)]
    assert root["active"] is True and "partOf" not in root
    child_org = found["Organization"][str(child.id)]
    assert child_org["partOf"] == {
        "reference": f"urn:uuid:{a.organization.id}",
        "type": "Organization",
    }
    assert child_org["identifier"] == [{"system": US_EIN, "value": "12-3456789"}]

    location = found["Location"][str(clinic.id)]
    assert location["managingOrganization"] == {
        "reference": f"urn:uuid:{child.id}",
        "type": "Organization",
    }
    assert location["status"] == "active"
    assert location["identifier"] == [{"system": US_NPI, "value": clinic.npi}]
    assert location["type"] == [{"coding": [{"system": PLACE_OF_SERVICE, "code": "22"}]}]
    assert location["address"] == {
        "use": "work",
        "line": ["1 Main St"],
        "city": "Austin",
        "state": "TX",
        "postalCode": "78701",
        "country": "US",
    }
    assert {t["system"] for t in location["telecom"]} == {"phone", "email"}

    practitioner = found["Practitioner"][str(colleague.id)]
    assert practitioner["identifier"] == [{"system": US_NPI, "value": colleague.npi}]
    assert practitioner["name"][0]["family"] == "Smith"
    assert practitioner["name"][0]["given"] == ["Mary", "Ann"]

    (primary,) = (r for r in roles.values() if r["id"] != str(current.id))
    assert primary["location"] == [{"reference": f"urn:uuid:{a.facility.id}", "type": "Location"}]
    assert primary["extension"] == [{"url": PRIMARY_FACILITY, "valueBoolean": True}]
    assert primary["practitioner"] == {
        "reference": f"urn:uuid:{seeded.shared_provider.id}",
        "type": "Practitioner",
    }
    assert primary["active"] is True and primary["period"] == {"start": "2026-01-01"}
    assert roles[str(current.id)]["extension"][0]["valueBoolean"] is False

    url = f"{_url(a.organization.id)}?include_inactive=true"
    everything = client.get(url, headers=bearer(token))
    every = _by_type(Bundle.model_validate(json.loads(everything.data)).model_dump(mode="json"))
    assert every["Location"][str(closed.id)]["status"] == "inactive"
    ended_role = every["PractitionerRole"][str(ended.id)]
    assert ended_role["active"] is False
    assert ended_role["period"] == {"start": "2026-01-01", "end": "2026-03-31"}


def test_reach_and_permission(client: FlaskClient, seeded: TwoTenants) -> None:
    a, b = seeded.a, seeded.b
    token = token_for(client, a.admin)
    assert client.get(_url(b.organization.id), headers=bearer(token)).status_code == 404
    assert client.get(_url(uuid.uuid4()), headers=bearer(token)).status_code == 404
    provider_token = token_for(client, seeded.shared_provider, a.organization)
    response = client.get(_url(a.organization.id), headers=bearer(provider_token))
    assert response.status_code == 403
    msc_token = token_for(client, seeded.msc_admin)
    assert client.get(_url(b.organization.id), headers=bearer(msc_token)).status_code == 200


CHILDREN = 3
FACILITIES = 60
PROVIDERS = 300


def _grow(admin_engine: Engine, organization_id: uuid.UUID) -> None:
    """Child organizations, each with facilities, and providers assigned across them."""
    with Session(admin_engine) as setup:
        children = [
            factories.make_organization(setup, parent_organization_id=organization_id).id
            for _ in range(CHILDREN)
        ]
        setup.commit()
    with admin_engine.begin() as conn:
        facilities = conn.execute(
            text(
                "INSERT INTO facilities (organization_id, name, facility_type, state, npi)"
                " SELECT (:orgs)[1 + n % :k], 'Facility ' || n, 'clinic', 'TX', NULL"
                " FROM generate_series(1, :n) n RETURNING organization_id, id"
            ),
            {"orgs": children, "k": CHILDREN, "n": FACILITIES},
        ).all()
        users = (
            conn.execute(
                text(
                    "INSERT INTO users (email, name)"
                    " SELECT 'fhir' || n || '-' || :tag || '@example.com', 'Dr Provider ' || n"
                    " FROM generate_series(1, :n) n RETURNING id"
                ),
                {"n": PROVIDERS, "tag": uuid.uuid4().hex[:8]},
            )
            .scalars()
            .all()
        )
        placed = [(facilities[i % FACILITIES], u) for i, u in enumerate(users)]
        conn.execute(
            text(
                "INSERT INTO memberships (organization_id, user_id, role)"
                " VALUES (:o, :u, 'provider')"
            ),
            [{"o": f.organization_id, "u": u} for f, u in placed],
        )
        factories.sync_organization_ids(conn, users)
        conn.execute(
            text(
                "INSERT INTO provider_facilities (organization_id, user_id, facility_id, status)"
                " VALUES (:o, :u, :f, 'active')"
            ),
            [{"o": f.organization_id, "u": u, "f": f.id} for f, u in placed],
        )


def test_statement_count_does_not_grow_with_the_tree(
    app: Flask, client: FlaskClient, seeded: TwoTenants, admin_engine: Engine
) -> None:
    small, big = seeded.a, seeded.b
    _grow(admin_engine, big.organization.id)
    counts: dict[str, int] = {}
    sizes: dict[str, int] = {}
    for tenant in (small, big):
        token = token_for(client, tenant.admin)
        with counting_statements(app) as statements:
            response = client.get(_url(tenant.organization.id), headers=bearer(token))
        assert response.status_code == 200
        counts[tenant.organization.name] = len(statements)
        sizes[tenant.organization.name] = len(json.loads(response.data)["entry"])
    # small: 1 organization, 1 location, 1 practitioner, 1 role.
    assert sizes == {
        "Tenant A": 4,
        "Tenant B": (1 + CHILDREN) + (1 + FACILITIES) + 2 * (1 + PROVIDERS),
    }
    assert counts["Tenant A"] == counts["Tenant B"], counts


def test_a_practitioner_lists_the_licenses_and_certifications_in_force(
    client: FlaskClient, seeded: TwoTenants, admin_engine: Engine
) -> None:
    """Practitioner.qualification: each verified, unexpired license and board
    certification, with its number, issuer, period and the state it is valid in
    (Plan-Net's practitioner-qualification extension); not one rejected, unverified or
    lapsed, and no DEA registration or insurance, which are no qualification."""
    provider = seeded.shared_provider
    organizations = [seeded.a.organization.id, seeded.b.organization.id]

    def credential(kind: str, status: str = "verified", **fields: Any) -> Credential:
        return Credential(
            user_id=provider.id,
            owner_organization_ids=organizations,
            credential_type=kind,
            verification_status=status,
            **fields,
        )

    with Session(admin_engine) as setup:
        setup.add_all(
            [
                credential(
                    "medical_license",
                    number="036-123456",
                    state="IL",
                    issuer="Illinois IDFPR",
                    effective_date=dt.date(2024, 1, 1),
                    expiry_date=dt.date(2099, 7, 31),
                ),
                credential("board_certification", issuer="ABIM", specialty="Internal Medicine"),
                credential("medical_license", "unverified", number="X-1", state="IN"),
                credential("medical_license", "rejected", number="X-2", state="WI"),
                credential(
                    "medical_license", number="X-3", state="MI", expiry_date=dt.date(2020, 1, 1)
                ),
                credential("dea_registration", number="AP5836727", state="IL"),
            ]
        )
        setup.commit()

    token = token_for(client, seeded.a.admin)
    body = client.get(_url(seeded.a.organization.id), headers=bearer(token)).get_json(force=True)
    Bundle.model_validate(body)
    practitioner = _by_type(body)["Practitioner"][str(provider.id)]
    assert practitioner["qualification"] == [
        {
            "extension": [
                {
                    "url": PRACTITIONER_QUALIFICATION,
                    "extension": [{"url": "status", "valueCode": "active"}],
                }
            ],
            "code": {"text": "Board certification: Internal Medicine"},
            "issuer": {"display": "ABIM"},
        },
        {
            "extension": [
                {
                    "url": PRACTITIONER_QUALIFICATION,
                    "extension": [
                        {"url": "status", "valueCode": "active"},
                        {
                            "url": "whereValid",
                            "valueCodeableConcept": {
                                "coding": [{"system": USPS_STATES, "code": "IL"}]
                            },
                        },
                    ],
                }
            ],
            "code": {"text": "Medical license"},
            "identifier": [{"value": "036-123456"}],
            "period": {"start": "2024-01-01", "end": "2099-07-31"},
            "issuer": {"display": "Illinois IDFPR"},
        },
    ]
