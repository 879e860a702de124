"""Assignments over time (start and end dates that take effect on their day, by the
scheduled job), the primary after an assignment ends, and the primary as the provider's
own fact: a change of it at one organization is nothing in another's trail."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session

from app import clock
from app.domain import queries
from app.models import ProviderFacility, User
from app.tenancy.context import use_context
from tests import factories
from tests.api_helpers import (
    assignment_id_of,
    assignment_rows,
    committed_facility,
    primary_assignment_ids,
    validation_errors,
)
from tests.conftest import MSC_SYSTEM, TwoTenants, bearer, token_for
from workers import jobs

PROVIDERS = "/api/v1/admin/providers"
# "Today" in these tests, held with clock.frozen; the dates below are counted from it.
DAY = dt.date(2027, 3, 1)


def _assign(client: FlaskClient, token: str, provider: User, **body: Any) -> Any:
    body = {k: str(v) if isinstance(v, uuid.UUID | dt.date) else v for k, v in body.items()}
    return client.post(
        f"{PROVIDERS}/{provider.id}/assign-facility", json=body, headers=bearer(token)
    )


def _end(
    client: FlaskClient, token: str, provider: User, assignment_id: object, **body: Any
) -> Any:
    body = {k: str(v) for k, v in body.items()}
    return client.post(
        f"{PROVIDERS}/{provider.id}/assignments/{assignment_id}/end",
        json=body,
        headers=bearer(token),
    )


def _make_primary(client: FlaskClient, token: str, provider: User, assignment_id: object) -> Any:
    return client.post(
        f"{PROVIDERS}/{provider.id}/assignments/{assignment_id}/make-primary",
        headers=bearer(token),
    )


def _run_job(app: Flask, day: dt.date) -> int:
    with clock.frozen(day), app.app_context():
        return jobs.apply_assignment_dates()


def _status(admin_engine: Engine, provider: User, assignment_id: uuid.UUID) -> tuple[str, Any]:
    [row] = [r for r in assignment_rows(admin_engine, provider) if r["id"] == assignment_id]
    return row["status"], row["end_date"]


def _job_events(admin_engine: Engine, row_id: uuid.UUID) -> list[tuple[Any, ...]]:
    """The trail's events of the row written by the dates job: organization, actor,
    cross-tenant mark, changes, request id."""
    with admin_engine.connect() as conn:
        return [
            tuple(row)
            for row in conn.execute(
                text(
                    "SELECT organization_id, actor_user_id, cross_tenant, changes, request_id"
                    " FROM audit_events WHERE row_id = :r AND request_id LIKE 'job:%'"
                    " ORDER BY occurred_at, id"
                ),
                {"r": row_id},
            )
        ]


def _flags(client: FlaskClient, token: str, provider: User) -> dict[str, bool]:
    """Assignment id -> is_primary, of the provider's assignments the caller's
    organization holds."""
    rows = client.get(f"{PROVIDERS}/{provider.id}/facilities", headers=bearer(token)).get_json()
    return {row["id"]: row["is_primary"] for row in rows}


def _trail(client: FlaskClient, token: str, organization_id: uuid.UUID) -> tuple[Any, Any]:
    """The organization's audit events and its dashboard's recent activity, as its
    admin reads them."""
    events = client.get("/api/v1/admin/audit-events?page_size=100", headers=bearer(token))
    assert events.status_code == 200
    dashboard = client.get(
        f"/api/v1/admin/organizations/{organization_id}/dashboard", headers=bearer(token)
    )
    assert dashboard.status_code == 200
    return events.get_json(), dashboard.get_json()["recent_activity"]


# --- one definition of "active on a day" ----------------------------------------------


def test_an_assignment_is_in_force_from_its_start_date_up_to_not_including_its_end_date(
    db: Session, tenants: TwoTenants
) -> None:
    use_context(db, MSC_SYSTEM)
    facility = factories.make_facility(db, tenants.a.organization)
    assignment = factories.make_assignment(
        db,
        tenants.shared_provider,
        facility,
        status="pending",
        start_date=dt.date(2027, 3, 5),
        end_date=dt.date(2027, 3, 10),
    )
    open_ended = factories.make_assignment(
        db, tenants.shared_provider, factories.make_facility(db, tenants.a.organization)
    )  # from 2026-01-01, no end date
    expected = {
        dt.date(2027, 3, 4): (False, True),
        dt.date(2027, 3, 5): (True, True),
        dt.date(2027, 3, 9): (True, True),
        dt.date(2027, 3, 10): (False, True),
        dt.date(2025, 12, 31): (False, False),
    }
    for day, (in_force, open_in_force) in expected.items():
        read = dict(
            db.execute(
                select(ProviderFacility.id, queries.active_on(day)).where(
                    ProviderFacility.id.in_([assignment.id, open_ended.id])
                )
            ).all()
        )
        assert read == {assignment.id: in_force, open_ended.id: open_in_force}, day


# --- dates to come, and the job that applies them -------------------------------------


def test_a_future_start_stays_pending_until_the_job_activates_it_on_its_date(
    app: Flask, client: FlaskClient, seeded: TwoTenants, admin_engine: Engine
) -> None:
    provider, a = seeded.shared_provider, seeded.a
    second = committed_facility(admin_engine, a.organization, name="Second Site")
    token = token_for(client, a.admin)
    with clock.frozen(DAY):
        assigned = _assign(
            client, token, provider, facility_id=second.id, start_date=dt.date(2027, 3, 4)
        )
    assert assigned.status_code == 201, assigned.get_json()
    assignment_id = uuid.UUID(assigned.get_json()["id"])
    assert assigned.get_json()["status"] == "pending"

    assert _run_job(app, dt.date(2027, 3, 3)) == 0
    assert _status(admin_engine, provider, assignment_id) == ("pending", None)
    assert _run_job(app, dt.date(2027, 3, 4)) == 1
    assert _status(admin_engine, provider, assignment_id) == ("active", None)
    # Again the same day, and the next: nothing more to do, the same state, one event.
    assert _run_job(app, dt.date(2027, 3, 4)) == 0
    assert _run_job(app, dt.date(2027, 3, 5)) == 0
    assert _status(admin_engine, provider, assignment_id) == ("active", None)
    assert _job_events(admin_engine, assignment_id) == [
        (
            a.organization.id,
            None,  # the system, not a user
            False,  # in the assignment's own organization: not a cross-tenant change
            {"status": {"old": "pending", "new": "active"}},
            "job:assignment-dates:2027-03-04",
        )
    ]
    # The provider is primary at A already: the new assignment is not.
    assert primary_assignment_ids(admin_engine, provider) == [
        assignment_id_of(admin_engine, provider, a.facility)
    ]
    _, activity = _trail(client, token, a.organization.id)
    assert activity[0]["actor_name"] == "System"
    assert activity[0]["summary"] == "System updated a facility assignment (status)"


def test_the_job_runs_from_the_command_line_too(
    app: Flask, client: FlaskClient, seeded: TwoTenants, admin_engine: Engine
) -> None:
    provider, b = seeded.shared_provider, seeded.b
    assignment_id = assignment_id_of(admin_engine, provider, b.facility)
    with clock.frozen(DAY):
        token = token_for(client, b.admin)
        assert (
            _end(client, token, provider, assignment_id, end_date=DAY.replace(day=2)).status_code
            == 200
        )
    runner = app.test_cli_runner()
    # the application's context, as `flask --app wsgi` gives its commands
    with clock.frozen(DAY.replace(day=2)), app.app_context():
        result = runner.invoke(args=["jobs", "apply-assignment-dates"])
        again = runner.invoke(args=["jobs", "apply-assignment-dates"])
    # what it prints; its log lines go to stderr
    assert result.stdout == "assignments activated or ended: 1\n"
    assert again.stdout == "assignments activated or ended: 0\n"
    assert _status(admin_engine, provider, assignment_id) == ("inactive", dt.date(2027, 3, 2))


def test_a_future_end_date_is_kept_and_the_job_ends_the_assignment_on_that_day(
    app: Flask, client: FlaskClient, seeded: TwoTenants, admin_engine: Engine
) -> None:
    provider, b = seeded.shared_provider, seeded.b
    assignment_id = assignment_id_of(admin_engine, provider, b.facility)
    token = token_for(client, b.admin)
    with clock.frozen(DAY):
        scheduled = _end(client, token, provider, assignment_id, end_date=dt.date(2027, 3, 10))
    assert scheduled.status_code == 200, scheduled.get_json()
    assert (scheduled.get_json()["status"], scheduled.get_json()["end_date"]) == (
        "active",
        "2027-03-10",
    )

    assert _run_job(app, dt.date(2027, 3, 9)) == 0
    assert _status(admin_engine, provider, assignment_id) == ("active", dt.date(2027, 3, 10))
    assert _run_job(app, dt.date(2027, 3, 10)) == 1
    assert _run_job(app, dt.date(2027, 3, 10)) == 0
    assert _status(admin_engine, provider, assignment_id) == ("inactive", dt.date(2027, 3, 10))
    assert _job_events(admin_engine, assignment_id) == [
        (
            b.organization.id,
            None,
            False,
            {"status": {"old": "active", "new": "inactive"}},
            "job:assignment-dates:2027-03-10",
        )
    ]
    # In force up to, not including, its end date: the dashboard counts the provider at
    # B's facility on 2027-03-09, not on 2027-03-10 (queries.active_on).
    assert _providers_at(client, token, b.organization.id, b.facility.id, dt.date(2027, 3, 9)) == 1
    assert _providers_at(client, token, b.organization.id, b.facility.id, dt.date(2027, 3, 10)) == 0


def _providers_at(
    client: FlaskClient,
    token: str,
    organization_id: uuid.UUID,
    facility_id: uuid.UUID,
    day: dt.date,
) -> int:
    """The dashboard's count of active providers at the facility on `day`."""
    with clock.frozen(day):
        dashboard = client.get(
            f"/api/v1/admin/organizations/{organization_id}/dashboard", headers=bearer(token)
        ).get_json()
    [card] = [f for f in dashboard["facilities"] if f["id"] == str(facility_id)]
    providers: int = card["providers"]
    return providers


def test_a_pending_assignment_whose_whole_period_has_passed_goes_straight_to_inactive(
    app: Flask, client: FlaskClient, seeded: TwoTenants, admin_engine: Engine
) -> None:
    """Start 2027-03-04, end 2027-03-06, and no run of the job until 2027-03-08."""
    provider, a = seeded.shared_provider, seeded.a
    second = committed_facility(admin_engine, a.organization, name="Second Site")
    token = token_for(client, a.admin)
    with clock.frozen(DAY):
        assigned = _assign(
            client, token, provider, facility_id=second.id, start_date=dt.date(2027, 3, 4)
        )
        assignment_id = assigned.get_json()["id"]
        assert (
            _end(client, token, provider, assignment_id, end_date="2027-03-06").status_code == 200
        )
    assert _run_job(app, dt.date(2027, 3, 8)) == 1
    assert _status(admin_engine, provider, uuid.UUID(assignment_id)) == (
        "inactive",
        dt.date(2027, 3, 6),
    )


def test_end_dates_before_today_or_the_start_date_are_422_naming_end_date(
    client: FlaskClient, seeded: TwoTenants, admin_engine: Engine
) -> None:
    provider, a = seeded.shared_provider, seeded.a
    token = token_for(client, a.admin)
    second = committed_facility(admin_engine, a.organization, name="Second Site")
    with clock.frozen(DAY):
        current = assignment_id_of(admin_engine, provider, a.facility)  # since 2026-01-01
        past = _end(client, token, provider, current, end_date=dt.date(2027, 2, 28))
        future = _assign(
            client, token, provider, facility_id=second.id, start_date=dt.date(2027, 3, 20)
        ).get_json()["id"]
        before_start = _end(client, token, provider, future, end_date=dt.date(2027, 3, 19))
        # A pending assignment ended without a date ends on its start date: never in force.
        unstarted = _end(client, token, provider, future)
    for refused in (past, before_start):
        assert refused.status_code == 422
        assert set(validation_errors(refused)) == {"end_date"}
    assert _status(admin_engine, provider, current) == ("active", None)
    assert unstarted.status_code == 200
    assert (unstarted.get_json()["status"], unstarted.get_json()["end_date"]) == (
        "inactive",
        "2027-03-20",
    )


def test_moving_a_pending_start_keeps_its_end_date_and_must_stay_before_it(
    client: FlaskClient, seeded: TwoTenants, admin_engine: Engine
) -> None:
    """Pending from 2027-03-20, to end on 2027-03-25: assigning again moves the start,
    to 2027-03-22 but not to 2027-03-25 (in force on no day)."""
    provider, a = seeded.shared_provider, seeded.a
    token = token_for(client, a.admin)
    second = committed_facility(admin_engine, a.organization, name="Second Site")
    with clock.frozen(DAY):
        first = _assign(
            client, token, provider, facility_id=second.id, start_date=dt.date(2027, 3, 20)
        ).get_json()["id"]
        assert _end(client, token, provider, first, end_date="2027-03-25").status_code == 200
        late = _assign(
            client, token, provider, facility_id=second.id, start_date=dt.date(2027, 3, 25)
        )
        moved = _assign(
            client, token, provider, facility_id=second.id, start_date=dt.date(2027, 3, 22)
        )
    assert late.status_code == 422
    assert set(validation_errors(late)) == {"start_date"}
    assert moved.status_code == 201
    body = moved.get_json()
    assert (body["id"], body["status"], body["start_date"], body["end_date"]) == (
        first,
        "pending",
        "2027-03-22",
        "2027-03-25",
    )


# --- the primary when an assignment ends ------------------------------------------------


def test_the_job_ending_the_primary_makes_the_only_other_active_assignment_primary(
    app: Flask, client: FlaskClient, seeded: TwoTenants, admin_engine: Engine
) -> None:
    """The provider is primary at A and also works at B; A's assignment ends on
    2027-03-10: from then B's is the primary, which B reads, with nothing in B's trail."""
    provider, a, b = seeded.shared_provider, seeded.a, seeded.b
    at_a = assignment_id_of(admin_engine, provider, a.facility)
    at_b = assignment_id_of(admin_engine, provider, b.facility)
    b_token = token_for(client, b.admin)
    with clock.frozen(DAY):
        ending = _end(client, token_for(client, a.admin), provider, at_a, end_date="2027-03-10")
    assert ending.status_code == 200
    assert primary_assignment_ids(admin_engine, provider) == [at_a]
    before = _trail(client, b_token, b.organization.id)
    assert _run_job(app, dt.date(2027, 3, 10)) == 1
    assert primary_assignment_ids(admin_engine, provider) == [at_b]
    assert _flags(client, b_token, provider) == {str(at_b): True}
    assert _trail(client, b_token, b.organization.id) == before


def test_with_two_active_assignments_left_the_provider_chooses_the_primary(
    client: FlaskClient, seeded: TwoTenants, admin_engine: Engine
) -> None:
    provider, a, b = seeded.shared_provider, seeded.a, seeded.b
    b_second = committed_facility(admin_engine, b.organization, name="B Annex")
    b_token = token_for(client, b.admin)
    added = _assign(client, b_token, provider, facility_id=b_second.id)
    assert added.status_code == 201 and added.get_json()["is_primary"] is False
    at_a = assignment_id_of(admin_engine, provider, a.facility)
    assert _end(client, token_for(client, a.admin), provider, at_a).status_code == 200
    # Two active assignments left, both at B: neither is chosen for the provider.
    assert primary_assignment_ids(admin_engine, provider) == []

    provider_token = token_for(client, provider, b.organization)
    mine = client.get("/api/v1/me/onboarding", headers=bearer(provider_token)).get_json()
    assert mine["items"][-1] == {
        "item": "primary_facility",
        "complete": False,
        "detail": "choose your primary facility",
    }
    assert len(mine["items"]) == 9
    # Staff see eight items: an organization cannot tell a primary held elsewhere.
    staff = client.get(f"{PROVIDERS}/{provider.id}/onboarding", headers=bearer(b_token))
    assert [i["item"] for i in staff.get_json()["items"]].count("primary_facility") == 0

    chosen = client.post(
        "/api/v1/me/primary-facility",
        json={"assignment_id": added.get_json()["id"]},
        headers=bearer(provider_token),
    )
    assert chosen.status_code == 200 and chosen.get_json()["is_primary"] is True
    mine = client.get("/api/v1/me/onboarding", headers=bearer(provider_token)).get_json()
    assert mine["items"][-1] == {"item": "primary_facility", "complete": True, "detail": None}
    assert primary_assignment_ids(admin_engine, provider) == [uuid.UUID(added.get_json()["id"])]


# --- an admin makes an existing assignment primary --------------------------------------


def test_an_admin_makes_an_existing_assignment_of_their_organization_primary(
    client: FlaskClient, seeded: TwoTenants, admin_engine: Engine
) -> None:
    provider, a, b = seeded.shared_provider, seeded.a, seeded.b
    at_a = assignment_id_of(admin_engine, provider, a.facility)
    at_b = assignment_id_of(admin_engine, provider, b.facility)
    b_token, a_token = token_for(client, b.admin), token_for(client, a.admin)
    # Assigning again is still refused; making primary is its own operation.
    again = _assign(client, b_token, provider, facility_id=b.facility.id, is_primary=True)
    assert again.status_code == 409

    made = _make_primary(client, b_token, provider, at_b)
    assert made.status_code == 200, made.get_json()
    assert (made.get_json()["id"], made.get_json()["is_primary"]) == (str(at_b), True)
    assert primary_assignment_ids(admin_engine, provider) == [at_b]
    assert _flags(client, a_token, provider) == {str(at_a): False}
    # Twice: still the primary, no conflict.
    assert _make_primary(client, b_token, provider, at_b).status_code == 200
    # A's assignment is not B's to choose: not found.
    assert _make_primary(client, b_token, provider, at_a).status_code == 404
    # An ended assignment cannot be primary.
    assert _end(client, a_token, provider, at_a).status_code == 200
    refused = _make_primary(client, a_token, provider, at_a)
    assert refused.status_code == 409
    assert set(refused.get_json()["errors"]["json"]) == {"is_primary"}
    assert primary_assignment_ids(admin_engine, provider) == [at_b]


# --- a change of primary at A is nothing in B's trail ---------------------------------


def test_a_primary_change_at_one_organization_is_nothing_in_the_others_trail(
    client: FlaskClient, seeded: TwoTenants, admin_engine: Engine
) -> None:
    provider, a, b = seeded.shared_provider, seeded.a, seeded.b
    at_a = assignment_id_of(admin_engine, provider, a.facility)
    at_b = assignment_id_of(admin_engine, provider, b.facility)
    a_token, b_token = token_for(client, a.admin), token_for(client, b.admin)
    assert _make_primary(client, b_token, provider, at_b).status_code == 200
    assert _flags(client, b_token, provider) == {str(at_b): True}
    before = _trail(client, b_token, b.organization.id)
    b_before = _b_side(admin_engine, b.organization.id, at_b)

    # A takes the primary back, by making its assignment primary, then by assigning the
    # provider to a new facility of A's as primary.
    assert _make_primary(client, a_token, provider, at_a).status_code == 200
    a_second = committed_facility(admin_engine, a.organization, name="Second Site")
    moved = _assign(client, a_token, provider, facility_id=a_second.id, is_primary=True)
    assert moved.status_code == 201 and moved.get_json()["is_primary"] is True
    assert primary_assignment_ids(admin_engine, provider) == [uuid.UUID(moved.get_json()["id"])]

    assert _trail(client, b_token, b.organization.id) == before
    # B's row untouched, and no event of any kind filed under B.
    assert _b_side(admin_engine, b.organization.id, at_b) == b_before
    assert _flags(client, b_token, provider) == {str(at_b): False}
    listed = client.get(
        f"{PROVIDERS}?organization_id={b.organization.id}", headers=bearer(b_token)
    ).get_json()
    assert [(p["id"], p["primary_facility_id"]) for p in listed] == [(str(provider.id), None)]


def _b_side(admin_engine: Engine, organization_id: uuid.UUID, assignment_id: uuid.UUID) -> Any:
    """The assignment's row as stored, and how many events the organization's trail
    holds other than reads (superuser read)."""
    with admin_engine.connect() as conn:
        row = conn.execute(
            text("SELECT * FROM provider_facilities WHERE id = :i"), {"i": assignment_id}
        ).one()
        events = conn.execute(
            text(
                "SELECT count(*) FROM audit_events"
                " WHERE organization_id = :o AND action <> 'access'"
            ),
            {"o": organization_id},
        ).scalar_one()
    return tuple(row), events
