"""users.organization_ids: the organizations a user is a member of, written with the
memberships (app.domain.members.sync_organization_ids) and guarded by the database,
through which organization admins reach their members' rows."""

from __future__ import annotations

import uuid

import psycopg
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from app.domain import members
from app.models import AuditEvent, User
from app.models.enums import Role
from app.tenancy.context import TenantContext, use_context
from tests import factories
from tests.conftest import MSC_SYSTEM, TwoTenants


def _organization_ids(db: Session, user_id: uuid.UUID) -> set[uuid.UUID]:
    use_context(db, MSC_SYSTEM)
    found = db.scalar(text("SELECT organization_ids FROM users WHERE id = :id"), {"id": user_id})
    return set(found)


def _visible(db: Session, user_id: uuid.UUID) -> bool:
    return db.scalar(select(User.id).where(User.id == user_id)) is not None


def test_follows_memberships_the_writer_cannot_see(db: Session, tenants: TwoTenants) -> None:
    a, b = tenants.a, tenants.b
    assert _organization_ids(db, tenants.shared_provider.id) == {
        a.organization.id,
        b.organization.id,
    }
    # B's admin adds A's office manager to B: the user's membership at A stays hidden
    # from B, and stays in the user's organizations all the same.
    use_context(db, b.context())
    joined = factories.make_membership(db, a.office_manager, b.organization, Role.PROVIDER)
    assert _organization_ids(db, a.office_manager.id) == {a.organization.id, b.organization.id}

    use_context(db, b.context())
    assert _visible(db, a.office_manager.id)
    db.delete(joined)
    members.sync_organization_ids(db, [a.office_manager.id])
    assert not _visible(db, a.office_manager.id)
    assert _organization_ids(db, a.office_manager.id) == {a.organization.id}


def test_a_member_who_leaves_is_out_of_reach(db: Session, tenants: TwoTenants) -> None:
    a = tenants.a
    provider = tenants.shared_provider
    use_context(db, a.context())
    assert _visible(db, provider.id)
    use_context(db, MSC_SYSTEM)
    db.execute(
        text("DELETE FROM provider_facilities WHERE user_id = :u AND organization_id = :o"),
        {"u": provider.id, "o": a.organization.id},
    )
    db.execute(
        text("DELETE FROM memberships WHERE user_id = :u AND organization_id = :o"),
        {"u": provider.id, "o": a.organization.id},
    )
    members.sync_organization_ids(db, [provider.id])
    use_context(db, a.context())
    assert not _visible(db, provider.id)


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE users SET organization_ids = ARRAY[CAST(:org AS uuid)] WHERE id = :id",
        "INSERT INTO users (email, name, organization_ids)"
        " VALUES ('claims@example.com', 'Claims', ARRAY[CAST(:org AS uuid)])",
    ],
    ids=["update", "insert"],
)
def test_nobody_writes_it_but_the_memberships(
    db: Session, tenants: TwoTenants, statement: str
) -> None:
    """Not the user on their own row, not even an MSC admin: it follows the memberships."""
    provider = tenants.shared_provider
    for context in (TenantContext(user_id=provider.id), MSC_SYSTEM):
        use_context(db, context)
        with pytest.raises(DBAPIError) as refused, db.begin_nested():
            db.execute(text(statement), {"id": provider.id, "org": tenants.b.organization.id})
        assert isinstance(refused.value.orig, psycopg.errors.InsufficientPrivilege)


def test_a_membership_change_is_audited_on_the_membership_only(
    db: Session, tenants: TwoTenants
) -> None:
    a, b = tenants.a, tenants.b
    manager = a.office_manager

    def events(table: str, row_id: uuid.UUID) -> int:
        use_context(db, MSC_SYSTEM)
        counted = select(func.count()).select_from(AuditEvent)
        return int(
            db.scalar(counted.where(AuditEvent.table_name == table, AuditEvent.row_id == row_id))
            or 0
        )

    before = events("users", manager.id)
    use_context(db, b.context())
    joined = factories.make_membership(db, manager, b.organization, Role.PROVIDER)
    assert events("memberships", joined.id) == 1
    assert events("users", manager.id) == before


def test_the_memberships_own_value_passes_in_the_system_context_alone(
    db: Session, tenants: TwoTenants
) -> None:
    """In any order, but only under MSC reach, the one context that sees every membership
    of the user: not on the user's own row, not with a duplicate."""
    provider = tenants.shared_provider
    both = [tenants.b.organization.id, tenants.a.organization.id]
    rewrite = text("UPDATE users SET organization_ids = :ids WHERE id = :id")
    use_context(db, MSC_SYSTEM)
    db.execute(rewrite, {"id": provider.id, "ids": both})
    assert _organization_ids(db, provider.id) == set(both)
    for context, ids in (
        (TenantContext(user_id=provider.id), list(reversed(both))),
        (MSC_SYSTEM, [*both, both[0]]),
    ):
        use_context(db, context)
        with pytest.raises(DBAPIError) as refused, db.begin_nested():
            db.execute(rewrite, {"id": provider.id, "ids": ids})
        assert isinstance(refused.value.orig, psycopg.errors.InsufficientPrivilege)
