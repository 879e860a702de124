"""Organizations API through HTTP, as each kind of user."""

from __future__ import annotations

import json

from flask.testing import FlaskClient
from sqlalchemy import Engine, text

from tests import factories
from tests.api_helpers import child_organization, problem_of
from tests.conftest import TwoTenants, bearer, token_for

BASE = "/api/v1/admin/organizations"


def test_organization_admin_gets_404_for_another_tenant(
    client: FlaskClient, seeded: TwoTenants
) -> None:
    token = token_for(client, seeded.a.admin)
    own = client.get(f"{BASE}/{seeded.a.organization.id}", headers=bearer(token))
    assert own.status_code == 200
    foreign = client.get(f"{BASE}/{seeded.b.organization.id}", headers=bearer(token))
    assert foreign.status_code == 404
    update = client.put(
        f"{BASE}/{seeded.b.organization.id}", json={"name": "Mine now"}, headers=bearer(token)
    )
    assert update.status_code == 404
    listed = client.get(BASE, headers=bearer(token)).get_json()
    assert [o["id"] for o in listed] == [str(seeded.a.organization.id)]


def test_msc_admin_lists_every_organization(client: FlaskClient, seeded: TwoTenants) -> None:
    token = token_for(client, seeded.msc_admin)
    response = client.get(BASE, headers=bearer(token))
    assert response.status_code == 200
    names = {o["name"] for o in response.get_json()}
    assert names == {"Tenant A", "Tenant B"}
    assert json.loads(response.headers["X-Pagination"])["total"] == 2


def test_provider_of_two_tenants_sees_the_active_one_and_switches(
    client: FlaskClient, seeded: TwoTenants
) -> None:
    a, b = seeded.a.organization, seeded.b.organization
    token = token_for(client, seeded.shared_provider, a)
    assert client.get(f"{BASE}/{a.id}", headers=bearer(token)).status_code == 200
    me = client.get("/api/v1/me", headers=bearer(token)).get_json()
    assert me["organization_id"] == str(a.id) and me["role"] == "provider"
    assert {m["organization_id"] for m in me["memberships"]} == {str(a.id), str(b.id)}

    switched = client.post(
        "/api/v1/auth/switch-organization",
        json={"organization_id": str(b.id)},
        headers=bearer(token),
    ).get_json()
    new_token = switched["access_token"]
    assert new_token != token
    me = client.get("/api/v1/me", headers=bearer(new_token)).get_json()
    assert me["organization_id"] == str(b.id)


def test_create_requires_msc_admin_and_validates(client: FlaskClient, seeded: TwoTenants) -> None:
    body = {
        "name": "Lakeside Clinic",
        "organization_type": "individual",
        "tax_id": "123456789",
        "primary_contact_email": "Office@Lakeside.Example.com",
        "primary_contact_phone": "(415) 555-2671",
    }
    refused = client.post(BASE, json=body, headers=bearer(token_for(client, seeded.a.admin)))
    assert refused.status_code == 403

    token = token_for(client, seeded.msc_admin)
    created = client.post(BASE, json=body, headers=bearer(token))
    assert created.status_code == 201, created.get_json()
    org = created.get_json()
    assert org["tax_id"] == "12-3456789"
    assert org["primary_contact_phone"] == "+14155552671"
    assert org["primary_contact_email"] == "Office@lakeside.example.com"
    assert org["status"] == "pending" and org["onboarding_status"] == "initiated"

    bad = client.post(
        BASE,
        json={
            "name": "",
            "organization_type": "castle",
            "tax_id": "12",
            "primary_contact_phone": "12",
            "primary_contact_email": "not-an-email",
            "surprise": 1,
        },
        headers=bearer(token),
    )
    assert bad.status_code == 422
    fields = bad.get_json()["errors"]["json"]
    assert set(fields) == {
        "name",
        "organization_type",
        "tax_id",
        "primary_contact_phone",
        "primary_contact_email",
        "surprise",
    }


def test_child_organization_with_unknown_parent_is_422_naming_the_field(
    client: FlaskClient, seeded: TwoTenants
) -> None:
    token = token_for(client, seeded.msc_admin)
    response = client.post(
        BASE,
        json={
            "name": "Orphan",
            "organization_type": "individual",
            "parent_organization_id": "00000000-0000-0000-0000-000000000001",
        },
        headers=bearer(token),
    )
    assert response.status_code == 422
    assert "parent_organization_id" in response.get_json()["errors"]["json"]


def test_organization_admin_updates_own_details_but_not_status(
    client: FlaskClient, seeded: TwoTenants
) -> None:
    token = token_for(client, seeded.a.admin)
    url = f"{BASE}/{seeded.a.organization.id}"
    updated = client.put(url, json={"primary_contact_name": "Ada Ops"}, headers=bearer(token))
    assert updated.status_code == 200
    assert updated.get_json()["primary_contact_name"] == "Ada Ops"

    refused = client.put(url, json={"status": "suspended"}, headers=bearer(token))
    assert refused.status_code == 403
    assert "status" in refused.get_json()["errors"]["json"]


def test_office_manager_and_provider_cannot_edit_the_organization(
    client: FlaskClient, seeded: TwoTenants
) -> None:
    url = f"{BASE}/{seeded.a.organization.id}"
    for user in (seeded.a.office_manager, seeded.shared_provider):
        token = token_for(client, user, seeded.a.organization)
        assert client.put(url, json={"name": "X"}, headers=bearer(token)).status_code == 403


def test_a_caller_who_may_not_edit_learns_nothing_of_the_body(
    client: FlaskClient, seeded: TwoTenants
) -> None:
    """The permission is checked before the body is read: an invalid body from a provider
    is refused as the provider is (403), not described field by field (422)."""
    token = token_for(client, seeded.shared_provider, seeded.a.organization)
    response = client.put(
        f"{BASE}/{seeded.a.organization.id}",
        json={"name": "", "status": "nonsense", "unknown": 1},
        headers=bearer(token),
    )
    body = problem_of(response, 403)
    assert "edit-organization" in body["detail"]
    assert "errors" not in body


def test_msc_admin_walks_the_status_lifecycle(client: FlaskClient, seeded: TwoTenants) -> None:
    token = token_for(client, seeded.msc_admin)
    created = client.post(
        BASE, json={"name": "Lifecycle", "organization_type": "individual"}, headers=bearer(token)
    ).get_json()
    url = f"{BASE}/{created['id']}"

    def set_status(status: str) -> tuple[int, dict]:
        response = client.put(url, json={"status": status}, headers=bearer(token))
        return response.status_code, response.get_json()

    assert set_status("suspended")[0] == 409  # pending cannot be suspended
    code, body = set_status("active")
    assert code == 200 and body["activated_at"] is not None
    assert set_status("suspended")[0] == 200
    assert set_status("active")[0] == 200
    assert set_status("inactive")[0] == 200
    code, body = set_status("active")
    assert code == 409 and "status" in body["errors"]["json"]
    assert set_status("dormant")[0] == 422


def test_list_filters_sorts_and_paginates(client: FlaskClient, seeded: TwoTenants) -> None:
    token = token_for(client, seeded.msc_admin)
    for name in ("Zeta Care", "Alpha Care", "Mid Care"):
        client.post(
            BASE, json={"name": name, "organization_type": "individual"}, headers=bearer(token)
        )
    by_name = client.get(f"{BASE}?name=care&sort=-name", headers=bearer(token)).get_json()
    assert [o["name"] for o in by_name] == ["Zeta Care", "Mid Care", "Alpha Care"]
    pending = client.get(f"{BASE}?status=pending", headers=bearer(token)).get_json()
    assert {o["name"] for o in pending} == {"Zeta Care", "Alpha Care", "Mid Care"}
    page = client.get(f"{BASE}?page=2&page_size=2&sort=name", headers=bearer(token))
    assert [o["name"] for o in page.get_json()] == ["Tenant A", "Tenant B"]
    assert json.loads(page.headers["X-Pagination"])["total"] == 5
    bad = client.get(f"{BASE}?sort=password&page_size=1000", headers=bearer(token))
    assert bad.status_code == 422
    # a literal % in the search is matched literally, not as a wildcard
    assert client.get(f"{BASE}?name=%25", headers=bearer(token)).get_json() == []


def test_unknown_id_formats_are_404_not_500(client: FlaskClient, seeded: TwoTenants) -> None:
    token = token_for(client, seeded.a.admin)
    assert client.get(f"{BASE}/not-a-uuid", headers=bearer(token)).status_code == 404


def test_openapi_spec_and_docs_are_served(client: FlaskClient) -> None:
    spec = client.get("/openapi.json").get_json()
    assert spec["openapi"].startswith("3.")
    assert "/api/v1/admin/organizations/{organization_id}" in spec["paths"]
    assert client.get("/docs").status_code == 200


def test_suspended_organization_reads_but_cannot_write(
    client: FlaskClient, seeded: TwoTenants
) -> None:
    url = f"{BASE}/{seeded.a.organization.id}"
    msc = token_for(client, seeded.msc_admin)
    assert client.put(url, json={"status": "suspended"}, headers=bearer(msc)).status_code == 200

    token = token_for(client, seeded.a.admin)
    assert client.get(url, headers=bearer(token)).status_code == 200
    refused = client.put(url, json={"primary_contact_name": "X"}, headers=bearer(token))
    assert refused.status_code == 403
    assert "suspended" in refused.get_json()["detail"]
    assert client.post("/api/v1/auth/logout", headers=bearer(token)).status_code == 204
    # MSC admins still act on it
    assert client.put(url, json={"status": "active"}, headers=bearer(msc)).status_code == 200


def test_parent_admin_cannot_write_a_suspended_child(
    client: FlaskClient, seeded: TwoTenants
) -> None:
    msc = token_for(client, seeded.msc_admin)
    child = client.post(
        BASE,
        json={
            "name": "Child",
            "organization_type": "individual",
            "parent_organization_id": str(seeded.a.organization.id),
        },
        headers=bearer(msc),
    ).get_json()
    url = f"{BASE}/{child['id']}"
    assert client.put(url, json={"status": "active"}, headers=bearer(msc)).status_code == 200
    assert client.put(url, json={"status": "suspended"}, headers=bearer(msc)).status_code == 200
    parent_admin = token_for(client, seeded.a.admin)
    assert client.get(url, headers=bearer(parent_admin)).status_code == 200
    assert client.put(url, json={"name": "X"}, headers=bearer(parent_admin)).status_code == 403


def test_visible_but_out_of_scope_organization_cannot_be_updated(
    client: FlaskClient, seeded: TwoTenants, admin_engine: Engine
) -> None:
    """A's admin who is also a provider at B sees B (a membership) but acts for A."""
    with admin_engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO memberships (organization_id, user_id, role)"
                " VALUES (:o, :u, 'provider')"
            ),
            {"o": seeded.b.organization.id, "u": seeded.a.admin.id},
        )
        factories.sync_organization_ids(conn, [seeded.a.admin.id])
    token = token_for(client, seeded.a.admin, seeded.a.organization)
    url = f"{BASE}/{seeded.b.organization.id}"
    assert client.get(url, headers=bearer(token)).status_code == 200
    assert client.put(url, json={"name": "Taken"}, headers=bearer(token)).status_code == 404


def test_nul_characters_and_absurd_pages_are_4xx_not_500(
    client: FlaskClient, seeded: TwoTenants
) -> None:
    token = token_for(client, seeded.msc_admin)
    bad = client.post(
        BASE, json={"name": "Nul\x00Name", "organization_type": "individual"}, headers=bearer(token)
    )
    assert bad.status_code == 422
    assert "name" in bad.get_json()["errors"]["json"]
    assert client.get(f"{BASE}?name=a%00b", headers=bearer(token)).status_code == 422
    login_nul = client.post("/api/v1/auth/login", json={"email": "a\x00@b.c", "password": "x"})
    assert login_nul.status_code == 422
    far = client.get(f"{BASE}?page=999999999999999999", headers=bearer(token))
    assert far.status_code == 200 and far.get_json() == []


def test_a_child_organizations_admin_edits_its_details(
    client: FlaskClient, seeded: TwoTenants, admin_engine: Engine
) -> None:
    """Its admin does not see the parent organization; editing the child's own details
    reads nothing of it."""
    child, child_admin = child_organization(admin_engine, seeded.a.organization)
    renamed = client.put(
        f"{BASE}/{child.id}",
        json={"name": "Harbor North Clinic"},
        headers=bearer(token_for(client, child_admin)),
    )
    assert renamed.status_code == 200, renamed.get_json()
    assert renamed.get_json()["name"] == "Harbor North Clinic"
    assert renamed.get_json()["parent_organization_id"] == str(seeded.a.organization.id)
