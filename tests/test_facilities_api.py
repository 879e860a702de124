"""Facilities API through HTTP, as each kind of user."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from app.models import Organization
from app.models.enums import Role
from tests import factories
from tests.api_helpers import (
    committed_facility,
    committed_provider,
    refusal_of,
    set_office_manager,
    validation_errors,
)
from tests.conftest import TwoTenants, bearer, token_for

ADMIN = "/api/v1/admin"
FACILITIES = f"{ADMIN}/facilities"


def _create_url(organization: Organization) -> str:
    return f"{ADMIN}/organizations/{organization.id}/facilities"


def _row(admin_engine: Engine, facility_id: object) -> dict[str, Any]:
    with admin_engine.connect() as conn:
        row = conn.execute(
            text("SELECT * FROM facilities WHERE id = :f"), {"f": facility_id}
        ).mappings()
        return dict(row.one())


def _names(response: Any) -> list[str]:
    return [f["name"] for f in response.get_json()]


VALID_BODY = {
    "name": "Lakeside Wound Center",
    "facility_type": "wound_center",
    "npi": "1234567893",
    "ptan": "PT-0042",
    "address": "1 Lake Road",
    "city": "Austin",
    "state": "tx",
    "zip_code": "787011234",
    "phone": "(415) 555-2671",
    "email": "Front.Desk@Lakeside.Example.com",
}


# --- POST /organizations/{id}/facilities ------------------------------------------


def test_org_admin_creates_a_facility_with_normalised_contact_data(
    client: FlaskClient, seeded: TwoTenants
) -> None:
    token = token_for(client, seeded.a.admin)
    created = client.post(
        _create_url(seeded.a.organization), json=VALID_BODY, headers=bearer(token)
    )
    assert created.status_code == 201, created.get_json()
    body = created.get_json()
    assert body["organization_id"] == str(seeded.a.organization.id)
    assert body["state"] == "TX"
    assert body["zip_code"] == "78701-1234"
    assert body["phone"] == "+14155552671"
    assert body["email"] == "Front.Desk@lakeside.example.com"
    assert body["npi"] == "1234567893" and body["ptan"] == "PT-0042"
    assert body["mac_jurisdiction"] == "JH"
    assert body["place_of_service"] == "11"
    assert body["active"] is True and body["office_manager_id"] is None

    fetched = client.get(f"{FACILITIES}/{body['id']}", headers=bearer(token))
    assert fetched.status_code == 200
    assert fetched.get_json() == body


def test_every_valid_npi_is_accepted(client: FlaskClient, seeded: TwoTenants) -> None:
    token = token_for(client, seeded.a.admin)
    for npi in ("1234567893", "1558598797", "1528060837", "1003347634"):
        body = {"name": f"NPI {npi}", "facility_type": "clinic", "state": "TX", "npi": npi}
        response = client.post(_create_url(seeded.a.organization), json=body, headers=bearer(token))
        assert response.status_code == 201, (npi, response.get_json())
        assert response.get_json()["npi"] == npi


def test_npi_with_a_wrong_check_digit_is_422_naming_npi(
    client: FlaskClient, seeded: TwoTenants
) -> None:
    token = token_for(client, seeded.a.admin)
    for npi in ("1234567890", "1093791627", "123456789", "3234567893", "12345678ab"):
        body = {"name": "Bad NPI", "facility_type": "clinic", "state": "TX", "npi": npi}
        response = client.post(_create_url(seeded.a.organization), json=body, headers=bearer(token))
        assert response.status_code == 422, npi
        assert set(validation_errors(response)) == {"npi"}, npi


def test_mac_jurisdiction_is_derived_from_the_state(
    client: FlaskClient, seeded: TwoTenants
) -> None:
    token = token_for(client, seeded.a.admin)
    for state, jurisdiction in (("TX", "JH"), ("IL", "J6"), ("CA", "JE"), ("FL", "JN")):
        body = {"name": f"In {state}", "facility_type": "clinic", "state": state}
        response = client.post(_create_url(seeded.a.organization), json=body, headers=bearer(token))
        assert response.status_code == 201
        assert response.get_json()["mac_jurisdiction"] == jurisdiction, state


def test_a_given_mac_jurisdiction_is_kept(client: FlaskClient, seeded: TwoTenants) -> None:
    """Arlington, VA is in JL for Part B although Virginia is JM."""
    token = token_for(client, seeded.a.admin)
    body = {
        "name": "Arlington Clinic",
        "facility_type": "clinic",
        "state": "VA",
        "mac_jurisdiction": "JL",
    }
    response = client.post(_create_url(seeded.a.organization), json=body, headers=bearer(token))
    assert response.status_code == 201
    assert response.get_json()["mac_jurisdiction"] == "JL"


def test_create_validation_names_every_offending_field(
    client: FlaskClient, seeded: TwoTenants
) -> None:
    token = token_for(client, seeded.a.admin)
    response = client.post(
        _create_url(seeded.a.organization),
        json={
            "name": "",
            "facility_type": "castle",
            "state": "Texas",
            "npi": "1234567890",
            "zip_code": "1234",
            "phone": "12",
            "email": "not-an-email",
            "place_of_service": "77",
            "mac_jurisdiction": "X1",
            "organization_id": str(seeded.b.organization.id),
            "surprise": True,
        },
        headers=bearer(token),
    )
    assert response.status_code == 422
    assert set(validation_errors(response)) == {
        "name",
        "facility_type",
        "state",
        "npi",
        "zip_code",
        "phone",
        "email",
        "place_of_service",
        "mac_jurisdiction",
        "organization_id",
        "surprise",
    }
    missing = client.post(_create_url(seeded.a.organization), json={}, headers=bearer(token))
    assert missing.status_code == 422
    assert set(validation_errors(missing)) == {"name", "facility_type", "state"}


def test_place_of_service_from_the_cms_list_is_accepted(
    client: FlaskClient, seeded: TwoTenants
) -> None:
    token = token_for(client, seeded.a.admin)
    body = {"name": "SNF", "facility_type": "snf", "state": "TX", "place_of_service": "31"}
    response = client.post(_create_url(seeded.a.organization), json=body, headers=bearer(token))
    assert response.status_code == 201
    assert response.get_json()["place_of_service"] == "31"


def test_unknown_state_or_jurisdiction_code_is_422_naming_it(
    client: FlaskClient, seeded: TwoTenants, admin_engine: Engine
) -> None:
    token = token_for(client, seeded.a.admin)
    url = _create_url(seeded.a.organization)
    state = client.post(
        url,
        json={"name": "Nowhere", "facility_type": "clinic", "state": "ZZ"},
        headers=bearer(token),
    )
    assert state.status_code == 422
    assert set(validation_errors(state)) == {"state"}
    jurisdiction = client.post(
        url,
        json={
            "name": "Nowhere",
            "facility_type": "clinic",
            "state": "TX",
            "mac_jurisdiction": "JZ",
        },
        headers=bearer(token),
    )
    assert jurisdiction.status_code == 422
    assert set(validation_errors(jurisdiction)) == {"mac_jurisdiction"}
    with admin_engine.connect() as conn:
        named = conn.execute(text("SELECT count(*) FROM facilities WHERE name = 'Nowhere'"))
        assert named.scalar_one() == 0


def test_office_manager_of_another_organization_is_422_naming_the_field(
    client: FlaskClient, seeded: TwoTenants
) -> None:
    token = token_for(client, seeded.a.admin)
    url = _create_url(seeded.a.organization)
    for someone in (seeded.b.office_manager, seeded.shared_provider, seeded.a.admin):
        body = {
            "name": "Managed",
            "facility_type": "clinic",
            "state": "TX",
            "office_manager_id": str(someone.id),
        }
        response = client.post(url, json=body, headers=bearer(token))
        assert response.status_code == 422, someone.email
        assert set(validation_errors(response)) == {"office_manager_id"}
    own = client.post(
        url,
        json={
            "name": "Managed",
            "facility_type": "clinic",
            "state": "TX",
            "office_manager_id": str(seeded.a.office_manager.id),
        },
        headers=bearer(token),
    )
    assert own.status_code == 201
    assert own.get_json()["office_manager_id"] == str(seeded.a.office_manager.id)


def test_office_manager_and_provider_cannot_create_facilities(
    client: FlaskClient, seeded: TwoTenants, admin_engine: Engine
) -> None:
    body = {"name": "Not Allowed", "facility_type": "clinic", "state": "TX"}
    for user in (seeded.a.office_manager, seeded.shared_provider):
        token = token_for(client, user, seeded.a.organization)
        response = client.post(_create_url(seeded.a.organization), json=body, headers=bearer(token))
        assert response.status_code == 403
        assert "manage-facilities" in response.get_json()["detail"]
    with admin_engine.connect() as conn:
        count = conn.execute(text("SELECT count(*) FROM facilities WHERE name = 'Not Allowed'"))
        assert count.scalar_one() == 0


def test_org_admin_cannot_create_a_facility_in_another_tenant(
    client: FlaskClient, seeded: TwoTenants, admin_engine: Engine
) -> None:
    token = token_for(client, seeded.a.admin)
    body = {"name": "Planted", "facility_type": "clinic", "state": "TX"}
    foreign = client.post(_create_url(seeded.b.organization), json=body, headers=bearer(token))
    assert foreign.status_code == 404
    unknown = client.post(
        f"{ADMIN}/organizations/{uuid.uuid4()}/facilities", json=body, headers=bearer(token)
    )
    assert unknown.status_code == 404
    assert foreign.get_json()["detail"] == unknown.get_json()["detail"]
    with admin_engine.connect() as conn:
        count = conn.execute(text("SELECT count(*) FROM facilities WHERE name = 'Planted'"))
        assert count.scalar_one() == 0


def test_msc_admin_creates_a_facility_in_any_tenant_audited_as_cross_tenant(
    client: FlaskClient, seeded: TwoTenants, admin_engine: Engine
) -> None:
    token = token_for(client, seeded.msc_admin)
    body = {"name": "MSC Made", "facility_type": "hospital", "state": "IL"}
    response = client.post(_create_url(seeded.b.organization), json=body, headers=bearer(token))
    assert response.status_code == 201, response.get_json()
    created = response.get_json()
    assert created["organization_id"] == str(seeded.b.organization.id)
    assert created["mac_jurisdiction"] == "J6"
    with admin_engine.connect() as conn:
        event = conn.execute(
            text(
                "SELECT organization_id, actor_user_id, cross_tenant FROM audit_events"
                " WHERE table_name = 'facilities' AND action = 'insert' AND row_id = :id"
            ),
            {"id": created["id"]},
        ).one()
    assert tuple(event) == (seeded.b.organization.id, seeded.msc_admin.id, True)
    # B's own admin sees the new facility; A's does not.
    b_token = token_for(client, seeded.b.admin)
    assert client.get(f"{FACILITIES}/{created['id']}", headers=bearer(b_token)).status_code == 200
    a_token = token_for(client, seeded.a.admin)
    assert client.get(f"{FACILITIES}/{created['id']}", headers=bearer(a_token)).status_code == 404


def test_org_admin_creating_in_own_tenant_is_not_cross_tenant(
    client: FlaskClient, seeded: TwoTenants, admin_engine: Engine
) -> None:
    token = token_for(client, seeded.a.admin)
    body = {"name": "Own", "facility_type": "clinic", "state": "TX"}
    created = client.post(_create_url(seeded.a.organization), json=body, headers=bearer(token))
    with admin_engine.connect() as conn:
        event = conn.execute(
            text(
                "SELECT actor_user_id, cross_tenant FROM audit_events"
                " WHERE table_name = 'facilities' AND action = 'insert' AND row_id = :id"
            ),
            {"id": created.get_json()["id"]},
        ).one()
    assert tuple(event) == (seeded.a.admin.id, False)


# --- GET /facilities ---------------------------------------------------------------


def test_list_paginates_in_a_deterministic_order(
    client: FlaskClient, seeded: TwoTenants, admin_engine: Engine
) -> None:
    a = seeded.a.organization
    for name in ("Delta", "Alpha", "Charlie", "Bravo", "Bravo"):
        committed_facility(admin_engine, a, name=name)
    token = token_for(client, seeded.a.admin)
    full = client.get(f"{FACILITIES}?page_size=100", headers=bearer(token))
    assert full.status_code == 200
    everything = full.get_json()
    assert [f["name"] for f in everything][:5] == ["Alpha", "Bravo", "Bravo", "Charlie", "Delta"]
    assert len(everything) == 6  # and the seeded one
    # the two "Bravo" rows are ordered by id, every time
    bravos = [f["id"] for f in everything if f["name"] == "Bravo"]
    assert bravos == sorted(bravos)

    pages: list[dict[str, Any]] = []
    for page in (1, 2, 3):
        response = client.get(f"{FACILITIES}?page={page}&page_size=2", headers=bearer(token))
        assert response.status_code == 200
        meta = json.loads(response.headers["X-Pagination"])
        assert meta["total"] == 6 and meta["total_pages"] == 3 and meta["page"] == page
        pages.extend(response.get_json())
    assert [f["id"] for f in pages] == [f["id"] for f in everything]
    past = client.get(f"{FACILITIES}?page=9&page_size=2", headers=bearer(token))
    assert past.status_code == 200 and past.get_json() == []


def test_page_size_above_100_is_422(client: FlaskClient, seeded: TwoTenants) -> None:
    token = token_for(client, seeded.a.admin)
    assert client.get(f"{FACILITIES}?page_size=100", headers=bearer(token)).status_code == 200
    too_big = client.get(f"{FACILITIES}?page_size=101", headers=bearer(token))
    assert too_big.status_code == 422
    assert "page_size" in too_big.get_json()["errors"]["query"]
    assert client.get(f"{FACILITIES}?page_size=0", headers=bearer(token)).status_code == 422


def test_list_filters_by_type_state_active_and_name(
    client: FlaskClient, seeded: TwoTenants, admin_engine: Engine
) -> None:
    a = seeded.a.organization
    committed_facility(admin_engine, a, name="North Hospital", facility_type="hospital", state="IL")
    committed_facility(
        admin_engine, a, name="South Wound Care", facility_type="wound_center", state="FL"
    )
    committed_facility(admin_engine, a, name="Closed 100% Clinic", state="FL", active=False)
    token = token_for(client, seeded.a.admin)

    def names(query: str) -> list[str]:
        response = client.get(f"{FACILITIES}?{query}", headers=bearer(token))
        assert response.status_code == 200, response.get_json()
        return _names(response)

    assert names("facility_type=hospital") == ["North Hospital"]
    assert names("state=fl") == ["Closed 100% Clinic", "South Wound Care"]
    assert names("active=false") == ["Closed 100% Clinic"]
    assert len(names("active=true")) == 3
    assert names("name=WOUND") == ["South Wound Care"]
    assert names("name=100%25") == ["Closed 100% Clinic"]
    assert names("name=%25") == ["Closed 100% Clinic"]  # % matched literally
    assert names("state=FL&active=true") == ["South Wound Care"]
    assert names(f"organization_id={seeded.b.organization.id}") == []


def test_list_sorts(client: FlaskClient, seeded: TwoTenants, admin_engine: Engine) -> None:
    a = seeded.a.organization
    committed_facility(admin_engine, a, name="Zulu", state="CA")
    committed_facility(admin_engine, a, name="Alpha", state="WA")
    seeded_name = seeded.a.facility.name  # state TX
    token = token_for(client, seeded.a.admin)

    def names(sort: str) -> list[str]:
        response = client.get(f"{FACILITIES}?sort={sort}", headers=bearer(token))
        assert response.status_code == 200
        return _names(response)

    assert names("name") == sorted(["Zulu", "Alpha", seeded_name])
    assert names("-name") == sorted(["Zulu", "Alpha", seeded_name], reverse=True)
    assert names("state") == ["Zulu", seeded_name, "Alpha"]
    assert names("created_at")[0] == seeded_name
    assert names("-created_at")[-1] == seeded_name


def test_list_rejects_invalid_filters_naming_them(client: FlaskClient, seeded: TwoTenants) -> None:
    token = token_for(client, seeded.a.admin)
    response = client.get(
        f"{FACILITIES}?sort=npi&facility_type=castle&state=T1&active=maybe"
        "&organization_id=nope&name=",
        headers=bearer(token),
    )
    assert response.status_code == 422
    assert set(response.get_json()["errors"]["query"]) == {
        "sort",
        "facility_type",
        "state",
        "active",
        "organization_id",
        "name",
    }


def test_each_org_admin_lists_only_own_facilities(client: FlaskClient, seeded: TwoTenants) -> None:
    for tenant in (seeded.a, seeded.b):
        token = token_for(client, tenant.admin)
        response = client.get(FACILITIES, headers=bearer(token))
        assert response.status_code == 200
        assert [f["id"] for f in response.get_json()] == [str(tenant.facility.id)]
        assert json.loads(response.headers["X-Pagination"])["total"] == 1


def test_msc_admin_lists_both_tenants_and_filters_by_organization(
    client: FlaskClient, seeded: TwoTenants
) -> None:
    token = token_for(client, seeded.msc_admin)
    everything = client.get(FACILITIES, headers=bearer(token)).get_json()
    assert {f["id"] for f in everything} == {str(seeded.a.facility.id), str(seeded.b.facility.id)}
    only_b = client.get(
        f"{FACILITIES}?organization_id={seeded.b.organization.id}", headers=bearer(token)
    )
    assert [f["id"] for f in only_b.get_json()] == [str(seeded.b.facility.id)]


def test_provider_cannot_list_or_read_facilities(client: FlaskClient, seeded: TwoTenants) -> None:
    token = token_for(client, seeded.shared_provider, seeded.a.organization)
    for url in (
        FACILITIES,
        f"{FACILITIES}/{seeded.a.facility.id}",
        f"{FACILITIES}/{seeded.a.facility.id}/providers",
    ):
        response = client.get(url, headers=bearer(token))
        assert response.status_code == 403, url
        assert "permission" in response.get_json()["detail"]


def test_list_shows_only_facilities_of_the_active_organization(
    client: FlaskClient, seeded: TwoTenants, admin_engine: Engine
) -> None:
    """A's admin who also works as a provider at B acts for A: B's facility is not one of
    the facilities A's admin manages (GET by id already answers 404 for it)."""
    with Session(admin_engine, expire_on_commit=False) as session:
        factories.make_membership(session, seeded.a.admin, seeded.b.organization, Role.PROVIDER)
        factories.make_assignment(session, seeded.a.admin, seeded.b.facility)
        session.commit()
    token = token_for(client, seeded.a.admin, seeded.a.organization)
    detail = client.get(f"{FACILITIES}/{seeded.b.facility.id}", headers=bearer(token))
    assert detail.status_code == 404
    listed = client.get(FACILITIES, headers=bearer(token))
    assert listed.status_code == 200
    assert [f["id"] for f in listed.get_json()] == [str(seeded.a.facility.id)]


# --- GET /facilities/{id} ------------------------------------------------------------


def test_another_tenants_or_unknown_facility_is_404(
    client: FlaskClient, seeded: TwoTenants
) -> None:
    token = token_for(client, seeded.a.admin)
    assert (
        client.get(f"{FACILITIES}/{seeded.a.facility.id}", headers=bearer(token)).status_code == 200
    )
    foreign = client.get(f"{FACILITIES}/{seeded.b.facility.id}", headers=bearer(token))
    unknown = client.get(f"{FACILITIES}/{uuid.uuid4()}", headers=bearer(token))
    assert foreign.status_code == unknown.status_code == 404
    assert refusal_of(foreign) == refusal_of(unknown)
    assert client.get(f"{FACILITIES}/not-a-uuid", headers=bearer(token)).status_code == 404


def test_msc_admin_reads_any_tenants_facility(client: FlaskClient, seeded: TwoTenants) -> None:
    token = token_for(client, seeded.msc_admin)
    response = client.get(f"{FACILITIES}/{seeded.b.facility.id}", headers=bearer(token))
    assert response.status_code == 200
    assert response.get_json()["organization_id"] == str(seeded.b.organization.id)


# --- PUT /facilities/{id} ------------------------------------------------------------


def test_org_admin_updates_a_facility(
    client: FlaskClient, seeded: TwoTenants, admin_engine: Engine
) -> None:
    token = token_for(client, seeded.a.admin)
    url = f"{FACILITIES}/{seeded.a.facility.id}"
    response = client.put(
        url,
        json={
            "name": "Renamed",
            "npi": "1558598797",
            "phone": "415 555 2671",
            "zip_code": "12345-6789",
            "email": "Ops@Example.COM",
            "place_of_service": "22",
            "facility_type": "hospital",
            "active": False,
            "office_manager_id": str(seeded.a.office_manager.id),
        },
        headers=bearer(token),
    )
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["name"] == "Renamed" and body["npi"] == "1558598797"
    assert body["phone"] == "+14155552671" and body["zip_code"] == "12345-6789"
    assert body["email"] == "Ops@example.com" and body["place_of_service"] == "22"
    assert body["facility_type"] == "hospital" and body["active"] is False
    assert body["office_manager_id"] == str(seeded.a.office_manager.id)
    assert body["state"] == "TX" and body["mac_jurisdiction"] == "JH"  # untouched
    stored = _row(admin_engine, seeded.a.facility.id)
    assert stored["name"] == "Renamed" and stored["active"] is False


def test_state_change_rederives_the_jurisdiction_unless_one_is_given(
    client: FlaskClient, seeded: TwoTenants
) -> None:
    token = token_for(client, seeded.a.admin)
    url = f"{FACILITIES}/{seeded.a.facility.id}"  # TX, JH

    def put(body: dict[str, Any]) -> dict[str, Any]:
        response = client.put(url, json=body, headers=bearer(token))
        assert response.status_code == 200, response.get_json()
        result: dict[str, Any] = response.get_json()
        return result

    assert put({"state": "IL"})["mac_jurisdiction"] == "J6"
    assert put({"state": "ca"})["mac_jurisdiction"] == "JE"
    assert put({"state": "VA", "mac_jurisdiction": "JL"})["mac_jurisdiction"] == "JL"
    assert put({"name": "Still in VA"})["mac_jurisdiction"] == "JL"
    assert put({"state": "FL"})["mac_jurisdiction"] == "JN"


def test_state_change_keeps_a_given_jurisdiction_equal_to_the_old_one(
    client: FlaskClient, seeded: TwoTenants, admin_engine: Engine
) -> None:
    """A DC clinic (JL) moves to Arlington, VA, which Part B also serves from JL: the
    jurisdiction the caller sends must be kept, even though it did not change."""
    dc = committed_facility(admin_engine, seeded.a.organization, name="DC Clinic", state="DC")
    assert _row(admin_engine, dc.id)["mac_jurisdiction"] == "JL"
    token = token_for(client, seeded.a.admin)
    response = client.put(
        f"{FACILITIES}/{dc.id}",
        json={"state": "VA", "city": "Arlington", "mac_jurisdiction": "JL"},
        headers=bearer(token),
    )
    assert response.status_code == 200
    assert response.get_json()["state"] == "VA"
    assert response.get_json()["mac_jurisdiction"] == "JL"


def test_update_validation_names_the_offending_field(
    client: FlaskClient, seeded: TwoTenants, admin_engine: Engine
) -> None:
    token = token_for(client, seeded.a.admin)
    url = f"{FACILITIES}/{seeded.a.facility.id}"
    cases: list[tuple[dict[str, Any], str]] = [
        ({"npi": "1093791627"}, "npi"),
        ({"state": "ZZ"}, "state"),
        ({"state": None}, "state"),
        ({"zip_code": "123456"}, "zip_code"),
        ({"phone": "555"}, "phone"),
        ({"email": "@nowhere"}, "email"),
        ({"place_of_service": "77"}, "place_of_service"),
        ({"name": ""}, "name"),
        ({"active": "sometimes"}, "active"),
        ({"office_manager_id": str(seeded.b.office_manager.id)}, "office_manager_id"),
        ({"office_manager_id": str(seeded.shared_provider.id)}, "office_manager_id"),
        ({"id": str(uuid.uuid4())}, "id"),
    ]
    for body, field in cases:
        response = client.put(url, json=body, headers=bearer(token))
        assert response.status_code == 422, body
        assert set(validation_errors(response)) == {field}, body
    stored = _row(admin_engine, seeded.a.facility.id)
    assert stored["state"] == "TX" and stored["office_manager_id"] is None


def test_org_admin_cannot_update_another_tenants_facility(
    client: FlaskClient, seeded: TwoTenants, admin_engine: Engine
) -> None:
    token = token_for(client, seeded.a.admin)
    response = client.put(
        f"{FACILITIES}/{seeded.b.facility.id}", json={"name": "Taken"}, headers=bearer(token)
    )
    assert response.status_code == 404
    assert _row(admin_engine, seeded.b.facility.id)["name"] == seeded.b.facility.name


def test_provider_cannot_update_a_facility(
    client: FlaskClient, seeded: TwoTenants, admin_engine: Engine
) -> None:
    token = token_for(client, seeded.shared_provider, seeded.a.organization)
    response = client.put(
        f"{FACILITIES}/{seeded.a.facility.id}", json={"name": "Mine"}, headers=bearer(token)
    )
    assert response.status_code == 403
    assert _row(admin_engine, seeded.a.facility.id)["name"] == seeded.a.facility.name


def test_msc_admin_updates_another_tenants_facility_audited_as_cross_tenant(
    client: FlaskClient, seeded: TwoTenants, admin_engine: Engine
) -> None:
    token = token_for(client, seeded.msc_admin)
    response = client.put(
        f"{FACILITIES}/{seeded.b.facility.id}", json={"active": False}, headers=bearer(token)
    )
    assert response.status_code == 200 and response.get_json()["active"] is False
    with admin_engine.connect() as conn:
        event = conn.execute(
            text(
                "SELECT cross_tenant, changes FROM audit_events"
                " WHERE table_name = 'facilities' AND action = 'update' AND row_id = :id"
            ),
            {"id": seeded.b.facility.id},
        ).one()
    assert event.cross_tenant is True
    assert event.changes["active"] == {"old": True, "new": False}


# --- office managers -------------------------------------------------------------------


def test_office_manager_sees_only_the_facilities_they_manage(
    client: FlaskClient, seeded: TwoTenants, admin_engine: Engine
) -> None:
    a = seeded.a
    other = committed_facility(admin_engine, a.organization, name="Other Clinic")
    manager_token = token_for(client, a.office_manager)
    # managing nothing yet: nothing visible
    nothing = client.get(FACILITIES, headers=bearer(manager_token))
    assert nothing.status_code == 200 and nothing.get_json() == []
    assert json.loads(nothing.headers["X-Pagination"])["total"] == 0

    admin_token = token_for(client, a.admin)
    assigned = client.put(
        f"{FACILITIES}/{a.facility.id}",
        json={"office_manager_id": str(a.office_manager.id)},
        headers=bearer(admin_token),
    )
    assert assigned.status_code == 200

    manager_token = token_for(client, a.office_manager)
    listed = client.get(FACILITIES, headers=bearer(manager_token))
    assert [f["id"] for f in listed.get_json()] == [str(a.facility.id)]
    own = client.get(f"{FACILITIES}/{a.facility.id}", headers=bearer(manager_token))
    assert own.status_code == 200 and own.get_json()["office_manager_id"] == str(
        a.office_manager.id
    )
    assert client.get(f"{FACILITIES}/{other.id}", headers=bearer(manager_token)).status_code == 404
    foreign = client.get(f"{FACILITIES}/{seeded.b.facility.id}", headers=bearer(manager_token))
    assert foreign.status_code == 404


def test_office_manager_updates_contact_fields_of_a_managed_facility(
    client: FlaskClient, seeded: TwoTenants, admin_engine: Engine
) -> None:
    a = seeded.a
    set_office_manager(admin_engine, a.facility, a.office_manager)
    token = token_for(client, a.office_manager)
    response = client.put(
        f"{FACILITIES}/{a.facility.id}",
        json={
            "name": "Front Desk Name",
            "address": "2 Main St",
            "city": "Chicago",
            "state": "IL",
            "zip_code": "606011234",
            "phone": "(415) 555-2671",
            "email": "desk@example.com",
            "place_of_service": "49",
        },
        headers=bearer(token),
    )
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["name"] == "Front Desk Name" and body["city"] == "Chicago"
    assert body["zip_code"] == "60601-1234" and body["phone"] == "+14155552671"
    assert body["mac_jurisdiction"] == "J6" and body["place_of_service"] == "49"
    assert body["office_manager_id"] == str(a.office_manager.id)


def test_office_manager_cannot_change_identity_type_manager_or_active(
    client: FlaskClient, seeded: TwoTenants, admin_engine: Engine
) -> None:
    a = seeded.a
    set_office_manager(admin_engine, a.facility, a.office_manager)
    before = _row(admin_engine, a.facility.id)
    token = token_for(client, a.office_manager)
    url = f"{FACILITIES}/{a.facility.id}"
    for field, value in (
        ("active", False),
        ("office_manager_id", None),
        ("npi", "1528060837"),
        ("facility_type", "hospital"),
    ):
        response = client.put(url, json={field: value, "city": "Dallas"}, headers=bearer(token))
        assert response.status_code == 403, field
        assert set(validation_errors(response)) == {field}
    after = _row(admin_engine, a.facility.id)
    assert after == before


def test_office_manager_cannot_update_a_facility_they_do_not_manage(
    client: FlaskClient, seeded: TwoTenants, admin_engine: Engine
) -> None:
    a = seeded.a
    set_office_manager(admin_engine, a.facility, a.office_manager)
    other = committed_facility(admin_engine, a.organization, name="Someone Else's")
    token = token_for(client, a.office_manager)
    response = client.put(f"{FACILITIES}/{other.id}", json={"city": "X"}, headers=bearer(token))
    assert response.status_code == 404
    foreign = client.put(
        f"{FACILITIES}/{seeded.b.facility.id}", json={"city": "X"}, headers=bearer(token)
    )
    assert foreign.status_code == 404
    assert _row(admin_engine, other.id)["city"] is None


# --- GET /facilities/{id}/providers ---------------------------------------------------


def test_org_admin_lists_a_facilitys_providers_with_their_phone(
    client: FlaskClient, seeded: TwoTenants, admin_engine: Engine
) -> None:
    with admin_engine.begin() as conn:
        conn.execute(
            text("UPDATE users SET phone = '+14155552671' WHERE id = :u"),
            {"u": seeded.shared_provider.id},
        )
    token = token_for(client, seeded.a.admin)
    response = client.get(f"{FACILITIES}/{seeded.a.facility.id}/providers", headers=bearer(token))
    assert response.status_code == 200
    assert json.loads(response.headers["X-Pagination"])["total"] == 1
    [row] = response.get_json()
    assert row["id"] == str(seeded.shared_provider.id)
    assert row["email"] == seeded.shared_provider.email
    assert row["npi"] == seeded.shared_provider.npi
    assert row["phone"] == "+14155552671"
    assert row["is_primary"] is True and row["status"] == "active"
    assert row["start_date"] == "2026-01-01" and row["end_date"] is None
    # B's admin sees B's own assignment of the same provider, not A's
    b_token = token_for(client, seeded.b.admin)
    [b_row] = client.get(
        f"{FACILITIES}/{seeded.b.facility.id}/providers", headers=bearer(b_token)
    ).get_json()
    assert b_row["is_primary"] is False and b_row["assignment_id"] != row["assignment_id"]


def test_facility_providers_of_another_tenant_are_404(
    client: FlaskClient, seeded: TwoTenants
) -> None:
    token = token_for(client, seeded.a.admin)
    response = client.get(f"{FACILITIES}/{seeded.b.facility.id}/providers", headers=bearer(token))
    assert response.status_code == 404
    unknown = client.get(f"{FACILITIES}/{uuid.uuid4()}/providers", headers=bearer(token))
    assert unknown.status_code == 404


def test_office_manager_sees_managed_facilitys_providers_without_phone(
    client: FlaskClient, seeded: TwoTenants, admin_engine: Engine
) -> None:
    a = seeded.a
    set_office_manager(admin_engine, a.facility, a.office_manager)
    other = committed_facility(admin_engine, a.organization, name="Other Clinic")
    elsewhere = committed_provider(admin_engine, a.organization, other, phone="+14155550100")
    with admin_engine.begin() as conn:
        conn.execute(
            text("UPDATE users SET phone = '+14155552671' WHERE id = :u"),
            {"u": seeded.shared_provider.id},
        )
    token = token_for(client, a.office_manager)
    own = client.get(f"{FACILITIES}/{a.facility.id}/providers", headers=bearer(token))
    assert own.status_code == 200
    [row] = own.get_json()
    assert row["id"] == str(seeded.shared_provider.id)
    assert row["phone"] is None
    hidden = client.get(f"{FACILITIES}/{other.id}/providers", headers=bearer(token))
    assert hidden.status_code == 404
    assert str(elsewhere.id) not in hidden.get_data(as_text=True)


def test_facility_providers_list_current_assignments_before_ended_ones(
    client: FlaskClient, seeded: TwoTenants, admin_engine: Engine
) -> None:
    """Active first, then pending (current, not yet started), then ended history."""
    a = seeded.a
    with Session(admin_engine, expire_on_commit=False) as session:
        people = {}
        for label in ("ended", "upcoming"):
            person = factories.make_user(session, name=f"Aaron {label}")
            factories.make_membership(session, person, a.organization, Role.PROVIDER)
            people[label] = person
        factories.make_assignment(
            session,
            people["ended"],
            a.facility,
            status="inactive",
            end_date=dt.date(2026, 2, 1),
        )
        factories.make_assignment(
            session,
            people["upcoming"],
            a.facility,
            status="pending",
            start_date=dt.date(2099, 1, 1),
        )
        session.commit()
    token = token_for(client, a.admin)
    response = client.get(f"{FACILITIES}/{a.facility.id}/providers", headers=bearer(token))
    assert response.status_code == 200
    assert [r["status"] for r in response.get_json()] == ["active", "pending", "inactive"]


def test_the_places_of_service_a_facility_takes_are_listed_with_their_names(
    client: FlaskClient, seeded: TwoTenants
) -> None:
    path = "/api/v1/reference/places-of-service"
    assert client.get(path).status_code == 401
    token = token_for(client, seeded.a.office_manager, seeded.a.organization)
    listed = client.get(path, headers=bearer(token)).get_json()
    names = {entry["code"]: entry["name"] for entry in listed}
    assert [entry["code"] for entry in listed] == sorted(names)
    # As CMS names them.
    assert (names["11"], names["31"], names["99"]) == (
        "Office",
        "Skilled nursing facility",
        "Other place of service",
    )
    # Exactly the codes a facility's place_of_service takes.
    refused = client.post(
        f"/api/v1/admin/organizations/{seeded.a.organization.id}/facilities",
        json={"name": "X", "facility_type": "clinic", "state": "CA", "place_of_service": "98"},
        headers=bearer(token_for(client, seeded.a.admin, seeded.a.organization)),
    )
    assert refused.status_code == 422
    allowed = refused.get_json()["errors"]["json"]["place_of_service"][0]
    assert all(code in allowed for code in names)
