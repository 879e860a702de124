"""Row-level security, checked as the application role itself."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime

import psycopg.errors
import pytest
from sqlalchemy import Engine, delete, func, insert, select, text, update
from sqlalchemy.exc import DBAPIError, ProgrammingError
from sqlalchemy.orm import Session

from app.domain import npi as npi_domain
from app.models import (
    AuditEvent,
    Facility,
    Membership,
    NpiRegistryAnswer,
    Organization,
    PrimaryAssignment,
    ProviderFacility,
    User,
)
from app.models.enums import Role
from app.tenancy.context import PresentedInvitation, TenantContext, use_context
from tests import factories
from tests.conftest import MSC_SYSTEM, TwoTenants
from tests.fake_registry import individual_result

RLS_MODELS = [
    Organization,
    User,
    Membership,
    Facility,
    ProviderFacility,
    PrimaryAssignment,
    AuditEvent,
]


def _count(db: Session, model: type) -> int:
    return int(db.scalar(select(func.count()).select_from(model)) or 0)


def _visible(db: Session, model: type, row_id: uuid.UUID) -> object | None:
    """The row if the current context can see it (a query, never the identity map)."""
    return db.scalar(select(model).where(model.id == row_id))  # type: ignore[attr-defined]


def _refused(db: Session, action: Callable[[], object]) -> bool:
    """Whether PostgreSQL refuses the statement (checked inside a savepoint)."""
    try:
        with db.begin_nested():
            action()
            db.flush()
    except (ProgrammingError, DBAPIError):
        return True
    return False


@pytest.mark.parametrize("model", RLS_MODELS, ids=lambda m: m.__tablename__)
def test_without_context_every_table_is_empty(
    db: Session, tenants: TwoTenants, model: type
) -> None:
    use_context(db, MSC_SYSTEM)
    assert _count(db, model) > 0, "the fixture must have rows for this to mean anything"
    use_context(db, TenantContext())
    assert _count(db, model) == 0


def test_without_context_every_insert_fails(db: Session, tenants: TwoTenants) -> None:
    use_context(db, TenantContext())
    org_id, user_id, facility_id = (
        tenants.a.organization.id,
        tenants.a.admin.id,
        tenants.a.facility.id,
    )
    inserts = {
        "organizations": lambda: db.add(Organization(name="x", organization_type="individual")),
        "users": lambda: db.add(User(email="nobody@example.com", name="x")),
        "memberships": lambda: db.add(
            Membership(organization_id=org_id, user_id=user_id, role=Role.PROVIDER)
        ),
        "facilities": lambda: db.add(
            Facility(organization_id=org_id, name="x", facility_type="clinic", state="TX")
        ),
        "provider_facilities": lambda: db.add(
            ProviderFacility(organization_id=org_id, user_id=user_id, facility_id=facility_id)
        ),
        "audit_events": lambda: db.add(
            AuditEvent(
                organization_id=org_id,
                actor_user_id=None,
                action="insert",
                table_name="x",
                row_id=uuid.uuid4(),
            )
        ),
    }
    accepted = [table for table, insert in inserts.items() if not _refused(db, insert)]
    assert accepted == []


def test_tenant_cannot_read_another_tenants_rows_by_id(db: Session, tenants: TwoTenants) -> None:
    a, b = tenants.a, tenants.b
    use_context(db, a.context())
    assert _visible(db, Organization, b.organization.id) is None
    assert _visible(db, Facility, b.facility.id) is None
    assert (
        db.scalars(select(Membership).where(Membership.organization_id == b.organization.id)).all()
        == []
    )
    assert _visible(db, User, b.admin.id) is None
    # Own rows are there, so the empty answers above are isolation, not a broken query.
    assert _visible(db, Organization, a.organization.id) is not None
    assert _visible(db, Facility, a.facility.id) is not None


def test_tenant_cannot_update_or_delete_another_tenants_rows(
    db: Session, tenants: TwoTenants
) -> None:
    a, b = tenants.a, tenants.b
    b_facility_name = b.facility.name
    use_context(db, a.context())
    statements = [
        update(Organization).where(Organization.id == b.organization.id).values(name="taken"),
        update(Facility).where(Facility.id == b.facility.id).values(name="taken"),
        delete(Facility).where(Facility.id == b.facility.id),
        delete(Membership).where(Membership.organization_id == b.organization.id),
        update(ProviderFacility)
        .where(ProviderFacility.organization_id == b.organization.id)
        .values(status="inactive"),
    ]
    for statement in statements:
        result = db.execute(statement, execution_options={"synchronize_session": False})
        assert result.rowcount == 0, str(statement)

    use_context(db, MSC_SYSTEM)
    assert db.scalar(select(Facility.name).where(Facility.id == b.facility.id)) == b_facility_name
    assert (
        db.scalar(select(Organization.name).where(Organization.id == b.organization.id))
        == "Tenant B"
    )


def test_tenant_cannot_insert_rows_carrying_another_tenants_id(
    db: Session, tenants: TwoTenants
) -> None:
    a, b = tenants.a, tenants.b
    use_context(db, a.context())
    assert _refused(
        db,
        lambda: db.add(
            Facility(
                organization_id=b.organization.id, name="x", facility_type="clinic", state="TX"
            )
        ),
    )
    assert _refused(
        db,
        lambda: db.add(
            Membership(organization_id=b.organization.id, user_id=a.admin.id, role=Role.PROVIDER)
        ),
    )
    # Moving an own row into the other tenant is refused by WITH CHECK.
    assert _refused(
        db,
        lambda: db.execute(
            update(Facility)
            .where(Facility.id == a.facility.id)
            .values(organization_id=b.organization.id)
        ),
    )
    # The same insert into the own tenant is accepted: the refusals above are isolation.
    assert not _refused(
        db,
        lambda: db.add(
            Facility(
                organization_id=a.organization.id, name="x", facility_type="clinic", state="TX"
            )
        ),
    )


def test_organization_admin_reaches_descendants_only(db: Session, tenants: TwoTenants) -> None:
    use_context(db, MSC_SYSTEM)
    child = factories.make_organization(db, parent_organization_id=tenants.a.organization.id)
    grandchild = factories.make_organization(db, parent_organization_id=child.id)
    child_facility = factories.make_facility(db, grandchild)
    parent_of_a = tenants.a.organization.id

    from app.tenancy.resolve import resolve_context

    context = resolve_context(db, tenants.a.admin.id, parent_of_a)
    assert context is not None
    assert set(context.organization_ids) == {parent_of_a, child.id, grandchild.id}
    assert _visible(db, Facility, child_facility.id) is not None
    assert _visible(db, Organization, tenants.b.organization.id) is None

    # The child's own admin does not reach upwards.
    use_context(db, MSC_SYSTEM)
    child_admin = factories.make_user(db)
    factories.make_membership(db, child_admin, child, Role.ORGANIZATION_ADMIN)
    context = resolve_context(db, child_admin.id, child.id)
    assert context is not None
    assert set(context.organization_ids) == {child.id, grandchild.id}
    assert _visible(db, Facility, tenants.a.facility.id) is None


def test_ancestry_is_derived_whatever_a_writer_sets(db: Session, tenants: TwoTenants) -> None:
    """ancestor_ids decides an admin's reach: a value written for it is recomputed from
    the parent, never kept."""
    use_context(db, MSC_SYSTEM)
    child = factories.make_organization(db, parent_organization_id=tenants.a.organization.id)
    db.execute(
        update(Organization)
        .where(Organization.id == child.id)
        .values(ancestor_ids=[tenants.b.organization.id, child.id])
    )
    db.refresh(child)
    assert child.ancestor_ids == [tenants.a.organization.id, child.id]


def test_moving_an_organization_moves_its_subtree(db: Session, tenants: TwoTenants) -> None:
    use_context(db, MSC_SYSTEM)
    child = factories.make_organization(db, parent_organization_id=tenants.a.organization.id)
    grandchild = factories.make_organization(db, parent_organization_id=child.id)
    child.parent_organization_id = tenants.b.organization.id
    db.flush()
    db.refresh(grandchild)
    assert grandchild.ancestor_ids == [tenants.b.organization.id, child.id, grandchild.id]
    # and a cycle is refused
    assert _refused(
        db,
        lambda: db.execute(
            update(Organization)
            .where(Organization.id == tenants.b.organization.id)
            .values(parent_organization_id=grandchild.id)
        ),
    )


def test_shared_provider_sees_all_own_assignments_each_tenant_only_its_own(
    db: Session, tenants: TwoTenants
) -> None:
    provider = tenants.shared_provider
    use_context(db, TenantContext(user_id=provider.id))
    mine = db.scalars(select(ProviderFacility.organization_id)).all()
    assert set(mine) == {tenants.a.organization.id, tenants.b.organization.id}

    use_context(db, tenants.a.context())
    seen_by_a = db.scalars(
        select(ProviderFacility.organization_id).where(ProviderFacility.user_id == provider.id)
    ).all()
    assert seen_by_a == [tenants.a.organization.id]
    # A sees the provider's identity (they work there), but none of B's memberships.
    assert _visible(db, User, provider.id) is not None
    assert db.scalars(
        select(Membership.organization_id).where(Membership.user_id == provider.id)
    ).all() == [tenants.a.organization.id]


def test_provider_does_not_see_colleagues_assignments(db: Session, tenants: TwoTenants) -> None:
    use_context(db, MSC_SYSTEM)
    colleague = factories.make_user(db)
    factories.make_membership(db, colleague, tenants.a.organization, Role.PROVIDER)
    factories.make_assignment(db, colleague, tenants.a.facility)
    use_context(db, tenants.a.context(tenants.shared_provider, Role.PROVIDER))
    users = db.scalars(select(ProviderFacility.user_id)).all()
    assert set(users) == {tenants.shared_provider.id}


def test_application_role_cannot_change_audit_events(db: Session, tenants: TwoTenants) -> None:
    use_context(db, MSC_SYSTEM)
    assert _count(db, AuditEvent) > 0
    assert _refused(db, lambda: db.execute(update(AuditEvent).values(action="delete")))
    assert _refused(db, lambda: db.execute(delete(AuditEvent)))
    assert _refused(db, lambda: db.execute(text("TRUNCATE audit_events")))


def test_application_role_cannot_write_audit_events_at_all(
    db: Session, tenants: TwoTenants
) -> None:
    """Only the audit trigger writes the trail, whatever the context claims."""

    def event(actor: uuid.UUID | None, organization: uuid.UUID) -> AuditEvent:
        return AuditEvent(
            organization_id=organization,
            actor_user_id=actor,
            action="update",
            table_name="facilities",
            row_id=uuid.uuid4(),
        )

    a, b = tenants.a, tenants.b
    use_context(db, a.context())
    assert _refused(db, lambda: db.add(event(a.admin.id, a.organization.id)))
    assert _refused(db, lambda: db.add(event(b.admin.id, b.organization.id)))
    use_context(db, MSC_SYSTEM)
    assert _refused(db, lambda: db.add(event(None, b.organization.id)))


def test_application_role_writes_the_npi_cache_only_through_its_function(
    db: Session,
) -> None:
    """The cache every tenant's NPI verifications read (policies/npi_registry_answers.sql):
    no direct write of any kind, whatever the context claims; the function writes."""
    npi = factories.unique_npi()
    answer = individual_result(npi, "Jordan", "Lee")
    fetched_at = datetime.now(UTC)
    use_context(db, MSC_SYSTEM)
    npi_domain.remember_answer(db, npi, answer, fetched_at)
    cached = select(NpiRegistryAnswer.answer, NpiRegistryAnswer.fetched_at).where(
        NpiRegistryAnswer.npi == npi
    )
    assert tuple(db.execute(cached).one()) == (answer, fetched_at)

    other = factories.unique_npi()
    writes: list[Callable[[], object]] = [
        lambda: db.execute(
            insert(NpiRegistryAnswer).values(npi=other, answer={}, fetched_at=fetched_at)
        ),
        lambda: db.execute(update(NpiRegistryAnswer).values(answer={})),
        lambda: db.execute(delete(NpiRegistryAnswer)),
        lambda: db.execute(text("TRUNCATE npi_registry_answers")),
    ]
    for write in writes:
        with pytest.raises(DBAPIError) as raised, db.begin_nested():
            write()
        assert isinstance(raised.value.orig, psycopg.errors.InsufficientPrivilege)
    assert tuple(db.execute(cached).one()) == (answer, fetched_at)
    assert db.get(NpiRegistryAnswer, other) is None


# The tables with row-level security that MSC representatives may write: the person's own
# account, which everyone keeps up, and the trail, which only the audit triggers write
# (recording that upkeep too), with its door for reads (access_records, which keeps no
# row: a representative's reads are recorded like anyone's).
OWN_ACCOUNT_AND_TRAIL = {
    "users",
    "mfa_recovery_codes",
    "password_resets",
    "audit_events",
    "access_records",
}
# Reference data whose policies admit no write at all (policies/us_states.sql).
READ_ONLY = {"us_states"}


def test_every_table_of_organizations_data_refuses_msc_representatives_writes(
    admin_engine: Engine,
) -> None:
    """A statement trigger on each (`tenancy.refuse_representatives_writes` says why not a
    RESTRICTIVE policy: there is none anywhere), so that a new table is not forgotten;
    tests/test_representatives.py tries them."""
    with admin_engine.connect() as conn:
        protected = conn.scalars(
            text(
                "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE n.nspname = 'public' AND c.relrowsecurity"
            )
        ).all()
        triggers = conn.execute(
            text(
                "SELECT c.relname, t.tgname, pg_get_triggerdef(t.oid) FROM pg_trigger t"
                " JOIN pg_class c ON c.oid = t.tgrelid"
                " WHERE t.tgfoid = 'tenancy.refuse_representatives_writes'::regproc"
            )
        ).all()
        restrictive = conn.scalar(
            text("SELECT count(*) FROM pg_policies WHERE permissive = 'RESTRICTIVE'")
        )
    tables = set(protected) - OWN_ACCOUNT_AND_TRAIL - READ_ONLY
    assert {"organizations", "facilities", "credentials", "outbox_messages"} <= tables
    assert {(table, name) for table, name, _ in triggers} == {
        (table, f"{table}_may_write") for table in tables
    }
    for table, _, definition in triggers:
        assert f"BEFORE INSERT OR DELETE OR UPDATE ON public.{table} FOR EACH STATEMENT" in (
            definition
        )
    assert restrictive == 0


def test_users_cannot_raise_their_own_privileges(db: Session, tenants: TwoTenants) -> None:
    provider = tenants.shared_provider
    use_context(db, TenantContext(user_id=provider.id))
    for change in ({"is_msc_admin": True}, {"is_active": False}, {"email": "me@else.test"}):
        statement = update(User).where(User.id == provider.id).values(**change)
        assert _refused(db, lambda s=statement: db.execute(s)), change
    # their own profile is theirs to edit
    assert not _refused(
        db, lambda: db.execute(update(User).where(User.id == provider.id).values(name="Dr. B"))
    )


def test_organization_admin_cannot_change_msc_columns(db: Session, tenants: TwoTenants) -> None:
    org = tenants.a.organization
    use_context(db, tenants.a.context())
    for change in (
        {"status": "suspended"},
        {"organization_type": "individual"},
        {"parent_organization_id": tenants.b.organization.id},
        {"msc_representative_id": tenants.a.admin.id},
    ):
        statement = update(Organization).where(Organization.id == org.id).values(**change)
        assert _refused(db, lambda s=statement: db.execute(s)), change
    assert not _refused(
        db,
        lambda: db.execute(
            update(Organization).where(Organization.id == org.id).values(name="Renamed")
        ),
    )


def test_invitation_token_opens_only_its_own_acceptance(db: Session, tenants: TwoTenants) -> None:
    import datetime as dt

    from app.domain.invitations import token_hash
    from app.models import Invitation

    use_context(db, MSC_SYSTEM)
    invitation = Invitation(
        organization_id=tenants.a.organization.id,
        email="invitee@example.com",
        name="Invitee",
        role="provider",
        token_hash=token_hash("secret-token"),
        expires_at=dt.datetime.now(dt.UTC) + dt.timedelta(days=1),
    )
    db.add(invitation)
    db.flush()
    holder = TenantContext(
        invitation_token_hash=token_hash("secret-token"),
        presented_invitation=PresentedInvitation(
            organization_id=invitation.organization_id,
            role=invitation.role,
            email=invitation.email,
            facility_ids=(tenants.a.facility.id,),
        ),
        login_email="invitee@example.com",
    )
    use_context(db, holder)
    assert _visible(db, Invitation, invitation.id) is not None
    rewrites = [
        {"organization_id": tenants.b.organization.id},
        {"role": "office_manager"},
        {"expires_at": dt.datetime(2099, 1, 1, tzinfo=dt.UTC)},
    ]
    for change in rewrites:
        statement = update(Invitation).where(Invitation.id == invitation.id).values(**change)
        assert _refused(db, lambda s=statement: db.execute(s)), change
    assert _refused(
        db, lambda: db.add(User(email="invitee@example.com", name="x", is_msc_admin=True))
    )
    assert _refused(db, lambda: db.add(User(email="someone.else@example.com", name="x")))
    # what the token is for: the invited account, and then the acceptance itself
    invitee = User(email="invitee@example.com", name="Invitee")
    assert not _refused(db, lambda: db.add(invitee))
    use_context(db, replace(holder, user_id=invitee.id))
    # the membership and assignments it invites to, and no other
    org_a, org_b = tenants.a.organization, tenants.b.organization
    by_policy = "row-level security"
    for role, organization in ((Role.OFFICE_MANAGER, org_a), (Role.PROVIDER, org_b)):
        with pytest.raises(DBAPIError, match=by_policy), db.begin_nested():
            db.add(Membership(organization_id=organization.id, user_id=invitee.id, role=role))
            db.flush()
    joining = Membership(organization_id=org_a.id, user_id=invitee.id, role=Role.PROVIDER)
    assert not _refused(db, lambda: db.add(joining))
    with pytest.raises(DBAPIError, match=by_policy), db.begin_nested():
        factories.make_assignment(db, invitee, tenants.b.facility)
    assert not _refused(db, lambda: factories.make_assignment(db, invitee, tenants.a.facility))
    accept = (
        update(Invitation)
        .where(Invitation.id == invitation.id)
        .values(accepted_at=dt.datetime.now(dt.UTC), accepted_user_id=invitee.id)
    )
    assert not _refused(db, lambda: db.execute(accept))
    # another token sees nothing
    use_context(db, TenantContext(invitation_token_hash=token_hash("other-token")))
    assert _visible(db, Invitation, invitation.id) is None


def test_renaming_a_verified_user_voids_the_npi_verification(
    db: Session, tenants: TwoTenants
) -> None:
    provider = tenants.shared_provider
    use_context(db, MSC_SYSTEM)
    db.execute(update(User).where(User.id == provider.id).values(npi_verification="verified"))
    use_context(db, TenantContext(user_id=provider.id))
    db.execute(update(User).where(User.id == provider.id).values(name="Someone Else"))
    status = db.scalar(select(User.npi_verification).where(User.id == provider.id))
    assert status == "unverified"
