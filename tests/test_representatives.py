"""MSC representatives: they sign in for the organizations naming them as representative
and read those organizations and their descendants (hierarchy, dashboard, compliance,
onboarding) and nothing else: no other tenant, no other view, no write to any
organization's data. Their own account (password, second factor, profile) they keep up
like anyone."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from dataclasses import dataclass
from typing import Any

import psycopg.errors
import pytest
from flask.testing import FlaskClient
from sqlalchemy import Engine, TextClause, select, text, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from app import clock
from app.auth.passwords import verify_password
from app.models import Facility, Organization, User
from app.models.enums import MSC_REPRESENTATIVE, Role
from app.permissions import Permission
from app.tenancy.context import TenantContext, system_context, use_context
from app.tenancy.resolve import resolve_context
from tests import factories
from tests.api_helpers import (
    child_organization,
    committed_provider,
    committed_representative,
    validation_errors,
)
from tests.conftest import MSC_SYSTEM, TwoTenants, bearer, login, token_for
from tests.test_mfa import MFA, _clock_at, _code, _enrol
from tests.test_route_permissions import REPRESENTATIVE_ROUTES, ROUTES

ADMIN = "/api/v1/admin"
REPRESENTATIVES = f"{ADMIN}/representatives"
SWITCH = "/api/v1/auth/switch-organization"
NEW_PASSWORD = "lantern-walrus-tundra-5812"


@dataclass
class Represented:
    """Tenant A, represented, with a child organization; data for every report."""

    representative: User
    child: Organization
    child_facility: Facility
    child_provider: User


@pytest.fixture
def represented(seeded: TwoTenants, admin_engine: Engine) -> Represented:
    a = seeded.a
    with Session(admin_engine, expire_on_commit=False) as session:
        child = factories.make_organization(
            session, name="Tenant A Child", parent_organization_id=a.organization.id
        )
        child_facility = factories.make_facility(session, child, name="Child Clinic")
        child_provider = factories.make_user(session, npi=factories.unique_npi())
        factories.make_membership(session, child_provider, child, Role.PROVIDER)
        factories.make_assignment(session, child_provider, child_facility)
        session.commit()
    soon = clock.today() + dt.timedelta(days=20)
    with admin_engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO documents (organization_id, document_type, filename, content_type,"
                " size_bytes, sha256, storage_key, expiry_date) VALUES (:o, 'tax_form', 'w9.pdf',"
                " 'application/pdf', 10, repeat('a', 64), 'k', :d)"
            ),
            {"o": a.organization.id, "d": soon},
        )
        conn.execute(
            text(
                "INSERT INTO credentials (user_id, owner_organization_ids, credential_type, state,"
                " number, expiry_date, verification_status) VALUES (:u, :o, 'medical_license',"
                " 'TX', 'L1', :d, 'verified')"
            ),
            {
                "u": seeded.shared_provider.id,
                "o": factories.owner_organization_ids(conn, seeded.shared_provider.id),
                "d": soon,
            },
        )
        conn.execute(
            text(
                "INSERT INTO invitations (organization_id, email, name, role, token_hash,"
                " expires_at) VALUES (:o, 'invitee@example.com', 'Invitee', 'provider',"
                " repeat('c', 64), now() + interval '1 day')"
            ),
            {"o": a.organization.id},
        )
        conn.execute(
            text(
                "INSERT INTO orders (organization_id, facility_id, provider_id, status, amount,"
                " line_count) VALUES (:o, :f, :p, 'submitted', 10, 1)"
            ),
            {"o": a.organization.id, "f": a.facility.id, "p": seeded.shared_provider.id},
        )
    representative = committed_representative(admin_engine, a.organization)
    return Represented(representative, child, child_facility, child_provider)


def _get(client: FlaskClient, token: str, url: str) -> Any:
    response = client.get(url, headers=bearer(token))
    assert response.status_code == 200, (url, response.get_json())
    return response.get_json()


def _reports(organization_id: uuid.UUID, provider_id: uuid.UUID) -> list[str]:
    organization = f"{ADMIN}/organizations/{organization_id}"
    return [
        f"{organization}/hierarchy",
        f"{organization}/dashboard",
        f"{organization}/onboarding",
        f"{ADMIN}/compliance?organization_id={organization_id}",
        f"{ADMIN}/compliance/expirations?organization_id={organization_id}",
        f"{ADMIN}/providers/{provider_id}/compliance",
        organization,
    ]


# --- signing in --------------------------------------------------------------------------


def test_a_representative_signs_in_for_the_organization_they_represent(
    client: FlaskClient, seeded: TwoTenants, represented: Represented
) -> None:
    # Tokens as a sign-in issues them once password and second factor have checked out
    # (representatives must use one: tests/test_mfa.py signs one in for real).
    token = token_for(client, represented.representative)
    me = _get(client, token, "/api/v1/me")
    assert me["role"] == MSC_REPRESENTATIVE
    assert me["organization_id"] == str(seeded.a.organization.id)
    assert me["permissions"] == [Permission.VIEW_REPRESENTED_ORGANIZATIONS]
    assert me["memberships"] == []
    assert me["represented_organizations"] == [
        {"organization_id": str(seeded.a.organization.id), "organization_name": "Tenant A"}
    ]
    # the organizations they act for: the represented one and its child, not B
    listed = _get(client, token, f"{ADMIN}/organizations")
    assert sorted(o["name"] for o in listed) == ["Tenant A", "Tenant A Child"]


def test_the_first_represented_organization_by_name_is_the_default(
    client: FlaskClient, seeded: TwoTenants, admin_engine: Engine
) -> None:
    both = committed_representative(admin_engine, seeded.b.organization, seeded.a.organization)
    me = _get(client, token_for(client, both), "/api/v1/me")
    assert me["organization_id"] == str(seeded.a.organization.id)
    assert [o["organization_name"] for o in me["represented_organizations"]] == [
        "Tenant A",
        "Tenant B",
    ]
    # ... and each is theirs to act for
    token = token_for(client, both, seeded.b.organization)
    assert _get(client, token, "/api/v1/me")["organization_id"] == str(seeded.b.organization.id)


def test_a_member_who_represents_acts_as_a_member_where_they_belong(
    client: FlaskClient, seeded: TwoTenants, admin_engine: Engine
) -> None:
    """A membership is the first choice at sign-in, and where the user belongs they act
    with their member's role; in its child, where they do not, as its representative."""
    provider = seeded.shared_provider
    child, _ = child_organization(admin_engine, seeded.a.organization)
    committed_representative(admin_engine, seeded.a.organization, user=provider)
    member = _get(client, token_for(client, provider), "/api/v1/me")
    assert member["role"] == Role.PROVIDER
    assert (
        _get(client, token_for(client, provider, seeded.a.organization), "/api/v1/me")["role"]
        == Role.PROVIDER
    )
    as_representative = _get(client, token_for(client, provider, child), "/api/v1/me")
    assert as_representative["role"] == MSC_REPRESENTATIVE
    assert as_representative["organization_id"] == str(child.id)


# --- what they read -------------------------------------------------------------------------


def test_a_representative_reads_the_reports_as_the_organization_admin_does(
    client: FlaskClient, seeded: TwoTenants, represented: Represented
) -> None:
    """The same answers as the organization admin's, for the organization and its child:
    the policies admit the representative to the same rows."""
    a = seeded.a
    token = token_for(client, represented.representative)
    admin = token_for(client, a.admin)
    for url in _reports(a.organization.id, seeded.shared_provider.id) + _reports(
        represented.child.id, represented.child_provider.id
    ):
        assert _get(client, token, url) == _get(client, admin, url), url

    # ... and those answers hold the data, so the equality above means something
    organization = f"{ADMIN}/organizations/{a.organization.id}"
    tree = _get(client, token, f"{organization}/hierarchy")
    [child] = tree["children"]
    assert child["organization"]["name"] == "Tenant A Child"
    [child_facility] = child["facilities"]
    assert child_facility["facility"]["name"] == "Child Clinic"
    assert [p["id"] for p in child_facility["providers"]] == [str(represented.child_provider.id)]
    dashboard = _get(client, token, f"{organization}/dashboard")
    assert dashboard["overview"]["total_facilities"] == 2
    assert dashboard["overview"]["total_providers"] == 2
    assert dashboard["overview"]["active_orders"] == 1
    assert dashboard["recent_activity"] != []
    steps = {
        s["step"]: s["completed"]
        for s in _get(client, token, f"{organization}/onboarding")["steps"]
    }
    assert steps["tax_documentation"] and steps["provider_invitations"]
    assert not steps["banking_setup"]
    compliance = _get(client, token, f"{ADMIN}/compliance?organization_id={a.organization.id}")
    assert str(seeded.shared_provider.id) in {p["user_id"] for p in compliance["providers"]}
    expiring = _get(
        client, token, f"{ADMIN}/compliance/expirations?organization_id={a.organization.id}"
    )
    assert len(expiring) == 2  # the provider's license and the organization's tax form


def test_a_representative_switches_to_a_represented_organizations_child(
    client: FlaskClient, seeded: TwoTenants, represented: Represented
) -> None:
    token = token_for(client, represented.representative)
    response = client.post(
        SWITCH, json={"organization_id": str(represented.child.id)}, headers=bearer(token)
    )
    assert response.status_code == 200, response.get_json()
    switched = response.get_json()["access_token"]
    me = _get(client, switched, "/api/v1/me")
    assert me["organization_id"] == str(represented.child.id)
    # acting for the child, the parent is out of scope
    parent = f"{ADMIN}/organizations/{seeded.a.organization.id}/dashboard"
    assert client.get(parent, headers=bearer(switched)).status_code == 404
    child = f"{ADMIN}/organizations/{represented.child.id}/hierarchy"
    assert _get(client, switched, child)["organization"]["id"] == str(represented.child.id)


def test_a_representative_of_a_gets_404_on_b(
    client: FlaskClient, seeded: TwoTenants, represented: Represented, admin_engine: Engine
) -> None:
    b = seeded.b
    b_only = committed_provider(admin_engine, b.organization)
    token = token_for(client, represented.representative)
    for url in _reports(b.organization.id, b_only.id):
        response = client.get(url, headers=bearer(token))
        assert response.status_code == 404, (url, response.get_json())
    # the B admin sees them: the 404s above are the representative's reach
    for url in _reports(b.organization.id, b_only.id):
        _get(client, token_for(client, b.admin), url)
    response = client.post(
        SWITCH, json={"organization_id": str(b.organization.id)}, headers=bearer(token)
    )
    assert response.status_code == 404
    body = {
        "email": represented.representative.email,
        "password": factories.PASSWORD,
        "organization_id": str(b.organization.id),
    }
    assert client.post("/api/v1/auth/login", json=body).status_code == 403


# --- what they may not do -------------------------------------------------------------------


def _concrete(route: str, seeded: TwoTenants) -> tuple[str, str]:
    """The route's method and a URL for it, its ids those of tenant A (which the
    representative reaches, so no 404 can stand in for a 403)."""
    method, path = route.split(" ", 1)
    a = seeded.a
    values = {
        "organization_id": a.organization.id,
        "facility_id": a.facility.id,
        "provider_id": seeded.shared_provider.id,
        "user_id": seeded.shared_provider.id,
        "step": "go_live",
    }
    return method, re.sub(r"\{(\w+)\}", lambda m: str(values.get(m[1], uuid.uuid4())), path)


def test_every_other_view_answers_a_representative_403(
    client: FlaskClient, seeded: TwoTenants, represented: Represented
) -> None:
    token = token_for(client, represented.representative)
    refused = {
        route
        for route, requirement in ROUTES.items()
        if (isinstance(requirement, tuple) or requirement == "msc-admin")
        and route not in REPRESENTATIVE_ROUTES
    }
    assert len(refused) > 40
    answers = {}
    for route in sorted(refused):
        method, url = _concrete(route, seeded)
        body = None if method == "GET" else {}
        response = client.open(url, method=method, json=body, headers=bearer(token))
        answers[route] = response.status_code
    assert {route: status for route, status in answers.items() if status != 403} == {}


def test_writes_through_the_api_are_refused(
    client: FlaskClient, seeded: TwoTenants, represented: Represented, admin_engine: Engine
) -> None:
    a = seeded.a
    token = token_for(client, represented.representative)
    attempts: list[tuple[str, str, dict[str, Any]]] = [
        ("POST", f"{ADMIN}/organizations/{a.organization.id}/facilities", {"name": "X"}),
        (
            "POST",
            f"{ADMIN}/providers/invite",
            {
                "email": "someone@example.com",
                "name": "Someone",
                "role": "provider",
                "organization_id": str(a.organization.id),
            },
        ),
        # open to every signed-in user, refused by the domain (only admins edit it)
        ("PUT", f"{ADMIN}/organizations/{a.organization.id}", {"name": "Taken over"}),
    ]
    for method, url, body in attempts:
        response = client.open(url, method=method, json=body, headers=bearer(token))
        assert response.status_code == 403, (url, response.get_json())
    with admin_engine.connect() as conn:
        assert (
            conn.scalar(
                text("SELECT name FROM organizations WHERE id = :o"), {"o": a.organization.id}
            )
            == "Tenant A"
        )
        assert conn.scalar(text("SELECT count(*) FROM facilities WHERE name = 'X'")) == 0
        assert (
            conn.scalar(
                text("SELECT count(*) FROM invitations WHERE email = 'someone@example.com'")
            )
            == 0
        )


def test_a_representative_keeps_up_their_own_account(
    client: FlaskClient, seeded: TwoTenants, represented: Represented, admin_engine: Engine
) -> None:
    """Their password, second factor and profile are their own account's, which the
    policies leave to every user: signed in as a representative, they change them."""
    representative = represented.representative
    token = token_for(client, representative)
    enrolled = _enrol(client, token)
    with _clock_at(1):
        replaced = client.post(
            f"{MFA}/recovery-codes", json={"code": _code(enrolled.secret, 1)}, headers=bearer(token)
        )
    assert replaced.status_code == 200, replaced.get_json()
    new_codes = replaced.get_json()["recovery_codes"]
    changed = client.post(
        "/api/v1/auth/password",
        json={"current_password": factories.PASSWORD, "new_password": NEW_PASSWORD},
        headers=bearer(token),
    )
    assert changed.status_code == 200, changed.get_json()
    renamed = client.put(
        "/api/v1/me", json={"name": "Renamed Representative"}, headers=bearer(token)
    )
    assert renamed.status_code == 200, renamed.get_json()
    assert renamed.get_json()["name"] == "Renamed Representative"

    with admin_engine.connect() as conn:
        row = conn.execute(
            text("SELECT name, password_hash FROM users WHERE id = :u"), {"u": representative.id}
        ).one()
        unused = conn.scalar(
            text("SELECT count(*) FROM mfa_recovery_codes WHERE user_id = :u AND used_at IS NULL"),
            {"u": representative.id},
        )
    assert row.name == "Renamed Representative"
    assert verify_password(row.password_hash, NEW_PASSWORD)
    assert unused == len(new_codes) == 10
    # ... and the organizations' data stays theirs to read only
    refused = client.post(
        f"{ADMIN}/organizations/{seeded.a.organization.id}/facilities",
        json={"name": "X"},
        headers=bearer(token),
    )
    assert refused.status_code == 403


def test_a_representative_is_handed_no_document(
    client: FlaskClient, seeded: TwoTenants, represented: Represented, admin_engine: Engine
) -> None:
    """Their reports read the documents' types and dates; the documents are not theirs."""
    with admin_engine.connect() as conn:
        document_id = conn.scalar(
            text("SELECT id FROM documents WHERE organization_id = :o"),
            {"o": seeded.a.organization.id},
        )
    url = f"/api/v1/documents/{document_id}"
    token = token_for(client, represented.representative)
    for path in (url, f"{url}/content"):
        assert client.get(path, headers=bearer(token)).status_code == 403, path
    assert client.get(url, headers=bearer(token_for(client, seeded.a.admin))).status_code == 200


# --- the role, and taking it away ------------------------------------------------------------


def test_only_msc_admins_grant_and_take_away_the_role(
    client: FlaskClient, seeded: TwoTenants, represented: Represented
) -> None:
    user = seeded.a.office_manager
    for caller in (seeded.a.admin, represented.representative):
        token = token_for(client, caller)
        for method in ("PUT", "DELETE"):
            url = f"{REPRESENTATIVES}/{user.id}"
            assert client.open(url, method=method, headers=bearer(token)).status_code == 403
        assert client.get(REPRESENTATIVES, headers=bearer(token)).status_code == 403

    msc = token_for(client, seeded.msc_admin)
    organization = f"{ADMIN}/organizations/{seeded.b.organization.id}"
    # naming a user who is no representative is refused, naming the field
    named = client.put(
        organization, json={"msc_representative_id": str(user.id)}, headers=bearer(msc)
    )
    assert named.status_code == 422
    assert set(validation_errors(named)) == {"msc_representative_id"}

    granted = client.put(f"{REPRESENTATIVES}/{user.id}", headers=bearer(msc))
    assert granted.status_code == 200
    assert granted.get_json() == {
        "id": str(user.id),
        "email": user.email,
        "name": user.name,
        "is_active": True,
        "organizations": [],
    }
    named = client.put(
        organization, json={"msc_representative_id": str(user.id)}, headers=bearer(msc)
    )
    assert named.status_code == 200, named.get_json()
    listed = _get(client, msc, REPRESENTATIVES)
    assert [(r["name"], r["organizations"]) for r in listed] == sorted(
        [
            (
                represented.representative.name,
                [
                    {
                        "organization_id": str(seeded.a.organization.id),
                        "organization_name": "Tenant A",
                    }
                ],
            ),
            (
                user.name,
                [
                    {
                        "organization_id": str(seeded.b.organization.id),
                        "organization_name": "Tenant B",
                    }
                ],
            ),
        ]
    )
    assert client.put(f"{REPRESENTATIVES}/{uuid.uuid4()}", headers=bearer(msc)).status_code == 404


def test_naming_someone_else_stops_the_representative_on_the_next_request(
    client: FlaskClient, seeded: TwoTenants, represented: Represented, admin_engine: Engine
) -> None:
    token = token_for(client, represented.representative)
    url = f"{ADMIN}/organizations/{seeded.a.organization.id}/hierarchy"
    _get(client, token, url)
    successor = committed_representative(admin_engine)
    msc = token_for(client, seeded.msc_admin)
    organization = f"{ADMIN}/organizations/{seeded.a.organization.id}"
    named = client.put(
        organization, json={"msc_representative_id": str(successor.id)}, headers=bearer(msc)
    )
    assert named.status_code == 200, named.get_json()
    assert client.get(url, headers=bearer(token)).status_code == 401
    # the one named now acts for it
    assert _get(client, token_for(client, successor), url)["organization"]["id"] == str(
        seeded.a.organization.id
    )


def test_an_organization_moved_out_of_what_they_represent_is_out_of_reach_next_request(
    client: FlaskClient, seeded: TwoTenants, represented: Represented
) -> None:
    """Acting for a child of an organization they represent, the representative loses it
    when MSC moves the child under one they do not represent."""
    child = represented.child
    token = token_for(client, represented.representative, child)
    url = f"{ADMIN}/organizations/{child.id}/hierarchy"
    _get(client, token, url)
    msc = token_for(client, seeded.msc_admin)
    moved = client.put(
        f"{ADMIN}/organizations/{child.id}",
        json={"parent_organization_id": str(seeded.b.organization.id)},
        headers=bearer(msc),
    )
    assert moved.status_code == 200, moved.get_json()
    assert client.get(url, headers=bearer(token)).status_code == 401
    # acting for the organization they represent, the child has left its hierarchy
    parent = _get(
        client,
        token_for(client, represented.representative),
        f"{ADMIN}/organizations/{seeded.a.organization.id}/hierarchy",
    )
    assert parent["children"] == []


def test_a_representative_who_is_a_member_elsewhere_has_what_each_role_gives(
    client: FlaskClient,
    seeded: TwoTenants,
    represented: Represented,
    admin_engine: Engine,
    app_engine: Engine,
) -> None:
    """A provider of B who represents A: acting for A, the representative's reports of A
    and nothing of B or of a provider's; acting for B, a provider's own data there and
    nothing of A's."""
    a, b = seeded.a, seeded.b
    user = committed_representative(
        admin_engine, a.organization, user=committed_provider(admin_engine, b.organization)
    )
    own = "/api/v1/me/credentials"
    license_ = {
        "credential_type": "medical_license",
        "state": "TX",
        "number": "L-2",
        "expiry_date": (clock.today() + dt.timedelta(days=400)).isoformat(),
    }

    as_representative = token_for(client, user, a.organization)
    assert _get(client, as_representative, "/api/v1/me")["role"] == MSC_REPRESENTATIVE
    _get(client, as_representative, f"{ADMIN}/organizations/{a.organization.id}/dashboard")
    b_dashboard = f"{ADMIN}/organizations/{b.organization.id}/dashboard"
    assert client.get(b_dashboard, headers=bearer(as_representative)).status_code == 404
    assert sorted(o["name"] for o in _get(client, as_representative, f"{ADMIN}/organizations")) == [
        "Tenant A",
        "Tenant A Child",
    ]
    for method in ("GET", "POST"):
        response = client.open(own, method=method, json=license_, headers=bearer(as_representative))
        assert response.status_code == 403, (method, response.get_json())

    as_provider = token_for(client, user, b.organization)
    assert _get(client, as_provider, "/api/v1/me")["role"] == Role.PROVIDER
    added = client.post(own, json=license_, headers=bearer(as_provider))
    assert added.status_code == 201, added.get_json()
    a_dashboard = f"{ADMIN}/organizations/{a.organization.id}/dashboard"
    assert client.get(a_dashboard, headers=bearer(as_provider)).status_code == 403
    assert [o["name"] for o in _get(client, as_provider, f"{ADMIN}/organizations")] == ["Tenant B"]

    # Their own credential, which the credentials policy lets its owner change: acting as
    # a representative they change it no more than anything of A's.
    with Session(app_engine) as session:
        assert resolve_context(session, user.id, a.organization.id) is not None
        edit = text("UPDATE credentials SET number = 'L-3' WHERE user_id = :u")
        assert _outcome(session, edit, {"u": user.id}) == "refused by credentials_may_write"
        assert resolve_context(session, user.id, b.organization.id) is not None
        assert _outcome(session, edit, {"u": user.id}) == "written"


def test_taking_the_role_away_stops_the_representative_on_the_next_request(
    client: FlaskClient, seeded: TwoTenants, represented: Represented, admin_engine: Engine
) -> None:
    representative = represented.representative
    token = token_for(client, representative)
    url = f"{ADMIN}/organizations/{seeded.a.organization.id}/dashboard"
    _get(client, token, url)
    msc = token_for(client, seeded.msc_admin)
    response = client.delete(f"{REPRESENTATIVES}/{representative.id}", headers=bearer(msc))
    assert response.status_code == 204
    assert client.get(url, headers=bearer(token)).status_code == 401
    assert _get(client, msc, REPRESENTATIVES) == []
    with admin_engine.connect() as conn:
        # the organization let go of them, and both changes are in the trail as MSC's
        assert (
            conn.scalar(
                text("SELECT msc_representative_id FROM organizations WHERE id = :o"),
                {"o": seeded.a.organization.id},
            )
            is None
        )
        events = conn.execute(
            text(
                "SELECT table_name, changes FROM audit_events"
                " WHERE actor_user_id = :u AND action = 'update' ORDER BY table_name"
            ),
            {"u": seeded.msc_admin.id},
        ).all()
    assert [(table, sorted(changes)) for table, changes in events] == [
        ("organizations", ["msc_representative_id"]),
        ("users", ["is_msc_representative"]),
    ]
    # signing in again finds nowhere to act
    assert _get(client, login(client, representative), "/api/v1/me")["organization_id"] is None


# --- the database's side ---------------------------------------------------------------------


@pytest.fixture
def representative(db: Session, tenants: TwoTenants) -> User:
    """Tenant A's representative, with a child organization under A."""
    use_context(db, MSC_SYSTEM)
    user = factories.make_user(db, is_msc_representative=True)
    db.execute(
        update(Organization)
        .where(Organization.id == tenants.a.organization.id)
        .values(msc_representative_id=user.id)
    )
    factories.make_facility(
        db, factories.make_organization(db, parent_organization_id=tenants.a.organization.id)
    )
    use_context(db, TenantContext())
    return user


def test_the_context_reaches_the_subtree(
    db: Session, tenants: TwoTenants, representative: User
) -> None:
    a, b = tenants.a, tenants.b
    context = resolve_context(db, representative.id, a.organization.id)
    assert context is not None
    assert context.role == MSC_REPRESENTATIVE and not context.is_msc_admin
    children = db.scalars(
        select(Organization.id).where(Organization.parent_organization_id == a.organization.id)
    ).all()
    assert set(context.organization_ids) == {a.organization.id, *children}
    facilities = set(db.scalars(select(Facility.organization_id)).all())
    assert facilities == {a.organization.id, *children}
    assert db.scalar(select(User.id).where(User.id == b.admin.id)) is None
    assert db.scalar(select(User.id).where(User.id == a.admin.id)) == a.admin.id


def test_the_context_is_refused_outside_what_they_represent(
    db: Session, tenants: TwoTenants, representative: User
) -> None:
    a, b = tenants.a, tenants.b
    assert resolve_context(db, representative.id, b.organization.id) is None
    use_context(db, MSC_SYSTEM)
    stranger = factories.make_user(db, is_msc_representative=True)
    unflagged = factories.make_user(db)
    use_context(db, TenantContext())
    # a representative of nothing, and a user who is none
    assert resolve_context(db, stranger.id, a.organization.id) is None
    assert resolve_context(db, unflagged.id, a.organization.id) is None
    # no organization asked for: their own row only
    context = resolve_context(db, representative.id, None)
    assert context is not None and context.role is None and context.organization_ids == ()


# Every table holding organizations' data, and which of its rows are tenant A's (the
# `represented` fixture's, and those `_onboarding_and_outbox_rows` adds).
TENANT_ROWS = {
    "organizations": "id = :a",
    "facilities": "organization_id = :a",
    "memberships": "organization_id = :a",
    "provider_facilities": "organization_id = :a",
    "primary_assignments": "organization_id = :a",
    "invitations": "organization_id = :a",
    "onboarding_step_completions": "organization_id = :a",
    "documents": "organization_id = :a",
    "credentials": "user_id = :provider",
    "credential_verifications": "organization_id = :a",
    "orders": "organization_id = :a",
    "outbox_messages": "organization_id = :a",
    "provider_screenings": "organization_id = :a",
    "exclusion_matches": "organization_id = :a",
    "license_checks": "organization_id = :a",
    "webhook_endpoints": "organization_id = :a",
    "webhook_events": "organization_id = :a",
    "webhook_deliveries": "organization_id = :a",
    "webhook_attempts": "organization_id = :a",
}


def _onboarding_and_outbox_rows(
    admin_engine: Engine, app_engine: Engine, organization: Organization, provider_id: uuid.UUID
) -> None:
    # The list entry, written as its import writes it: in the service's context (no one
    # else writes the lists, the owner included: tenancy.refuse_list_writes).
    with Session(app_engine) as session:
        use_context(session, MSC_SYSTEM)
        list_id = session.scalar(
            text(
                "INSERT INTO exclusion_lists (source, kind, published_on, sha256, entry_count)"
                " VALUES ('leie', 'full', current_date, repeat('a', 64), 1) RETURNING id"
            )
        )
        entry_id = session.scalar(
            text(
                "INSERT INTO exclusion_entries (source, entry_key, list_id, first_name,"
                " last_name) VALUES ('leie', 'representatives-test', :l, 'Pat', 'Doe')"
                " RETURNING id"
            ),
            {"l": list_id},
        )
        session.commit()
    listed = {"list": list_id, "entry": entry_id}
    with admin_engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO onboarding_step_completions (organization_id, step, completed_at)"
                " VALUES (:o, 'training_and_certification', now())"
            ),
            {"o": organization.id},
        )
        conn.execute(
            text(
                "INSERT INTO outbox_messages (organization_id, kind, idempotency_key,"
                " recipient_email, subject, template, payload) VALUES (:o, 'invitation',"
                " 'representatives-test', 'invitee@example.com', 'Join', 'invitation', '{}')"
            ),
            {"o": organization.id},
        )
        # the decision behind the `represented` fixture's verified credential
        conn.execute(
            text(
                "INSERT INTO credential_verifications (organization_id, credential_id, user_id,"
                " verification_status, verified_at)"
                " SELECT :o, id, user_id, 'verified', now() FROM credentials"
            ),
            {"o": organization.id},
        )
        # a screening of the shared provider, and its match on a list entry
        conn.execute(
            text(
                "WITH screening AS (INSERT INTO provider_screenings"
                "   (organization_id, user_id, reason, list_ids, outcome)"
                "   VALUES (:o, :provider, 'monthly', ARRAY[:list]::uuid[], 'candidate'))"
                " INSERT INTO exclusion_matches"
                "   (organization_id, user_id, entry_id, match_kind, status)"
                " VALUES (:o, :provider, :entry, 'name_and_state', 'candidate')"
            ),
            {"o": organization.id, "provider": provider_id, **listed},
        )
        # a check of the credential's license, waiting for the registry
        conn.execute(
            text(
                "INSERT INTO license_checks (organization_id, credential_id, user_id, state,"
                " outcome) SELECT :o, id, user_id, 'IL', 'pending' FROM credentials"
            ),
            {"o": organization.id},
        )
        # an endpoint, an event for it, its delivery and an attempt
        conn.execute(
            text(
                "WITH endpoint AS (INSERT INTO webhook_endpoints (organization_id, url,"
                "   event_types, secret_sealed) VALUES (:o, 'https://hooks.example.com/',"
                "   ARRAY['provider.joined'], 'sealed') RETURNING id),"
                " event AS (INSERT INTO webhook_events (organization_id, type, key, data)"
                "   VALUES (:o, 'provider.joined', 'representatives-test', '{}') RETURNING id),"
                " delivery AS (INSERT INTO webhook_deliveries (organization_id, endpoint_id,"
                "   event_id) SELECT :o, endpoint.id, event.id FROM endpoint, event"
                "   RETURNING id, endpoint_id, event_id)"
                " INSERT INTO webhook_attempts (organization_id, delivery_id, endpoint_id,"
                "   event_id, number, attempted_at, url, status_code, latency_ms)"
                " SELECT :o, id, endpoint_id, event_id, 1, now(), 'https://hooks.example.com/',"
                "   200, 5 FROM delivery"
            ),
            {"o": organization.id},
        )


# The primary key of the tables whose key is not `id`: what an update sets to itself.
KEYS = {"primary_assignments": "user_id"}


def _writes(table: str, rows: str) -> dict[str, TextClause]:
    key = KEYS.get(table, "id")
    return {
        # a copy of the rows: the policies judge a new row before any constraint does
        "insert": text(f"INSERT INTO {table} SELECT * FROM {table} WHERE {rows}"),
        "update": text(f"UPDATE {table} SET {key} = {key} WHERE {rows}"),
        "delete": text(f"DELETE FROM {table} WHERE {rows}"),
    }


def _outcome(session: Session, write: TextClause, params: dict[str, Any]) -> str:
    """What became of a write, tried in a savepoint rolled back at once: "written" (some
    row), "nothing" (no row reached: the policies filtered them all out), "refused" (a
    policy's check raised, or a trigger; "by <trigger>" when the `<table>_may_write`
    trigger did, as its message names it), or "not granted" (the application role may not
    write so at all)."""
    savepoint = session.begin_nested()
    try:
        written = session.execute(write, params).rowcount
    except DBAPIError as error:
        savepoint.rollback()
        if not isinstance(error.orig, psycopg.errors.InsufficientPrivilege):
            raise
        if str(error.orig).startswith("permission denied"):
            return "not granted"
        trigger = re.search(r"writes no data of organizations \((\w+)\)", str(error.orig))
        return f"refused by {trigger[1]}" if trigger else "refused"
    savepoint.rollback()
    return "written" if written else "nothing"


def _tenant_writes(session: Session, params: dict[str, Any]) -> dict[str, dict[str, str]]:
    """Each write of each table's, and what became of it."""
    return {
        table: {
            command: _outcome(session, write, params)
            for command, write in _writes(table, rows).items()
        }
        for table, rows in TENANT_ROWS.items()
    }


def test_a_representative_writes_no_tenant_data_in_any_transaction(
    seeded: TwoTenants, represented: Represented, admin_engine: Engine, app_engine: Engine
) -> None:
    """Whatever reach they are given: as their context resolves, the other policies
    already refuse nearly every write; with MSC reach lent (`system_context`, which
    keeps the caller's role) nothing else stands in the way, and every insert, update and
    delete is refused. In the transaction the context was resolved
    in, and in the next one of the same session (a job or command going on after a
    commit): the role is applied anew with each."""
    a = seeded.a
    with admin_engine.connect() as conn:
        guarded = conn.scalars(
            text(
                "SELECT c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid"
                " WHERE t.tgname = c.relname || '_may_write'"
            )
        ).all()
    assert set(guarded) == set(TENANT_ROWS)  # every table the policies guard is tried here
    _onboarding_and_outbox_rows(admin_engine, app_engine, a.organization, seeded.shared_provider.id)
    params = {"a": a.organization.id, "provider": seeded.shared_provider.id}
    refusal = {
        table: {
            "insert": f"refused by {table}_may_write",
            "update": f"refused by {table}_may_write",
            "delete": f"refused by {table}_may_write",
        }
        for table in TENANT_ROWS
    }
    # History no one deletes or changes (policies/<table>.sql grant no more).
    refusal["invitations"]["delete"] = "not granted"
    refusal["outbox_messages"]["delete"] = "not granted"
    refusal["onboarding_step_completions"]["update"] = "not granted"
    refusal["credential_verifications"]["update"] = "not granted"
    refusal["credential_verifications"]["delete"] = "not granted"
    refusal["provider_screenings"]["update"] = "not granted"
    refusal["provider_screenings"]["delete"] = "not granted"
    refusal["exclusion_matches"]["delete"] = "not granted"
    refusal["license_checks"]["delete"] = "not granted"
    refusal["webhook_events"]["update"] = "not granted"
    refusal["webhook_events"]["delete"] = "not granted"
    refusal["webhook_deliveries"]["delete"] = "not granted"
    refusal["webhook_attempts"]["update"] = "not granted"
    refusal["webhook_attempts"]["delete"] = "not granted"
    with Session(app_engine) as session:
        context = resolve_context(session, represented.representative.id, a.organization.id)
        assert context is not None
        for transaction in ("first", "next"):
            if transaction == "next":
                session.commit()
            outcomes = _tenant_writes(session, params)
            written = {t: o for t, o in outcomes.items() if "written" in o.values()}
            assert written == {}, transaction
            with system_context(session):
                for table, rows in TENANT_ROWS.items():
                    count = text(f"SELECT count(*) FROM {table} WHERE {rows}")
                    assert session.scalar(count, params), table  # there is a row to write
                outcomes = _tenant_writes(session, params)
            assert outcomes == refusal, transaction
        # The same updates in MSC's own context are written: the representative's role is
        # what refuses them.
        use_context(session, MSC_SYSTEM)
        updates = {
            table: _outcome(session, _writes(table, rows)["update"], params)
            for table, rows in TENANT_ROWS.items()
        }
        unwritten = {table: outcome for table, outcome in updates.items() if outcome != "written"}
        assert unwritten == {
            "onboarding_step_completions": "not granted",
            "credential_verifications": "not granted",
            "provider_screenings": "not granted",
            "webhook_events": "not granted",
            "webhook_attempts": "not granted",
        }


def test_naming_a_representative_and_taking_the_role_away_take_turns(
    seeded: TwoTenants, admin_engine: Engine, app_engine: Engine
) -> None:
    """Naming a user on an organization holds their row until it commits: taking their
    role away waits for it, and then finds the organization naming them."""
    user = committed_representative(admin_engine)
    organization = seeded.b.organization
    name = update(Organization).where(Organization.id == organization.id)
    take_away = update(User).where(User.id == user.id).values(is_msc_representative=False)
    with Session(app_engine) as naming, Session(app_engine) as revoking:
        use_context(naming, MSC_SYSTEM)
        use_context(revoking, MSC_SYSTEM)
        naming.execute(name.values(msc_representative_id=user.id))
        revoking.execute(text("SET LOCAL lock_timeout = '200ms'"))
        with pytest.raises(DBAPIError) as waited:
            revoking.execute(take_away)
        assert isinstance(waited.value.orig, psycopg.errors.LockNotAvailable)
        revoking.rollback()
        naming.commit()
        with pytest.raises(DBAPIError, match="still the MSC representative of an organization"):
            revoking.execute(take_away)


def test_only_msc_admins_change_the_flag_and_named_representatives_keep_it(
    db: Session, tenants: TwoTenants, representative: User
) -> None:
    user = tenants.a.admin
    use_context(db, TenantContext(user_id=user.id))
    raise_own = update(User).where(User.id == user.id).values(is_msc_representative=True)
    refused = re.escape("only MSC admins may change users.is_msc_representative")
    with pytest.raises(DBAPIError, match=refused), db.begin_nested():
        db.execute(raise_own)
    use_context(db, MSC_SYSTEM)
    released = update(User).where(User.id == representative.id).values(is_msc_representative=False)
    with (
        pytest.raises(DBAPIError, match="still the MSC representative of an organization"),
        db.begin_nested(),
    ):
        db.execute(released)
