"""The signed-in user's own endpoints: profile, facilities, primary facility."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from app.models import User
from app.models.enums import Role
from app.permissions import ALL_PERMISSIONS, ROLE_PERMISSIONS
from tests import factories
from tests.api_helpers import (
    assignment_id_of,
    committed_provider,
    primary_assignment_ids,
    problem_of,
    validation_errors,
)
from tests.conftest import TwoTenants, bearer, token_for

ME = "/api/v1/me"
MY_FACILITIES = f"{ME}/facilities"
PRIMARY = f"{ME}/primary-facility"


def _user_row(admin_engine: Engine, user: User) -> dict[str, Any]:
    with admin_engine.connect() as conn:
        row = conn.execute(
            text("SELECT email, name, phone, npi FROM users WHERE id = :u"), {"u": user.id}
        ).mappings()
        return dict(row.one())


# --- GET /me -------------------------------------------------------------------------------


def test_provider_sees_own_profile_role_permissions_and_every_membership(
    client: FlaskClient, seeded: TwoTenants
) -> None:
    provider = seeded.shared_provider
    token = token_for(client, provider, seeded.b.organization)
    response = client.get(ME, headers=bearer(token))
    assert response.status_code == 200
    body = response.get_json()
    assert body["id"] == str(provider.id) and body["email"] == provider.email
    assert body["name"] == provider.name and body["npi"] == provider.npi
    assert body["phone"] is None and body["is_msc_admin"] is False
    assert body["organization_id"] == str(seeded.b.organization.id)
    assert body["role"] == "provider"
    assert body["permissions"] == sorted(ROLE_PERMISSIONS[Role.PROVIDER])
    assert sorted((m["organization_name"], m["role"]) for m in body["memberships"]) == [
        ("Tenant A", "provider"),
        ("Tenant B", "provider"),
    ]


def test_org_admin_and_msc_admin_see_their_permissions(
    client: FlaskClient, seeded: TwoTenants
) -> None:
    admin = client.get(ME, headers=bearer(token_for(client, seeded.a.admin))).get_json()
    assert admin["role"] == "organization_admin"
    assert admin["permissions"] == sorted(ROLE_PERMISSIONS[Role.ORGANIZATION_ADMIN])
    assert "select-facilities" not in admin["permissions"]
    assert [m["organization_name"] for m in admin["memberships"]] == ["Tenant A"]

    msc = client.get(ME, headers=bearer(token_for(client, seeded.msc_admin))).get_json()
    assert msc["is_msc_admin"] is True
    assert msc["role"] is None and msc["organization_id"] is None
    assert msc["permissions"] == sorted(ALL_PERMISSIONS)
    assert msc["memberships"] == []


def test_me_requires_a_token(client: FlaskClient) -> None:
    for method, url in (
        ("get", ME),
        ("put", ME),
        ("get", MY_FACILITIES),
        ("post", PRIMARY),
    ):
        response = getattr(client, method)(url, json={})
        assert problem_of(response, 401)["detail"], url


# --- PUT /me -------------------------------------------------------------------------------


def test_user_updates_own_name_phone_and_npi(
    client: FlaskClient, seeded: TwoTenants, admin_engine: Engine
) -> None:
    provider = seeded.shared_provider
    token = token_for(client, provider, seeded.a.organization)
    response = client.put(
        ME,
        json={"name": "Dr. Ada Shared", "phone": "(415) 555-2671", "npi": "1528060837"},
        headers=bearer(token),
    )
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert {key: body[key] for key in ("id", "email", "name", "phone", "npi")} == {
        "id": str(provider.id),
        "email": provider.email,
        "name": "Dr. Ada Shared",
        "phone": "+14155552671",
        "npi": "1528060837",
    }
    assert _user_row(admin_engine, provider) == {
        "email": provider.email,
        "name": "Dr. Ada Shared",
        "phone": "+14155552671",
        "npi": "1528060837",
    }
    me = client.get(ME, headers=bearer(token)).get_json()
    assert me["name"] == "Dr. Ada Shared" and me["phone"] == "+14155552671"
    cleared = client.put(ME, json={"phone": None}, headers=bearer(token))
    assert cleared.status_code == 200 and cleared.get_json()["phone"] is None
    assert cleared.get_json()["name"] == "Dr. Ada Shared"  # untouched


def test_any_role_updates_its_own_profile(
    client: FlaskClient, seeded: TwoTenants, admin_engine: Engine
) -> None:
    for user in (seeded.a.admin, seeded.b.office_manager):
        token = token_for(client, user)
        response = client.put(ME, json={"name": "Renamed Person"}, headers=bearer(token))
        assert response.status_code == 200
        assert _user_row(admin_engine, user)["name"] == "Renamed Person"


def test_email_is_not_accepted_by_put_me(
    client: FlaskClient, seeded: TwoTenants, admin_engine: Engine
) -> None:
    provider = seeded.shared_provider
    token = token_for(client, provider, seeded.a.organization)
    response = client.put(
        ME, json={"email": "new@example.com", "name": "Sneaky"}, headers=bearer(token)
    )
    assert response.status_code == 422
    assert set(validation_errors(response)) == {"email"}
    assert validation_errors(response)["email"] == ["Unknown field."]
    stored = _user_row(admin_engine, provider)
    assert stored["email"] == provider.email and stored["name"] == provider.name


def test_put_me_validation_names_the_offending_field(
    client: FlaskClient, seeded: TwoTenants, admin_engine: Engine
) -> None:
    token = token_for(client, seeded.shared_provider, seeded.a.organization)
    cases: list[tuple[dict[str, Any], set[str]]] = [
        ({"npi": "1234567890"}, {"npi"}),
        ({"npi": "1093791627"}, {"npi"}),
        ({"phone": "12"}, {"phone"}),
        ({"name": ""}, {"name"}),
        ({"name": None}, {"name"}),
        ({"id": str(uuid.uuid4())}, {"id"}),
        ({"is_msc_admin": True}, {"is_msc_admin"}),
        ({"password": "hunter2hunter2"}, {"password"}),
        ({"npi": "1", "phone": "x", "name": ""}, {"npi", "phone", "name"}),
    ]
    for body, fields in cases:
        response = client.put(ME, json=body, headers=bearer(token))
        assert response.status_code == 422, body
        assert set(validation_errors(response)) == fields, body
    stored = _user_row(admin_engine, seeded.shared_provider)
    assert stored["npi"] == seeded.shared_provider.npi and stored["phone"] is None


def test_npi_of_another_user_is_409_naming_npi_and_revealing_no_one(
    client: FlaskClient, seeded: TwoTenants, admin_engine: Engine
) -> None:
    other = committed_provider(admin_engine, seeded.b.organization, seeded.b.facility)
    with admin_engine.begin() as conn:
        conn.execute(text("UPDATE users SET npi = '1003347634' WHERE id = :u"), {"u": other.id})
    token = token_for(client, seeded.a.admin)
    response = client.put(ME, json={"npi": "1003347634"}, headers=bearer(token))
    assert response.status_code == 409
    assert set(validation_errors(response)) == {"npi"}
    text_body = response.get_data(as_text=True)
    assert other.email not in text_body and str(other.id) not in text_body
    assert "Tenant B" not in text_body
    assert _user_row(admin_engine, seeded.a.admin)["npi"] is None


# --- GET /me/facilities --------------------------------------------------------------------


def test_shared_provider_sees_assignments_at_both_organizations(
    client: FlaskClient, seeded: TwoTenants
) -> None:
    provider = seeded.shared_provider
    for active in (seeded.a.organization, seeded.b.organization):
        token = token_for(client, provider, active)
        response = client.get(MY_FACILITIES, headers=bearer(token))
        assert response.status_code == 200
        assert json.loads(response.headers["X-Pagination"])["total"] == 2
        rows = sorted(response.get_json(), key=lambda r: r["organization_name"])
        assert [
            (r["organization_id"], r["organization_name"], r["facility_id"], r["facility_name"])
            for r in rows
        ] == [
            (
                str(seeded.a.organization.id),
                "Tenant A",
                str(seeded.a.facility.id),
                seeded.a.facility.name,
            ),
            (
                str(seeded.b.organization.id),
                "Tenant B",
                str(seeded.b.facility.id),
                seeded.b.facility.name,
            ),
        ]
        assert [r["is_primary"] for r in rows] == [True, False]
        assert {r["status"] for r in rows} == {"active"}
        assert {r["user_id"] for r in rows} == {str(provider.id)}


def test_my_facilities_lists_only_my_own_assignments(
    client: FlaskClient, seeded: TwoTenants, admin_engine: Engine
) -> None:
    colleague = committed_provider(admin_engine, seeded.a.organization, seeded.a.facility)
    mine = client.get(MY_FACILITIES, headers=bearer(token_for(client, colleague))).get_json()
    assert [r["user_id"] for r in mine] == [str(colleague.id)]
    admin = client.get(MY_FACILITIES, headers=bearer(token_for(client, seeded.a.admin)))
    assert admin.status_code == 200 and admin.get_json() == []


def test_my_facilities_include_ended_assignments_as_history(
    client: FlaskClient, seeded: TwoTenants, admin_engine: Engine
) -> None:
    with admin_engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE provider_facilities SET status = 'inactive', end_date = :d"
                " WHERE user_id = :u AND facility_id = :f"
            ),
            {"d": dt.date(2026, 6, 30), "u": seeded.shared_provider.id, "f": seeded.b.facility.id},
        )
    token = token_for(client, seeded.shared_provider, seeded.a.organization)
    rows = client.get(MY_FACILITIES, headers=bearer(token)).get_json()
    assert [(r["organization_name"], r["status"], r["end_date"]) for r in rows] == [
        ("Tenant A", "active", None),
        ("Tenant B", "inactive", "2026-06-30"),
    ]


# --- POST /me/primary-facility ---------------------------------------------------------------


def test_provider_chooses_primary_at_the_non_active_organization(
    client: FlaskClient, seeded: TwoTenants, admin_engine: Engine
) -> None:
    provider = seeded.shared_provider
    b_assignment = assignment_id_of(admin_engine, provider, seeded.b.facility)
    token = token_for(client, provider, seeded.a.organization)  # acting for A
    response = client.post(
        PRIMARY, json={"assignment_id": str(b_assignment)}, headers=bearer(token)
    )
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["id"] == str(b_assignment) and body["is_primary"] is True
    assert body["organization_name"] == "Tenant B"
    assert body["facility_name"] == seeded.b.facility.name
    assert primary_assignment_ids(admin_engine, provider) == [b_assignment]
    mine = client.get(MY_FACILITIES, headers=bearer(token)).get_json()
    assert {r["organization_name"]: r["is_primary"] for r in mine} == {
        "Tenant A": False,
        "Tenant B": True,
    }
    # choosing the current primary again changes nothing
    again = client.post(PRIMARY, json={"assignment_id": str(b_assignment)}, headers=bearer(token))
    assert again.status_code == 200
    assert primary_assignment_ids(admin_engine, provider) == [b_assignment]


def test_provider_chooses_primary_within_the_active_organization(
    client: FlaskClient, seeded: TwoTenants, admin_engine: Engine
) -> None:
    provider = seeded.shared_provider
    with Session(admin_engine, expire_on_commit=False) as session:
        second = factories.make_facility(session, seeded.a.organization, name="A Second")
        assignment = factories.make_assignment(session, provider, second)
        session.commit()
    token = token_for(client, provider, seeded.a.organization)
    response = client.post(
        PRIMARY, json={"assignment_id": str(assignment.id)}, headers=bearer(token)
    )
    assert response.status_code == 200
    assert response.get_json()["facility_name"] == "A Second"
    assert primary_assignment_ids(admin_engine, provider) == [assignment.id]


def test_someone_elses_assignment_is_422_naming_assignment_id(
    client: FlaskClient, seeded: TwoTenants, admin_engine: Engine
) -> None:
    colleague = committed_provider(admin_engine, seeded.a.organization, seeded.a.facility)
    colleague_assignment = assignment_id_of(admin_engine, colleague, seeded.a.facility)
    token = token_for(client, seeded.shared_provider, seeded.a.organization)
    for assignment_id in (colleague_assignment, uuid.uuid4()):
        response = client.post(
            PRIMARY, json={"assignment_id": str(assignment_id)}, headers=bearer(token)
        )
        assert response.status_code == 422
        assert set(validation_errors(response)) == {"assignment_id"}
    assert primary_assignment_ids(admin_engine, colleague) == []
    assert primary_assignment_ids(admin_engine, seeded.shared_provider) == [
        assignment_id_of(admin_engine, seeded.shared_provider, seeded.a.facility)
    ]


def test_primary_facility_validation_names_assignment_id(
    client: FlaskClient, seeded: TwoTenants
) -> None:
    token = token_for(client, seeded.shared_provider, seeded.a.organization)
    for body in ({}, {"assignment_id": "not-a-uuid"}, {"assignment_id": None}):
        response = client.post(PRIMARY, json=body, headers=bearer(token))
        assert response.status_code == 422, body
        assert set(validation_errors(response)) == {"assignment_id"}, body
    extra = client.post(
        PRIMARY,
        json={"assignment_id": str(uuid.uuid4()), "facility_id": str(uuid.uuid4())},
        headers=bearer(token),
    )
    assert extra.status_code == 422 and "facility_id" in validation_errors(extra)


def test_an_ended_assignment_cannot_be_chosen_as_primary(
    client: FlaskClient, seeded: TwoTenants, admin_engine: Engine
) -> None:
    """Only the provider's own active assignments are valid choices: an ended one is
    refused naming the field that was sent, `assignment_id`."""
    provider = seeded.shared_provider
    b_assignment = assignment_id_of(admin_engine, provider, seeded.b.facility)
    with admin_engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE provider_facilities SET status = 'inactive', end_date = '2026-06-30'"
                " WHERE id = :i"
            ),
            {"i": b_assignment},
        )
    token = token_for(client, provider, seeded.a.organization)
    response = client.post(
        PRIMARY, json={"assignment_id": str(b_assignment)}, headers=bearer(token)
    )
    assert set(validation_errors(response)) == {"assignment_id"}
    assert response.status_code == 422
    assert primary_assignment_ids(admin_engine, provider) == [
        assignment_id_of(admin_engine, provider, seeded.a.facility)
    ]


def test_staff_lack_select_facilities(
    client: FlaskClient, seeded: TwoTenants, admin_engine: Engine
) -> None:
    a_assignment = assignment_id_of(admin_engine, seeded.shared_provider, seeded.a.facility)
    for user in (seeded.a.admin, seeded.a.office_manager):
        token = token_for(client, user)
        response = client.post(
            PRIMARY, json={"assignment_id": str(a_assignment)}, headers=bearer(token)
        )
        assert response.status_code == 403
        assert "select-facilities" in response.get_json()["detail"]
