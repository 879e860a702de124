"""What an exclusion does in the organization whose match it is, and nowhere else: the
provider's compliance score is 0 there from the day it was decided (the compliance
endpoint, the dashboard and the trend alike), new orders at its facilities and new
assignments there are refused, its dashboard counts it, and its admins are told
(also of an exclusion the screening finds by NPI, through `notify_exclusion`).

The shared provider of the seeded tenants holds an unverified NPI and nothing else:
license 30, malpractice 25 and DEA 15 missing, NPI 15 * 0.5, training 15 missing:
round(100 * 7.5 / 100) = 8."""

from __future__ import annotations

import datetime as dt
import uuid

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from app import clock
from app.domain import compliance, exclusion_reviews
from app.models.enums import Role
from app.tenancy.context import TenantContext, use_context
from tests import factories
from tests.api_helpers import committed_facility, committed_provider, problem_of
from tests.conftest import TwoTenants, bearer, token_for
from tests.screening_fixtures import committed_entry, committed_match
from workers import jobs

UNSCREENED_SCORE = 8
TODAY = clock.today()


def _at(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(9), dt.UTC)


def _excluded_in_a(
    admin_engine: Engine, seeded: TwoTenants, day: dt.date = TODAY, **fields: object
) -> uuid.UUID:
    """The shared provider excluded in A on `day` (decided by A's admin)."""
    listed = committed_entry(admin_engine)
    fields.setdefault("status", "excluded")
    fields.setdefault("found_at", _at(day) - dt.timedelta(days=3))
    fields.setdefault("decided_at", _at(day))
    fields.setdefault("decided_by_id", seeded.a.admin.id)
    fields.setdefault("decision_reason", "confirmed with the state board")
    return committed_match(
        admin_engine, seeded.a.organization, seeded.shared_provider, listed.entry, **fields
    ).id


def _compliance(client: FlaskClient, token: str) -> dict[str, object]:
    response = client.get("/api/v1/admin/compliance", headers=bearer(token))
    assert response.status_code == 200, response.get_json()
    body: dict[str, object] = response.get_json()
    return body


def _provider(body: dict[str, object], user_id: uuid.UUID) -> dict[str, object]:
    providers = body["providers"]
    assert isinstance(providers, list)
    [found] = [p for p in providers if p["user_id"] == str(user_id)]
    return dict(found)


def test_an_exclusion_scores_0_in_its_organization_only(
    client: FlaskClient, seeded: TwoTenants, admin_engine: Engine
) -> None:
    provider = seeded.shared_provider
    a_token, b_token = token_for(client, seeded.a.admin), token_for(client, seeded.b.admin)
    before = _provider(_compliance(client, a_token), provider.id)
    assert (before["score"], before["excluded"]) == (UNSCREENED_SCORE, False)
    _excluded_in_a(admin_engine, seeded)

    a_body = _compliance(client, a_token)
    assert _provider(a_body, provider.id)["score"] == 0
    assert _provider(a_body, provider.id)["excluded"] is True
    assert a_body["score"] == 0  # A's only provider
    b_body = _compliance(client, b_token)
    assert (_provider(b_body, provider.id)["score"], b_body["score"]) == (8, 8)
    # the provider's page, from each side; the dashboard, A's and B's
    page = f"/api/v1/admin/providers/{provider.id}/compliance"
    assert client.get(page, headers=bearer(a_token)).get_json()["score"] == 0
    assert client.get(page, headers=bearer(b_token)).get_json()["score"] == UNSCREENED_SCORE
    a_dash = client.get(
        f"/api/v1/admin/organizations/{seeded.a.organization.id}/dashboard",
        headers=bearer(a_token),
    ).get_json()["overview"]
    assert (a_dash["compliance_score"], a_dash["excluded_providers"]) == (0, 1)
    b_dash = client.get(
        f"/api/v1/admin/organizations/{seeded.b.organization.id}/dashboard",
        headers=bearer(b_token),
    ).get_json()["overview"]
    assert (b_dash["compliance_score"], b_dash["excluded_providers"]) == (8, 0)


def test_an_office_manager_reads_the_same_figures_as_the_admin(
    client: FlaskClient, seeded: TwoTenants, admin_engine: Engine
) -> None:
    """The office manager may not read the queue, yet the organization's compliance is
    one figure whoever reads it."""
    _excluded_in_a(admin_engine, seeded)
    with admin_engine.begin() as conn:
        conn.execute(
            text("UPDATE facilities SET office_manager_id = :u WHERE id = :f"),
            {"u": seeded.a.office_manager.id, "f": seeded.a.facility.id},
        )
    manager = token_for(client, seeded.a.office_manager, seeded.a.organization)
    body = _compliance(client, manager)
    assert _provider(body, seeded.shared_provider.id)["score"] == 0


def test_the_exclusion_counts_from_the_day_it_was_decided(
    seeded: TwoTenants, admin_engine: Engine
) -> None:
    """Over days before, on and after the decision, each day's score is evaluate's of
    load_facts on that day: 8 before, 0 from the day of the decision (UTC)."""
    decided = TODAY - dt.timedelta(days=5)
    _excluded_in_a(admin_engine, seeded, decided)
    with admin_engine.begin() as conn:  # a member on every one of the days
        conn.execute(
            text("UPDATE memberships SET created_at = :at WHERE user_id = :u"),
            {"at": _at(decided - dt.timedelta(days=30)), "u": seeded.shared_provider.id},
        )
    days = [decided - dt.timedelta(days=d) for d in (10, 1)] + [
        decided + dt.timedelta(days=d) for d in (0, 1, 5)
    ]
    a = [seeded.a.organization.id]
    b = [seeded.b.organization.id]
    user = seeded.shared_provider.id
    with Session(admin_engine) as session:
        use_context(session, TenantContext.system("test"))
        assert compliance.score_runs(session, [user], days, a)[user] == [
            (0, UNSCREENED_SCORE),
            (2, 0),
        ]
        assert compliance.score_runs(session, [user], days, b)[user] == [(0, UNSCREENED_SCORE)]
        for day, expected in zip(days, (8, 8, 0, 0, 0), strict=True):
            facts = compliance.load_facts(session, [user], day, a)[user]
            assert compliance.evaluate(facts, day).score == expected, day
        sums = compliance.score_sums(session, a, days)
    assert [sums[day] for day in days] == [(8, 1), (8, 1), (0, 1), (0, 1), (0, 1)]


def test_a_cleared_or_reinstated_match_counts_on_no_day(
    client: FlaskClient, seeded: TwoTenants, admin_engine: Engine
) -> None:
    _excluded_in_a(admin_engine, seeded, status="cleared")
    _excluded_in_a(admin_engine, seeded, status="reinstated", decided_by_id=None)
    token = token_for(client, seeded.a.admin)
    assert _provider(_compliance(client, token), seeded.shared_provider.id)["score"] == 8


def test_an_excluded_provider_orders_nothing_at_that_organization(
    client: FlaskClient, seeded: TwoTenants, admin_engine: Engine
) -> None:
    _excluded_in_a(admin_engine, seeded)
    token_a = token_for(client, seeded.shared_provider, seeded.a.organization)
    order = {"facility_id": str(seeded.a.facility.id), "amount": "125.50", "line_count": 2}
    refused = client.post("/api/v1/orders", json=order, headers=bearer(token_a))
    assert "excluded" in problem_of(refused, 409)["detail"]
    with admin_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM orders")).scalar_one() == 0
    token_b = token_for(client, seeded.shared_provider, seeded.b.organization)
    order["facility_id"] = str(seeded.b.facility.id)
    placed = client.post("/api/v1/orders", json=order, headers=bearer(token_b))
    assert placed.status_code == 201, placed.get_json()


def test_an_excluded_provider_gets_no_new_assignment_there(
    client: FlaskClient, seeded: TwoTenants, admin_engine: Engine
) -> None:
    _excluded_in_a(admin_engine, seeded)
    provider = seeded.shared_provider
    second_a = committed_facility(admin_engine, seeded.a.organization)
    second_b = committed_facility(admin_engine, seeded.b.organization)
    url = f"/api/v1/admin/providers/{provider.id}/assign-facility"
    refused = client.post(
        url,
        json={"facility_id": str(second_a.id)},
        headers=bearer(token_for(client, seeded.a.admin)),
    )
    assert "excluded" in problem_of(refused, 409)["detail"]
    assigned = client.post(
        url,
        json={"facility_id": str(second_b.id)},
        headers=bearer(token_for(client, seeded.b.admin)),
    )
    assert assigned.status_code == 201, assigned.get_json()
    # another provider of A is assigned as before
    other = committed_provider(admin_engine, seeded.a.organization)
    other_url = f"/api/v1/admin/providers/{other.id}/assign-facility"
    response = client.post(
        other_url,
        json={"facility_id": str(second_a.id)},
        headers=bearer(token_for(client, seeded.a.admin)),
    )
    assert response.status_code == 201, response.get_json()


def test_the_dashboard_counts_open_candidates(
    client: FlaskClient, seeded: TwoTenants, admin_engine: Engine
) -> None:
    for _ in range(2):
        listed = committed_entry(admin_engine)
        committed_match(admin_engine, seeded.a.organization, seeded.shared_provider, listed.entry)
    listed = committed_entry(admin_engine)
    committed_match(
        admin_engine, seeded.b.organization, seeded.shared_provider, listed.entry, status="cleared"
    )
    dashboard = "/api/v1/admin/organizations/{}/dashboard"
    a = client.get(
        dashboard.format(seeded.a.organization.id),
        headers=bearer(token_for(client, seeded.a.admin)),
    ).get_json()["overview"]
    assert (a["open_exclusion_candidates"], a["excluded_providers"]) == (2, 0)
    assert a["compliance_score"] == UNSCREENED_SCORE  # a candidate is no exclusion
    b = client.get(
        dashboard.format(seeded.b.organization.id),
        headers=bearer(token_for(client, seeded.b.admin)),
    ).get_json()["overview"]
    assert (b["open_exclusion_candidates"], b["excluded_providers"]) == (0, 0)


def test_the_screening_announces_its_npi_exclusions_once(
    seeded: TwoTenants, admin_engine: Engine
) -> None:
    """As the screening calls it, in the service's context: a message to each active admin
    of the organization whose match it is, once however often it is called; a candidate
    is not announced."""
    with Session(admin_engine, expire_on_commit=False) as session:
        use_context(session, TenantContext.system("test-setup"))
        inactive = factories.make_user(session, is_active=False)
        factories.make_membership(session, inactive, seeded.b.organization, Role.ORGANIZATION_ADMIN)
        session.commit()
    listed = committed_entry(admin_engine, npi=seeded.shared_provider.npi)
    by_npi = committed_match(
        admin_engine,
        seeded.b.organization,
        seeded.shared_provider,
        listed.entry,
        match_kind="npi",
        status="excluded",
        decided_at=_at(TODAY),
        decision_reason="NPI listed on leie 2026-11-01",
    )
    candidate = committed_match(
        admin_engine, seeded.a.organization, seeded.shared_provider, listed.entry
    )
    with Session(admin_engine) as session:
        use_context(session, TenantContext.system("job:screening"))
        assert exclusion_reviews.notify_exclusion(session, [by_npi.id, candidate.id]) == 1
        assert exclusion_reviews.notify_exclusion(session, [by_npi.id]) == 0
        session.commit()
    with admin_engine.connect() as conn:
        [notice] = conn.execute(
            text(
                "SELECT organization_id, recipient_user_id, subject, template, payload"
                " FROM outbox_messages WHERE kind = 'exclusion_notice'"
            )
        ).all()
    assert (notice.organization_id, notice.recipient_user_id) == (
        seeded.b.organization.id,
        seeded.b.admin.id,
    )
    assert notice.template == "exclusion_notice"
    assert notice.subject == f"{seeded.shared_provider.name} is excluded (the HHS-OIG LEIE)"
    assert notice.payload["by_npi"] is True
    assert notice.payload["provider_npi"] == seeded.shared_provider.npi


def _pending_assignment(
    admin_engine: Engine, organization_id: uuid.UUID, user_id: uuid.UUID, facility_id: uuid.UUID
) -> None:
    with admin_engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO provider_facilities"
                " (organization_id, user_id, facility_id, start_date, status)"
                " VALUES (:o, :u, :f, :today, 'pending')"
            ),
            {"o": organization_id, "u": user_id, "f": facility_id, "today": TODAY},
        )


def _statuses(admin_engine: Engine, facility_ids: list[uuid.UUID]) -> list[str]:
    with admin_engine.connect() as connection:
        return [
            connection.scalar(
                text("SELECT status FROM provider_facilities WHERE facility_id = :f"), {"f": f}
            )
            for f in facility_ids
        ]


def test_an_excluded_providers_pending_assignments_there_wait_for_the_exclusion_to_lift(
    app: Flask, seeded: TwoTenants, admin_engine: Engine
) -> None:
    """An invitation accepted before, or as, the exclusion was found left pending
    assignments: the hourly job starts them only once the exclusion is lifted, and
    starts another organization's as ever."""
    provider = seeded.shared_provider
    at_a = committed_facility(admin_engine, seeded.a.organization)
    at_b = committed_facility(admin_engine, seeded.b.organization)
    _pending_assignment(admin_engine, seeded.a.organization.id, provider.id, at_a.id)
    _pending_assignment(admin_engine, seeded.b.organization.id, provider.id, at_b.id)
    match_id = _excluded_in_a(admin_engine, seeded)

    with app.app_context():
        jobs.apply_assignment_dates()
    assert _statuses(admin_engine, [at_a.id, at_b.id]) == ["pending", "active"]

    with admin_engine.begin() as connection:
        connection.execute(
            text("UPDATE exclusion_matches SET status = 'cleared' WHERE id = :m"), {"m": match_id}
        )
    with app.app_context():
        jobs.apply_assignment_dates()
    assert _statuses(admin_engine, [at_a.id, at_b.id]) == ["active", "active"]
