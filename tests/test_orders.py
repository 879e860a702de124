"""Orders through HTTP as each kind of user, and the policies beneath them."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session

import app.models.order  # noqa: F401  (Base.metadata must hold the table for test_migrations)
from app.domain.orders import has_ordered
from app.models import Facility, Organization, User
from app.models.enums import Role
from app.models.order import Order
from app.tenancy.context import use_context
from app.tenancy.resolve import resolve_context
from tests import factories
from tests.api_helpers import (
    committed_facility,
    committed_provider,
    set_office_manager,
    validation_errors,
)
from tests.conftest import MSC_SYSTEM, TwoTenants, bearer, token_for

ORDERS = "/api/v1/orders"


def _place(client: FlaskClient, token: str, facility: Facility, **body: Any) -> Any:
    body = {"facility_id": str(facility.id), "amount": "125.50", "line_count": 3, **body}
    return client.post(ORDERS, json=body, headers=bearer(token))


def _placed(client: FlaskClient, token: str, facility: Facility, **body: Any) -> dict[str, Any]:
    response = _place(client, token, facility, **body)
    assert response.status_code == 201, response.get_json()
    order: dict[str, Any] = response.get_json()
    return order


def _move(client: FlaskClient, token: str, order: dict[str, Any], status: str) -> Any:
    return client.post(
        f"{ORDERS}/{order['id']}/status", json={"status": status}, headers=bearer(token)
    )


def _ids(client: FlaskClient, token: str, query: str = "") -> list[str]:
    response = client.get(f"{ORDERS}{query}", headers=bearer(token))
    assert response.status_code == 200, response.get_json()
    return [row["id"] for row in response.get_json()]


def _provider(client: FlaskClient, seeded: TwoTenants, organization: Organization) -> str:
    return token_for(client, seeded.shared_provider, organization)


# --- placing and seeing --------------------------------------------------------------


def test_provider_places_orders_and_sees_own_per_active_organization(
    client: FlaskClient, seeded: TwoTenants
) -> None:
    a, b = seeded.a, seeded.b
    at_a = _provider(client, seeded, a.organization)
    order_a = _placed(client, at_a, a.facility)
    assert order_a["status"] == "submitted" and order_a["submitted_at"] is not None
    assert order_a["amount"] == "125.50" and order_a["line_count"] == 3
    assert order_a["organization_id"] == str(a.organization.id)
    assert order_a["provider_id"] == str(seeded.shared_provider.id)

    at_b = _provider(client, seeded, b.organization)
    order_b = _placed(client, at_b, b.facility, status="draft")
    assert order_b["status"] == "draft" and order_b["submitted_at"] is None

    # Both are the provider's, but each session lists the active organization's only.
    assert _ids(client, at_a) == [order_a["id"]]
    assert _ids(client, at_b) == [order_b["id"]]
    assert client.get(f"{ORDERS}/{order_a['id']}", headers=bearer(at_a)).status_code == 200
    assert client.get(f"{ORDERS}/{order_a['id']}", headers=bearer(at_b)).status_code == 404


def test_provider_sees_only_own_orders(
    client: FlaskClient, seeded: TwoTenants, admin_engine: Engine
) -> None:
    a = seeded.a
    colleague = committed_provider(admin_engine, a.organization, a.facility)
    theirs = _placed(client, token_for(client, colleague, a.organization), a.facility)
    token = _provider(client, seeded, a.organization)
    mine = _placed(client, token, a.facility)
    assert _ids(client, token) == [mine["id"]]
    assert client.get(f"{ORDERS}/{theirs['id']}", headers=bearer(token)).status_code == 404


def test_organization_admin_and_msc_see_their_reach(
    client: FlaskClient, seeded: TwoTenants
) -> None:
    a, b = seeded.a, seeded.b
    order_a = _placed(client, _provider(client, seeded, a.organization), a.facility)
    order_b = _placed(client, _provider(client, seeded, b.organization), b.facility)

    admin_a = token_for(client, a.admin)
    assert _ids(client, admin_a) == [order_a["id"]]
    assert client.get(f"{ORDERS}/{order_b['id']}", headers=bearer(admin_a)).status_code == 404

    msc = token_for(client, seeded.msc_admin)
    response = client.get(ORDERS, headers=bearer(msc))
    assert json.loads(response.headers["X-Pagination"])["total"] == 2
    # newest first
    assert [row["id"] for row in response.get_json()] == [order_b["id"], order_a["id"]]


def test_office_manager_sees_only_managed_facilities(
    client: FlaskClient, seeded: TwoTenants, admin_engine: Engine
) -> None:
    a = seeded.a
    manager = token_for(client, a.office_manager)
    other = committed_facility(admin_engine, a.organization, name="Other Clinic")
    elsewhere = committed_provider(admin_engine, a.organization, other)
    there = _placed(client, token_for(client, elsewhere, a.organization), other)
    here = _placed(client, _provider(client, seeded, a.organization), a.facility)

    assert _ids(client, manager) == []  # manages nothing yet
    set_office_manager(admin_engine, a.facility, a.office_manager)
    manager = token_for(client, a.office_manager)
    assert _ids(client, manager) == [here["id"]]
    assert client.get(f"{ORDERS}/{there['id']}", headers=bearer(manager)).status_code == 404


def test_provider_orders_only_where_actively_assigned(
    client: FlaskClient, seeded: TwoTenants, admin_engine: Engine
) -> None:
    a, b = seeded.a, seeded.b
    unassigned = committed_facility(admin_engine, a.organization, name="Unassigned")
    pending = committed_facility(admin_engine, a.organization, name="Pending")
    with Session(admin_engine) as session:
        provider = session.get(User, seeded.shared_provider.id)
        facility = session.get(Facility, (pending.organization_id, pending.id))
        assert provider is not None and facility is not None
        factories.make_assignment(
            session, provider, facility, status="pending", start_date=dt.date(2099, 1, 1)
        )
        session.commit()
    token = _provider(client, seeded, a.organization)
    for facility in (unassigned, pending, b.facility):  # B's: not the active organization
        response = _place(client, token, facility)
        assert response.status_code == 422, response.get_json()
        assert "facility_id" in validation_errors(response)
    with admin_engine.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM orders")) == 0


@pytest.mark.parametrize("who", ["admin", "office_manager", "msc"])
def test_staff_cannot_place_orders(
    client: FlaskClient, seeded: TwoTenants, admin_engine: Engine, who: str
) -> None:
    a = seeded.a
    set_office_manager(admin_engine, a.facility, a.office_manager)
    user = {"admin": a.admin, "office_manager": a.office_manager, "msc": seeded.msc_admin}[who]
    response = _place(client, token_for(client, user), a.facility)
    assert response.status_code == 403, response.get_json()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"amount": "-0.01"}, "amount"),
        ({"amount": "1.005"}, "amount"),
        ({"amount": "10000000000.00"}, "amount"),
        ({"amount": 125.5}, "amount"),
        ({"line_count": 0}, "line_count"),
        ({"line_count": "2"}, "line_count"),
        ({"status": "approved"}, "status"),
        ({"facility_id": "not-a-uuid"}, "facility_id"),
    ],
)
def test_validation(
    client: FlaskClient, seeded: TwoTenants, body: dict[str, Any], field: str
) -> None:
    response = _place(
        client, _provider(client, seeded, seeded.a.organization), seeded.a.facility, **body
    )
    assert response.status_code == 422
    assert field in validation_errors(response)


# --- lifecycle -----------------------------------------------------------------------


def test_lifecycle_by_provider_and_staff(
    client: FlaskClient, seeded: TwoTenants, admin_engine: Engine
) -> None:
    a = seeded.a
    set_office_manager(admin_engine, a.facility, a.office_manager)
    provider = _provider(client, seeded, a.organization)
    admin, manager = token_for(client, a.admin), token_for(client, a.office_manager)
    order = _placed(client, provider, a.facility, status="draft")

    # staff do not submit a provider's draft; draft cannot be approved directly
    assert _move(client, admin, order, "submitted").status_code == 403
    response = _move(client, admin, order, "approved")
    assert response.status_code == 409 and "status" in validation_errors(response)

    submitted = _move(client, provider, order, "submitted").get_json()
    assert submitted["status"] == "submitted" and submitted["submitted_at"] is not None
    # the provider does not approve their own order
    assert _move(client, provider, order, "approved").status_code == 403
    approved = _move(client, admin, order, "approved").get_json()
    assert approved["approved_at"] is not None
    # once approved, cancelling is staff's
    assert _move(client, provider, order, "cancelled").status_code == 403
    shipped = _move(client, manager, order, "shipped").get_json()
    assert shipped["status"] == "shipped" and shipped["shipped_at"] is not None
    assert _move(client, manager, order, "cancelled").status_code == 409
    delivered = _move(client, token_for(client, seeded.msc_admin), order, "delivered").get_json()
    assert delivered["status"] == "delivered" and delivered["delivered_at"] is not None
    response = _move(client, admin, order, "cancelled")
    assert response.status_code == 409 and "status" in validation_errors(response)


def test_provider_cancels_own_and_others_are_out_of_reach(
    client: FlaskClient, seeded: TwoTenants, admin_engine: Engine
) -> None:
    a, b = seeded.a, seeded.b
    provider = _provider(client, seeded, a.organization)
    order = _placed(client, provider, a.facility)
    # another tenant's staff, and an office manager not managing the facility: 404/403
    assert _move(client, token_for(client, b.admin), order, "approved").status_code == 404
    assert _move(client, token_for(client, a.office_manager), order, "approved").status_code == 404
    colleague = committed_provider(admin_engine, a.organization, a.facility)
    other = token_for(client, colleague, a.organization)
    assert _move(client, other, order, "cancelled").status_code == 404

    cancelled = _move(client, provider, order, "cancelled").get_json()
    assert cancelled["status"] == "cancelled" and cancelled["cancelled_at"] is not None
    with admin_engine.connect() as conn:
        actions = (
            conn.execute(
                text(
                    "SELECT action FROM audit_events WHERE table_name = 'orders'"
                    " ORDER BY occurred_at"
                )
            )
            .scalars()
            .all()
        )
    assert actions == ["insert", "update"]


def test_list_filters(client: FlaskClient, seeded: TwoTenants, admin_engine: Engine) -> None:
    a = seeded.a
    second = committed_facility(admin_engine, a.organization, name="Second")
    with Session(admin_engine) as session:
        provider = session.get(User, seeded.shared_provider.id)
        facility = session.get(Facility, (second.organization_id, second.id))
        assert provider is not None and facility is not None
        factories.make_assignment(session, provider, facility)
        session.commit()
    provider_token = _provider(client, seeded, a.organization)
    draft = _placed(client, provider_token, a.facility, status="draft")
    submitted = _placed(client, provider_token, second)
    with admin_engine.begin() as conn:
        conn.execute(
            text("UPDATE orders SET created_at = '2026-01-15T12:00:00Z' WHERE id = :i"),
            {"i": draft["id"]},
        )
    admin = token_for(client, a.admin)
    assert _ids(client, admin, "?status=draft") == [draft["id"]]
    assert _ids(client, admin, f"?facility_id={second.id}") == [submitted["id"]]
    assert _ids(client, admin, "?from=2026-01-15&to=2026-01-15") == [draft["id"]]
    assert _ids(client, admin, "?to=2026-01-14") == []
    response = client.get(f"{ORDERS}?from=2026-02-01&to=2026-01-01", headers=bearer(admin))
    assert response.status_code == 422


# --- the policies and the checklist helper, below the API ----------------------------


def _order(tenant_facility: Facility, provider: User, **fields: Any) -> Order:
    fields.setdefault("amount", Decimal("10.00"))
    fields.setdefault("line_count", 1)
    return Order(
        organization_id=tenant_facility.organization_id,
        facility_id=tenant_facility.id,
        provider_id=provider.id,
        **fields,
    )


def test_insert_policy_requires_the_provider_and_an_active_assignment(
    db: Session, tenants: TwoTenants
) -> None:
    a, provider = tenants.a, tenants.shared_provider
    use_context(db, MSC_SYSTEM)
    unassigned = factories.make_facility(db, a.organization)
    # as a request resolves it: with the facilities where the provider works
    as_provider = resolve_context(db, provider.id, a.organization.id)
    assert as_provider is not None and as_provider.role == Role.PROVIDER
    for context, facility in (
        (as_provider, unassigned),  # no assignment there
        (a.context(), a.facility),  # staff
        (MSC_SYSTEM, a.facility),  # not even MSC places a provider's order
    ):
        use_context(db, context)
        with pytest.raises(DBAPIError, match="row-level security"), db.begin_nested():
            db.add(_order(facility, provider))
            db.flush()
    use_context(db, as_provider)
    order = _order(a.facility, provider)
    db.add(order)
    db.flush()
    # the lifecycle holds below the API too
    refused = pytest.raises(IntegrityError, match="cannot go from submitted to delivered")
    with refused, db.begin_nested():
        db.execute(text("UPDATE orders SET status = 'delivered' WHERE id = :i"), {"i": order.id})


def test_has_ordered_counts_placed_orders_the_caller_sees(db: Session, tenants: TwoTenants) -> None:
    a, b, provider = tenants.a, tenants.b, tenants.shared_provider
    assert resolve_context(db, provider.id, a.organization.id) is not None
    db.add(_order(a.facility, provider, status="draft"))
    db.flush()
    assert not has_ordered(db, provider.id)
    db.add(_order(a.facility, provider, status="submitted"))
    db.flush()
    assert has_ordered(db, provider.id)
    use_context(db, a.context())
    assert has_ordered(db, provider.id)
    use_context(db, b.context())  # B never sees A's orders
    assert not has_ordered(db, provider.id)
