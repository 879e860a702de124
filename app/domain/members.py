"""Members of an organization: their roles, and deactivating and reactivating them.

A membership is deactivated, never deleted: it keeps its role and history, and the
member stops seeing it (policies/memberships.sql), so every token they hold for that
organization stops working on their next request (`tenancy.enter` resolves the role on
each one). Deactivating an account works the same way, everywhere at once. Every change
lands in the audit trail through the tables' triggers.

An organization keeps at least one active organization admin (an active admin
membership of an active account): whatever would take the last one away (demoting,
deactivating the membership, deactivating the account) is refused. Each such change
first locks the organization's admin memberships, so that of two admins removing each
other, the second waits for the first and then counts what it left.

Whatever adds, moves or removes a membership writes the user's `organization_ids`, and
its copies on what they own, in the same transaction (`sync_organization_ids`).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from enum import StrEnum
from typing import Any

from sqlalchemy import bindparam, case, select, update
from sqlalchemy.orm import Session

from app import clock
from app.domain import webhook_events, webhooks
from app.domain.errors import Conflict
from app.domain.locks import lock
from app.domain.queries import Rows, one_of
from app.domain.webhook_events import LeftBecause
from app.models import Credential, Document, Membership, Organization, User
from app.models.enums import Role, WebhookEventType
from app.tenancy.context import TenantContext, system_context

LAST_ADMIN = "an organization keeps at least one active organization admin"


class MemberStatus(StrEnum):
    """Derived, never stored: from the membership's and the account's flags."""

    ACTIVE = "active"
    DEACTIVATED = "deactivated"  # the membership, in this organization
    ACCOUNT_DEACTIVATED = "account_deactivated"  # the account, everywhere


_STATUS = case(
    (~User.is_active, MemberStatus.ACCOUNT_DEACTIVATED.value),
    (~Membership.is_active, MemberStatus.DEACTIVATED.value),
    else_=MemberStatus.ACTIVE.value,
)


def _members() -> Rows:
    return select(
        Membership.id,
        Membership.organization_id,
        Membership.user_id,
        User.name,
        User.email,
        Membership.role,
        _STATUS.label("status"),
        Membership.created_at,
        Membership.updated_at,
    ).join(User, User.id == Membership.user_id)


def list_members(organization_id: uuid.UUID, filters: dict[str, Any]) -> Rows:
    """The organization's members (not its descendants'), by name."""
    query = _members().where(Membership.organization_id == organization_id)
    if "role" in filters:
        query = query.where(Membership.role == filters["role"])
    if "status" in filters:
        query = query.where(filters["status"] == _STATUS)
    return query.order_by(User.name, User.id)


def member(session: Session, membership_id: uuid.UUID) -> dict[str, Any] | None:
    """One member as the list shows them, or None when out of the caller's sight."""
    row = session.execute(_members().where(Membership.id == membership_id)).mappings().first()
    return dict(row) if row is not None else None


def change_role(session: Session, membership: Membership, role: str) -> Membership:
    _lock_admins(session, [membership.organization_id])
    lock(session, membership)
    if membership.role == role:
        return membership
    if membership.role == Role.ORGANIZATION_ADMIN:
        _keep_an_admin(session, [membership.organization_id], leaving=membership.id, field="role")
    membership.role = role
    session.flush()
    return membership


def deactivate(session: Session, membership: Membership) -> Membership:
    _lock_admins(session, [membership.organization_id])
    lock(session, membership)
    if not membership.is_active:
        return membership
    if membership.role == Role.ORGANIZATION_ADMIN:
        _keep_an_admin(session, [membership.organization_id], leaving=membership.id)
    membership.is_active = False
    session.flush()
    if membership.role == Role.PROVIDER:
        _announce(session, membership.user_id, [membership.organization_id], joined=False)
    return membership


def reactivate(session: Session, membership: Membership) -> Membership:
    lock(session, membership)
    if not membership.is_active:
        membership.is_active = True
        session.flush()
        if membership.role == Role.PROVIDER:
            _announce(session, membership.user_id, [membership.organization_id], joined=True)
    return membership


def get_account(session: Session, user_id: uuid.UUID) -> User | None:
    return session.get(User, user_id)


def deactivate_account(session: Session, context: TenantContext, user: User) -> User:
    """Deactivate an account in every organization at once (MSC admins: only they may
    change `users.is_active`, policies/users.sql)."""
    if user.id == context.user_id:
        raise Conflict("an MSC admin cannot deactivate their own account")
    roles = _active_roles(session, user.id)
    administered = [org for org, role in roles if role == Role.ORGANIZATION_ADMIN]
    _lock_admins(session, administered)
    session.refresh(user, with_for_update=True)
    if not user.is_active:
        return user
    _keep_an_admin(session, administered, leaving_user=user.id)
    user.is_active = False
    session.flush()
    providing = [org for org, role in roles if role == Role.PROVIDER]
    _announce(session, user.id, providing, joined=False, account=True)
    return user


def reactivate_account(session: Session, user: User) -> User:
    session.refresh(user, with_for_update=True)
    if not user.is_active:
        user.is_active = True
        session.flush()
        providing = [org for org, role in _active_roles(session, user.id) if role == Role.PROVIDER]
        _announce(session, user.id, providing, joined=True)
    return user


def _active_roles(session: Session, user_id: uuid.UUID) -> list[tuple[uuid.UUID, str]]:
    """(organization, role) of each of the user's active memberships."""
    return [
        (organization_id, role)
        for organization_id, role in session.execute(
            select(Membership.organization_id, Membership.role).where(
                Membership.user_id == user_id, Membership.is_active
            )
        )
    ]


def _announce(
    session: Session,
    user_id: uuid.UUID,
    organization_ids: list[uuid.UUID],
    *,
    joined: bool,
    account: bool = False,
) -> None:
    """provider.joined or provider.left at each of the organizations, each its own event:
    a membership made active or inactive, or the whole account (`account`)."""
    if not organization_ids:
        return
    provider = webhook_events.provider_of(session, user_id)
    now = clock.now()
    reason = LeftBecause.ACCOUNT_DEACTIVATED if account else LeftBecause.MEMBERSHIP_DEACTIVATED
    webhooks.record_many(
        session,
        [
            webhooks.event(
                org,
                WebhookEventType.PROVIDER_JOINED,
                webhook_events.provider_joined(
                    org, provider=provider, joined_at=now, invitation_id=None, facility_ids=[]
                ),
            )
            if joined
            else webhooks.event(
                org,
                WebhookEventType.PROVIDER_LEFT,
                webhook_events.provider_left(
                    org, provider=provider, reason=reason, left_on=now.date()
                ),
            )
            for org in organization_ids
        ],
    )


def sync_organization_ids(session: Session, user_ids: Iterable[uuid.UUID]) -> None:
    """Write each user's `organization_ids`, the organizations of their memberships, after
    a change to those memberships in this transaction, and its copies on their
    credentials and documents (`owner_organization_ids`): the policies reach a member and
    what they own through them (policies/users.sql, credentials.sql, documents.sql), and
    the database refuses any other value.

    In the system context: the writer of a membership (an organization admin, an invitee)
    may neither write the member's user row nor see their other memberships. The user rows
    are locked first, in id order: of two transactions changing one user's memberships,
    the second waits for the first to commit, then reads the memberships with the
    first's among them. No audit event of its own (policies/users.sql): the
    membership's records the change."""
    ids = sorted(set(user_ids))
    if not ids:
        return
    session.flush()
    with system_context(session):
        session.execute(
            select(User.id).where(one_of(User.id, ids)).order_by(User.id).with_for_update()
        )
        member_of: dict[uuid.UUID, list[uuid.UUID]] = {user_id: [] for user_id in ids}
        for user_id, organization_id in session.execute(
            select(Membership.user_id, Membership.organization_id)
            .where(one_of(Membership.user_id, ids))
            .order_by(Membership.organization_id)
        ):
            member_of[user_id].append(organization_id)
        session.execute(
            update(User),
            [{"id": user_id, "organization_ids": orgs} for user_id, orgs in member_of.items()],
        )
        copies = [{"owner": user_id, "orgs": orgs} for user_id, orgs in member_of.items()]
        for table in (Credential.metadata.tables[m.__tablename__] for m in (Credential, Document)):
            session.execute(
                update(table)
                .where(table.c.user_id == bindparam("owner"))
                # a copy, not a change of the row: updated_at stays (policies/credentials.sql)
                .values(owner_organization_ids=bindparam("orgs"), updated_at=table.c.updated_at),
                copies,
            )


def organizations_of(session: Session, user_id: uuid.UUID) -> list[uuid.UUID]:
    """The user's organizations, for a new row that copies them (a credential, a provider's
    document: `owner_organization_ids`). The user row is held (FOR SHARE) until the
    transaction ends: a change of their memberships meanwhile (sync_organization_ids
    locks the row to update it) waits for the new row, then copies onto it as well."""
    organization_ids = session.scalar(
        select(User.organization_ids).where(User.id == user_id).with_for_update(read=True)
    )
    return list(organization_ids or [])


def _lock_admins(session: Session, organization_ids: Iterable[uuid.UUID]) -> None:
    """Lock the organizations' admin memberships, in id order (two changes lock them in
    the same order, so they queue rather than deadlock). The count that follows runs as a
    later statement, so it reads what a change that held these locks committed."""
    ids = sorted(set(organization_ids))
    if ids:
        session.execute(
            select(Membership.id)
            .where(one_of(Membership.organization_id, ids))
            .where(Membership.role == Role.ORGANIZATION_ADMIN)
            .order_by(Membership.id)
            .with_for_update()
        ).all()


def _keep_an_admin(
    session: Session,
    organization_ids: Iterable[uuid.UUID],
    *,
    leaving: uuid.UUID | None = None,
    leaving_user: uuid.UUID | None = None,
    field: str | None = None,
) -> None:
    """Refuse (409) if an organization that has an active admin would have none once the
    membership `leaving`, or the account `leaving_user`, stops counting. (One that has
    none already is not made worse by the change.)"""
    ids = sorted(set(organization_ids))
    if not ids:
        return
    active_admins = session.execute(
        select(Membership.organization_id, Membership.id, Membership.user_id)
        .join(User, User.id == Membership.user_id)
        .where(
            one_of(Membership.organization_id, ids),
            Membership.role == Role.ORGANIZATION_ADMIN,
            Membership.is_active,
            User.is_active,
        )
    ).all()
    before = {row.organization_id for row in active_admins}
    after = {
        row.organization_id
        for row in active_admins
        if row.id != leaving and row.user_id != leaving_user
    }
    orphaned = sorted(before - after)
    if orphaned:
        names = session.scalars(
            select(Organization.name)
            .where(one_of(Organization.id, orphaned))
            .order_by(Organization.name)
        ).all()
        raise Conflict(
            f"{LAST_ADMIN}: this is the last one of {', '.join(names)}; make another member"
            " an organization admin first",
            field=field,
        )
