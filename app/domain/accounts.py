"""Accounts: signing in, and what a user belongs to."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.auth.passwords import hash_password, needs_rehash, verify_password
from app.domain import representatives, screening
from app.domain.errors import Forbidden, WrongSecret
from app.models import Membership, Organization, User
from app.tenancy.context import TenantContext, system_context, use_context


@dataclass(frozen=True)
class MembershipView:
    organization_id: uuid.UUID
    organization_name: str
    role: str


def authenticate(
    session: Session, email: str, password: str, request_id: str | None = None
) -> User | None:
    """The active user with this email and password, or None (the same None whether
    the email is unknown or the password wrong)."""
    use_context(session, TenantContext(login_email=email, request_id=request_id))
    user = session.scalar(select(User).where(func.lower(User.email) == email.lower()))
    candidate = user.password_hash if user is not None else None
    if not verify_password(candidate, password) or user is None or not user.is_active:
        return None
    use_context(session, _as_themselves(user, request_id))
    if candidate and needs_rehash(candidate):
        user.password_hash = hash_password(password)
    return user


def resume_sign_in(session: Session, user_id: uuid.UUID, request_id: str | None) -> User | None:
    """For a login's later step (its password checked already): the user `user_id`, acting
    as themselves in `session` from now on; None when the account is gone or deactivated."""
    use_context(session, TenantContext(user_id=user_id, request_id=request_id))
    user = session.get(User, user_id)
    if user is None or not user.is_active:
        return None
    use_context(session, _as_themselves(user, request_id))
    return user


def _as_themselves(user: User, request_id: str | None) -> TenantContext:
    """The context of a user acting as themselves, before any organization is chosen:
    their own row, memberships and credentials, and the organizations they belong to."""
    return TenantContext(
        user_id=user.id,
        member_organization_ids=tuple(user.organization_ids),
        request_id=request_id,
    )


def prove_password(user: User, password: str, *, field: str) -> None:
    """The signed-in user proves they know their password (to change it, or to add a
    second factor); WrongSecret naming `field` when they do not."""
    if not verify_password(user.password_hash, password):
        raise WrongSecret(f"the {field.replace('_', ' ')} is wrong", field=field)


def memberships_of(session: Session, user_id: uuid.UUID) -> list[MembershipView]:
    rows = session.execute(
        select(Membership.organization_id, Organization.name, Membership.role)
        .join(Organization, Organization.id == Membership.organization_id)
        .where(Membership.user_id == user_id)
        .order_by(Membership.created_at, Organization.name)
    ).all()
    return [MembershipView(*row) for row in rows]


def default_organization(session: Session, user_id: uuid.UUID) -> uuid.UUID | None:
    memberships = memberships_of(session, user_id)
    return memberships[0].organization_id if memberships else None


def is_member(session: Session, user_id: uuid.UUID, organization_id: uuid.UUID) -> bool:
    return (
        session.scalar(
            select(Membership.id).where(
                Membership.user_id == user_id, Membership.organization_id == organization_id
            )
        )
        is not None
    )


def may_act_for(session: Session, user_id: uuid.UUID, organization_id: uuid.UUID) -> bool:
    """Whether the user may sign in for, or switch to, the organization: as a member, or
    as its MSC representative (app/domain/representatives.py)."""
    return is_member(session, user_id, organization_id) or representatives.represents(
        session, user_id, organization_id
    )


def login_organization(
    session: Session, user_id: uuid.UUID, requested: uuid.UUID | None
) -> uuid.UUID | None:
    """The organization a login acts for: the one requested, or else the user's first,
    else the first they represent (None: neither). Forbidden when they may not act for the
    one requested."""
    if requested is None:
        return default_organization(session, user_id) or representatives.default_organization(
            session, user_id
        )
    if not may_act_for(session, user_id, requested):
        raise Forbidden("not a member of this organization", field="organization_id")
    return requested


# What exclusion screening matches a person by (app/domain/screening.py).
SCREENED_FIELDS = ("name", "npi", "date_of_birth")


def update_profile(session: Session, context: TenantContext, changes: dict[str, Any]) -> User:
    """Change the user's own profile. A change of what screening matches by screens
    them again, at every organization they work for, before the change commits: an
    NPI or a name the lists carry is found at once, not at the next monthly pass."""
    user = session.get(User, context.user_id)
    assert user is not None, "an authenticated context names a visible user"
    rescreen = any(
        name in SCREENED_FIELDS and getattr(user, name) != value for name, value in changes.items()
    )
    for name, value in changes.items():
        setattr(user, name, value)
    session.flush()
    if rescreen:
        # The service screens (only it writes screenings), on no one's behalf in the
        # organizations' trails.
        with system_context(session, anonymous=True):
            screening.screen(session, reason="profile_change", user_ids=[user.id])
    return user
