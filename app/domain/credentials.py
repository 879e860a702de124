"""Provider credentials: what each kind requires, verification, and expiry.

A credential is valid through its expiry date and expired from the day after. Expiry is
computed whenever asked, never stored.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, Protocol

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from app.domain import members
from app.domain.dea import is_valid_dea, normalize_dea
from app.domain.errors import Conflict, Forbidden, Invalid
from app.models import Credential
from app.models.enums import CredentialType as Kind
from app.models.enums import VerificationStatus as Verification
from app.tenancy.context import TenantContext
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


def status_at(credential: Credential, today: dt.date) -> str:
    """The verification status as of `today`: a lapsed credential reads `expired`,
    whatever its stored verification, unless it was rejected."""
    if credential.verification_status == Verification.REJECTED:
        return Verification.REJECTED
    if credential.expiry_date is not None and credential.expiry_date < today:
        return Verification.EXPIRED
    return credential.verification_status


class Expiring(Protocol):
    """A credential, or a document that must be renewed."""

    @property
    def expiry_date(self) -> dt.date | None: ...


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
    return credential


def update(session: Session, credential: Credential, changes: dict[str, Any]) -> Credential:
    """The owner's edit; the database voids an earlier verification (see policies)."""
    if "credential_type" in changes and changes["credential_type"] != credential.credential_type:
        raise Invalid("the type of a credential cannot change", field="credential_type")
    merged = {name: getattr(credential, name) for name in REQUIRED[credential.credential_type]}
    merged.update(changes)
    _check_required(credential.credential_type, merged)  # normalises in place
    for name in changes:
        setattr(credential, name, merged[name])
    session.flush()
    session.refresh(credential)
    return credential


def verify(
    session: Session, context: TenantContext, credential: Credential, now: dt.datetime
) -> Credential:
    if status_at(credential, now.date()) == Verification.EXPIRED:
        raise Conflict("an expired credential cannot be verified", field="credential_id")
    return _set_verification(session, context, credential, Verification.VERIFIED, None, now)


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
    if credential.user_id == context.user_id and not context.is_msc_admin:
        raise Forbidden("a provider cannot verify their own credential")
    ensure_writable(context, context.organization_id)
    credential.verification_status = status
    credential.rejection_reason = reason
    credential.verified_by_id = context.user_id
    credential.verified_at = now
    session.flush()
    session.refresh(credential)
    return credential


def _check_required(kind: str, data: dict[str, Any]) -> None:
    """Refuse a credential missing what its kind needs; normalise the DEA number."""
    missing = [name for name in REQUIRED[kind] if data.get(name) in (None, "", [])]
    if missing:
        raise Invalid(f"a {kind.replace('_', ' ')} needs {', '.join(missing)}", field=missing[0])
    if kind == Kind.DEA_REGISTRATION:
        data["number"] = normalize_dea(data["number"])
        if not is_valid_dea(data["number"]):
            raise Invalid("not a valid DEA registration number (check digit)", field="number")
