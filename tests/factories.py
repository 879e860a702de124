"""Factories for test data. Each takes a session and returns a flushed row; names,
emails and NPIs are unique per call so tests never collide."""

from __future__ import annotations

import datetime as dt
import itertools
import uuid
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from app.auth.passwords import hash_password
from app.domain import members, onboarding
from app.domain.reference import npi_check_digit
from app.models import (
    Facility,
    Membership,
    Organization,
    PrimaryAssignment,
    ProviderFacility,
    User,
)
from app.tenancy.context import TenantContext, use_context

PASSWORD = "test-password"
_counter = itertools.count(1)
_password_hash = hash_password(PASSWORD)


def unique_npi() -> str:
    first_nine = f"1{next(_counter) + 10_000_000:08d}"
    return first_nine + str(npi_check_digit(first_nine))


def make_user(session: Session, **fields: Any) -> User:
    n = next(_counter)
    fields.setdefault("email", f"user{n}-{uuid.uuid4().hex[:6]}@example.com")
    fields.setdefault("name", f"Test User {n}")
    fields.setdefault("password_hash", _password_hash)
    user = User(**fields)
    session.add(user)
    session.flush()
    return user


def make_organization(session: Session, **fields: Any) -> Organization:
    fields.setdefault("name", f"Organization {next(_counter)}")
    fields.setdefault("organization_type", "group_practice")
    fields.setdefault("status", "active")
    org = Organization(**fields)
    session.add(org)
    session.flush()
    session.refresh(org)
    return org


def make_membership(
    session: Session, user: User, organization: Organization, role: str
) -> Membership:
    membership = Membership(user_id=user.id, organization_id=organization.id, role=role)
    session.add(membership)
    members.sync_organization_ids(session, [user.id])
    return membership


def sync_organization_ids(connection: Connection, user_ids: Iterable[uuid.UUID]) -> None:
    """For memberships a test wrote in SQL: the users' organization_ids, written as the
    domain writes them with its own, in the connection's transaction."""
    with Session(bind=connection) as session:
        use_context(session, TenantContext.system("test-setup"))
        members.sync_organization_ids(session, user_ids)


def owner_organization_ids(connection: Connection, user_id: uuid.UUID) -> list[uuid.UUID]:
    """For a credential or document a test writes in SQL: its owner's organizations, which
    the row copies (app/domain/members.py, organizations_of, for the domain's own)."""
    return list(
        connection.execute(
            text("SELECT organization_ids FROM users WHERE id = :u"), {"u": user_id}
        ).scalar_one()
    )


def make_facility(session: Session, organization: Organization, **fields: Any) -> Facility:
    fields.setdefault("name", f"Facility {next(_counter)}")
    fields.setdefault("facility_type", "clinic")
    fields.setdefault("state", "TX")
    facility = Facility(organization_id=organization.id, **fields)
    session.add(facility)
    session.flush()
    onboarding.mark_started(session, organization.id)
    session.refresh(facility)
    return facility


def make_assignment(
    session: Session, user: User, facility: Facility, *, is_primary: bool = False, **fields: Any
) -> ProviderFacility:
    """`is_primary` makes it the user's primary (their primary_assignments row points at
    it, wherever it pointed before), written as set-up data, like the assignment: no
    webhook event announces it, so a test counts the events of its own actions."""
    fields.setdefault("status", "active")
    fields.setdefault("start_date", dt.date(2026, 1, 1))
    assignment = ProviderFacility(
        organization_id=facility.organization_id, user_id=user.id, facility_id=facility.id, **fields
    )
    session.add(assignment)
    session.flush()
    if is_primary:
        pointer = {
            "user_id": user.id,
            "organization_id": facility.organization_id,
            "facility_id": facility.id,
        }
        session.execute(
            insert(PrimaryAssignment)
            .values(pointer)
            .on_conflict_do_update(index_elements=[PrimaryAssignment.user_id], set_=pointer)
        )
    return assignment
