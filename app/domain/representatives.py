"""MSC representatives: MSC staff who look after a set of organizations and read them.

A representative is a user with `is_msc_representative`, which only MSC admins change
(policies/users.sql). An organization names its representative in
`msc_representative_id` (MSC admins, through the organization), and the database refuses
to name a user who is none (policies/organizations.sql). What a representative reaches is
`tenancy.enter`'s business (policies/functions.sql): acting for an organization they
represent, or a descendant of one, they read it and its descendants through the tables'
select policies, and every table holding organizations' data refuses their writes
(`tenancy.may_write_tenant_data`); their own account (password, second factor, profile)
they keep up like anyone. Taking the role away, or naming someone else on the
organization, stops them on their next request.

Here: the role itself (granted, taken away, listed; every change audited by the tables'
triggers), and, for signing in and switching organizations, where a user may act.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, literal_column, select, text, update
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.orm import Session

from app.domain.queries import Rows
from app.models import Organization, User
from app.models.enums import MSC_REPRESENTATIVE
from app.tenancy.signing import enter_ticket


@dataclass(frozen=True)
class RepresentedOrganization:
    organization_id: uuid.UUID
    organization_name: str


def represented_organizations(
    session: Session, user_id: uuid.UUID
) -> list[RepresentedOrganization]:
    """The organizations naming the user as their representative, by name (their
    descendants are the user's to read as well); none unless the user is a representative.
    (The organizations policy shows a user those naming them, whatever they act for.)"""
    user = session.get(User, user_id)
    if user is None or not user.is_msc_representative:
        return []
    rows = session.execute(
        select(Organization.id, Organization.name)
        .where(Organization.msc_representative_id == user_id)
        .order_by(Organization.name, Organization.id)
    ).all()
    return [RepresentedOrganization(*row) for row in rows]


# `tenancy.enter` for the user and organization alone: the role it resolves.
_ENTERED_ROLE = text(
    "SELECT role FROM tenancy.enter(:user_id, :organization_id, NULL, '{}', :ticket)"
)


def represents(session: Session, user_id: uuid.UUID, organization_id: uuid.UUID) -> bool:
    """Whether the user acts for the organization as its MSC representative: it is one
    they represent or a descendant of one, and they are no member of it.

    Asked of `tenancy.enter` itself, the rule each of their requests applies, inside a
    savepoint rolled back at once: that takes back the settings it applies, and the
    caller's context holds again."""
    # A savepoint of the connection's own: the session has nothing in it to track.
    connection = session.connection()
    savepoint = connection.begin_nested()
    try:
        role = connection.execute(
            _ENTERED_ROLE,
            {
                "user_id": user_id,
                "organization_id": organization_id,
                "ticket": enter_ticket(user_id, organization_id, None, ()),
            },
        ).scalar_one_or_none()
    finally:
        savepoint.rollback()
    return role == MSC_REPRESENTATIVE


def default_organization(session: Session, user_id: uuid.UUID) -> uuid.UUID | None:
    """The first (by name) of the organizations the user represents: what a sign-in acts
    for when none is asked for and the user is no member of any."""
    represented = represented_organizations(session, user_id)
    return represented[0].organization_id if represented else None


# Each representative's organizations as RepresentedOrganization's fields, by name, in
# the row itself: a page of representatives costs one statement.
_ORGANIZATIONS = (
    select(
        func.coalesce(
            func.json_agg(
                aggregate_order_by(
                    func.json_build_object(
                        "organization_id",
                        Organization.id,
                        "organization_name",
                        Organization.name,
                    ),
                    Organization.name,
                    Organization.id,
                )
            ),
            literal_column("'[]'::json"),
        )
    )
    .where(Organization.msc_representative_id == User.id)
    .scalar_subquery()
)


def _representatives() -> Rows:
    return select(
        User.id,
        User.email,
        User.name,
        User.is_active,
        _ORGANIZATIONS.label("organizations"),
    ).where(User.is_msc_representative)


def list_representatives() -> Rows:
    """Every MSC representative, by name, with the organizations naming them (MSC admins:
    the policies show them every user and organization)."""
    return _representatives().order_by(User.name, User.id)


def representative(session: Session, user_id: uuid.UUID) -> dict[str, Any] | None:
    """One representative as the list shows them, or None when the user is none."""
    row = session.execute(_representatives().where(User.id == user_id)).mappings().first()
    return dict(row) if row is not None else None


def grant(session: Session, user: User) -> None:
    """Make the user an MSC representative (MSC admins: only they may change the column).
    They reach nothing until an organization names them as its representative."""
    if not user.is_msc_representative:
        user.is_msc_representative = True
        session.flush()


def revoke(session: Session, user: User) -> None:
    """Take the role away (MSC admins): the organizations naming the user let go of them
    first, each change audited, and their requests as a representative stop with the
    next one."""
    # The user's row locked first: naming them on an organization meanwhile waits for this
    # transaction (and then finds them no representative), or, begun earlier, is waited
    # for and let go of below (policies/organizations.sql, check_msc_representative).
    session.refresh(user, with_for_update={"key_share": True})
    session.execute(
        update(Organization)
        .where(Organization.msc_representative_id == user.id)
        .values(msc_representative_id=None)
    )
    if user.is_msc_representative:
        user.is_msc_representative = False
        session.flush()
