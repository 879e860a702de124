"""Invitations: asking a person to join an organization, and their acceptance.

The token is random (256 bits) and stored only as its SHA-256. It reaches the invitee
alone, in the invitation email, which the invite writes to the outbox with the token
sealed; the inviter never sees it. Accepting runs without a signed-in user: the token's
hash, set as the transaction's context, is the capability the policies accept for
reading the invitation and its organization and for the invitation's acceptance; the
invitation found open under it, set beside it, for writing the new member's account,
membership and pending assignments, and nothing else.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import uuid
from dataclasses import replace
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from app import clock
from app.auth.passwords import hash_password, require_acceptable
from app.domain import (
    assignments,
    members,
    onboarding,
    outbox,
    screening,
    webhook_events,
    webhooks,
)
from app.domain.errors import Conflict, Forbidden, Gone, Invalid, NotFound
from app.domain.locks import lock
from app.models import Facility, Invitation, Membership, Organization, ProviderFacility, User
from app.models.enums import (
    AssignmentStatus,
    InvitationRole,
    InvitationStatus,
    MessageKind,
    Role,
    WebhookEventType,
)
from app.tenancy.context import (
    SESSION_KEY,
    PresentedInvitation,
    TenantContext,
    in_scope,
    system_context,
    use_context,
)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def list_invitations(context: TenantContext, filters: dict[str, Any]) -> Select[Invitation]:
    query = select(Invitation).where(in_scope(Invitation.organization_id, context))
    if "organization_id" in filters:
        query = query.where(Invitation.organization_id == filters["organization_id"])
    if "email" in filters:
        query = query.where(func.lower(Invitation.email) == filters["email"].lower())
    return query.order_by(Invitation.created_at.desc(), Invitation.id)


def invite(
    session: Session,
    context: TenantContext,
    organization: Organization,
    data: dict[str, Any],
    lifetime: dt.timedelta,
    base_url: str,
    sealer: outbox.Sealer,
    now: dt.datetime | None = None,
) -> Invitation:
    """Invite `data["email"]`; an open invitation to the same person is replaced, and its
    email cancelled if still waiting. The token goes to the invitee only: in the
    invitation email, written to the outbox in the same transaction (the inviter never
    sees it, so cannot accept in their name). Concurrent invites of one person take
    turns on the open invitation's lock, so the last one's email is the one left."""
    now = now or clock.now()
    facility_ids: list[uuid.UUID] = list(dict.fromkeys(data.get("facility_ids", [])))
    primary = data.get("primary_facility_id")
    _check_facilities(session, organization.id, facility_ids)
    if primary is not None and primary not in facility_ids:
        raise Invalid(
            "the primary facility must be one of facility_ids",
            field="primary_facility_id",
        )
    # Organization admins invite any role, organization admins included, into their
    # scope (the organization and its descendants: `organization` was found in reach).
    if context.role == Role.OFFICE_MANAGER:
        _check_managed(context, data["role"], facility_ids)
    if data["role"] != Role.PROVIDER and facility_ids:
        raise Invalid(
            "only providers are assigned to facilities (an admin names an office manager"
            " as a facility's manager once they have joined)",
            field="facility_ids",
        )
    if _already_member(session, organization.id, data["email"]):
        raise Conflict(
            "this person is already a member (a deactivated member is reactivated, not"
            " invited again)",
            field="email",
        )

    token = secrets.token_urlsafe(32)
    invitation = session.scalar(
        select(Invitation)
        .where(
            Invitation.organization_id == organization.id,
            func.lower(Invitation.email) == data["email"].lower(),
            Invitation.accepted_at.is_(None),
            Invitation.revoked_at.is_(None),
        )
        .with_for_update()
    )
    is_new = invitation is None
    if invitation is None:
        invitation = Invitation(organization_id=organization.id)
        session.add(invitation)
    else:
        outbox.cancel_invitation_email(session, invitation.id)
    invitation.email = data["email"]
    invitation.name = data["name"]
    invitation.role = data["role"]
    invitation.facility_ids = facility_ids
    invitation.primary_facility_id = primary
    invitation.token_hash = token_hash(token)
    invitation.expires_at = now + lifetime
    invitation.invited_by_id = context.user_id
    session.flush()
    if is_new:
        onboarding.mark_started(session, organization.id)
    session.refresh(invitation)
    _announce_invitation(session, organization, invitation, now)
    # The accept page (app/blueprints/pages.py), which a browser opens.
    accept_url = f"{base_url.rstrip('/')}/invitations/{token}/accept"
    outbox.add(
        session,
        kind=MessageKind.INVITATION,
        # A new token is a new invitation email; the same one is never sent twice.
        key=f"invitation:{invitation.id}:{invitation.token_hash[:16]}",
        organization_id=organization.id,
        recipient_email=invitation.email,
        recipient_user_id=None,
        subject=f"{organization.name} invites you to MSC",
        template="invitation",
        payload={
            "name": invitation.name,
            "organization_name": organization.name,
            "role_label": invitation.role.replace("_", " "),
            "expires_at": invitation.expires_at.strftime("%Y-%m-%d %H:%M UTC"),
        },
        sealed_payload=sealer.seal({"accept_url": accept_url}),
        invitation_id=invitation.id,
    )
    return invitation


def revoke(session: Session, invitation: Invitation, now: dt.datetime | None = None) -> Invitation:
    """Revoke an open invitation, and cancel its email if still waiting. Read under lock:
    an acceptance or a new invitation in flight ends first, and is seen."""
    lock(session, invitation)
    if invitation.accepted_at is not None:
        raise Conflict("the invitation has already been accepted", field="invitation_id")
    if invitation.revoked_at is None:
        invitation.revoked_at = now or clock.now()
        session.flush()
        outbox.cancel_invitation_email(session, invitation.id)
    return invitation


def find_by_token(
    session: Session, token: str, request_id: str | None = None, *, lock: bool = False
) -> Invitation | None:
    """The invitation this token opens (any status), or None for a wrong token. With
    `lock`, the row is held until the transaction ends, and a caller that waited for it
    reads it as the holder left it."""
    presented = token_hash(token)
    opened = TenantContext(invitation_token_hash=presented, request_id=request_id)
    use_context(session, opened)
    opens = Invitation.token_hash == presented
    invitation = session.scalar(select(Invitation).where(opens))
    if invitation is not None and lock:
        # Locked once found, by its whole key: the token names no organization, and a
        # Citus cluster locks rows in one shard only. The token is asked again: a new
        # invitation to the same email made meanwhile gave the row a new one.
        # populate_existing: the row as the lock found it, not as it was before the wait.
        invitation = session.scalar(
            select(Invitation)
            .where(
                Invitation.organization_id == invitation.organization_id,
                Invitation.id == invitation.id,
                opens,
            )
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    if invitation is not None:
        # the token holder sees the organization it invites to
        use_context(session, replace(opened, invited_organization_id=invitation.organization_id))
    return invitation


def account_exists(session: Session, invitation: Invitation) -> bool:
    """Whether accepting would link an existing account (asked by the token holder)."""
    current: TenantContext = session.info.get(SESSION_KEY) or TenantContext()
    use_context(session, replace(current, login_email=invitation.email))
    found = session.scalar(
        select(User.id).where(func.lower(User.email) == invitation.email.lower())
    )
    return found is not None


def accept(
    session: Session,
    token: str,
    data: dict[str, Any],
    request_id: str | None = None,
    now: dt.datetime | None = None,
) -> tuple[Invitation, User]:
    """Accept an invitation: link the existing account of its email, or create one with
    the given password; then the membership and pending assignments. Single use: of
    concurrent accepts, the first to lock the invitation accepts it, and the others,
    waiting on that lock, then find it accepted (Gone)."""
    now = now or clock.now()
    invitation = find_by_token(session, token, request_id, lock=True)
    if invitation is None:
        raise NotFound("invitation not found")
    state = invitation.status_at(now)
    if state != InvitationStatus.PENDING:
        raise Gone(f"the invitation is {state.value}")

    # The invitation as found open, under its lock: what the policies let this
    # transaction write for it. The lock holds until the acceptance below commits.
    capability = TenantContext(
        invitation_token_hash=invitation.token_hash,
        presented_invitation=PresentedInvitation(
            organization_id=invitation.organization_id,
            role=invitation.role,
            email=invitation.email,
            facility_ids=tuple(invitation.facility_ids),
        ),
        login_email=invitation.email,
        invited_organization_id=invitation.organization_id,
        request_id=request_id,
    )
    use_context(session, capability)
    user = session.scalar(select(User).where(func.lower(User.email) == invitation.email.lower()))
    if user is None:
        if not data.get("password"):
            raise Invalid("choose a password for the new account", field="password")
        name = data.get("name") or invitation.name
        require_acceptable(data["password"], email=invitation.email, name=name)
        user = User(
            email=invitation.email, name=name, password_hash=hash_password(data["password"])
        )
        session.add(user)
        session.flush()
    use_context(session, replace(capability, user_id=user.id))

    membership = session.scalar(
        select(Membership).where(
            Membership.organization_id == invitation.organization_id,
            Membership.user_id == user.id,
        )
    )
    if membership is None:
        session.add(
            Membership(
                organization_id=invitation.organization_id, user_id=user.id, role=invitation.role
            )
        )
    elif membership.role != invitation.role:
        raise Conflict(f"already a member as {membership.role}", field="role")
    session.flush()
    members.sync_organization_ids(session, [user.id])

    # Pending assignments are never primary: the invited primary facility becomes the
    # provider's primary when that assignment is activated, if they have none by then.
    pending: list[ProviderFacility] = []
    for facility_id in invitation.facility_ids:
        if assignments.current_assignment(session, user.id, facility_id) is None:
            pending.append(
                ProviderFacility(
                    organization_id=invitation.organization_id,
                    user_id=user.id,
                    facility_id=facility_id,
                    start_date=now.astimezone(dt.UTC).date(),
                    status=AssignmentStatus.PENDING,
                )
            )
    session.add_all(pending)
    session.flush()

    # Last: once accepted, the invitation is no longer pending, so no later transaction
    # presents it (this one's context keeps admitting what it wrote until it ends).
    invitation.accepted_at = now
    invitation.accepted_user_id = user.id
    session.flush()
    if invitation.role == Role.PROVIDER:
        # Screened against the exclusion lists before the acceptance commits, by the
        # service (only it writes screenings): nothing left for a queue to lose. At the
        # organization accepted alone: the others the provider works for must not learn
        # of this one from a screening of theirs.
        with system_context(session, anonymous=True):
            screening.screen(
                session,
                reason="acceptance",
                user_ids=[user.id],
                organization_id=invitation.organization_id,
                now=now,
            )
            _announce_joining(session, invitation, user, pending, now)
    return invitation, user


def _announce_joining(
    session: Session,
    invitation: Invitation,
    user: User,
    pending: list[ProviderFacility],
    now: dt.datetime,
) -> None:
    """provider.joined, and assignment.changed for each pending assignment the
    acceptance made, to the invitation's organization. In the service's context: the
    invitee's reaches none of the organization's facilities, whose names the events
    carry (and go back to no caller)."""
    organization_id = invitation.organization_id
    provider = webhook_events.provider(user.id, user.name, user.npi)
    facility_ids = [assignment.facility_id for assignment in pending]
    names: dict[uuid.UUID, str] = {}
    if pending:
        for facility_id, name in session.execute(
            select(Facility.id, Facility.name).where(
                Facility.organization_id == organization_id, Facility.id.in_(facility_ids)
            )
        ):
            names[facility_id] = name
    joined = webhook_events.provider_joined(
        organization_id,
        provider=provider,
        joined_at=now,
        invitation_id=invitation.id,
        facility_ids=facility_ids,
    )
    events = [webhooks.event(organization_id, WebhookEventType.PROVIDER_JOINED, joined)]
    for assignment in pending:
        changed = webhook_events.assignment_changed(
            organization_id,
            changes=[webhook_events.AssignmentChange.CREATED],
            provider=provider,
            assignment=webhook_events.assignment(
                assignment.id,
                assignment.facility_id,
                names[assignment.facility_id],
                assignment.status,
                assignment.start_date,
                assignment.end_date,
            ),
        )
        events.append(webhooks.event(organization_id, WebhookEventType.ASSIGNMENT_CHANGED, changed))
    webhooks.record_many(session, events)


def _announce_invitation(
    session: Session, organization: Organization, invitation: Invitation, now: dt.datetime
) -> None:
    """provider.invited for a provider's invitation (each one: a new invitation replacing
    an open one is a new token and expiry), and the onboarding step it completes."""
    step = onboarding.INVITATION_STEPS.get(InvitationRole(invitation.role))
    events = [] if step is None else onboarding.completion_events(organization, step, now)
    if invitation.role == Role.PROVIDER:
        data = webhook_events.provider_invited(
            organization.id,
            invitation_id=invitation.id,
            email=invitation.email,
            name=invitation.name,
            facility_ids=invitation.facility_ids,
            primary_facility_id=invitation.primary_facility_id,
            expires_at=invitation.expires_at,
            invited_by_id=invitation.invited_by_id,
        )
        events.append(webhooks.event(organization.id, WebhookEventType.PROVIDER_INVITED, data))
    webhooks.record_many(session, events)


def _check_managed(context: TenantContext, role: str, facility_ids: list[uuid.UUID]) -> None:
    """An office manager invites providers to the facilities they manage: at least one,
    and none other (their reach is those facilities' people)."""
    if role != Role.PROVIDER:
        raise Forbidden("office managers invite providers only", field="role")
    if not facility_ids:
        raise Invalid(
            "name at least one facility you manage to invite a provider to",
            field="facility_ids",
        )
    unmanaged = [str(i) for i in facility_ids if i not in context.facility_ids]
    if unmanaged:
        raise Forbidden(f"not facilities you manage: {', '.join(unmanaged)}", field="facility_ids")


def _check_facilities(
    session: Session, organization_id: uuid.UUID, facility_ids: list[uuid.UUID]
) -> None:
    if not facility_ids:
        return
    found = set(
        session.scalars(
            select(Facility.id).where(
                Facility.id.in_(facility_ids), Facility.organization_id == organization_id
            )
        )
    )
    missing = [str(i) for i in facility_ids if i not in found]
    if missing:
        raise Invalid(
            f"not facilities of this organization: {', '.join(missing)}",
            field="facility_ids",
        )


def _already_member(session: Session, organization_id: uuid.UUID, email: str) -> bool:
    return (
        session.scalar(
            select(Membership.id)
            .join(User, User.id == Membership.user_id)
            .where(
                Membership.organization_id == organization_id,
                func.lower(User.email) == email.lower(),
            )
        )
        is not None
    )
