"""Organization onboarding from registration to go-live, through the API."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from app.models import Organization, User
from tests import factories
from tests.conftest import TwoTenants, bearer, token_for

ORGS = "/api/v1/admin/organizations"


def _steps(body: dict[str, Any]) -> dict[str, bool]:
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


def _registered(client: FlaskClient, seeded: TwoTenants, admin_engine: Engine) -> tuple[str, User]:
    """An organization just registered by MSC (onboarding initiated), and its admin."""
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
        organization = setup.get(Organization, org_id)
        assert organization is not None
        factories.make_membership(setup, org_admin, organization, "organization_admin")
        setup.commit()
    return org_id, org_admin


def _facility(admin_engine: Engine, organization_id: object, manager: object = None) -> object:
    """A facility written in SQL, as a load would: onboarding is not told."""
    with admin_engine.begin() as conn:
        return conn.scalar(
            text(
                "INSERT INTO facilities (organization_id, name, facility_type, state,"
                " office_manager_id) VALUES (:o, 'Harbor Clinic', 'clinic', 'CA', :m)"
                " RETURNING id"
            ),
            {"o": organization_id, "m": manager},
        )


def _status(admin_engine: Engine, org_id: str) -> str:
    with admin_engine.connect() as conn:
        found = conn.scalar(
            text("SELECT onboarding_status FROM organizations WHERE id = :o"), {"o": org_id}
        )
    return str(found)


def _onboarding_events(admin_engine: Engine, org_id: str) -> list[tuple[uuid.UUID, object]]:
    """Who changed the organization's onboarding status, and how, oldest first."""
    with admin_engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT actor_user_id, changes -> 'onboarding_status' FROM audit_events"
                " WHERE table_name = 'organizations' AND row_id = :o AND action = 'update'"
                "   AND changes ? 'onboarding_status' ORDER BY occurred_at, id"
            ),
            {"o": org_id},
        )
        return [(actor, change) for actor, change in rows]


def test_walk_from_registration_to_go_live(
    client: FlaskClient, seeded: TwoTenants, admin_engine: Engine
) -> None:
    org_id, org_admin = _registered(client, seeded, admin_engine)
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
    assert "tax_documentation" in early.get_json()["detail"]
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


@pytest.mark.parametrize("first", ["facility", "invitation"])
def test_what_onboarding_counts_starts_it_as_the_writers_change(
    client: FlaskClient, seeded: TwoTenants, admin_engine: Engine, first: str
) -> None:
    org_id, org_admin = _registered(client, seeded, admin_engine)
    token = token_for(client, org_admin)
    if first == "facility":
        made = client.post(
            f"{ORGS}/{org_id}/facilities",
            json={"name": "Harbor Clinic", "facility_type": "clinic", "state": "CA"},
            headers=bearer(token),
        )
    else:
        made = client.post(
            "/api/v1/admin/providers/invite",
            json={"email": "om@harbor.example.com", "name": "Om", "role": "office_manager",
                  "organization_id": org_id},
            headers=bearer(token),
        )  # fmt: skip
    assert made.status_code == 201, made.get_json()
    assert _status(admin_engine, org_id) == "in_progress"
    assert _onboarding_events(admin_engine, org_id) == [
        (org_admin.id, {"old": "initiated", "new": "in_progress"})
    ]


def test_an_office_managers_invitation_leaves_the_organization_alone(
    client: FlaskClient, seeded: TwoTenants, admin_engine: Engine
) -> None:
    """Whoever may not update the organization changes nothing of it by inviting."""
    org_id, _ = _registered(client, seeded, admin_engine)
    with Session(admin_engine, expire_on_commit=False) as setup:
        organization = setup.get(Organization, org_id)
        assert organization is not None
        manager = factories.make_user(setup)
        factories.make_membership(setup, manager, organization, "office_manager")
        setup.commit()
    facility = _facility(admin_engine, org_id, manager.id)
    invited = client.post(
        "/api/v1/admin/providers/invite",
        json={"email": "dr@harbor.example.com", "name": "Dr", "role": "provider",
              "organization_id": org_id, "facility_ids": [str(facility)]},
        headers=bearer(token_for(client, manager)),
    )  # fmt: skip
    assert invited.status_code == 201, invited.get_json()
    assert _status(admin_engine, org_id) == "initiated"
    assert _onboarding_events(admin_engine, org_id) == []


def test_a_step_completed_by_hand_starts_onboarding(
    client: FlaskClient, seeded: TwoTenants, admin_engine: Engine
) -> None:
    """The data before it was written behind the application's back (as a load would):
    completing the manual step is then what starts the onboarding."""
    org_id, org_admin = _registered(client, seeded, admin_engine)
    _document(admin_engine, org_id, "tax_form")
    _document(admin_engine, org_id, "banking_letter")
    _facility(admin_engine, org_id)
    with admin_engine.begin() as setup:
        for role in ("office_manager", "provider"):
            setup.execute(
                text(
                    "INSERT INTO invitations (organization_id, email, name, role, token_hash,"
                    " expires_at) VALUES (:o, :e, 'x', :r, :t, now() + interval '7 days')"
                ),
                {"o": org_id, "e": f"{role}@harbor.example.com", "r": role, "t": role[0] * 64},
            )
    assert _status(admin_engine, org_id) == "initiated"
    token = token_for(client, org_admin)
    done = client.post(
        f"{ORGS}/{org_id}/onboarding/steps/training_and_certification/complete",
        headers=bearer(token),
    )
    assert done.status_code == 200, done.get_json()
    assert done.get_json()["onboarding_status"] == "in_progress"
    assert _onboarding_events(admin_engine, org_id) == [
        (org_admin.id, {"old": "initiated", "new": "in_progress"})
    ]


def test_the_list_gives_each_organizations_onboarding_percentage(
    client: FlaskClient, seeded: TwoTenants, admin_engine: Engine
) -> None:
    """The list's percentage is the onboarding's own, counted from the same steps: here
    registration and basic information (2 of 9: 22%), then a tax form and a facility
    (4 of 9: 44%); an organization without its basic information has registration alone
    (1 of 9: 11%)."""
    org_id, _ = _registered(client, seeded, admin_engine)
    msc = token_for(client, seeded.msc_admin)
    bare = client.post(
        ORGS, json={"name": "Harbor Bare", "organization_type": "individual"}, headers=bearer(msc)
    ).get_json()["id"]

    def listed() -> dict[str, int]:
        rows = client.get(f"{ORGS}?page_size=100", headers=bearer(msc)).get_json()
        return {row["id"]: row["onboarding_percent_complete"] for row in rows}

    def onboarding(organization_id: object) -> int:
        body = client.get(f"{ORGS}/{organization_id}/onboarding", headers=bearer(msc)).get_json()
        return int(body["percent_complete"])

    assert listed()[org_id] == 22 == onboarding(org_id)
    assert listed()[bare] == 11 == onboarding(bare)
    _document(admin_engine, org_id, "tax_form")
    _facility(admin_engine, org_id)
    assert listed()[org_id] == 44 == onboarding(org_id)
    for organization in (seeded.a.organization, seeded.b.organization):
        assert listed()[str(organization.id)] == onboarding(organization.id)
    one = client.get(f"{ORGS}?name=bare", headers=bearer(msc)).get_json()
    assert [row["onboarding_percent_complete"] for row in one] == [11]
