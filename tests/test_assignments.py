"""The primary-facility rule under concurrency, and assignment history."""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import replace

import pytest
from flask.testing import FlaskClient
from sqlalchemy import Engine, delete, insert, select, text, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from app.database import make_engine
from app.domain import assignments
from app.domain.errors import Conflict
from app.local import DatabaseUrls
from app.models import Facility, Membership, PrimaryAssignment, ProviderFacility
from app.models.enums import Role
from app.tenancy.context import TenantContext, use_context
from app.tenancy.policies import is_citus
from tests import factories
from tests.api_helpers import assignment_rows, assignment_rows_of, committed_facility
from tests.conftest import MSC_SYSTEM, TwoTenants, bearer, token_for

PROVIDERS = "/api/v1/admin/providers"

THREADS = 20


def _primaries(admin_engine: Engine, user_id: uuid.UUID) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """(organization, facility) of each primary assignment of the user, once every
    primary_assignments row is checked to point at an active assignment."""
    return [
        (row["organization_id"], row["facility_id"])
        for row in assignment_rows_of(admin_engine, user_id)
        if row["is_primary"]
    ]


def _pointing_at_active(db: Session) -> bool:
    """Whether every primary_assignments row points at an active assignment, as the
    test's session sees them (in MSC reach; the context is left empty)."""
    use_context(db, MSC_SYSTEM)
    dangling = db.execute(text(assignments.DANGLING_PRIMARIES)).scalar_one()
    use_context(db, TenantContext())
    return bool(dangling == 0)


def _flags(db: Session, user_id: uuid.UUID) -> dict[uuid.UUID, bool]:
    """Assignment id -> `is_primary` of each assignment of the user the session's context
    sees, read as the API reads it."""
    pointer = assignments.primary_pointers(PrimaryAssignment.user_id == user_id)
    rows = db.execute(
        select(ProviderFacility.id, assignments.is_primary(pointer))
        .outerjoin(pointer, assignments.points_at(pointer))
        .where(ProviderFacility.user_id == user_id)
    )
    return {assignment_id: flag for assignment_id, flag in rows}


def _is_primary(db: Session, assignment: ProviderFacility) -> bool:
    return _flags(db, assignment.user_id)[assignment.id]


def _assignment_at(db: Session, user_id: uuid.UUID, organization_id: uuid.UUID) -> uuid.UUID:
    """The id of the user's one assignment at the organization, as the context sees it."""
    return db.execute(
        select(ProviderFacility.id).where(
            ProviderFacility.user_id == user_id,
            ProviderFacility.organization_id == organization_id,
        )
    ).scalar_one()


def _await_a_blocked_backend(admin_engine: Engine) -> None:
    """Return once a connection to the test database waits for a lock; fail after 10 s.
    (On a Citus cluster the wait is on the worker holding the row: its view of the
    cluster's lock waits tells.)"""
    deadline = time.monotonic() + 10
    with admin_engine.connect() as conn:
        waits = (
            "SELECT count(*) FROM citus_lock_waits"
            if is_citus(conn)
            else "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        while time.monotonic() < deadline:
            waiting = conn.execute(text(waits)).scalar_one()
            if waiting:
                return
            time.sleep(0.02)
    pytest.fail("no connection came to wait for the other's lock")


def test_concurrent_make_primary_leaves_exactly_one(
    seeded: TwoTenants, admin_engine: Engine, database_urls: DatabaseUrls
) -> None:
    """20 sessions, half acting for A and half for B, each make a different assignment of
    the same provider primary at the same moment. Those that find the primary changed
    since they read it are refused (a Conflict, their transaction rolled back); the
    others take effect in turn; one primary remains, a winner's."""
    provider = seeded.shared_provider
    targets: list[tuple[TenantContext, uuid.UUID]] = []
    where: dict[uuid.UUID, tuple[uuid.UUID, uuid.UUID]] = {}
    with Session(admin_engine, expire_on_commit=False) as setup:
        for i in range(THREADS):
            tenant = seeded.a if i % 2 == 0 else seeded.b
            facility = factories.make_facility(setup, tenant.organization)
            assignment = factories.make_assignment(setup, provider, facility)
            targets.append((tenant.context(), assignment.id))
            where[assignment.id] = (tenant.organization.id, facility.id)
        setup.commit()

    app_engine = make_engine(database_urls.app, pool_size=THREADS, max_overflow=0)
    barrier = threading.Barrier(THREADS)
    won: list[uuid.UUID] = []
    refused: list[Conflict] = []
    errors: list[BaseException] = []

    def make_primary(context: TenantContext, assignment_id: uuid.UUID) -> None:
        try:
            with Session(app_engine) as session:
                use_context(session, context)
                assignment = session.get(ProviderFacility, (context.organization_id, assignment_id))
                assert assignment is not None
                barrier.wait(timeout=30)
                try:
                    assignments.make_primary(session, assignment)
                except Conflict as conflict:
                    refused.append(conflict)
                    return
                session.commit()
                won.append(assignment_id)
        except BaseException as exc:  # collected and reported below
            errors.append(exc)

    threads = [threading.Thread(target=make_primary, args=target) for target in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    app_engine.dispose()
    assert errors == []
    assert won and len(won) + len(refused) == THREADS
    assert {conflict.message for conflict in refused} <= {assignments.CHANGED_MEANWHILE}
    [primary] = _primaries(admin_engine, provider.id)
    assert primary in {where[assignment_id] for assignment_id in won}


@pytest.mark.parametrize("held", [True, False], ids=["moving-it", "the-first"])
def test_two_organizations_racing_for_the_primary_one_wins_the_other_conflicts(
    seeded: TwoTenants, admin_engine: Engine, database_urls: DatabaseUrls, held: bool
) -> None:
    """A and B each make one of their assignments of the provider primary, B while A's
    transaction is still open. B's change waits for A's on the provider's
    primary_assignments row (a new row, or the one pointing at the old primary), then
    finds it changed: refused, a Conflict; A's stands, flag and row."""
    with Session(admin_engine, expire_on_commit=False) as setup:
        if held:  # the shared provider, primary at A's first facility
            provider = seeded.shared_provider
        else:  # a provider of A and B with no primary yet
            provider = factories.make_user(setup)
            for tenant in (seeded.a, seeded.b):
                factories.make_membership(setup, provider, tenant.organization, Role.PROVIDER)
        at_a, at_b = (
            factories.make_assignment(
                setup, provider, factories.make_facility(setup, tenant.organization)
            )
            for tenant in (seeded.a, seeded.b)
        )
        setup.commit()
    assert bool(_primaries(admin_engine, provider.id)) is held

    app_engine = make_engine(database_urls.app)
    outcome: list[object] = []
    with Session(app_engine) as first, Session(app_engine) as second:
        use_context(first, seeded.a.context())
        use_context(second, seeded.b.context())
        assignment_a = first.get(ProviderFacility, (at_a.organization_id, at_a.id))
        assignment_b = second.get(ProviderFacility, (at_b.organization_id, at_b.id))
        assert assignment_a is not None and assignment_b is not None
        assignments.make_primary(first, assignment_a)

        def race() -> None:
            try:
                assignments.make_primary(second, assignment_b)
                second.commit()
                outcome.append("committed")
            except Conflict as conflict:
                second.rollback()
                outcome.append(conflict)

        racer = threading.Thread(target=race)
        racer.start()
        _await_a_blocked_backend(admin_engine)
        first.commit()
        racer.join(timeout=30)
    app_engine.dispose()
    [conflict] = outcome
    assert isinstance(conflict, Conflict)
    assert (conflict.message, conflict.field) == (assignments.CHANGED_MEANWHILE, "is_primary")
    assert _primaries(admin_engine, provider.id) == [(at_a.organization_id, at_a.facility_id)]


def test_the_organization_that_loses_the_race_is_answered_409(
    client: FlaskClient, seeded: TwoTenants, admin_engine: Engine, database_urls: DatabaseUrls
) -> None:
    """Through the API: B assigns the provider to a facility as their primary while A's
    transaction doing the same is open. B is answered 409 naming is_primary, and nothing
    of its request stays (not even the new assignment)."""
    provider = seeded.shared_provider
    a_second = committed_facility(admin_engine, seeded.a.organization)
    b_second = committed_facility(admin_engine, seeded.b.organization)
    token = token_for(client, seeded.b.admin)
    app_engine = make_engine(database_urls.app)
    answers: list[TestResponse] = []

    def b_assigns() -> None:
        answers.append(
            client.post(
                f"{PROVIDERS}/{provider.id}/assign-facility",
                json={"facility_id": str(b_second.id), "is_primary": True},
                headers=bearer(token),
            )
        )

    with Session(app_engine) as first:
        use_context(first, seeded.a.context())
        facility = first.get(Facility, (a_second.organization_id, a_second.id))
        assert facility is not None
        assignments.assign(first, provider.id, facility, is_primary=True, start_date=None)
        racer = threading.Thread(target=b_assigns)
        racer.start()
        _await_a_blocked_backend(admin_engine)
        first.commit()
        racer.join(timeout=30)
    app_engine.dispose()
    [answer] = answers
    assert answer.status_code == 409, answer.get_json()
    assert answer.get_json()["errors"]["json"] == {"is_primary": [assignments.CHANGED_MEANWHILE]}
    assert _primaries(admin_engine, provider.id) == [(seeded.a.organization.id, a_second.id)]
    held = {row["facility_id"] for row in assignment_rows(admin_engine, provider)}
    assert held == {seeded.a.facility.id, seeded.b.facility.id, a_second.id}


def test_ending_the_primary_promotes_a_single_remaining_assignment(
    db: Session, tenants: TwoTenants
) -> None:
    provider = tenants.shared_provider
    use_context(db, tenants.a.context())
    at_a = db.query(ProviderFacility).filter_by(user_id=provider.id).one()
    assert _is_primary(db, at_a)
    assignments.end(db, at_a)
    assert (at_a.status, _is_primary(db, at_a), at_a.end_date is not None) == (
        "inactive",
        False,
        True,
    )
    # The provider's only active assignment left is at B, which A cannot see: it became
    # primary all the same.
    use_context(db, TenantContext(user_id=provider.id))
    remaining = db.query(ProviderFacility).filter_by(user_id=provider.id, status="active").one()
    assert remaining.organization_id == tenants.b.organization.id
    assert _is_primary(db, remaining)
    assert _pointing_at_active(db)


def test_primary_move_reveals_nothing_to_the_caller(db: Session, tenants: TwoTenants) -> None:
    """B makes its assignment primary: no error, and B still sees only its own rows."""
    provider = tenants.shared_provider
    use_context(db, tenants.b.context())
    at_b = db.query(ProviderFacility).filter_by(user_id=provider.id).one()
    assignments.make_primary(db, at_b)
    assert _is_primary(db, at_b)
    assert db.query(ProviderFacility).filter_by(user_id=provider.id).count() == 1
    use_context(db, TenantContext(user_id=provider.id))
    flags = _flags(db, provider.id)
    at_a = _assignment_at(db, provider.id, tenants.a.organization.id)
    assert flags == {at_a: False, at_b.id: True}
    assert _pointing_at_active(db)


def test_ending_an_assignment_that_is_not_primary_leaves_the_primary(
    db: Session, tenants: TwoTenants
) -> None:
    provider = tenants.shared_provider
    use_context(db, tenants.b.context())
    at_b = db.query(ProviderFacility).filter_by(user_id=provider.id).one()
    assignments.end(db, at_b)
    use_context(db, TenantContext(user_id=provider.id))
    flags = _flags(db, provider.id)
    at_a = _assignment_at(db, provider.id, tenants.a.organization.id)
    assert flags == {at_a: True, at_b.id: False}
    assert _pointing_at_active(db)


def _pointer(db: Session) -> PrimaryAssignment | None:
    """The provider's primary_assignments row, if the current context sees it (a query,
    never the identity map)."""
    return db.scalar(select(PrimaryAssignment).execution_options(populate_existing=True))


def test_primary_assignments_are_read_as_the_assignment_pointed_at(
    db: Session, tenants: TwoTenants
) -> None:
    """The provider reads their own row; of the organizations, only staff reaching the
    assignment it points at (A's, here): B never learns where the primary is."""
    a, b, provider = tenants.a, tenants.b, tenants.shared_provider
    use_context(db, MSC_SYSTEM)
    a.facility.office_manager_id = a.office_manager.id
    db.flush()
    readers = {
        "provider": TenantContext(user_id=provider.id),
        "A admin": a.context(),
        "A office manager": a.context(a.office_manager, Role.OFFICE_MANAGER),
        "B admin": b.context(),
        "B office manager": b.context(b.office_manager, Role.OFFICE_MANAGER),
        "another provider of A": a.context(a.admin, Role.PROVIDER),
    }
    managed = {"A office manager": (a.facility.id,)}
    seen = {}
    for name, context in readers.items():
        use_context(db, replace(context, facility_ids=managed.get(name, ())))
        row = _pointer(db)
        seen[name] = None if row is None else (row.user_id, row.organization_id, row.facility_id)
    pointer = (provider.id, a.organization.id, a.facility.id)
    assert seen == {
        "provider": pointer,
        "A admin": pointer,
        "A office manager": pointer,
        "B admin": None,
        "B office manager": None,
        "another provider of A": None,
    }


def test_primary_assignments_are_written_as_the_assignment_pointed_at(
    db: Session, tenants: TwoTenants
) -> None:
    """Staff write the row only where it points into their reach, before and after:
    B can neither take the row pointing at A's assignment nor write one pointing into A;
    A moves it within A, but not into B (that move is the domain's, in the system
    context)."""
    a, b, provider = tenants.a, tenants.b, tenants.shared_provider
    use_context(db, MSC_SYSTEM)
    a_second = factories.make_facility(db, a.organization)
    newcomer = factories.make_user(db)
    mine = PrimaryAssignment.user_id == provider.id
    use_context(db, b.context())
    for statement in (
        update(PrimaryAssignment).where(mine).values(facility_id=b.facility.id),
        delete(PrimaryAssignment).where(mine),
    ):
        assert db.execute(statement).rowcount == 0  # type: ignore[attr-defined]
    into_a = insert(PrimaryAssignment).values(
        user_id=newcomer.id, organization_id=a.organization.id, facility_id=a.facility.id
    )
    with pytest.raises(DBAPIError, match="row-level security"), db.begin_nested():
        db.execute(into_a)
    use_context(db, a.context())
    into_b = (
        update(PrimaryAssignment)
        .where(mine)
        .values(organization_id=b.organization.id, facility_id=b.facility.id)
    )
    with pytest.raises(DBAPIError, match="row-level security"), db.begin_nested():
        db.execute(into_b)
    within_a = update(PrimaryAssignment).where(mine).values(facility_id=a_second.id)
    assert db.execute(within_a).rowcount == 1  # type: ignore[attr-defined]


def test_office_manager_reaches_only_managed_facilities(db: Session, tenants: TwoTenants) -> None:
    a = tenants.a
    use_context(db, MSC_SYSTEM)
    managed, other = a.facility, factories.make_facility(db, a.organization)
    managed.office_manager_id = a.office_manager.id
    colleague = factories.make_user(db)
    factories.make_membership(db, colleague, a.organization, Role.PROVIDER)
    factories.make_assignment(db, colleague, other)
    db.flush()

    from app.tenancy.resolve import resolve_context

    context = resolve_context(db, a.office_manager.id, a.organization.id)
    assert context is not None and context.facility_ids == (managed.id,)
    visible = set(db.scalars(db.query(Facility.id).statement))
    assert visible == {managed.id}
    people = {row.user_id for row in db.query(ProviderFacility)}
    assert people == {tenants.shared_provider.id}
    # their people, resolved with the context: the members they see beside themselves
    assert context.managed_member_ids == (tenants.shared_provider.id,)
    members = {row.user_id for row in db.query(Membership)}
    assert members == {tenants.shared_provider.id, a.office_manager.id}
