"""Dashboard and analytics: figures checked against values computed here from the seed
data, CSV against JSON, and a statement count that does not grow with the tenant."""

from __future__ import annotations

import csv
import datetime as dt
import io
import itertools
import uuid
from decimal import Decimal

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Connection, Engine, text
from sqlalchemy.orm import Session

from app import clock
from tests import factories
from tests.api_helpers import counting_statements
from tests.conftest import TwoTenants, bearer, token_for

TODAY = clock.today()
# (days ago, facility index, amount, status) for tenant A's shared provider
ORDERS = [
    (1, 0, "100.00", "submitted"),
    (2, 0, "250.50", "approved"),
    (3, 1, "75.25", "cancelled"),
    (9, 1, "40.00", "delivered"),
    (10, 0, "60.00", "shipped"),
    (20, 2, "500.00", "draft"),
]


def _noon(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(12), dt.UTC)


def _insert_order(
    conn: Connection,
    organization_id: uuid.UUID,
    facility_id: uuid.UUID,
    provider_id: uuid.UUID,
    status: str,
    amount: str,
    created: dt.date,
    submitted: dt.date | None,
) -> None:
    conn.execute(
        text(
            "INSERT INTO orders (organization_id, facility_id, provider_id, status, amount,"
            " line_count, created_at, submitted_at) VALUES (:o, :f, :p, :s, :a, 1, :c, :t)"
        ),
        {
            "o": organization_id,
            "f": facility_id,
            "p": provider_id,
            "s": status,
            "a": amount,
            "c": _noon(created),
            "t": _noon(submitted) if submitted else None,
        },
    )


def _order(
    conn: Connection,
    organization_id: uuid.UUID,
    facility_id: uuid.UUID,
    provider_id: uuid.UUID,
    days_ago: int,
    amount: str,
    status: str,
) -> None:
    """An order placed `days_ago` as the API places it: submitted when created, unless
    it is a draft (a submission stamps submitted_at)."""
    day = TODAY - dt.timedelta(days=days_ago)
    submitted = None if status == "draft" else day
    _insert_order(conn, organization_id, facility_id, provider_id, status, amount, day, submitted)


def _seed(seeded: TwoTenants, admin_engine: Engine) -> list[uuid.UUID]:
    a = seeded.a
    with Session(admin_engine, expire_on_commit=False) as session:
        extra = [
            factories.make_facility(session, a.organization, name=f"Extra {i}") for i in (1, 2)
        ]
        provider = seeded.shared_provider
        for facility in extra:
            factories.make_assignment(session, provider, facility)
        session.commit()
    facilities = [a.facility.id, extra[0].id, extra[1].id]
    with admin_engine.begin() as conn:
        for days_ago, index, amount, status in ORDERS:
            _order(
                conn,
                a.organization.id,
                facilities[index],
                seeded.shared_provider.id,
                days_ago,
                amount,
                status,
            )
        # B's order: never in A's figures
        _order(
            conn,
            seeded.b.organization.id,
            seeded.b.facility.id,
            seeded.shared_provider.id,
            1,
            "999.00",
            "submitted",
        )
    return facilities


def test_dashboard_figures(client: FlaskClient, seeded: TwoTenants, admin_engine: Engine) -> None:
    facilities = _seed(seeded, admin_engine)
    token = token_for(client, seeded.a.admin)
    response = client.get(
        f"/api/v1/admin/organizations/{seeded.a.organization.id}/dashboard", headers=bearer(token)
    )
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    active = [o for o in ORDERS if o[3] in ("submitted", "approved", "shipped")]
    # the shared provider (NPI on file, unverified: half of 15 of 100 points) is the only one
    assert body["overview"] == {
        "total_facilities": 3,
        "total_providers": 1,
        "active_orders": len(active),
        "compliance_score": round(100 * 15 * 0.5 / 100),
    }
    cards = {c["id"]: c for c in body["facilities"]}
    for index, facility_id in enumerate(facilities):
        expected = sum(1 for o in active if o[1] == index)
        assert cards[str(facility_id)]["active_orders"] == expected
        assert cards[str(facility_id)]["providers"] == 1
    activity = body["recent_activity"]
    assert activity and all(a["summary"] for a in activity)
    times = [a["occurred_at"] for a in activity]
    assert times == sorted(times, reverse=True)
    assert body["onboarding_progress"]["steps"][0]["step"] == "registration"
    other = f"/api/v1/admin/organizations/{seeded.b.organization.id}/dashboard"
    assert client.get(other, headers=bearer(token)).status_code == 404


def test_analytics_figures_and_csv(
    client: FlaskClient, seeded: TwoTenants, admin_engine: Engine
) -> None:
    facilities = _seed(seeded, admin_engine)
    token = token_for(client, seeded.a.admin)
    start = TODAY - dt.timedelta(days=13)
    url = (
        f"/api/v1/admin/organizations/{seeded.a.organization.id}/analytics"
        f"?from={start}&to={TODAY}&interval=day"
    )
    response = client.get(url, headers=bearer(token))
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    in_range = [o for o in ORDERS if o[0] <= 13 and o[3] not in ("draft", "cancelled")]
    assert body["total_orders"] == len(in_range)
    assert Decimal(body["total_revenue"]) == sum(Decimal(o[2]) for o in in_range)
    assert len(body["periods"]) == 14
    by_day = {p["start"]: p for p in body["periods"]}
    for days_ago, _index, amount, _status in in_range:
        day = by_day[str(TODAY - dt.timedelta(days=days_ago))]
        assert day["orders"] == 1
        assert Decimal(day["revenue"]) == Decimal(amount)
        assert day["provider_activity_rate"] == 1.0  # the one active provider ordered
    for quiet_day in (3, 5):  # the cancelled order's day, and one without an order
        quiet = by_day[str(TODAY - dt.timedelta(days=quiet_day))]
        assert quiet["orders"] == 0 and quiet["provider_activity_rate"] == 0.0
    shares = {f["facility_id"]: (f["orders"], f["share"]) for f in body["facilities"]}
    for index, facility_id in enumerate(facilities):
        count = sum(1 for o in in_range if o[1] == index)
        assert shares[str(facility_id)] == (count, round(count / len(in_range), 4))

    as_csv = client.get(url + "&format=csv", headers=bearer(token))
    assert as_csv.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(as_csv.get_data(as_text=True))))
    assert [r["period_start"] for r in rows] == [p["start"] for p in body["periods"]]
    assert [int(r["orders"]) for r in rows] == [p["orders"] for p in body["periods"]]
    assert [Decimal(r["revenue"]) for r in rows] == [Decimal(p["revenue"]) for p in body["periods"]]
    by_accept = client.get(url, headers={**bearer(token), "Accept": "text/csv"})
    assert by_accept.get_data(as_text=True) == as_csv.get_data(as_text=True)

    weekly = client.get(url.replace("interval=day", "interval=week"), headers=bearer(token))
    periods = weekly.get_json()["periods"]
    assert sum(p["orders"] for p in periods) == len(in_range)
    for previous, current in itertools.pairwise(periods):
        if previous["orders"]:
            expected = round((current["orders"] - previous["orders"]) / previous["orders"] * 100, 2)
            assert current["order_growth"] == expected

    bad = client.get(
        url.replace(f"from={start}", f"from={TODAY + dt.timedelta(days=1)}"), headers=bearer(token)
    )
    assert bad.status_code == 422 and "from" in bad.get_json()["errors"]["query"]


def test_msc_breakdown_across_organizations(
    client: FlaskClient, seeded: TwoTenants, admin_engine: Engine
) -> None:
    _seed(seeded, admin_engine)
    msc = token_for(client, seeded.msc_admin)
    rows = client.get(
        "/api/v1/admin/analytics?from=" + str(TODAY - dt.timedelta(days=30)), headers=bearer(msc)
    ).get_json()
    by_name = {r["name"]: r for r in rows}
    # the draft and the cancelled order are not business
    assert by_name["Tenant A"]["orders"] == len(ORDERS) - 2
    assert by_name["Tenant B"]["orders"] == 1
    assert Decimal(by_name["Tenant B"]["revenue"]) == Decimal("999.00")
    admin = token_for(client, seeded.a.admin)
    assert client.get("/api/v1/admin/analytics", headers=bearer(admin)).status_code == 403


def test_the_breakdown_csv_opens_in_a_spreadsheet_without_running_a_name(
    client: FlaskClient, seeded: TwoTenants, admin_engine: Engine
) -> None:
    """An organization's name is the user's text: one a spreadsheet would take for a
    formula is written as text (app/csv_export.py); the figures stay numbers."""
    _seed(seeded, admin_engine)
    with admin_engine.begin() as conn:
        conn.execute(
            text("UPDATE organizations SET name = '=HYPERLINK(\"http://x\")' WHERE id = :o"),
            {"o": seeded.a.organization.id},
        )
    msc = token_for(client, seeded.msc_admin)
    url = "/api/v1/admin/analytics?format=csv&from=" + str(TODAY - dt.timedelta(days=30))
    response = client.get(url, headers=bearer(msc))
    assert response.status_code == 200
    rows = {r["organization_id"]: r for r in csv.DictReader(io.StringIO(response.text))}
    renamed = rows[str(seeded.a.organization.id)]
    assert renamed["name"] == '\'=HYPERLINK("http://x")'
    assert renamed["orders"] == str(len(ORDERS) - 2)  # neither the draft nor the cancelled
    other = rows[str(seeded.b.organization.id)]
    assert (other["name"], other["revenue"]) == ("Tenant B", "999.00")


def test_statements_do_not_grow_with_the_tenant(
    app: Flask, client: FlaskClient, seeded: TwoTenants, admin_engine: Engine
) -> None:
    counts: dict[str, list[int]] = {}
    for size in (1, 40):
        with Session(admin_engine, expire_on_commit=False) as session:
            org = factories.make_organization(session, name=f"Size {size}")
            admin = factories.make_user(session)
            factories.make_membership(session, admin, org, "organization_admin")
            for _ in range(size):
                facility = factories.make_facility(session, org)
                provider = factories.make_user(session)
                factories.make_membership(session, provider, org, "provider")
                factories.make_assignment(session, provider, facility)
            session.commit()
        token = token_for(client, admin)
        measured = []
        for path in ("dashboard", "analytics?interval=week"):
            with counting_statements(app) as statements:
                response = client.get(
                    f"/api/v1/admin/organizations/{org.id}/{path}", headers=bearer(token)
                )
            assert response.status_code == 200
            measured.append(len(statements))
        counts[str(size)] = measured
    assert counts["1"] == counts["40"], counts


def test_far_dates_are_422_naming_the_field(client: FlaskClient, seeded: TwoTenants) -> None:
    token = token_for(client, seeded.a.admin)
    base = f"/api/v1/admin/organizations/{seeded.a.organization.id}/analytics"
    for query, field in (("from=9999-12-25&to=9999-12-31", "from"), ("to=0001-01-10", "to")):
        response = client.get(f"{base}?{query}", headers=bearer(token))
        assert response.status_code == 422, query
        assert field in response.get_json()["errors"]["query"]
