"""Invitations end to end: a provider invited by two organizations works for both,
and each organization sees only its own side; organization admins are invited through
the same flow, by MSC admins and by the admins of the organization or of its ancestors."""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid

import pytest
from flask.testing import FlaskClient
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from app.config import DEV_OUTBOX_SECRET
from app.domain import invitations
from app.domain.errors import Conflict
from app.domain.outbox import Sealer
from app.models import Invitation, Organization
from app.tenancy.context import use_context
from tests.api_helpers import child_organization, committed_facility, validation_errors
from tests.conftest import TwoTenants, bearer, token_for

INVITE = "/api/v1/admin/providers/invite"
NEW_PASSWORD = "a-long-enough-password"
NEW_EMAIL = "new.provider@example.com"


def _invite(
    client: FlaskClient, token: str, tenant_org: str, facilities: list[str], **extra: object
):
    body = {
        "email": NEW_EMAIL,
        "name": "Dr. Nova Reyes",
        "role": "provider",
        "organization_id": tenant_org,
        "facility_ids": facilities,
        **extra,
    }
    return client.post(INVITE, json=body, headers=bearer(token))


def _token_for(admin_engine: Engine, email: str = NEW_EMAIL) -> str:
    """The token as the invitee gets it: from the invitation email waiting in the outbox
    (the inviter never sees it)."""
    with admin_engine.connect() as conn:
        sealed = conn.execute(
            text(
                "SELECT sealed_payload FROM outbox_messages WHERE kind = 'invitation'"
                " AND recipient_email = :e ORDER BY created_at DESC LIMIT 1"
            ),
            {"e": email},
        ).scalar_one()
    accept_url = Sealer(DEV_OUTBOX_SECRET).unseal(sealed)["accept_url"]
    return str(accept_url).rsplit("/", 2)[-2]


def _accept(client: FlaskClient, invite_token: str, **body: object):
    return client.post(f"/api/v1/invitations/{invite_token}/accept", json=body)


def test_provider_invited_by_two_organizations(
    client: FlaskClient, seeded: TwoTenants, admin_engine: Engine
) -> None:
    a, b = seeded.a, seeded.b
    a_admin, b_admin = token_for(client, a.admin), token_for(client, b.admin)

    invited_a = _invite(
        client,
        a_admin,
        str(a.organization.id),
        [str(a.facility.id)],
        primary_facility_id=str(a.facility.id),
    )
    assert invited_a.status_code == 201, invited_a.get_json()
    issued = invited_a.get_json()
    assert issued["status"] == "pending"
    assert "token" not in issued and "accept_url" not in issued  # for the invitee only
    token_a = _token_for(admin_engine)

    preview = client.get(f"/api/v1/invitations/{token_a}").get_json()
    assert preview["organization_name"] == "Tenant A" and preview["account_exists"] is False

    assert _accept(client, token_a).status_code == 422  # a new account needs a password
    accepted = _accept(client, token_a, password=NEW_PASSWORD)
    assert accepted.status_code == 200, accepted.get_json()
    user_id = accepted.get_json()["user_id"]

    # B invites the same email: the existing account is linked, not duplicated.
    invited_b = _invite(client, b_admin, str(b.organization.id), [str(b.facility.id)])
    assert invited_b.status_code == 201
    token_b = _token_for(admin_engine)
    assert client.get(f"/api/v1/invitations/{token_b}").get_json()["account_exists"] is True
    linked = _accept(client, token_b)
    assert linked.status_code == 200 and linked.get_json()["user_id"] == user_id
    with admin_engine.connect() as conn:
        member_of = conn.scalar(
            text("SELECT organization_ids FROM users WHERE id = :u"), {"u": user_id}
        )
    assert set(member_of) == {a.organization.id, b.organization.id}

    # The provider sees both organizations and both assignments.
    login_body = {"email": "new.provider@example.com", "password": NEW_PASSWORD}
    provider_token = client.post("/api/v1/auth/login", json=login_body).get_json()["access_token"]
    me = client.get("/api/v1/me", headers=bearer(provider_token)).get_json()
    assert {m["organization_id"] for m in me["memberships"]} == {
        str(a.organization.id),
        str(b.organization.id),
    }
    mine = client.get("/api/v1/me/facilities", headers=bearer(provider_token)).get_json()
    assert {(m["organization_name"], m["status"]) for m in mine} == {
        ("Tenant A", "pending"),
        ("Tenant B", "pending"),
    }
    # pending assignments are never primary; the invited primary applies on activation
    assert not any(m["is_primary"] for m in mine)

    activated = client.post(
        f"/api/v1/admin/providers/{user_id}/assign-facility",
        json={"facility_id": str(b.facility.id)},
        headers=bearer(b_admin),
    )
    assert activated.status_code == 201 and activated.get_json()["status"] == "active"
    assert activated.get_json()["is_primary"] is True  # the only active one
    at_a = client.post(
        f"/api/v1/admin/providers/{user_id}/assign-facility",
        json={"facility_id": str(a.facility.id)},
        headers=bearer(a_admin),
    )
    assert at_a.status_code == 201

    # Each admin sees only their own organization's assignment of the shared provider.
    for token, own in ((a_admin, a), (b_admin, b)):
        seen = client.get(f"/api/v1/admin/providers/{user_id}/facilities", headers=bearer(token))
        assert seen.status_code == 200
        assert [s["organization_id"] for s in seen.get_json()] == [str(own.organization.id)]
        listed = client.get("/api/v1/admin/providers", headers=bearer(token)).get_json()
        assert {p["organization_id"] for p in listed} == {str(own.organization.id)}


def test_tokens_are_single_use_and_expire_and_can_be_revoked(
    client: FlaskClient, seeded: TwoTenants, admin_engine: Engine
) -> None:
    a = seeded.a
    admin = token_for(client, a.admin)
    org = str(a.organization.id)

    _invite(client, admin, org, [])
    first = _token_for(admin_engine)
    assert _accept(client, first, password=NEW_PASSWORD).status_code == 200
    assert _accept(client, first, password=NEW_PASSWORD).status_code == 410  # reused

    assert _accept(client, "not-a-real-token", password=NEW_PASSWORD).status_code == 404

    revoked = _invite(client, admin, org, [], email="revoked@example.com").get_json()
    revoked_id = revoked["id"]
    # Read before revoking: revoking cancels the email and erases its link.
    revoked_token = _token_for(admin_engine, "revoked@example.com")
    response = client.post(f"/api/v1/admin/invitations/{revoked_id}/revoke", headers=bearer(admin))
    assert response.status_code == 200 and response.get_json()["status"] == "revoked"
    assert _accept(client, revoked_token, password=NEW_PASSWORD).status_code == 410

    expired = _invite(client, admin, org, [], email="late@example.com").get_json()
    with admin_engine.begin() as conn:
        conn.execute(
            text("UPDATE invitations SET expires_at = :t WHERE id = :i"),
            {
                "t": dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1),
                "i": expired["id"],
            },
        )
    late = _token_for(admin_engine, "late@example.com")
    assert _accept(client, late, password=NEW_PASSWORD).status_code == 410

    # Re-inviting replaces the open invitation's token: the old one no longer opens it.
    again = _invite(client, admin, org, [], email="twice@example.com").get_json()
    again_token = _token_for(admin_engine, "twice@example.com")
    replaced = _invite(client, admin, org, [], email="twice@example.com").get_json()
    replaced_token = _token_for(admin_engine, "twice@example.com")
    assert replaced["id"] == again["id"]
    assert replaced_token != again_token
    assert _accept(client, again_token, password=NEW_PASSWORD).status_code == 404
    assert _accept(client, replaced_token, password=NEW_PASSWORD).status_code == 200


def test_token_is_stored_only_as_its_hash(
    client: FlaskClient, seeded: TwoTenants, admin_engine: Engine
) -> None:
    issued = _invite(client, token_for(client, seeded.a.admin), str(seeded.a.organization.id), [])
    assert issued.status_code == 201
    token = _token_for(admin_engine)
    assert len(token) >= 40
    with admin_engine.connect() as conn:
        stored = conn.execute(text("SELECT invitations::text FROM invitations")).scalars().all()
        hashes = conn.execute(text("SELECT token_hash FROM invitations")).scalars().all()
        audited = conn.execute(text("SELECT changes::text FROM audit_events")).scalars().all()
        queued = (
            conn.execute(text("SELECT outbox_messages::text FROM outbox_messages")).scalars().all()
        )
    assert len(queued) == 1  # the invitation email, its link sealed (encrypted)
    assert not any(token in row for row in stored + audited + queued)
    assert hashes == [hashlib.sha256(token.encode()).hexdigest()]


def test_invitation_validation_and_permissions(client: FlaskClient, seeded: TwoTenants) -> None:
    a, b = seeded.a, seeded.b
    admin = token_for(client, a.admin)
    bad = client.post(
        INVITE,
        json={
            "email": "nope",
            "name": "",
            "role": "owner",
            "organization_id": str(a.organization.id),
        },
        headers=bearer(admin),
    )
    assert bad.status_code == 422
    assert set(bad.get_json()["errors"]["json"]) == {"email", "name", "role"}

    foreign_org = _invite(client, admin, str(b.organization.id), [])
    assert foreign_org.status_code == 422
    assert "organization_id" in foreign_org.get_json()["errors"]["json"]
    foreign_facility = _invite(client, admin, str(a.organization.id), [str(b.facility.id)])
    assert foreign_facility.status_code == 422
    assert "facility_ids" in foreign_facility.get_json()["errors"]["json"]
    not_listed = _invite(
        client, admin, str(a.organization.id), [], primary_facility_id=str(a.facility.id)
    )
    assert not_listed.status_code == 422

    existing_member = _invite(
        client, admin, str(a.organization.id), [], email=a.office_manager.email
    )
    assert existing_member.status_code == 409

    provider = token_for(client, seeded.shared_provider, a.organization)
    assert _invite(client, provider, str(a.organization.id), []).status_code == 403
    invitation_id = _invite(client, admin, str(a.organization.id), []).get_json()["id"]
    b_admin = token_for(client, b.admin)
    revoke = client.post(
        f"/api/v1/admin/invitations/{invitation_id}/revoke", headers=bearer(b_admin)
    )
    assert revoke.status_code == 404


def test_inviting_an_email_known_elsewhere_reveals_nothing(
    client: FlaskClient, seeded: TwoTenants
) -> None:
    """B's admin invites A's admin: the answer is the same as for an unknown email."""
    b_admin = token_for(client, seeded.b.admin)
    known = _invite(client, b_admin, str(seeded.b.organization.id), [], email=seeded.a.admin.email)
    unknown = _invite(client, b_admin, str(seeded.b.organization.id), [], email="x@example.com")
    assert known.status_code == unknown.status_code == 201
    assert set(known.get_json()) == set(unknown.get_json())
    assert known.get_json()["status"] == unknown.get_json()["status"] == "pending"


def test_office_managers_are_invited_without_facilities(
    client: FlaskClient, seeded: TwoTenants
) -> None:
    admin = token_for(client, seeded.a.admin)
    response = _invite(
        client,
        admin,
        str(seeded.a.organization.id),
        [str(seeded.a.facility.id)],
        role="office_manager",
    )
    assert response.status_code == 422
    assert "facility_ids" in response.get_json()["errors"]["json"]


def test_organization_admins_are_invited_within_reach(
    client: FlaskClient, seeded: TwoTenants, admin_engine: Engine
) -> None:
    a, b = seeded.a, seeded.b
    child, child_admin = child_organization(admin_engine, a.organization)
    as_admin = {"role": "organization_admin"}

    def invite(token: str, organization: Organization, email: str):
        return _invite(client, token, str(organization.id), [], email=email, **as_admin)

    msc = token_for(client, seeded.msc_admin)
    a_admin = token_for(client, a.admin)
    # MSC admins, for any organization; an organization's admins, for it and its children.
    assert invite(msc, b.organization, "one@example.com").status_code == 201
    assert invite(a_admin, a.organization, "two@example.com").status_code == 201
    to_child = invite(a_admin, child, "three@example.com")
    assert to_child.status_code == 201 and to_child.get_json()["role"] == "organization_admin"
    # Not upwards, not across tenants: the organization is out of reach.
    upwards = invite(token_for(client, child_admin), a.organization, "four@example.com")
    assert upwards.status_code == 422 and "organization_id" in validation_errors(upwards)
    across = invite(token_for(client, b.admin), a.organization, "five@example.com")
    assert across.status_code == 422 and "organization_id" in validation_errors(across)
    # Office managers invite providers only; providers invite no one.
    manager = token_for(client, a.office_manager, a.organization)
    by_manager = invite(manager, a.organization, "six@example.com")
    assert by_manager.status_code == 403 and "role" in validation_errors(by_manager)
    provider = token_for(client, seeded.shared_provider, a.organization)
    assert invite(provider, a.organization, "seven@example.com").status_code == 403
    # Admins are not invited to facilities: that is a provider's assignment.
    with_facility = _invite(
        client, a_admin, str(a.organization.id), [str(a.facility.id)], **as_admin
    )
    assert with_facility.status_code == 422 and "facility_ids" in validation_errors(with_facility)

    # The child's new admin accepts, by the same flow and outbox, and administers the child.
    accepted = _accept(client, _token_for(admin_engine, "three@example.com"), password=NEW_PASSWORD)
    assert accepted.status_code == 200 and accepted.get_json()["role"] == "organization_admin"
    signed_in = client.post(
        "/api/v1/auth/login",
        json={
            "email": "three@example.com",
            "password": NEW_PASSWORD,
            "organization_id": str(child.id),
        },
    )
    me = client.get("/api/v1/me", headers=bearer(signed_in.get_json()["access_token"]))
    assert me.get_json()["role"] == "organization_admin"
    assert me.get_json()["organization_id"] == str(child.id)


def test_an_organization_is_created_with_its_first_admin_invited(
    client: FlaskClient, seeded: TwoTenants, admin_engine: Engine
) -> None:
    msc = token_for(client, seeded.msc_admin)
    body = {"name": "Lakeside Clinic", "organization_type": "individual"}
    first_admin = {"email": "first.admin@example.com", "name": "Ada First"}
    created = client.post(
        "/api/v1/admin/organizations",
        json={**body, "first_admin": first_admin},
        headers=bearer(msc),
    )
    assert created.status_code == 201, created.get_json()
    organization_id = created.get_json()["id"]
    assert "first_admin" not in created.get_json()

    listed = client.get(
        f"/api/v1/admin/invitations?organization_id={organization_id}", headers=bearer(msc)
    ).get_json()
    assert [(i["email"], i["role"], i["status"]) for i in listed] == [
        ("first.admin@example.com", "organization_admin", "pending")
    ]
    accepted = _accept(
        client, _token_for(admin_engine, "first.admin@example.com"), password=NEW_PASSWORD
    )
    assert accepted.status_code == 200
    assert accepted.get_json()["organization_id"] == organization_id

    # Optional; validated like any invitation; MSC admins only.
    plain = client.post("/api/v1/admin/organizations", json=body, headers=bearer(msc))
    assert plain.status_code == 201
    bad = client.post(
        "/api/v1/admin/organizations",
        json={**body, "first_admin": {"email": "nope"}},
        headers=bearer(msc),
    )
    assert bad.status_code == 422
    assert set(validation_errors(bad)["first_admin"]) == {"email", "name"}
    by_admin = client.post(
        "/api/v1/admin/organizations",
        json={**body, "first_admin": first_admin},
        headers=bearer(token_for(client, seeded.a.admin)),
    )
    assert by_admin.status_code == 403
    # The field is documented on the request only, and not accepted by the update.
    spec = client.get("/openapi.json").get_json()["components"]["schemas"]
    assert "first_admin" in spec["OrganizationCreate"]["properties"]
    assert "first_admin" not in spec["Organization"]["properties"]
    assert "first_admin" not in spec["OrganizationUpdate"]["properties"]


def test_an_office_manager_invites_providers_to_facilities_they_manage(
    client: FlaskClient, seeded: TwoTenants, admin_engine: Engine
) -> None:
    """To at least one, and to none they do not manage; each refusal names facility_ids."""
    a = seeded.a
    managed = committed_facility(
        admin_engine, a.organization, office_manager_id=a.office_manager.id
    )
    manager = token_for(client, a.office_manager, a.organization)
    organization = str(a.organization.id)

    to_none = _invite(client, manager, organization, [])
    assert to_none.status_code == 422 and "facility_ids" in validation_errors(to_none)
    # the tenant's other facility, which they do not manage, is beyond their reach
    beyond = _invite(client, manager, organization, [str(managed.id), str(a.facility.id)])
    assert beyond.status_code == 422 and "facility_ids" in validation_errors(beyond)
    invited = _invite(client, manager, organization, [str(managed.id)])
    assert invited.status_code == 201, invited.get_json()
    assert invited.get_json()["facility_ids"] == [str(managed.id)]


def test_a_revoke_that_read_the_invitation_before_its_acceptance_sees_it_accepted(
    client: FlaskClient, seeded: TwoTenants, app_engine: Engine, admin_engine: Engine
) -> None:
    """The revoke locks the invitation and reads it again as the lock found it: an
    acceptance committed since the admin's request first read it is seen, and the revoke
    refused (an invitation is never both accepted and revoked)."""
    a = seeded.a
    admin = token_for(client, a.admin)
    invited = _invite(client, admin, str(a.organization.id), [str(a.facility.id)])
    assert invited.status_code == 201
    key = (a.organization.id, uuid.UUID(invited.get_json()["id"]))
    with Session(app_engine) as session:
        use_context(session, a.context())
        invitation = session.get(Invitation, key)
        assert invitation is not None and invitation.accepted_at is None
        accepted = _accept(client, _token_for(admin_engine), password=NEW_PASSWORD)
        assert accepted.status_code == 200, accepted.get_json()
        with pytest.raises(Conflict, match="already been accepted"):
            invitations.revoke(session, invitation)
        session.rollback()
