"""The audit trail, written by triggers whatever path changes a row."""

from __future__ import annotations

import json

import pytest
from flask.testing import FlaskClient
from sqlalchemy import Connection, Engine, make_url, text
from sqlalchemy.exc import DBAPIError

from app.local import DatabaseUrls
from app.tenancy.context import TenantContext, apply
from tests.conftest import TwoTenants, bearer, token_for

EVENTS = "/api/v1/admin/audit-events"


def test_an_api_update_writes_exactly_one_event(
    client: FlaskClient, seeded: TwoTenants, admin_engine: Engine
) -> None:
    org = seeded.a.organization
    token = token_for(client, seeded.a.admin)
    response = client.put(
        f"/api/v1/admin/organizations/{org.id}",
        json={"primary_contact_name": "Grace Admin", "name": "Tenant A Health"},
        headers={**bearer(token), "X-Request-ID": "req-audit-1"},
    )
    assert response.status_code == 200
    assert response.headers["X-Request-ID"] == "req-audit-1"
    with admin_engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT actor_user_id, organization_id, changes, cross_tenant FROM audit_events"
                " WHERE table_name = 'organizations' AND row_id = :id AND action = 'update'"
                " AND request_id = 'client:req-audit-1'"
            ),
            {"id": org.id},
        ).all()
    assert len(rows) == 1
    actor, organization_id, changes, cross_tenant = rows[0]
    assert actor == seeded.a.admin.id and organization_id == org.id and not cross_tenant
    assert changes == {
        "name": {"old": "Tenant A", "new": "Tenant A Health"},
        "primary_contact_name": {"old": None, "new": "Grace Admin"},
    }
    # The organization admin reads it through the API.
    listed = client.get(f"{EVENTS}?table_name=organizations&action=update", headers=bearer(token))
    assert listed.status_code == 200
    # newest first: this request's event, then the setup's onboarding start (no request)
    assert [e["request_id"] for e in listed.get_json()] == ["client:req-audit-1", None]


def test_msc_admin_cross_tenant_change_is_marked(
    client: FlaskClient, seeded: TwoTenants, admin_engine: Engine
) -> None:
    token = token_for(client, seeded.msc_admin)
    org = seeded.b.organization
    client.put(
        f"/api/v1/admin/organizations/{org.id}", json={"status": "suspended"}, headers=bearer(token)
    )
    with admin_engine.connect() as conn:
        marked = conn.execute(
            text(
                "SELECT cross_tenant, actor_user_id FROM audit_events"
                " WHERE row_id = :id AND action = 'update' AND actor_user_id = :actor"
            ),
            {"id": org.id, "actor": seeded.msc_admin.id},
        ).one()
    assert tuple(marked) == (True, seeded.msc_admin.id)


def test_each_admin_reads_only_own_organizations_events(
    client: FlaskClient, seeded: TwoTenants
) -> None:
    token = token_for(client, seeded.b.admin)
    events = client.get(f"{EVENTS}?page_size=100", headers=bearer(token))
    assert events.status_code == 200
    assert {e["organization_id"] for e in events.get_json()} == {str(seeded.b.organization.id)}
    assert json.loads(events.headers["X-Pagination"])["total"] > 0
    provider_token = token_for(client, seeded.shared_provider, seeded.b.organization)
    assert client.get(EVENTS, headers=bearer(provider_token)).status_code == 403


def test_password_changes_are_redacted(
    seeded: TwoTenants, admin_engine: Engine, clean_database: None
) -> None:
    with admin_engine.begin() as conn:
        conn.execute(
            text("UPDATE users SET password_hash = 'new-secret-hash' WHERE id = :id"),
            {"id": seeded.a.admin.id},
        )
        changes = conn.execute(
            text("SELECT changes FROM audit_events WHERE row_id = :id AND action = 'update'"),
            {"id": seeded.a.admin.id},
        ).scalar_one()
    assert changes == {"password_hash": {"old": "[redacted]", "new": "[redacted]"}}


def test_one_statement_inserting_many_rows_writes_an_event_for_each(
    seeded: TwoTenants, admin_engine: Engine
) -> None:
    """Insert events are written a statement at a time: each row still gets its own
    event, with every column (timestamps aside), redactions, the acting user, the
    organization of the row (the acting one for global rows) and the request."""
    acting = seeded.msc_admin
    with admin_engine.begin() as conn:
        # acting from tenant A's organization, as an MSC admin reaching into B
        apply(
            conn,
            TenantContext(
                user_id=acting.id,
                organization_id=seeded.a.organization.id,
                organization_ids=(seeded.a.organization.id,),
                is_msc_admin=True,
                request_id="req-bulk",
            ),
        )
        # the global rows first: on a Citus cluster a transaction writes no reference
        # table after writing several workers' shards at once
        users = (
            conn.execute(
                text(
                    "INSERT INTO users (email, name, password_hash) VALUES"
                    " ('bulk1@example.com', 'Bulk One', 'secret-1'),"
                    " ('bulk2@example.com', 'Bulk Two', NULL) RETURNING id"
                )
            )
            .scalars()
            .all()
        )
        facilities = conn.execute(
            text(
                "INSERT INTO facilities (organization_id, name, facility_type, state) VALUES"
                " (:a, 'Bulk A', 'clinic', 'TX'), (:b, 'Bulk B', 'clinic', 'CA')"
                " RETURNING id, organization_id"
            ),
            {"a": seeded.a.organization.id, "b": seeded.b.organization.id},
        ).all()
        events = conn.execute(
            text(
                "SELECT row_id, organization_id, actor_user_id, cross_tenant, changes"
                " FROM audit_events WHERE request_id = 'req-bulk' AND action = 'insert'"
            )
        ).all()
    by_row = {event.row_id: event for event in events}
    assert set(by_row) == {f.id for f in facilities} | set(users)
    for facility in facilities:
        event = by_row[facility.id]
        assert event.organization_id == facility.organization_id
        assert event.actor_user_id == acting.id
        assert event.cross_tenant == (facility.organization_id == seeded.b.organization.id)
        assert event.changes["organization_id"] == {
            "old": None, "new": str(facility.organization_id)
        }  # fmt: skip
        assert "created_at" not in event.changes and "updated_at" not in event.changes
    # (RETURNING gives no order across a Citus cluster's shards: found by organization)
    bulk_a = next(f for f in facilities if f.organization_id == seeded.a.organization.id)
    assert by_row[bulk_a.id].changes["name"] == {"old": None, "new": "Bulk A"}
    for user_id in users:
        event = by_row[user_id]
        # global rows are filed under the acting organization
        assert event.organization_id == seeded.a.organization.id and not event.cross_tenant
        assert event.changes["password_hash"] == {"old": "[redacted]", "new": "[redacted]"}
    assert by_row[users[0]].changes["email"] == {"old": None, "new": "bulk1@example.com"}


def test_events_outside_any_organization_are_filed_under_none(
    client: FlaskClient, seeded: TwoTenants, admin_engine: Engine, clean_database: None
) -> None:
    """A global row changed with no organization acting (a job, the owner) is filed
    under the nil UUID, as the trail's key may not be empty (docs/citus-layout.md), and
    shown as no organization."""
    with admin_engine.begin() as conn:
        conn.execute(
            text("UPDATE users SET name = 'Renamed' WHERE id = :id"), {"id": seeded.a.admin.id}
        )
        stored = conn.execute(
            text(
                "SELECT organization_id::text FROM audit_events"
                " WHERE row_id = :id AND action = 'update'"
            ),
            {"id": seeded.a.admin.id},
        ).scalar_one()
    assert stored == "00000000-0000-0000-0000-000000000000"
    token = token_for(client, seeded.msc_admin)
    listed = client.get(f"{EVENTS}?table_name=users&action=update", headers=bearer(token))
    assert listed.status_code == 200
    [event] = [e for e in listed.get_json() if e["row_id"] == str(seeded.a.admin.id)]
    assert event["organization_id"] is None


def _rename_facility(conn: Connection, seeded: TwoTenants, name: str) -> None:
    apply(conn, seeded.a.context())
    conn.execute(
        text("UPDATE facilities SET name = :n WHERE organization_id = :o AND id = :f"),
        {"n": name, "o": seeded.a.organization.id, "f": seeded.a.facility.id},
    )


def _events_naming(admin_engine: Engine, name: str) -> int:
    with admin_engine.connect() as conn:
        count: int = conn.execute(
            text(
                "SELECT count(*) FROM public.audit_events"
                " WHERE table_name = 'facilities' AND changes -> 'name' ->> 'new' = :n"
            ),
            {"n": name},
        ).scalar_one()
        return count


def test_no_temporary_table_stands_in_for_the_trail(
    seeded: TwoTenants, admin_engine: Engine, app_engine: Engine, database_urls: DatabaseUrls
) -> None:
    """The application role may create no temporary table; and were it given the right,
    a temporary `audit_events` of its own would still not catch the events of its
    changes: the audit functions' search path puts pg_temp last and names the trail by
    its schema."""
    with app_engine.begin() as conn, pytest.raises(DBAPIError, match="permission denied"):
        conn.execute(
            text("CREATE TEMP TABLE audit_events (LIKE public.audit_events INCLUDING DEFAULTS)")
        )

    database = make_url(database_urls.app).database
    app_user = make_url(database_urls.app).username
    grant = f'GRANT TEMPORARY ON DATABASE "{database}" TO "{app_user}"'
    with admin_engine.begin() as conn:
        conn.execute(text(grant))
    try:
        with app_engine.connect() as conn:
            # a new session, so that the grant is seen as it starts
            # gone with the transaction: the pooled connection serves other tests next
            conn.execute(
                text(
                    "CREATE TEMP TABLE audit_events (LIKE public.audit_events INCLUDING DEFAULTS)"
                    " ON COMMIT DROP"
                )
            )
            _rename_facility(conn, seeded, "Renamed Past A Temporary Trail")
            decoy = conn.execute(text("SELECT count(*) FROM pg_temp.audit_events")).scalar_one()
            conn.commit()
    finally:
        with admin_engine.begin() as conn:
            conn.execute(text(grant.replace("GRANT", "REVOKE").replace(" TO ", " FROM ")))
    assert decoy == 0
    assert _events_naming(admin_engine, "Renamed Past A Temporary Trail") == 1


def test_a_clients_request_id_is_never_taken_for_the_services_own(
    client: FlaskClient, seeded: TwoTenants, admin_engine: Engine
) -> None:
    """The trail keeps the id a client sends apart from the ids the service makes (a
    job's, a seed's): prefixed; the client is answered with the id it sent. An id of the
    service's own shape (`job:...`) is not taken at all."""
    org = seeded.a.organization
    token = token_for(client, seeded.a.admin)

    def rename(name: str, request_id: str) -> str:
        response = client.put(
            f"/api/v1/admin/organizations/{org.id}",
            json={"name": name},
            headers={**bearer(token), "X-Request-ID": request_id},
        )
        assert response.status_code == 200
        answered: str = response.headers["X-Request-ID"]
        return answered

    def recorded(name: str) -> str:
        with admin_engine.connect() as conn:
            request_id: str = conn.execute(
                text(
                    "SELECT request_id FROM audit_events WHERE table_name = 'organizations'"
                    " AND changes -> 'name' ->> 'new' = :n"
                ),
                {"n": name},
            ).scalar_one()
            return request_id

    assert rename("Tenant A One", "demo-seed") == "demo-seed"
    assert recorded("Tenant A One") == "client:demo-seed"
    made = rename("Tenant A Two", "job:reminder-scan:2026-11-30")
    assert made != "job:reminder-scan:2026-11-30" and ":" not in made
    assert recorded("Tenant A Two") == made
