"""The primary-facility rule under concurrency, and assignment history."""

from __future__ import annotations

import threading
import uuid

from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from app.database import make_engine
from app.domain import assignments
from app.local import DatabaseUrls
from app.models import Facility, Membership, ProviderFacility
from app.models.enums import Role
from app.tenancy.context import TenantContext, use_context
from tests import factories
from tests.conftest import MSC_SYSTEM, TwoTenants

THREADS = 20


def _primaries(admin_engine: Engine, user_id: uuid.UUID) -> int:
    with admin_engine.connect() as conn:
        return int(
            conn.execute(
                text("SELECT count(*) FROM provider_facilities WHERE user_id = :u AND is_primary"),
                {"u": user_id},
            ).scalar_one()
        )


def test_concurrent_make_primary_leaves_exactly_one(
    seeded: TwoTenants, admin_engine: Engine, database_urls: DatabaseUrls
) -> None:
    """20 sessions, half acting for A and half for B, each make a different assignment of
    the same provider primary at the same moment."""
    provider = seeded.shared_provider
    targets: list[tuple[TenantContext, uuid.UUID]] = []
    with Session(admin_engine, expire_on_commit=False) as setup:
        for i in range(THREADS):
            tenant = seeded.a if i % 2 == 0 else seeded.b
            facility = factories.make_facility(setup, tenant.organization)
            assignment = factories.make_assignment(setup, provider, facility)
            targets.append((tenant.context(), assignment.id))
        setup.commit()

    app_engine = make_engine(database_urls.app, pool_size=THREADS, max_overflow=0)
    barrier = threading.Barrier(THREADS)
    errors: list[BaseException] = []

    def make_primary(context: TenantContext, assignment_id: uuid.UUID) -> None:
        try:
            with Session(app_engine) as session:
                use_context(session, context)
                assignment = session.get(ProviderFacility, assignment_id)
                assert assignment is not None
                barrier.wait(timeout=30)
                assignments.make_primary(session, assignment)
                session.commit()
        except BaseException as exc:  # collected and reported below
            errors.append(exc)

    threads = [threading.Thread(target=make_primary, args=target) for target in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    app_engine.dispose()
    assert errors == []
    assert _primaries(admin_engine, provider.id) == 1


def test_ending_the_primary_promotes_a_single_remaining_assignment(
    db: Session, tenants: TwoTenants
) -> None:
    provider = tenants.shared_provider
    use_context(db, tenants.a.context())
    at_a = db.query(ProviderFacility).filter_by(user_id=provider.id).one()
    assert at_a.is_primary
    assignments.end(db, at_a)
    assert (at_a.status, at_a.is_primary, at_a.end_date is not None) == ("inactive", False, True)
    # The provider's only active assignment left is at B, which A cannot see: it became
    # primary all the same.
    use_context(db, TenantContext(user_id=provider.id))
    remaining = db.query(ProviderFacility).filter_by(user_id=provider.id, status="active").one()
    assert remaining.organization_id == tenants.b.organization.id
    db.refresh(remaining)
    assert remaining.is_primary


def test_primary_move_reveals_nothing_to_the_caller(db: Session, tenants: TwoTenants) -> None:
    """B makes its assignment primary: no error, and B still sees only its own rows."""
    provider = tenants.shared_provider
    use_context(db, tenants.b.context())
    at_b = db.query(ProviderFacility).filter_by(user_id=provider.id).one()
    assignments.make_primary(db, at_b)
    assert at_b.is_primary
    assert db.query(ProviderFacility).filter_by(user_id=provider.id).count() == 1
    use_context(db, TenantContext(user_id=provider.id))
    flags = {
        row.organization_id: row.is_primary
        for row in db.query(ProviderFacility).filter_by(user_id=provider.id)
    }
    assert flags == {tenants.a.organization.id: False, tenants.b.organization.id: True}


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
