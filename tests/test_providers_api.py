"""Providers and their facility assignments through HTTP, as each kind of user."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from app import clock
from app.models import Facility, ProviderFacility, User
from tests.api_helpers import (
    assignment_id_of,
    assignment_rows,
    committed_facility,
    committed_provider,
    primary_assignment_ids,
    refusal_of,
    set_office_manager,
    validation_errors,
)
from tests.conftest import TwoTenants, bearer, token_for

PROVIDERS = "/api/v1/admin/providers"
TODAY = clock.today()


def _set_phone(admin_engine: Engine, user: User, phone: str) -> None:
    with admin_engine.begin() as conn:
        conn.execute(text("UPDATE users SET phone = :p WHERE id = :u"), {"p": phone, "u": user.id})


def _assign(client: FlaskClient, token: str, provider: User, **body: Any) -> Any:
    body = {
        key: str(value) if isinstance(value, uuid.UUID) else value for key, value in body.items()
    }
    return client.post(
        f"{PROVIDERS}/{provider.id}/assign-facility", json=body, headers=bearer(token)
    )


def _end(
    client: FlaskClient, token: str, provider: User, assignment_id: object, **body: Any
) -> Any:
    return client.post(
        f"{PROVIDERS}/{provider.id}/assignments/{assignment_id}/end",
        json=body,
        headers=bearer(token),
    )


# --- GET /providers ---------------------------------------------------------------------


def test_org_admin_lists_own_providers_with_their_phone(
    client: FlaskClient, seeded: TwoTenants, admin_engine: Engine
) -> None:
    _set_phone(admin_engine, seeded.shared_provider, "+14155552671")
    token = token_for(client, seeded.a.admin)
    response = client.get(PROVIDERS, headers=bearer(token))
    assert response.status_code == 200
    assert json.loads(response.headers["X-Pagination"])["total"] == 1
    assert response.get_json() == [
        {
            "id": str(seeded.shared_provider.id),
            "name": seeded.shared_provider.name,
            "email": seeded.shared_provider.email,
            "npi": seeded.shared_provider.npi,
            "phone": "+14155552671",
            "date_of_birth": None,
            "organization_id": str(seeded.a.organization.id),
            "status": "active",
            "primary_facility_id": str(seeded.a.facility.id),
        }
    ]
    # B's admin sees B's membership; the primary facility (at A) is not disclosed
    [b_row] = client.get(PROVIDERS, headers=bearer(token_for(client, seeded.b.admin))).get_json()
    assert b_row["organization_id"] == str(seeded.b.organization.id)
    assert b_row["primary_facility_id"] is None and b_row["status"] == "active"


def test_office_manager_sees_only_providers_at_managed_facilities_without_phone(
    client: FlaskClient, seeded: TwoTenants, admin_engine: Engine
) -> None:
    a = seeded.a
    set_office_manager(admin_engine, a.facility, a.office_manager)
    other = committed_facility(admin_engine, a.organization, name="Other Clinic")
    elsewhere = committed_provider(admin_engine, a.organization, other, name="Elsewhere Person")
    _set_phone(admin_engine, seeded.shared_provider, "+14155552671")
    token = token_for(client, a.office_manager)
    response = client.get(PROVIDERS, headers=bearer(token))
    assert response.status_code == 200
    [row] = response.get_json()
    assert row["id"] == str(seeded.shared_provider.id)
    assert row["phone"] is None
    assert row["organization_id"] == str(a.organization.id)
    assert str(elsewhere.id) not in response.get_data(as_text=True)


def test_office_manager_managing_nothing_sees_no_providers(
    client: FlaskClient, seeded: TwoTenants
) -> None:
    response = client.get(PROVIDERS, headers=bearer(token_for(client, seeded.a.office_manager)))
    assert response.status_code == 200 and response.get_json() == []


def _filter_fixture(admin_engine: Engine, seeded: TwoTenants) -> tuple[Facility, User, User]:
    """A second facility of A with a pending and an ended provider."""
    a = seeded.a
    second = committed_facility(admin_engine, a.organization, name="Second Site")
    upcoming = committed_provider(
        admin_engine,
        a.organization,
        second,
        assignment={"status": "pending", "start_date": dt.date(2099, 1, 1)},
        name="Dr. Priya Upcoming",
        npi="1558598797",
    )
    gone = committed_provider(
        admin_engine,
        a.organization,
        second,
        assignment={"status": "inactive", "end_date": dt.date(2026, 3, 1)},
        name="Dr. Gone Away",
    )
    return second, upcoming, gone


def _listed_ids(client: FlaskClient, token: str, query: str) -> list[str]:
    response = client.get(f"{PROVIDERS}?{query}", headers=bearer(token))
    assert response.status_code == 200, response.get_json()
    return [p["id"] for p in response.get_json()]


def test_list_filters_by_status_and_searches_name_or_npi_prefix(
    client: FlaskClient, seeded: TwoTenants, admin_engine: Engine
) -> None:
    _second, upcoming, gone = _filter_fixture(admin_engine, seeded)
    token = token_for(client, seeded.a.admin)

    def ids(query: str) -> list[str]:
        return _listed_ids(client, token, query)

    shared = str(seeded.shared_provider.id)
    # ordered by name: "Dr. Gone Away", "Dr. Priya Upcoming", "Test User n"
    assert ids("") == [str(gone.id), str(upcoming.id), shared]
    assert ids("status=active") == [shared]
    assert ids("status=pending") == [str(upcoming.id)]
    assert ids("status=inactive") == [str(gone.id)]
    assert ids("search=priya") == [str(upcoming.id)]
    assert ids("search=DR.") == [str(gone.id), str(upcoming.id)]
    assert ids("search=15585") == [str(upcoming.id)]  # NPI prefix
    assert ids("search=98797") == []  # NPI matches from the start only
    assert ids("search=%25") == []
    assert ids(f"search={seeded.shared_provider.npi}") == [shared]
    assert ids("status=pending&search=gone") == []


def test_list_filters_by_facility(
    client: FlaskClient, seeded: TwoTenants, admin_engine: Engine
) -> None:
    """facility_id lists the providers currently (active or pending) assigned there."""
    second, upcoming, _gone = _filter_fixture(admin_engine, seeded)
    token = token_for(client, seeded.a.admin)
    assert _listed_ids(client, token, f"facility_id={seeded.a.facility.id}") == [
        str(seeded.shared_provider.id)
    ]
    assert _listed_ids(client, token, f"facility_id={second.id}") == [str(upcoming.id)]


def test_facility_filter_out_of_reach_lists_nothing(
    client: FlaskClient, seeded: TwoTenants, admin_engine: Engine
) -> None:
    a = seeded.a
    set_office_manager(admin_engine, a.facility, a.office_manager)
    other = committed_facility(admin_engine, a.organization, name="Other Clinic")
    committed_provider(admin_engine, a.organization, other)
    manager = token_for(client, a.office_manager)
    assert _listed_ids(client, manager, f"facility_id={other.id}") == []
    admin = token_for(client, a.admin)
    assert _listed_ids(client, admin, f"facility_id={seeded.b.facility.id}") == []


def test_list_rejects_invalid_filters_naming_them(client: FlaskClient, seeded: TwoTenants) -> None:
    token = token_for(client, seeded.a.admin)
    response = client.get(
        f"{PROVIDERS}?status=retired&facility_id=x&organization_id=y&search=", headers=bearer(token)
    )
    assert response.status_code == 422
    assert set(response.get_json()["errors"]["query"]) == {
        "status",
        "facility_id",
        "organization_id",
        "search",
    }
    too_big = client.get(f"{PROVIDERS}?page_size=101", headers=bearer(token))
    assert too_big.status_code == 422


def test_msc_admin_sees_both_tenants_memberships_and_filters_by_organization(
    client: FlaskClient, seeded: TwoTenants
) -> None:
    token = token_for(client, seeded.msc_admin)
    response = client.get(PROVIDERS, headers=bearer(token))
    assert response.status_code == 200
    rows = response.get_json()
    assert {(r["id"], r["organization_id"]) for r in rows} == {
        (str(seeded.shared_provider.id), str(seeded.a.organization.id)),
        (str(seeded.shared_provider.id), str(seeded.b.organization.id)),
    }
    assert [r["organization_id"] for r in rows] == sorted(r["organization_id"] for r in rows)
    only_b = client.get(
        f"{PROVIDERS}?organization_id={seeded.b.organization.id}", headers=bearer(token)
    ).get_json()
    assert [(r["organization_id"], r["primary_facility_id"]) for r in only_b] == [
        (str(seeded.b.organization.id), None)
    ]


def test_msc_admin_facility_filter_returns_only_that_facilitys_organization(
    client: FlaskClient, seeded: TwoTenants
) -> None:
    """Filtering by A's facility lists the provider's membership at A, not also the
    membership at B (where the provider does not work at that facility)."""
    token = token_for(client, seeded.msc_admin)
    response = client.get(f"{PROVIDERS}?facility_id={seeded.a.facility.id}", headers=bearer(token))
    assert response.status_code == 200
    assert [r["organization_id"] for r in response.get_json()] == [str(seeded.a.organization.id)]


def test_org_admin_filtering_by_another_tenants_organization_sees_nothing(
    client: FlaskClient, seeded: TwoTenants
) -> None:
    token = token_for(client, seeded.a.admin)
    response = client.get(
        f"{PROVIDERS}?organization_id={seeded.b.organization.id}", headers=bearer(token)
    )
    assert response.status_code == 200 and response.get_json() == []
    assert json.loads(response.headers["X-Pagination"])["total"] == 0


def test_provider_cannot_use_the_provider_admin_endpoints(
    client: FlaskClient, seeded: TwoTenants, admin_engine: Engine
) -> None:
    provider = seeded.shared_provider
    token = token_for(client, provider, seeded.a.organization)
    assignment_id = assignment_id_of(admin_engine, provider, seeded.a.facility)
    listed = client.get(PROVIDERS, headers=bearer(token))
    assert listed.status_code == 403 and "permission" in listed.get_json()["detail"]
    own = client.get(f"{PROVIDERS}/{provider.id}/facilities", headers=bearer(token))
    assert own.status_code == 403
    second = committed_facility(admin_engine, seeded.a.organization)
    assert _assign(client, token, provider, facility_id=second.id).status_code == 403
    assert _end(client, token, provider, assignment_id).status_code == 403
    assert assignment_rows(admin_engine, provider)[0]["status"] == "active"


# --- GET /providers/{id} -----------------------------------------------------------------


def test_one_provider_reads_as_their_row_in_the_list_of_each_organization(
    client: FlaskClient, seeded: TwoTenants, admin_engine: Engine
) -> None:
    _set_phone(admin_engine, seeded.shared_provider, "+14155552671")
    provider = seeded.shared_provider
    for tenant in (seeded.a, seeded.b):
        token = bearer(token_for(client, tenant.admin))
        [listed] = client.get(PROVIDERS, headers=token).get_json()
        one = client.get(f"{PROVIDERS}/{provider.id}", headers=token)
        assert one.status_code == 200
        assert one.get_json() == listed
        assert listed["organization_id"] == str(tenant.organization.id)
    # An office manager, as in their list: no personal phone.
    a = seeded.a
    set_office_manager(admin_engine, a.facility, a.office_manager)
    managed = client.get(
        f"{PROVIDERS}/{provider.id}", headers=bearer(token_for(client, a.office_manager))
    ).get_json()
    assert managed["phone"] is None and managed["status"] == "active"


def test_one_provider_out_of_reach_or_unknown_is_404_and_a_provider_is_refused(
    client: FlaskClient, seeded: TwoTenants, admin_engine: Engine
) -> None:
    b_only = committed_provider(admin_engine, seeded.b.organization, seeded.b.facility)
    token = bearer(token_for(client, seeded.a.admin))
    foreign = client.get(f"{PROVIDERS}/{b_only.id}", headers=token)
    unknown = client.get(f"{PROVIDERS}/{uuid.uuid4()}", headers=token)
    assert foreign.status_code == unknown.status_code == 404
    assert refusal_of(foreign) == refusal_of(unknown)
    provider = seeded.shared_provider
    own = client.get(
        f"{PROVIDERS}/{provider.id}",
        headers=bearer(token_for(client, provider, seeded.a.organization)),
    )
    assert own.status_code == 403


# --- GET /providers/{id}/facilities ---------------------------------------------------------


def test_each_org_admin_sees_only_its_own_assignments_of_a_shared_provider(
    client: FlaskClient, seeded: TwoTenants
) -> None:
    provider = seeded.shared_provider
    for tenant, primary in ((seeded.a, True), (seeded.b, False)):
        token = token_for(client, tenant.admin)
        response = client.get(f"{PROVIDERS}/{provider.id}/facilities", headers=bearer(token))
        assert response.status_code == 200
        assert json.loads(response.headers["X-Pagination"])["total"] == 1
        [row] = response.get_json()
        assert row["organization_id"] == str(tenant.organization.id)
        assert row["organization_name"] == tenant.organization.name
        assert row["facility_id"] == str(tenant.facility.id)
        assert row["facility_name"] == tenant.facility.name
        assert row["is_primary"] is primary and row["status"] == "active"
        assert row["user_id"] == str(provider.id)
        other = seeded.b if tenant is seeded.a else seeded.a
        assert str(other.facility.id) not in response.get_data(as_text=True)
        assert other.organization.name not in response.get_data(as_text=True)


def test_another_tenants_or_unknown_provider_is_404(
    client: FlaskClient, seeded: TwoTenants, admin_engine: Engine
) -> None:
    b_only = committed_provider(admin_engine, seeded.b.organization, seeded.b.facility)
    token = token_for(client, seeded.a.admin)
    foreign = client.get(f"{PROVIDERS}/{b_only.id}/facilities", headers=bearer(token))
    unknown = client.get(f"{PROVIDERS}/{uuid.uuid4()}/facilities", headers=bearer(token))
    assert foreign.status_code == unknown.status_code == 404
    assert refusal_of(foreign) == refusal_of(unknown)


def test_office_manager_sees_only_assignments_at_managed_facilities(
    client: FlaskClient, seeded: TwoTenants, admin_engine: Engine
) -> None:
    a = seeded.a
    set_office_manager(admin_engine, a.facility, a.office_manager)
    other = committed_facility(admin_engine, a.organization, name="Not Managed")
    with Session(admin_engine) as session:
        session.add(
            ProviderFacility(
                organization_id=a.organization.id,
                user_id=seeded.shared_provider.id,
                facility_id=other.id,
                status="active",
                start_date=dt.date(2026, 1, 1),
            )
        )
        session.commit()
    token = token_for(client, a.office_manager)
    response = client.get(
        f"{PROVIDERS}/{seeded.shared_provider.id}/facilities", headers=bearer(token)
    )
    assert response.status_code == 200
    assert [r["facility_id"] for r in response.get_json()] == [str(a.facility.id)]


# --- POST /providers/{id}/assign-facility -----------------------------------------------------


def test_org_admin_assigns_a_provider_to_a_facility(
    client: FlaskClient, seeded: TwoTenants, admin_engine: Engine
) -> None:
    a = seeded.a
    second = committed_facility(admin_engine, a.organization, name="Second Site")
    token = token_for(client, a.admin)
    response = _assign(client, token, seeded.shared_provider, facility_id=second.id)
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["facility_id"] == str(second.id) and body["facility_name"] == "Second Site"
    assert body["organization_id"] == str(a.organization.id)
    assert body["organization_name"] == "Tenant A"
    assert body["user_id"] == str(seeded.shared_provider.id)
    assert body["status"] == "active" and body["start_date"] == TODAY.isoformat()
    assert body["is_primary"] is False and body["end_date"] is None
    listed = client.get(
        f"{PROVIDERS}/{seeded.shared_provider.id}/facilities", headers=bearer(token)
    ).get_json()
    assert {r["facility_id"] for r in listed} == {str(a.facility.id), str(second.id)}
    # the primary (at A's first facility) is untouched
    assert primary_assignment_ids(admin_engine, seeded.shared_provider) == [
        assignment_id_of(admin_engine, seeded.shared_provider, a.facility)
    ]


def test_assigning_an_already_active_assignment_is_409(
    client: FlaskClient, seeded: TwoTenants, admin_engine: Engine
) -> None:
    token = token_for(client, seeded.a.admin)
    response = _assign(client, token, seeded.shared_provider, facility_id=seeded.a.facility.id)
    assert response.status_code == 409
    assert set(validation_errors(response)) == {"facility_id"}
    assert len(assignment_rows(admin_engine, seeded.shared_provider)) == 2


def test_future_start_date_gives_a_pending_assignment(
    client: FlaskClient, seeded: TwoTenants, admin_engine: Engine
) -> None:
    second = committed_facility(admin_engine, seeded.a.organization)
    token = token_for(client, seeded.a.admin)
    start = TODAY + dt.timedelta(days=30)
    response = _assign(
        client, token, seeded.shared_provider, facility_id=second.id, start_date=start.isoformat()
    )
    assert response.status_code == 201
    body = response.get_json()
    assert body["status"] == "pending" and body["start_date"] == start.isoformat()
    assert body["is_primary"] is False
    # assigning again with today's date activates the pending assignment (same row)
    again = _assign(client, token, seeded.shared_provider, facility_id=second.id)
    assert again.status_code == 201
    assert again.get_json()["id"] == body["id"] and again.get_json()["status"] == "active"


def test_a_pending_assignment_cannot_be_made_primary(
    client: FlaskClient, seeded: TwoTenants, admin_engine: Engine
) -> None:
    second = committed_facility(admin_engine, seeded.a.organization)
    token = token_for(client, seeded.a.admin)
    response = _assign(
        client,
        token,
        seeded.shared_provider,
        facility_id=second.id,
        start_date="2099-01-01",
        is_primary=True,
    )
    assert response.status_code == 409
    assert "is_primary" in validation_errors(response)
    assert len(assignment_rows(admin_engine, seeded.shared_provider)) == 2  # rolled back


def test_assigning_a_non_member_of_the_facilitys_organization_is_422(
    client: FlaskClient, seeded: TwoTenants, admin_engine: Engine
) -> None:
    b_only = committed_provider(admin_engine, seeded.b.organization, seeded.b.facility)
    token = token_for(client, seeded.msc_admin)  # reaches both tenants
    response = _assign(client, token, b_only, facility_id=seeded.a.facility.id)
    assert response.status_code == 422
    assert set(validation_errors(response)) == {"facility_id"}
    assert [r["organization_id"] for r in assignment_rows(admin_engine, b_only)] == [
        seeded.b.organization.id
    ]


def test_another_tenants_facility_in_the_body_is_422_naming_facility_id(
    client: FlaskClient, seeded: TwoTenants, admin_engine: Engine
) -> None:
    token = token_for(client, seeded.a.admin)
    foreign = _assign(client, token, seeded.shared_provider, facility_id=seeded.b.facility.id)
    unknown = _assign(client, token, seeded.shared_provider, facility_id=uuid.uuid4())
    assert foreign.status_code == unknown.status_code == 422
    assert set(validation_errors(foreign)) == {"facility_id"}
    assert refusal_of(foreign) == refusal_of(unknown)
    assert len(assignment_rows(admin_engine, seeded.shared_provider)) == 2


def test_another_tenants_provider_in_the_url_is_404(
    client: FlaskClient, seeded: TwoTenants, admin_engine: Engine
) -> None:
    b_only = committed_provider(admin_engine, seeded.b.organization, seeded.b.facility)
    token = token_for(client, seeded.a.admin)
    response = _assign(client, token, b_only, facility_id=seeded.a.facility.id)
    assert response.status_code == 404
    assert len(assignment_rows(admin_engine, b_only)) == 1


def test_assign_validation_names_the_offending_field(
    client: FlaskClient, seeded: TwoTenants
) -> None:
    token = token_for(client, seeded.a.admin)
    provider = seeded.shared_provider
    cases: list[tuple[dict[str, Any], set[str]]] = [
        ({}, {"facility_id"}),
        ({"facility_id": "nope"}, {"facility_id"}),
        ({"facility_id": str(seeded.a.facility.id), "start_date": "soon"}, {"start_date"}),
        ({"facility_id": str(seeded.a.facility.id), "is_primary": "perhaps"}, {"is_primary"}),
        ({"facility_id": str(seeded.a.facility.id), "status": "active"}, {"status"}),
    ]
    for body, fields in cases:
        response = _assign(client, token, provider, **body)
        assert response.status_code == 422, body
        assert set(validation_errors(response)) == fields, body


def test_assigning_primary_moves_the_flag_across_tenants(
    client: FlaskClient, seeded: TwoTenants, admin_engine: Engine
) -> None:
    """B makes a new B facility the provider's primary: A's assignment loses the flag,
    and exactly one primary remains, whichever tenant holds it."""
    provider = seeded.shared_provider
    b_second = committed_facility(admin_engine, seeded.b.organization, name="B Second")
    token = token_for(client, seeded.b.admin)
    response = _assign(client, token, provider, facility_id=b_second.id, is_primary=True)
    assert response.status_code == 201, response.get_json()
    new_id = response.get_json()["id"]
    assert response.get_json()["is_primary"] is True
    assert primary_assignment_ids(admin_engine, provider) == [uuid.UUID(new_id)]
    a_view = client.get(
        f"{PROVIDERS}/{provider.id}/facilities", headers=bearer(token_for(client, seeded.a.admin))
    ).get_json()
    assert [(r["facility_id"], r["is_primary"]) for r in a_view] == [
        (str(seeded.a.facility.id), False)
    ]
    # B's answer says nothing about A
    b_view = client.get(f"{PROVIDERS}/{provider.id}/facilities", headers=bearer(token))
    assert str(seeded.a.facility.id) not in b_view.get_data(as_text=True)


def test_a_providers_only_active_assignment_becomes_primary(
    client: FlaskClient, seeded: TwoTenants, admin_engine: Engine
) -> None:
    newcomer = committed_provider(admin_engine, seeded.a.organization)
    token = token_for(client, seeded.a.admin)
    response = _assign(client, token, newcomer, facility_id=seeded.a.facility.id)
    assert response.status_code == 201
    assert response.get_json()["is_primary"] is True
    assert primary_assignment_ids(admin_engine, newcomer) == [uuid.UUID(response.get_json()["id"])]


def test_office_manager_assigns_only_to_managed_facilities(
    client: FlaskClient, seeded: TwoTenants, admin_engine: Engine
) -> None:
    a = seeded.a
    managed = committed_facility(admin_engine, a.organization, name="Managed Too")
    unmanaged = committed_facility(admin_engine, a.organization, name="Not Managed")
    set_office_manager(admin_engine, a.facility, a.office_manager)
    set_office_manager(admin_engine, managed, a.office_manager)
    token = token_for(client, a.office_manager)
    ok = _assign(client, token, seeded.shared_provider, facility_id=managed.id)
    assert ok.status_code == 201, ok.get_json()
    assert ok.get_json()["facility_id"] == str(managed.id)
    refused = _assign(client, token, seeded.shared_provider, facility_id=unmanaged.id)
    assert refused.status_code == 422
    assert set(validation_errors(refused)) == {"facility_id"}
    assert {r["facility_id"] for r in assignment_rows(admin_engine, seeded.shared_provider)} == {
        a.facility.id,
        seeded.b.facility.id,
        managed.id,
    }


# --- POST /providers/{id}/assignments/{assignment_id}/end ------------------------------------


def test_ending_an_assignment_keeps_it_as_inactive_history(
    client: FlaskClient, seeded: TwoTenants, admin_engine: Engine
) -> None:
    provider = seeded.shared_provider
    second = committed_facility(admin_engine, seeded.a.organization, name="Second Site")
    token = token_for(client, seeded.a.admin)
    assigned = _assign(client, token, provider, facility_id=second.id, start_date="2026-06-01")
    assignment_id = assigned.get_json()["id"]
    response = _end(client, token, provider, assignment_id, end_date=TODAY.isoformat())
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["id"] == assignment_id
    assert body["status"] == "inactive" and body["end_date"] == TODAY.isoformat()
    assert body["is_primary"] is False
    listed = client.get(f"{PROVIDERS}/{provider.id}/facilities", headers=bearer(token)).get_json()
    assert {(r["id"], r["status"]) for r in listed} >= {(assignment_id, "inactive")}
    assert len(listed) == 2
    stored = [r for r in assignment_rows(admin_engine, provider) if str(r["id"]) == assignment_id]
    assert stored[0]["status"] == "inactive" and stored[0]["end_date"] == TODAY


def test_ending_without_a_date_ends_today(
    client: FlaskClient, seeded: TwoTenants, admin_engine: Engine
) -> None:
    provider = seeded.shared_provider
    assignment_id = assignment_id_of(admin_engine, provider, seeded.b.facility)
    response = _end(client, token_for(client, seeded.b.admin), provider, assignment_id)
    assert response.status_code == 200
    assert response.get_json()["end_date"] == TODAY.isoformat()


def test_ending_twice_is_409(client: FlaskClient, seeded: TwoTenants, admin_engine: Engine) -> None:
    provider = seeded.shared_provider
    assignment_id = assignment_id_of(admin_engine, provider, seeded.b.facility)
    token = token_for(client, seeded.b.admin)
    assert _end(client, token, provider, assignment_id).status_code == 200
    again = _end(client, token, provider, assignment_id, end_date="2026-11-02")
    assert again.status_code == 409
    assert set(again.get_json()["errors"]["path"]) == {"assignment_id"}
    [stored] = [r for r in assignment_rows(admin_engine, provider) if r["id"] == assignment_id]
    assert stored["end_date"] == TODAY


def test_end_date_before_start_date_is_422_naming_end_date(
    client: FlaskClient, seeded: TwoTenants, admin_engine: Engine
) -> None:
    provider = seeded.shared_provider
    assignment_id = assignment_id_of(admin_engine, provider, seeded.a.facility)  # starts 2026-01-01
    token = token_for(client, seeded.a.admin)
    response = _end(client, token, provider, assignment_id, end_date="2025-12-31")
    assert response.status_code == 422
    assert set(validation_errors(response)) == {"end_date"}
    bad_format = _end(client, token, provider, assignment_id, end_date="last week")
    assert bad_format.status_code == 422
    assert set(validation_errors(bad_format)) == {"end_date"}
    unknown_field = _end(client, token, provider, assignment_id, status="inactive")
    assert unknown_field.status_code == 422
    assert set(validation_errors(unknown_field)) == {"status"}
    [stored] = [r for r in assignment_rows(admin_engine, provider) if r["id"] == assignment_id]
    assert stored["status"] == "active" and stored["is_primary"] is True


def test_ending_the_primary_promotes_the_single_remaining_assignment(
    client: FlaskClient, seeded: TwoTenants, admin_engine: Engine
) -> None:
    """A ends the primary at A; the provider's one remaining active assignment is B's,
    which becomes primary although A cannot see it."""
    provider = seeded.shared_provider
    a_assignment = assignment_id_of(admin_engine, provider, seeded.a.facility)
    b_assignment = assignment_id_of(admin_engine, provider, seeded.b.facility)
    token = token_for(client, seeded.a.admin)
    response = _end(client, token, provider, a_assignment)
    assert response.status_code == 200
    assert str(b_assignment) not in response.get_data(as_text=True)
    assert primary_assignment_ids(admin_engine, provider) == [b_assignment]


def test_ending_with_two_active_assignments_left_promotes_none(
    client: FlaskClient, seeded: TwoTenants, admin_engine: Engine
) -> None:
    provider = seeded.shared_provider
    second = committed_facility(admin_engine, seeded.a.organization)
    with Session(admin_engine) as session:
        session.add(
            ProviderFacility(
                organization_id=seeded.a.organization.id,
                user_id=provider.id,
                facility_id=second.id,
                status="active",
                start_date=dt.date(2026, 1, 1),
            )
        )
        session.commit()
    a_assignment = assignment_id_of(admin_engine, provider, seeded.a.facility)
    assert (
        _end(client, token_for(client, seeded.a.admin), provider, a_assignment).status_code == 200
    )
    assert primary_assignment_ids(admin_engine, provider) == []


def test_ending_another_tenants_assignment_is_404(
    client: FlaskClient, seeded: TwoTenants, admin_engine: Engine
) -> None:
    provider = seeded.shared_provider
    b_assignment = assignment_id_of(admin_engine, provider, seeded.b.facility)
    token = token_for(client, seeded.a.admin)
    foreign = _end(client, token, provider, b_assignment)
    unknown = _end(client, token, provider, uuid.uuid4())
    assert foreign.status_code == unknown.status_code == 404
    assert refusal_of(foreign) == refusal_of(unknown)
    [stored] = [r for r in assignment_rows(admin_engine, provider) if r["id"] == b_assignment]
    assert stored["status"] == "active"


def test_ending_an_assignment_under_another_provider_is_404(
    client: FlaskClient, seeded: TwoTenants, admin_engine: Engine
) -> None:
    colleague = committed_provider(admin_engine, seeded.a.organization, seeded.a.facility)
    shared_assignment = assignment_id_of(admin_engine, seeded.shared_provider, seeded.a.facility)
    token = token_for(client, seeded.a.admin)
    response = _end(client, token, colleague, shared_assignment)
    assert response.status_code == 404
    assert assignment_rows(admin_engine, seeded.shared_provider)[0]["status"] == "active"


def test_office_manager_ends_assignments_only_at_managed_facilities(
    client: FlaskClient, seeded: TwoTenants, admin_engine: Engine
) -> None:
    a = seeded.a
    set_office_manager(admin_engine, a.facility, a.office_manager)
    other = committed_facility(admin_engine, a.organization, name="Not Managed")
    colleague = committed_provider(admin_engine, a.organization, a.facility)
    with Session(admin_engine) as session:
        session.add(
            ProviderFacility(
                organization_id=a.organization.id,
                user_id=colleague.id,
                facility_id=other.id,
                status="active",
                start_date=dt.date(2026, 1, 1),
            )
        )
        session.commit()
    token = token_for(client, a.office_manager)
    hidden = _end(client, token, colleague, assignment_id_of(admin_engine, colleague, other))
    assert hidden.status_code == 404
    own = _end(client, token, colleague, assignment_id_of(admin_engine, colleague, a.facility))
    assert own.status_code == 200 and own.get_json()["status"] == "inactive"
