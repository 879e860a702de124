"""The hierarchy endpoint: shape, depth, reach, and a constant number of statements."""

from __future__ import annotations

import uuid
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from app.models import Facility, Organization, PrimaryAssignment, ProviderFacility, User
from app.models.enums import Role
from app.schemas.facilities import FacilitySchema
from app.schemas.hierarchy import HierarchyProviderSchema
from app.schemas.organizations import OrganizationSchema
from tests import factories
from tests.api_helpers import counting_statements, grow_tenant
from tests.conftest import TwoTenants, bearer, token_for

FACILITIES = 200
PROVIDERS = 2000


def test_statement_count_does_not_grow_with_the_tenant(
    app: Flask, client: FlaskClient, seeded: TwoTenants, admin_engine: Engine
) -> None:
    small, big = seeded.a, seeded.b
    grow_tenant(admin_engine, big.organization.id, FACILITIES, PROVIDERS)
    counts = {}
    for tenant in (small, big):
        token = token_for(client, tenant.admin)
        url = f"/api/v1/admin/organizations/{tenant.organization.id}/hierarchy"
        with counting_statements(app) as statements:
            response = client.get(url, headers=bearer(token))
        assert response.status_code == 200
        counts[tenant.organization.name] = len(statements)
        body = response.get_json()
        providers = sum(len(f["providers"]) for f in body["facilities"])
        assert len(body["facilities"]) == (1 if tenant is small else FACILITIES + 1)
        assert providers == (1 if tenant is small else PROVIDERS + 1)
    assert counts["Tenant A"] == counts["Tenant B"], counts


def test_hierarchy_shape_depth_and_reach(
    client: FlaskClient, seeded: TwoTenants, admin_engine: Engine
) -> None:
    a = seeded.a
    with Session(admin_engine, expire_on_commit=False) as setup:
        child = factories.make_organization(
            setup, name="Child", parent_organization_id=a.organization.id
        )
        grandchild = factories.make_organization(
            setup, name="Grandchild", parent_organization_id=child.id
        )
        factories.make_facility(setup, child, name="Child Clinic")
        closed = factories.make_facility(setup, grandchild, name="Closed Clinic", active=False)
        provider = factories.make_user(setup)
        factories.make_membership(setup, provider, grandchild, Role.PROVIDER)
        factories.make_assignment(setup, provider, closed, status="inactive")
        setup.commit()

    token = token_for(client, a.admin)
    url = f"/api/v1/admin/organizations/{a.organization.id}/hierarchy"
    tree = client.get(url, headers=bearer(token)).get_json()
    assert tree["organization"]["name"] == "Tenant A"
    assert [f["facility"]["id"] for f in tree["facilities"]] == [str(a.facility.id)]
    assert tree["facilities"][0]["providers"][0]["is_primary"] is True
    (child_node,) = tree["children"]
    assert child_node["organization"]["name"] == "Child"
    (grandchild_node,) = child_node["children"]
    assert grandchild_node["facilities"] == []  # inactive facility left out by default

    shallow = client.get(f"{url}?depth=1", headers=bearer(token)).get_json()
    assert shallow["children"][0]["children"] == []
    everything = client.get(f"{url}?include_inactive=true", headers=bearer(token)).get_json()
    closed_node = everything["children"][0]["children"][0]["facilities"][0]
    assert closed_node["facility"]["name"] == "Closed Clinic"
    assert closed_node["providers"][0]["status"] == "inactive"

    assert client.get(f"{url}?depth=-1", headers=bearer(token)).status_code == 422
    other = f"/api/v1/admin/organizations/{seeded.b.organization.id}/hierarchy"
    assert client.get(other, headers=bearer(token)).status_code == 404
    provider_token = token_for(client, seeded.shared_provider, a.organization)
    assert client.get(url, headers=bearer(provider_token)).status_code == 403


def test_the_tree_holds_what_the_schemas_dump(
    client: FlaskClient, seeded: TwoTenants, admin_engine: Engine
) -> None:
    """The tree is sent as the domain builds it, not dumped through its schema: its
    organizations, facilities and providers must be what the schemas would make of them."""
    a = seeded.a
    with Session(admin_engine, expire_on_commit=False) as setup:
        child = factories.make_organization(
            setup,
            name="Child",
            parent_organization_id=a.organization.id,
            tax_id="12-3456789",
            primary_contact_name="Dana Doe",
            primary_contact_email="dana@example.com",
            primary_contact_phone="+15125550100",
        )
        clinic = factories.make_facility(
            setup,
            child,
            name="Child Clinic",
            npi=factories.unique_npi(),
            ptan="P-1",
            address="1 Main St",
            city="Austin",
            zip_code="78701-1234",
            phone="+15125550101",
            email="clinic@example.com",
        )
        provider = factories.make_user(setup, name="Ann Provider", npi=factories.unique_npi())
        factories.make_membership(setup, provider, child, Role.PROVIDER)
        assignment = factories.make_assignment(setup, provider, clinic, status="pending")
        setup.commit()

    token = token_for(client, a.admin)
    url = f"/api/v1/admin/organizations/{a.organization.id}/hierarchy"
    tree = client.get(url, headers=bearer(token)).get_json()

    with Session(admin_engine) as session:
        organizations = {o.id: o for o in session.scalars(select(Organization))}
        facilities = {f.id: f for f in session.scalars(select(Facility))}
        users = {u.id: u for u in session.scalars(select(User))}
        assignments = {pf.id: pf for pf in session.scalars(select(ProviderFacility))}
        primaries = set(
            session.execute(
                select(
                    PrimaryAssignment.user_id,
                    PrimaryAssignment.organization_id,
                    PrimaryAssignment.facility_id,
                )
            )
        )

    def check(node: dict[str, Any]) -> None:
        organization = organizations[uuid.UUID(node["organization"]["id"])]
        assert node["organization"] == OrganizationSchema().dump(organization)
        for entry in node["facilities"]:
            facility = facilities[uuid.UUID(entry["facility"]["id"])]
            assert entry["facility"] == FacilitySchema().dump(facility)
            for shown in entry["providers"]:
                held = assignments[uuid.UUID(shown["assignment_id"])]
                user = users[held.user_id]
                assert shown == HierarchyProviderSchema().dump(
                    {
                        "id": user.id,
                        "name": user.name,
                        "npi": user.npi,
                        "assignment_id": held.id,
                        "is_primary": held.status == "active"
                        and (held.user_id, held.organization_id, held.facility_id) in primaries,
                        "status": held.status,
                    }
                )
        for child_node in node["children"]:
            check(child_node)

    check(tree)
    (child_node,) = tree["children"]
    (entry,) = child_node["facilities"]
    assert entry["facility"]["zip_code"] == "78701-1234"
    assert entry["providers"][0]["assignment_id"] == str(assignment.id)
