"""Members: listing an organization's members, changing roles, deactivating and
reactivating memberships and accounts; who may do each, that each change takes effect on
the member's next request, that it is audited, and that an organization keeps an admin."""

from __future__ import annotations

import threading
import uuid
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session

from app.domain import members
from app.domain.errors import Conflict
from app.domain.members import LAST_ADMIN
from app.extensions import db
from app.models import Membership, Organization, User
from app.models.enums import Role
from app.tenancy.context import TenantContext, use_context
from tests import factories
from tests.api_helpers import child_organization, counting_statements, validation_errors
from tests.conftest import TwoTenants, bearer, token_for

ADMIN = "/api/v1/admin"


def _members_url(organization: Organization) -> str:
    return f"{ADMIN}/organizations/{organization.id}/members"


def _membership_id(admin_engine: Engine, user: User, organization: Organization) -> uuid.UUID:
    with admin_engine.connect() as conn:
        found: uuid.UUID = conn.execute(
            text("SELECT id FROM memberships WHERE user_id = :u AND organization_id = :o"),
            {"u": user.id, "o": organization.id},
        ).scalar_one()
    return found


def _add_member(admin_engine: Engine, organization: Organization, role: str) -> User:
    with Session(admin_engine, expire_on_commit=False) as session:
        user = factories.make_user(session)
        factories.make_membership(session, user, organization, role)
        session.commit()
    return user


def _audit(admin_engine: Engine, table: str, row_id: uuid.UUID) -> list[dict[str, Any]]:
    with admin_engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT actor_user_id, organization_id, changes, cross_tenant FROM audit_events"
                " WHERE table_name = :t AND row_id = :r AND action = 'update'"
                " ORDER BY occurred_at, id"
            ),
            {"t": table, "r": row_id},
        ).mappings()
        return [dict(r) for r in rows]


def test_members_are_listed_with_roles_and_status(
    app: Flask, client: FlaskClient, seeded: TwoTenants, admin_engine: Engine
) -> None:
    a = seeded.a
    admin = token_for(client, a.admin)
    listed = client.get(_members_url(a.organization), headers=bearer(admin))
    assert listed.status_code == 200, listed.get_json()
    assert listed.headers["X-Pagination"]
    by_user = {m["user_id"]: m for m in listed.get_json()}
    assert {(u, m["role"], m["status"]) for u, m in by_user.items()} == {
        (str(a.admin.id), "organization_admin", "active"),
        (str(a.office_manager.id), "office_manager", "active"),
        (str(seeded.shared_provider.id), "provider", "active"),
    }
    mine = by_user[str(a.admin.id)]
    assert mine["email"] == a.admin.email and mine["organization_id"] == str(a.organization.id)
    assert mine["id"] == str(_membership_id(admin_engine, a.admin, a.organization))

    providers = client.get(f"{_members_url(a.organization)}?role=provider", headers=bearer(admin))
    assert [m["user_id"] for m in providers.get_json()] == [str(seeded.shared_provider.id)]
    bad = client.get(f"{_members_url(a.organization)}?role=owner", headers=bearer(admin))
    assert bad.status_code == 422 and "role" in bad.get_json()["errors"]["query"]
    bad_status = client.get(f"{_members_url(a.organization)}?status=gone", headers=bearer(admin))
    assert bad_status.status_code == 422 and "status" in bad_status.get_json()["errors"]["query"]

    with counting_statements(app) as statements:  # the context, then the member
        one = client.get(f"{ADMIN}/members/{mine['id']}", headers=bearer(admin))
    assert one.status_code == 200 and one.get_json() == mine
    assert len(statements) <= 2


def test_who_may_list_and_change_members(
    client: FlaskClient, seeded: TwoTenants, admin_engine: Engine
) -> None:
    """MSC admins and the admins of the organization or of an ancestor: yes; office
    managers and providers: 403; a child's admin, upwards, and another tenant's admin: 404."""
    a, b = seeded.a, seeded.b
    child, child_admin = child_organization(admin_engine, a.organization)
    child_member = _add_member(admin_engine, child, Role.PROVIDER)
    target = _membership_id(admin_engine, child_member, child)
    a_member = _membership_id(admin_engine, seeded.shared_provider, a.organization)

    def answers(token: str, organization: Organization, membership_id: uuid.UUID) -> list[int]:
        member = f"{ADMIN}/members/{membership_id}"
        return [
            client.get(_members_url(organization), headers=bearer(token)).status_code,
            client.get(member, headers=bearer(token)).status_code,
            client.put(member, json={"role": "provider"}, headers=bearer(token)).status_code,
            client.post(f"{member}/deactivate", headers=bearer(token)).status_code,
            client.post(f"{member}/reactivate", headers=bearer(token)).status_code,
        ]

    assert answers(token_for(client, seeded.msc_admin), child, target) == [200] * 5
    assert answers(token_for(client, child_admin), child, target) == [200] * 5
    assert answers(token_for(client, a.admin), child, target) == [200] * 5  # the parent's
    assert answers(token_for(client, child_admin), a.organization, a_member) == [404] * 5
    assert answers(token_for(client, b.admin), a.organization, a_member) == [404] * 5
    manager = token_for(client, a.office_manager, a.organization)
    assert answers(manager, a.organization, a_member) == [403] * 5
    provider = token_for(client, seeded.shared_provider, a.organization)
    assert answers(provider, a.organization, a_member) == [403] * 5
    # The provider's own membership elsewhere is theirs to see, not B's admin's to change.
    b_member = _membership_id(admin_engine, seeded.shared_provider, b.organization)
    assert answers(token_for(client, a.admin), b.organization, b_member) == [404] * 5

    # Accounts: MSC admins only.
    for token in (token_for(client, a.admin), manager, provider):
        for action in ("deactivate", "reactivate"):
            url = f"{ADMIN}/users/{seeded.shared_provider.id}/{action}"
            assert client.post(url, headers=bearer(token)).status_code == 403
    unknown = client.post(
        f"{ADMIN}/users/{uuid.uuid4()}/deactivate",
        headers=bearer(token_for(client, seeded.msc_admin)),
    )
    assert unknown.status_code == 404


def test_a_role_change_takes_effect_on_the_next_request_and_is_audited(
    client: FlaskClient, seeded: TwoTenants, admin_engine: Engine
) -> None:
    a = seeded.a
    provider = seeded.shared_provider
    membership_id = _membership_id(admin_engine, provider, a.organization)
    provider_token = token_for(client, provider, a.organization)
    me = client.get("/api/v1/me", headers=bearer(provider_token)).get_json()
    assert me["role"] == "provider"
    assert (
        client.get(_members_url(a.organization), headers=bearer(provider_token)).status_code == 403
    )

    admin = token_for(client, a.admin)
    url = f"{ADMIN}/members/{membership_id}"
    bad = client.put(url, json={"role": "owner"}, headers=bearer(admin))
    assert bad.status_code == 422 and "role" in validation_errors(bad)
    changed = client.put(
        url, json={"role": "organization_admin"}, headers={**bearer(admin), "X-Request-ID": "r1"}
    )
    assert changed.status_code == 200, changed.get_json()
    assert changed.get_json()["role"] == "organization_admin"

    # The same token, on its next request, acts with the new role.
    me = client.get("/api/v1/me", headers=bearer(provider_token)).get_json()
    assert me["role"] == "organization_admin" and "manage-members" in me["permissions"]
    assert (
        client.get(_members_url(a.organization), headers=bearer(provider_token)).status_code == 200
    )

    [event] = _audit(admin_engine, "memberships", membership_id)
    assert event["actor_user_id"] == a.admin.id and event["organization_id"] == a.organization.id
    assert event["changes"] == {"role": {"old": "provider", "new": "organization_admin"}}
    assert not event["cross_tenant"]


def test_a_deactivated_membership_stops_its_tokens_at_once(
    client: FlaskClient, seeded: TwoTenants, admin_engine: Engine
) -> None:
    a, b = seeded.a, seeded.b
    provider = seeded.shared_provider
    membership_id = _membership_id(admin_engine, provider, a.organization)
    at_a = token_for(client, provider, a.organization)
    at_b = token_for(client, provider, b.organization)
    assert client.get("/api/v1/me/facilities", headers=bearer(at_a)).status_code == 200

    admin = token_for(client, a.admin)
    off = client.post(f"{ADMIN}/members/{membership_id}/deactivate", headers=bearer(admin))
    assert off.status_code == 200 and off.get_json()["status"] == "deactivated"
    assert off.get_json()["role"] == "provider"  # kept for reactivation

    # Resolved on every request (tenancy.enter): A's token stops, B's goes on.
    assert client.get("/api/v1/me/facilities", headers=bearer(at_a)).status_code == 401
    me = client.get("/api/v1/me", headers=bearer(at_b))
    assert me.status_code == 200
    assert [m["organization_id"] for m in me.get_json()["memberships"]] == [str(b.organization.id)]
    refused = client.post(
        "/api/v1/auth/login",
        json={
            "email": provider.email,
            "password": factories.PASSWORD,
            "organization_id": str(a.organization.id),
        },
    )
    assert refused.status_code in (401, 403, 404)
    switch = client.post(
        "/api/v1/auth/switch-organization",
        json={"organization_id": str(a.organization.id)},
        headers=bearer(at_b),
    )
    assert switch.status_code != 200
    # The admin still sees them, as deactivated, and can bring them back.
    listed = client.get(f"{_members_url(a.organization)}?status=deactivated", headers=bearer(admin))
    assert [m["user_id"] for m in listed.get_json()] == [str(provider.id)]

    on = client.post(f"{ADMIN}/members/{membership_id}/reactivate", headers=bearer(admin))
    assert on.status_code == 200 and on.get_json()["status"] == "active"
    assert client.get("/api/v1/me/facilities", headers=bearer(at_a)).status_code == 200

    events = _audit(admin_engine, "memberships", membership_id)
    assert [e["changes"] for e in events] == [
        {"is_active": {"old": True, "new": False}},
        {"is_active": {"old": False, "new": True}},
    ]
    assert {e["actor_user_id"] for e in events} == {a.admin.id}
    # Deactivating again, or reactivating an active member, changes (and audits) nothing.
    again = client.post(f"{ADMIN}/members/{membership_id}/reactivate", headers=bearer(admin))
    assert again.status_code == 200
    assert len(_audit(admin_engine, "memberships", membership_id)) == 2
    # A deactivated member is reactivated, not invited again.
    client.post(f"{ADMIN}/members/{membership_id}/deactivate", headers=bearer(admin))
    invited = client.post(
        f"{ADMIN}/providers/invite",
        json={
            "email": provider.email,
            "name": provider.name,
            "role": "provider",
            "organization_id": str(a.organization.id),
        },
        headers=bearer(admin),
    )
    assert invited.status_code == 409 and "reactivated" in invited.get_json()["detail"]


def test_a_deactivated_account_is_locked_out_everywhere(
    client: FlaskClient, seeded: TwoTenants, admin_engine: Engine
) -> None:
    a, b = seeded.a, seeded.b
    provider = seeded.shared_provider
    tokens = [token_for(client, provider, org) for org in (a.organization, b.organization)]
    msc = token_for(client, seeded.msc_admin)

    off = client.post(f"{ADMIN}/users/{provider.id}/deactivate", headers=bearer(msc))
    assert off.status_code == 200 and off.get_json()["is_active"] is False
    for token in tokens:
        assert client.get("/api/v1/me", headers=bearer(token)).status_code == 401
    login_body = {"email": provider.email, "password": factories.PASSWORD}
    assert client.post("/api/v1/auth/login", json=login_body).status_code == 401
    listed = client.get(_members_url(a.organization), headers=bearer(token_for(client, a.admin)))
    statuses = {m["user_id"]: m["status"] for m in listed.get_json()}
    assert statuses[str(provider.id)] == "account_deactivated"

    on = client.post(f"{ADMIN}/users/{provider.id}/reactivate", headers=bearer(msc))
    assert on.status_code == 200 and on.get_json()["is_active"] is True
    for token in tokens:
        assert client.get("/api/v1/me", headers=bearer(token)).status_code == 200

    events = _audit(admin_engine, "users", provider.id)
    assert [e["changes"] for e in events] == [
        {"is_active": {"old": True, "new": False}},
        {"is_active": {"old": False, "new": True}},
    ]
    assert {e["actor_user_id"] for e in events} == {seeded.msc_admin.id}
    own = client.post(f"{ADMIN}/users/{seeded.msc_admin.id}/deactivate", headers=bearer(msc))
    assert own.status_code == 409


def test_the_last_active_admin_stays(
    client: FlaskClient, seeded: TwoTenants, admin_engine: Engine
) -> None:
    a = seeded.a
    only = _membership_id(admin_engine, a.admin, a.organization)
    admin = token_for(client, a.admin)
    msc = token_for(client, seeded.msc_admin)

    def refused(response: Any) -> bool:
        return response.status_code == 409 and LAST_ADMIN in response.get_json()["detail"]

    demote = {"role": "office_manager"}
    assert refused(client.put(f"{ADMIN}/members/{only}", json=demote, headers=bearer(admin)))
    assert refused(client.post(f"{ADMIN}/members/{only}/deactivate", headers=bearer(admin)))
    assert refused(client.put(f"{ADMIN}/members/{only}", json=demote, headers=bearer(msc)))
    assert refused(client.post(f"{ADMIN}/users/{a.admin.id}/deactivate", headers=bearer(msc)))

    # An admin whose account or membership is deactivated does not count.
    second = _add_member(admin_engine, a.organization, Role.ORGANIZATION_ADMIN)
    second_id = _membership_id(admin_engine, second, a.organization)
    off = client.post(f"{ADMIN}/users/{second.id}/deactivate", headers=bearer(msc))
    assert off.status_code == 200
    assert refused(client.post(f"{ADMIN}/members/{only}/deactivate", headers=bearer(admin)))
    assert (
        client.post(f"{ADMIN}/users/{second.id}/reactivate", headers=bearer(msc)).status_code == 200
    )
    assert (
        client.post(f"{ADMIN}/members/{second_id}/deactivate", headers=bearer(admin)).status_code
        == 200
    )
    assert refused(client.post(f"{ADMIN}/members/{only}/deactivate", headers=bearer(admin)))

    # With another active admin, the first may step down.
    assert (
        client.post(f"{ADMIN}/members/{second_id}/reactivate", headers=bearer(admin)).status_code
        == 200
    )
    stepped_down = client.put(f"{ADMIN}/members/{only}", json=demote, headers=bearer(admin))
    assert stepped_down.status_code == 200 and stepped_down.get_json()["role"] == "office_manager"
    assert client.get(_members_url(a.organization), headers=bearer(admin)).status_code == 403
    assert refused(
        client.post(
            f"{ADMIN}/members/{second_id}/deactivate",
            headers=bearer(token_for(client, second)),
        )
    )


@pytest.mark.parametrize("via", ["membership", "account"])
def test_two_admins_removing_each_other_at_once_leave_one(
    app: Flask, seeded: TwoTenants, admin_engine: Engine, via: str
) -> None:
    """Each change locks the organization's admin memberships before counting: the second
    waits for the first, then counts what it left."""
    a = seeded.a
    second = _add_member(admin_engine, a.organization, Role.ORGANIZATION_ADMIN)
    results: list[str] = []
    barrier = threading.Barrier(2)

    def remove(user: User) -> None:
        with app.app_context():
            session = db.session
            use_context(session, TenantContext.system("test-race"))
            barrier.wait()
            try:
                if via == "membership":
                    membership = session.scalar(
                        select(Membership).where(
                            Membership.user_id == user.id,
                            Membership.organization_id == a.organization.id,
                        )
                    )
                    assert membership is not None
                    members.deactivate(session, membership)
                else:
                    account = session.get(User, user.id)
                    assert account is not None
                    members.deactivate_account(session, TenantContext.system("race"), account)
                session.commit()
                results.append("done")
            except Conflict:
                session.rollback()
                results.append("refused")

    threads = [threading.Thread(target=remove, args=(u,)) for u in (a.admin, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(results) == ["done", "refused"]
    with admin_engine.connect() as conn:
        active = conn.execute(
            text(
                "SELECT count(*) FROM memberships m JOIN users u ON u.id = m.user_id"
                " WHERE m.organization_id = :o AND m.role = 'organization_admin'"
                " AND m.is_active AND u.is_active"
            ),
            {"o": a.organization.id},
        ).scalar_one()
    assert active == 1


def test_a_deactivated_member_is_no_longer_assigned_or_made_a_manager(
    client: FlaskClient, seeded: TwoTenants, admin_engine: Engine
) -> None:
    """Work needs an active membership: an admin cannot assign a member whose membership
    is deactivated to a facility, nor name them a facility's office manager."""
    a = seeded.a
    provider = _add_member(admin_engine, a.organization, Role.PROVIDER)
    manager = _add_member(admin_engine, a.organization, Role.OFFICE_MANAGER)
    admin = token_for(client, a.admin)
    for user in (provider, manager):
        membership_id = _membership_id(admin_engine, user, a.organization)
        off = client.post(f"{ADMIN}/members/{membership_id}/deactivate", headers=bearer(admin))
        assert off.status_code == 200

    assigned = client.post(
        f"{ADMIN}/providers/{provider.id}/assign-facility",
        json={"facility_id": str(a.facility.id)},
        headers=bearer(admin),
    )
    assert assigned.status_code in (404, 422), assigned.get_json()
    managed = client.put(
        f"{ADMIN}/facilities/{a.facility.id}",
        json={"office_manager_id": str(manager.id)},
        headers=bearer(admin),
    )
    assert managed.status_code == 422 and "office_manager_id" in validation_errors(managed)
    with admin_engine.connect() as conn:
        held = (
            conn.execute(
                text(
                    "SELECT count(*) FROM provider_facilities WHERE user_id = :p"
                    " UNION ALL SELECT count(*) FROM facilities WHERE office_manager_id = :m"
                ),
                {"p": provider.id, "m": manager.id},
            )
            .scalars()
            .all()
        )
    assert held == [0, 0]
