"""Dashboard and analytics: figures checked against values computed here from the seed
data or by hand from a fixture of fixed dates, CSV against JSON, and a statement count
that does not grow with the tenant."""

from __future__ import annotations

import csv
import datetime as dt
import io
import itertools
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

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
        # neither a tax form nor a banking letter on file
        "document_compliance_score": 0,
        # never screened (tests/test_exclusion_effects.py counts them)
        "excluded_providers": 0,
        "open_exclusion_candidates": 0,
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


# --- a fixture of fixed dates, September to November 2026 --------------------------------
#
# Tenant A and its child C. Providers (assignments: [start, end), end exclusive):
#   P0  the shared provider, at A's facility since 2026-01-01 (and at B's)
#   P1  at A's Annex 09-15..10-12 and at A's facility 09-20..10-05, both ended
#   P2  at A's facility from 10-18 (a Sunday)
#   P3  at C's clinic since 08-01
#   P6  at A's Annex since 06-01, never orders
#   P4  pending at A's Annex, starting 30 days from today: active on no day yet
#   P5  at A's facility from today: active in no past period
#   P7  at A's Annex from 10-20, ended on 10-20 (as a pending one is): active on no day
# Active in September: P0 P1 P3 P6 (4); October: P0 P1 P2 P3 P6 (5); November: P0 P2 P3
# P6 (4).


@dataclass
class History:
    child: uuid.UUID
    facility: uuid.UUID
    annex: uuid.UUID
    clinic: uuid.UUID


def _day(text_date: str) -> dt.date:
    return dt.date.fromisoformat(text_date)


def _history(seeded: TwoTenants, admin_engine: Engine) -> History:
    a = seeded.a
    with Session(admin_engine, expire_on_commit=False) as session:
        child = factories.make_organization(
            session, name="Tenant A Child", parent_organization_id=a.organization.id
        )
        annex = factories.make_facility(session, a.organization, name="Annex")
        clinic = factories.make_facility(session, child, name="Child Clinic")
        people = {}
        for name, organization in (
            ("P1", a.organization),
            ("P2", a.organization),
            ("P3", child),
            ("P4", a.organization),
            ("P5", a.organization),
            ("P6", a.organization),
            ("P7", a.organization),
        ):
            people[name] = factories.make_user(session)
            factories.make_membership(session, people[name], organization, "provider")
        assignments = (
            ("P1", annex, "2026-09-15", "2026-10-12", "inactive"),
            ("P1", a.facility, "2026-09-20", "2026-10-05", "inactive"),
            ("P2", a.facility, "2026-10-18", None, "active"),
            ("P3", clinic, "2026-08-01", None, "active"),
            ("P6", annex, "2026-06-01", None, "active"),
            ("P4", annex, str(TODAY + dt.timedelta(days=30)), None, "pending"),
            ("P5", a.facility, str(TODAY), None, "active"),
            ("P7", annex, "2026-10-20", "2026-10-20", "inactive"),
        )
        for name, facility, start, end, status in assignments:
            factories.make_assignment(
                session,
                people[name],
                facility,
                start_date=_day(start),
                end_date=_day(end) if end else None,
                status=status,
            )
        session.commit()
    p0 = seeded.shared_provider.id
    a_id, c_id, fa = a.organization.id, child.id, a.facility.id
    # (organization, facility, provider, status, amount, created, submitted)
    orders = (
        (a_id, fa, p0, "submitted", "500.00", "2026-08-31", "2026-08-31"),  # before the range
        (a_id, fa, p0, "delivered", "100.00", "2026-09-03", "2026-09-03"),
        (a_id, annex.id, people["P1"].id, "submitted", "50.00", "2026-09-20", "2026-09-20"),
        (a_id, fa, p0, "draft", "999.00", "2026-09-25", None),
        (a_id, fa, p0, "cancelled", "300.00", "2026-09-28", "2026-09-28"),
        (a_id, fa, p0, "submitted", "45.00", "2026-09-30", "2026-09-30"),
        # a draft of September submitted in October: October's
        (a_id, fa, p0, "approved", "80.00", "2026-09-29", "2026-10-02"),
        (a_id, annex.id, people["P1"].id, "cancelled", "40.00", "2026-10-01", None),
        (a_id, fa, people["P1"].id, "delivered", "25.00", "2026-10-06", "2026-10-06"),
        (c_id, clinic.id, people["P3"].id, "shipped", "200.00", "2026-10-15", "2026-10-15"),
        (
            seeded.b.organization.id,
            seeded.b.facility.id,
            p0,
            "submitted",
            "999.00",
            "2026-10-10",
            "2026-10-10",
        ),
        (a_id, fa, people["P2"].id, "delivered", "120.00", "2026-11-05", "2026-11-05"),
        (c_id, clinic.id, people["P3"].id, "draft", "70.00", "2026-11-10", None),
        (a_id, fa, people["P2"].id, "submitted", "30.00", "2026-11-20", "2026-11-20"),
        (c_id, clinic.id, people["P3"].id, "delivered", "60.00", "2026-11-25", "2026-11-25"),
        (a_id, fa, p0, "submitted", "10.00", "2026-11-30", "2026-11-30"),
    )
    with admin_engine.begin() as conn:
        for organization, facility, provider, status, amount, created, submitted in orders:
            _insert_order(
                conn,
                organization,
                facility,
                provider,
                status,
                amount,
                _day(created),
                _day(submitted) if submitted else None,
            )
    return History(child.id, fa, annex.id, clinic.id)


def _figures(periods: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [
        (
            p["start"],
            p["orders"],
            p["revenue"],
            p["ordering_providers"],
            p["active_providers"],
            p["provider_activity_rate"],
            p["order_growth"],
            p["revenue_growth"],
        )
        for p in periods
    ]


def test_monthly_figures_count_business_orders_and_providers_active_in_each_month(
    client: FlaskClient, seeded: TwoTenants, admin_engine: Engine
) -> None:
    history = _history(seeded, admin_engine)
    token = token_for(client, seeded.a.admin)
    url = (
        f"/api/v1/admin/organizations/{seeded.a.organization.id}/analytics"
        "?from=2026-09-01&to=2026-11-30&interval=month"
    )
    response = client.get(url, headers=bearer(token))
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    # September: 100 + 50 + 45 (P0, P1); October: 80 + 25 + 200 (P0, P1, P3);
    # November: 120 + 30 + 60 + 10 (P2, P3, P0). Growth: (305 - 195) / 195 = 56.41 %,
    # (4 - 3) / 3 = 33.33 %, (220 - 305) / 305 = -27.87 %.
    assert _figures(body["periods"]) == [
        ("2026-09-01", 3, "195.00", 2, 4, 0.5, None, None),
        ("2026-10-01", 3, "305.00", 3, 5, 0.6, 0.0, 56.41),
        ("2026-11-01", 4, "220.00", 3, 4, 0.75, 33.33, -27.87),
    ]
    assert (body["total_orders"], body["total_revenue"]) == (10, "720.00")
    assert [(f["facility_id"], f["orders"], f["share"]) for f in body["facilities"]] == [
        (str(history.facility), 7, 0.7),
        (str(history.clinic), 2, 0.2),
        (str(history.annex), 1, 0.1),
    ]

    as_csv = client.get(url + "&format=csv", headers=bearer(token))
    assert as_csv.status_code == 200 and as_csv.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(as_csv.get_data(as_text=True))))
    assert rows == [
        {
            "period_start": p["start"],
            **{
                key: "" if value is None else str(value)
                for key, value in p.items()
                if key != "start"
            },
        }
        for p in body["periods"]
    ]


def test_weekly_figures_take_assignment_dates_and_the_range_as_they_are(
    client: FlaskClient, seeded: TwoTenants, admin_engine: Engine
) -> None:
    """From Thursday 10-01 to Sunday 10-25: the first week counts from the Thursday (the
    order of 09-30 is out). P1's assignments end on 10-05 and 10-12: active through
    10-11, not in the week of 10-12; P2's starts on Sunday 10-18: active in that week."""
    history = _history(seeded, admin_engine)
    token = token_for(client, seeded.a.admin)
    response = client.get(
        f"/api/v1/admin/organizations/{seeded.a.organization.id}/analytics"
        "?from=2026-10-01&to=2026-10-25&interval=week",
        headers=bearer(token),
    )
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    # active: P0 P1 P3 P6 | P0 P1 P3 P6 | P0 P2 P3 P6 | P0 P2 P3 P6
    assert _figures(body["periods"]) == [
        ("2026-09-28", 1, "80.00", 1, 4, 0.25, None, None),
        ("2026-10-05", 1, "25.00", 1, 4, 0.25, 0.0, -68.75),
        ("2026-10-12", 1, "200.00", 1, 4, 0.25, 0.0, 700.0),
        ("2026-10-19", 0, "0.00", 0, 4, 0.0, -100.0, -100.0),
    ]
    assert [(f["facility_id"], f["orders"], f["share"]) for f in body["facilities"]] == [
        (str(history.facility), 2, 0.6667),
        (str(history.clinic), 1, 0.3333),
        (str(history.annex), 0, 0.0),
    ]


def test_a_child_organizations_figures_are_its_own(
    client: FlaskClient, seeded: TwoTenants, admin_engine: Engine
) -> None:
    history = _history(seeded, admin_engine)
    token = token_for(client, seeded.a.admin)
    response = client.get(
        f"/api/v1/admin/organizations/{history.child}/analytics"
        "?from=2026-09-01&to=2026-11-30&interval=month",
        headers=bearer(token),
    )
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    # P3 alone, active all along; no growth from an empty September
    assert _figures(body["periods"]) == [
        ("2026-09-01", 0, "0.00", 0, 1, 0.0, None, None),
        ("2026-10-01", 1, "200.00", 1, 1, 1.0, None, None),
        ("2026-11-01", 1, "60.00", 1, 1, 1.0, 0.0, -70.0),
    ]
    assert [(f["facility_id"], f["orders"]) for f in body["facilities"]] == [
        (str(history.clinic), 2)
    ]


def test_the_breakdown_counts_each_organizations_range_as_one_period(
    client: FlaskClient, seeded: TwoTenants, admin_engine: Engine
) -> None:
    history = _history(seeded, admin_engine)
    msc = token_for(client, seeded.msc_admin)
    response = client.get(
        "/api/v1/admin/analytics?from=2026-09-01&to=2026-11-30", headers=bearer(msc)
    )
    assert response.status_code == 200, response.get_json()
    rows = {
        r["organization_id"]: (
            r["orders"],
            r["revenue"],
            r["ordering_providers"],
            r["active_providers"],
            r["provider_activity_rate"],
        )
        for r in response.get_json()
    }
    # A: 100 + 50 + 45 + 80 + 25 + 120 + 30 + 10 by P0 P1 P2, active P0 P1 P2 P6
    assert rows == {
        str(seeded.a.organization.id): (8, "460.00", 3, 4, 0.75),
        str(history.child): (2, "260.00", 1, 1, 1.0),
        str(seeded.b.organization.id): (1, "999.00", 1, 1, 1.0),
    }


def test_a_provider_who_joined_today_is_not_active_in_past_periods(
    client: FlaskClient, seeded: TwoTenants, admin_engine: Engine
) -> None:
    """Nor is one whose assignment starts in ten days (pending), in any period."""
    a = seeded.a
    with Session(admin_engine, expire_on_commit=False) as session:
        for start, status in ((TODAY, "active"), (TODAY + dt.timedelta(days=10), "pending")):
            provider = factories.make_user(session)
            factories.make_membership(session, provider, a.organization, "provider")
            factories.make_assignment(
                session, provider, a.facility, start_date=start, status=status
            )
        session.commit()
    token = token_for(client, a.admin)
    base = f"/api/v1/admin/organizations/{a.organization.id}/analytics?to={TODAY}"
    monday = TODAY - dt.timedelta(days=TODAY.weekday() + 28)
    weekly = client.get(f"{base}&from={monday}&interval=week", headers=bearer(token)).get_json()
    # the shared provider (since 2026-01-01) in every week; the new one in this week alone
    assert [p["active_providers"] for p in weekly["periods"]] == [1, 1, 1, 1, 2]
    daily = client.get(
        f"{base}&from={TODAY - dt.timedelta(days=2)}&interval=day", headers=bearer(token)
    ).get_json()
    assert [p["active_providers"] for p in daily["periods"]] == [1, 1, 2]


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
