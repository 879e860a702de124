"""Multi-factor sign-in: a TOTP second factor (RFC 6238), one-time recovery codes, and who
must sign in with a second factor.

- Enrolling makes a new secret (160 random bits), stored encrypted (MFA_ENCRYPTION_KEY)
  and shown to the user once, as an otpauth:// URI for an authenticator app. Confirming
  it with a code from the app turns multi-factor sign-in on and makes ten recovery codes.
- A code is accepted one time step (30 s) either side of now, and only if its step is
  later than that of the last code accepted: one UPDATE checks and stores the step, so a
  code never works twice, not even for two requests at once.
- A recovery code stands in for the authenticator once. Only its SHA-256 is stored: the
  codes are random (80 bits each), so a fast hash is as safe as a slow one, and a code
  is found by its hash directly. Spending it is one conditional UPDATE.
- Every check of a second factor ends in `_prove` (a code) or `_spend_recovery_code`,
  and every refusal is a SecondFactorRefused: the one outcome the API counts toward the
  account's sign-in delay (app/auth/throttle.py).
- Who must: MSC staff (admins and representatives), always; organization admins of an
  organization that requires it of its admins (`require_admin_mfa`), or whose ancestor
  does.

The user's MFA columns are theirs alone (policies/users.sql): every change here is made
in the user's own context.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime

import pyotp
from pyotp.exceptions import OTPVerificationError
from sqlalchemy import any_, delete, func, insert, or_, select, update
from sqlalchemy.orm import Session, aliased
from sqlalchemy.orm.attributes import set_committed_value

from app.domain.errors import Conflict
from app.domain.outbox import Sealer
from app.models import Membership, MfaRecoveryCode, Organization, User
from app.models.enums import Role
from app.tenancy.context import system_context

# The name authenticator apps show beside the account's email.
ISSUER = "MSC"
# One step either side of now: an authenticator whose clock is a little off, or a code
# typed as it rolled over.
VALID_WINDOW = 1
RECOVERY_CODE_COUNT = 10
# Base32 letters and digits, 16 of them: 80 random bits, shown as four groups of four.
_RECOVERY_ALPHABET = "abcdefghijklmnopqrstuvwxyz234567"
_RECOVERY_LENGTH = 16
# The sealed value is a JSON object (Sealer's form) holding the secret under this key.
_SEALED_KEY = "totp"

# MSC admins reach every tenant, and representatives read their organizations' data:
# MSC's own staff always sign in with a second factor.
MSC_STAFF_RULE = "MSC admins and representatives sign in with a second factor"
ORGANIZATION_RULE = "this organization requires its admins to sign in with a second factor"


class SecondFactorRefused(Exception):
    """The code or recovery code does not prove the second factor: wrong, already used,
    or older than one already used. Like a wrong password, and unlike the domain's other
    refusals (app/domain/errors.py), it is answered where the request came in (401), the
    place where a failed attempt can be counted."""

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


@dataclass(frozen=True)
class Proof:
    """What a user presents as their second factor: a code from their authenticator, or
    one of their recovery codes (exactly one of the two)."""

    code: str | None = None
    recovery_code: str | None = None


@dataclass(frozen=True)
class Enrollment:
    secret: str  # base32, for typing into an authenticator by hand
    uri: str  # otpauth://, for its QR code


@dataclass(frozen=True)
class Status:
    enabled_at: datetime | None
    enrollment_pending: bool
    recovery_codes_left: int
    required_by: str | None


def is_enabled(user: User) -> bool:
    return user.mfa_enabled_at is not None


def required_for(
    session: Session, user_id: uuid.UUID, is_msc_staff: bool, organization_id: uuid.UUID | None
) -> str | None:
    """The rule by which the user must sign in with a second factor to act for
    `organization_id` (None: for no organization), or None when no rule asks it.
    `is_msc_staff`: an MSC admin or representative."""
    if is_msc_staff:
        return MSC_STAFF_RULE
    if organization_id is None:
        return None
    return _organization_rule(session, user_id, organization_id)


def required_anywhere(session: Session, user_id: uuid.UUID, is_msc_staff: bool) -> str | None:
    """The rule by which the user must keep a second factor: they need it for at least one
    organization they may sign in to (or are MSC staff)."""
    if is_msc_staff:
        return MSC_STAFF_RULE
    return _organization_rule(session, user_id, None)


def _organization_rule(
    session: Session, user_id: uuid.UUID, organization_id: uuid.UUID | None
) -> str | None:
    """ORGANIZATION_RULE when the user is an active organization admin of an organization
    (`organization_id`, or any) that requires it, itself or through an ancestor."""
    organization, ancestor = aliased(Organization), aliased(Organization)
    query = (
        select(Membership.id)
        .join(organization, organization.id == Membership.organization_id)
        .join(ancestor, ancestor.id == any_(organization.ancestor_ids))
        .where(
            Membership.user_id == user_id,
            Membership.role == Role.ORGANIZATION_ADMIN,
            Membership.is_active,
            ancestor.require_admin_mfa,
        )
    )
    if organization_id is not None:
        query = query.where(Membership.organization_id == organization_id)
    # An admin of a child organization sees none of its ancestors: the rule reads them
    # with MSC reach, and only its verdict leaves.
    with system_context(session):
        required = bool(session.scalar(select(query.exists())))
    return ORGANIZATION_RULE if required else None


def status(session: Session, user: User, required_by: str | None) -> Status:
    left = session.scalar(
        select(func.count())
        .select_from(MfaRecoveryCode)
        .where(MfaRecoveryCode.user_id == user.id, MfaRecoveryCode.used_at.is_(None))
    )
    return Status(
        enabled_at=user.mfa_enabled_at,
        enrollment_pending=not is_enabled(user) and user.mfa_secret is not None,
        recovery_codes_left=left or 0,
        required_by=required_by,
    )


def begin_enrollment(session: Session, user: User, sealer: Sealer) -> Enrollment:
    """A new secret for the user, waiting for a code to confirm it (a previous enrollment
    still waiting is replaced)."""
    if is_enabled(user):
        raise Conflict(
            "multi-factor sign-in is already on: turn it off before enrolling another authenticator"
        )
    secret = pyotp.random_base32()
    user.mfa_secret = sealer.seal({_SEALED_KEY: secret})
    session.flush()
    uri = pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=ISSUER)
    return Enrollment(secret=secret, uri=uri)


def confirm_enrollment(
    session: Session, user: User, code: str, sealer: Sealer, now: datetime
) -> list[str]:
    """Turn multi-factor sign-in on with a code of the enrolled secret; the new recovery
    codes, to show the user this once."""
    if is_enabled(user):
        raise Conflict("multi-factor sign-in is already on")
    if user.mfa_secret is None:
        raise Conflict("no enrollment to confirm: start one first")
    _prove(session, user, code, sealer, now)
    user.mfa_enabled_at = now
    return _replace_recovery_codes(session, user)


def replace_recovery_codes(
    session: Session, user: User, code: str, sealer: Sealer, now: datetime
) -> list[str]:
    """New recovery codes for a code of the user's authenticator; the old ones stop working."""
    _require_enabled(user)
    _prove(session, user, code, sealer, now)
    return _replace_recovery_codes(session, user)


def disable(
    session: Session,
    user: User,
    proof: Proof,
    sealer: Sealer,
    now: datetime,
    required_by: str | None,
) -> None:
    """Turn multi-factor sign-in off, on a fresh proof of the second factor; refused while
    a rule (`required_by`) requires it of the user."""
    _require_enabled(user)
    if required_by is not None:
        raise Conflict(f"{required_by}: multi-factor sign-in cannot be turned off")
    verify(session, user, proof, sealer, now)
    user.mfa_secret = None
    user.mfa_enabled_at = None
    user.mfa_last_step = None
    session.execute(delete(MfaRecoveryCode).where(MfaRecoveryCode.user_id == user.id))
    session.flush()


def verify(session: Session, user: User, proof: Proof, sealer: Sealer, now: datetime) -> None:
    """Check the second factor of a user who has it on: a code, or a recovery code (spent)."""
    _require_enabled(user)
    if proof.code is not None:
        _prove(session, user, proof.code, sealer, now)
    elif proof.recovery_code is not None:
        _spend_recovery_code(session, user, proof.recovery_code, now)
    else:
        raise SecondFactorRefused("a code or a recovery code is required", field="code")


def _require_enabled(user: User) -> None:
    if not is_enabled(user):
        raise Conflict("multi-factor sign-in is off")


def _prove(session: Session, user: User, code: str, sealer: Sealer, now: datetime) -> None:
    """Accept `code` for the user's secret (enrolled or waiting for confirmation), at most
    once: its time step becomes the last accepted, and no code of that step or an
    earlier one is accepted again."""
    assert user.mfa_secret is not None, "a secret to check the code against"
    totp = pyotp.TOTP(sealer.unseal(user.mfa_secret)[_SEALED_KEY])
    try:
        step = totp.verify_and_get_timecode(
            code, for_time=now.timestamp(), valid_window=VALID_WINDOW
        )
    except OTPVerificationError:
        raise SecondFactorRefused("wrong code", field="code") from None
    # Two requests with one code: the second waits on the row lock, then finds the step
    # taken.
    accepted = session.scalar(
        update(User)
        .where(User.id == user.id, or_(User.mfa_last_step.is_(None), User.mfa_last_step < step))
        .values(mfa_last_step=step)
        .returning(User.id)
        .execution_options(synchronize_session=False)
    )
    if accepted is None:
        raise SecondFactorRefused(
            "this code, or a later one, was already used: wait for the next code", field="code"
        )
    set_committed_value(user, "mfa_last_step", step)


def _spend_recovery_code(session: Session, user: User, code: str, now: datetime) -> None:
    spent = session.scalar(
        update(MfaRecoveryCode)
        .where(
            MfaRecoveryCode.user_id == user.id,
            MfaRecoveryCode.code_hash == recovery_code_hash(code),
            MfaRecoveryCode.used_at.is_(None),
        )
        .values(used_at=now)
        .returning(MfaRecoveryCode.id)
        .execution_options(synchronize_session=False)
    )
    if spent is None:
        raise SecondFactorRefused("wrong recovery code, or one already used", field="recovery_code")


def recovery_code_hash(code: str) -> str:
    """SHA-256 (hex) of a recovery code as the user may type it back: any case, with or
    without its dashes and spaces."""
    normalized = "".join(code.split()).replace("-", "").lower()
    return hashlib.sha256(normalized.encode()).hexdigest()


def _new_recovery_code() -> str:
    raw = "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(_RECOVERY_LENGTH))
    return "-".join(raw[i : i + 4] for i in range(0, _RECOVERY_LENGTH, 4))


def _replace_recovery_codes(session: Session, user: User) -> list[str]:
    session.execute(delete(MfaRecoveryCode).where(MfaRecoveryCode.user_id == user.id))
    codes = [_new_recovery_code() for _ in range(RECOVERY_CODE_COUNT)]
    session.execute(
        insert(MfaRecoveryCode),
        [{"user_id": user.id, "code_hash": recovery_code_hash(code)} for code in codes],
    )
    session.flush()
    return codes
