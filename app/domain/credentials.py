"""Provider credentials: what each kind requires, verification, and expiry.

A credential is valid through its expiry date and expired from the day after. Expiry is
computed whenever asked, never stored.

The outcome is shared, the decision is the deciding organization's. Every organization
the provider works for reads the credential and its outcome (`verification_status`,
`verified_at`: when it was last decided), and may verify or reject it. Each decision is
one row of `credential_verifications` in the organization the staff member acts for:
the status, who decided (`verified_by_id`) and, for a rejection, why
(`rejection_reason`). Those rows are that organization's history, readable by its staff,
by the provider and by MSC admins, never by another organization (row-level security).
So a credential shows `verified_by_id` and `rejection_reason` to the organization whose
decision set its current outcome, to the provider and to MSC admins; to any other
organization, null. An edit by the provider voids the outcome (unverified) and is no
organization's decision. The outcome's history (`verification_history`, status and time
of each decision and void, without who or why) stays on the credential, shared like the
outcome: `outcome_on` replays it for any organization.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, Protocol

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from app.domain import license_checks, members, webhook_events, webhooks
from app.domain.dea import is_valid_dea, normalize_dea
from app.domain.errors import Conflict, Forbidden, Invalid
from app.models import Credential, CredentialVerification
from app.models.enums import CredentialType as Kind
from app.models.enums import VerificationStatus as Verification
from app.models.enums import WebhookEventType
from app.tenancy.context import TenantContext, system_context
from app.tenancy.read_only import ensure_writable

# Fields each kind must have (beyond its type).
REQUIRED: dict[str, tuple[str, ...]] = {
    Kind.MEDICAL_LICENSE: ("state", "number", "expiry_date"),
    Kind.DEA_REGISTRATION: ("state", "number", "dea_schedules", "expiry_date"),
    Kind.MALPRACTICE_INSURANCE: (
        "issuer",
        "number",
        "coverage_per_claim",
        "coverage_aggregate",
        "effective_date",
        "expiry_date",
    ),
    Kind.BOARD_CERTIFICATION: ("issuer", "specialty"),
}

EXPIRY_WINDOWS = (30, 60, 90)


class Expiring(Protocol):
    """A credential, or a document that must be renewed."""

    @property
    def expiry_date(self) -> dt.date | None: ...


class Decided(Expiring, Protocol):
    """A credential, as it stands or as it stood on a day (compliance.HeldCredential)."""

    @property
    def verification_status(self) -> str: ...


def status_at(credential: Decided, today: dt.date) -> str:
    """The verification status as of `today`: a lapsed credential reads `expired`,
    whatever its stored verification, unless it was rejected."""
    if credential.verification_status == Verification.REJECTED:
        return Verification.REJECTED
    if credential.expiry_date is not None and credential.expiry_date < today:
        return Verification.EXPIRED
    return credential.verification_status


def days_left(record: Expiring, today: dt.date) -> int | None:
    return None if record.expiry_date is None else (record.expiry_date - today).days


def expiring_within(record: Expiring, today: dt.date) -> int | None:
    """The smallest reminder window (30, 60, 90 days) the record falls in, if any."""
    left = days_left(record, today)
    if left is None or left < 0:
        return None
    return next((window for window in EXPIRY_WINDOWS if left <= window), None)


def credentials_of(user_id: uuid.UUID) -> Select[Credential]:
    return (
        select(Credential)
        .where(Credential.user_id == user_id)
        .order_by(Credential.credential_type, Credential.expiry_date.desc(), Credential.id)
    )


def create(session: Session, user_id: uuid.UUID, data: dict[str, Any]) -> Credential:
    _check_required(data["credential_type"], data)
    credential = Credential(
        user_id=user_id, owner_organization_ids=members.organizations_of(session, user_id), **data
    )
    session.add(credential)
    session.flush()
    session.refresh(credential)
    license_checks.check_credential(session, credential)
    return credential


def update(session: Session, credential: Credential, changes: dict[str, Any]) -> Credential:
    """The owner's edit; the database voids an earlier verification (see policies)."""
    if "credential_type" in changes and changes["credential_type"] != credential.credential_type:
        raise Invalid("the type of a credential cannot change", field="credential_type")
    merged = {name: getattr(credential, name) for name in REQUIRED[credential.credential_type]}
    merged.update(changes)
    _check_required(credential.credential_type, merged)  # normalises in place
    checked = (credential.number, credential.state)
    for name in changes:
        setattr(credential, name, merged[name])
    session.flush()
    session.refresh(credential)
    if (credential.number, credential.state) != checked:
        # What the registry is asked about changed (a license's; other kinds are not checked).
        license_checks.check_credential(session, credential)
    return credential


def verify(
    session: Session, context: TenantContext, credential: Credential, now: dt.datetime
) -> Credential:
    if status_at(credential, now.date()) == Verification.EXPIRED:
        raise Conflict("an expired credential cannot be verified", field="credential_id")
    # Announced when the shared outcome becomes verified: another organization recording
    # its own decision on a verified credential tells the receivers nothing new.
    newly = credential.verification_status != Verification.VERIFIED
    _set_verification(session, context, credential, Verification.VERIFIED, None, now)
    if newly:
        _announce_verified(session, context, credential, now)
    return credential


def reject(
    session: Session, context: TenantContext, credential: Credential, reason: str, now: dt.datetime
) -> Credential:
    return _set_verification(session, context, credential, Verification.REJECTED, reason, now)


def _set_verification(
    session: Session,
    context: TenantContext,
    credential: Credential,
    status: str,
    reason: str | None,
    now: dt.datetime,
) -> Credential:
    """The shared outcome on the credential (its history follows, policies/credentials.sql)
    and the decision in the organization the request acts for. An MSC admin acting for
    none decides for every organization the provider works for: each reads the decision."""
    if credential.user_id == context.user_id and not context.is_msc_admin:
        raise Forbidden("a provider cannot verify their own credential")
    ensure_writable(context, context.organization_id)
    deciding = (
        [context.organization_id]
        if context.organization_id is not None
        else sorted(credential.owner_organization_ids)
    )
    credential.verification_status = status
    credential.verified_at = now
    session.add_all(
        CredentialVerification(
            organization_id=organization_id,
            credential_id=credential.id,
            user_id=credential.user_id,
            verification_status=status,
            rejection_reason=reason,
            verified_by_id=context.user_id,
            verified_at=now,
        )
        for organization_id in deciding
    )
    session.flush()
    session.refresh(credential)
    return credential


def _announce_verified(
    session: Session, context: TenantContext, credential: Credential, now: dt.datetime
) -> None:
    """credential.verified to every organization the provider works for (the outcome is
    shared) and to the deciding one, each its own event naming no decider: the decision
    is the deciding organization's alone."""
    provider = webhook_events.provider_of(session, credential.user_id)
    shown = webhook_events.credential(
        credential.id,
        credential.credential_type,
        credential.expiry_date,
        credential.verification_status,
    )
    # The organizations read and the events recorded in one reach, the service's.
    with system_context(session, anonymous=True):
        organizations = set(webhook_events.working_for(session, credential.user_id))
        if context.organization_id is not None:
            organizations.add(context.organization_id)
        webhooks.record_many(
            session,
            [
                webhooks.event(
                    organization_id,
                    WebhookEventType.CREDENTIAL_VERIFIED,
                    webhook_events.credential_verified(
                        organization_id, provider=provider, credential=shown, verified_at=now
                    ),
                )
                for organization_id in sorted(organizations)
            ],
        )


def day_end(day: dt.date) -> dt.datetime:
    """When `day` (a UTC date) ends: the next day's midnight, UTC."""
    return dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), dt.UTC)


class Recorded(Protocol):
    """A credential as stored: when it was added, and its outcome's changes."""

    @property
    def created_at(self) -> dt.datetime: ...

    @property
    def verification_history(self) -> list[dict[str, str]]: ...


def changes_of(credential: Recorded) -> list[tuple[dt.datetime, str]]:
    """The outcome's changes, oldest first: (when, status)."""
    return [
        (dt.datetime.fromisoformat(change["changed_at"]), change["verification_status"])
        for change in credential.verification_history
    ]


def outcome_on(credential: Recorded, day: dt.date) -> str | None:
    """The shared outcome as it stood at the end of `day`, replayed from the credential's
    history: the status of its last change made before the day ended, `unverified`
    before the first; None when the credential was added after the day. Whoever's
    decisions they were, no reason or decider is read: any organization the provider
    works for gets the same answer. Expiry is not applied (`status_at` does that)."""
    end = day_end(day)
    if credential.created_at >= end:
        return None
    status: str = Verification.UNVERIFIED
    for changed_at, changed_to in changes_of(credential):
        if changed_at < end:
            status = changed_to
    return status


def _check_required(kind: str, data: dict[str, Any]) -> None:
    """Refuse a credential missing what its kind needs; normalise the DEA number."""
    missing = [name for name in REQUIRED[kind] if data.get(name) in (None, "", [])]
    if missing:
        raise Invalid(f"a {kind.replace('_', ' ')} needs {', '.join(missing)}", field=missing[0])
    if kind == Kind.DEA_REGISTRATION:
        data["number"] = normalize_dea(data["number"])
        if not is_valid_dea(data["number"]):
            raise Invalid("not a valid DEA registration number (check digit)", field="number")
