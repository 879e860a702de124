"""Organization onboarding from registration to go-live, through the API."""

from __future__ import annotations

from flask.testing import FlaskClient
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from tests import factories
from tests.conftest import TwoTenants, bearer, token_for

ORGS = "/api/v1/admin/organizations"


def _steps(body: dict) -> dict[str, bool]:
    return {s["step"]: s["completed"] for s in body["steps"]}


def _document(admin_engine: Engine, organization_id: object, kind: str) -> None:
    with admin_engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO documents (organization_id, document_type, filename, content_type,"
                " size_bytes, sha256, storage_key) VALUES (:o, :t, 'f.pdf', 'application/pdf',"
                " 10, repeat('a', 64), 'k')"
            ),
            {"o": organization_id, "t": kind},
        )


def test_walk_from_registration_to_go_live(
    client: FlaskClient, seeded: TwoTenants, admin_engine: Engine
) -> None:
    msc = token_for(client, seeded.msc_admin)
    created = client.post(
        ORGS,
        json={
            "name": "Harbor Wound Care",
            "organization_type": "group_practice",
            "tax_id": "12-3456789",
            "primary_contact_name": "Hana Ito",
            "primary_contact_email": "hana@harbor.example.com",
            "primary_contact_phone": "+1 415 555 2671",
        },
        headers=bearer(msc),
    ).get_json()
    org_id = created["id"]
    with Session(admin_engine, expire_on_commit=False) as setup:
        org_admin = factories.make_user(setup)
        from app.models import Organization

        organization = setup.get(Organization, org_id)
        assert organization is not None
        factories.make_membership(setup, org_admin, organization, "organization_admin")
        setup.commit()
    token = token_for(client, org_admin)
    url = f"{ORGS}/{org_id}/onboarding"

    start = client.get(url, headers=bearer(token)).get_json()
    assert start["onboarding_status"] == "initiated"
    assert _steps(start) == {
        "registration": True,
        "basic_information": True,
        "tax_documentation": False,
        "banking_setup": False,
        "add_facilities": False,
        "invite_office_managers": False,
        "provider_invitations": False,
        "training_and_certification": False,
        "go_live": False,
    }
    assert start["next_step"] == "tax_documentation"
    assert start["percent_complete"] == 22

    early = client.post(f"{url}/steps/go_live/complete", headers=bearer(token))
    assert early.status_code == 409
    assert "tax_documentation" in early.get_json()["message"]
    data_backed = client.post(f"{url}/steps/add_facilities/complete", headers=bearer(token))
    assert data_backed.status_code == 409

    # Data-backed steps complete themselves as the data arrives.
    _document(admin_engine, org_id, "tax_form")
    _document(admin_engine, org_id, "banking_letter")
    facility = client.post(
        f"{ORGS}/{org_id}/facilities",
        json={"name": "Harbor Clinic", "facility_type": "clinic", "state": "CA"},
        headers=bearer(token),
    )
    assert facility.status_code == 201
    for role, email in (
        ("office_manager", "om@harbor.example.com"),
        ("provider", "dr@harbor.example.com"),
    ):
        invited = client.post(
            "/api/v1/admin/providers/invite",
            json={"email": email, "name": "Someone", "role": role, "organization_id": org_id},
            headers=bearer(token),
        )
        assert invited.status_code == 201
    middle = client.get(url, headers=bearer(token)).get_json()
    assert middle["onboarding_status"] == "in_progress"
    assert middle["next_step"] == "training_and_certification"

    trained = client.post(f"{url}/steps/training_and_certification/complete", headers=bearer(token))
    assert trained.status_code == 200
    step = next(s for s in trained.get_json()["steps"] if s["step"] == "training_and_certification")
    assert step["completed_by_id"] is not None and step["completed_at"] is not None
    reopened = client.post(f"{url}/steps/training_and_certification/reopen", headers=bearer(token))
    assert reopened.status_code == 200
    assert _steps(reopened.get_json())["training_and_certification"] is False
    client.post(f"{url}/steps/training_and_certification/complete", headers=bearer(token))

    live = client.post(f"{url}/steps/go_live/complete", headers=bearer(token))
    assert live.status_code == 200, live.get_json()
    assert live.get_json()["percent_complete"] == 100
    assert live.get_json()["onboarding_status"] == "completed"
    org = client.get(f"{ORGS}/{org_id}", headers=bearer(token)).get_json()
    assert org["status"] == "active" and org["activated_at"] is not None
    assert client.post(f"{url}/steps/go_live/reopen", headers=bearer(token)).status_code == 409
    assert (
        client.post(f"{url}/steps/no_such_step/complete", headers=bearer(token)).status_code == 404
    )


def test_onboarding_is_per_tenant_and_for_admins(client: FlaskClient, seeded: TwoTenants) -> None:
    a_admin = token_for(client, seeded.a.admin)
    other = f"{ORGS}/{seeded.b.organization.id}/onboarding"
    assert client.get(other, headers=bearer(a_admin)).status_code == 404
    own = f"{ORGS}/{seeded.a.organization.id}/onboarding"
    manager = token_for(client, seeded.a.office_manager)
    assert client.get(own, headers=bearer(manager)).status_code == 200
    refused = client.post(
        f"{own}/steps/training_and_certification/complete", headers=bearer(manager)
    )
    assert refused.status_code == 403
    provider = token_for(client, seeded.shared_provider, seeded.a.organization)
    assert client.get(own, headers=bearer(provider)).status_code == 403
