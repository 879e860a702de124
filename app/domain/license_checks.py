"""License cross-check: each medical license a provider enters, against the NPPES
registry's record of the provider's NPI.

The registry lists, for an individual NPI, one entry per taxonomy with a license number
and its state (`taxonomies[].license`, `.state`). A check reads the registry's answer
from the cache the NPI verification keeps (npi_registry_answers, app/domain/npi.py),
never the network: it runs inside requests and jobs that already hold that answer, or
waits for one. Outcomes (app/models/license_check.py):

- match: an entry lists the license's number in the license's state;
- number_not_listed: no entry lists the number, in any state;
- state_not_listed: an entry lists the number, but none in the license's state;
- pending: nothing to check against yet: the provider has no NPI, their NPI is not
  verified (an answer about it could be another person's), or the cache holds no answer
  about it. Checked again when the NPI is verified (`recheck_user`, called by
  npi.verify_user_npi, whose retry_pending walks the pending ones).

A mismatch is a review item (`review_status` open) an organization admin accepts with a
reason (the registry is out of date, say) or settles by rejecting the credential
through the credentials' own verification flow; a match is kept as evidence with the
answer's date (`registry_fetched_at`). Nothing passes silently.

Numbers are compared normalised (`license_key`): upper case, everything but letters and
digits dropped (spaces, dashes, dots, slashes), and the leading zeros of each run of
digits dropped ("MD-00123" and "md 123" are one number). Letters are kept: a prefix
("MD", "DO", "RN") tells licenses of one board apart, and a difference the rule cannot
explain is for a person to look at, not to be guessed away.

When: a license credential is added, or its number or state changes (always a new
check: the number checked changed); the provider's NPI verification stores a verdict
(a new check only where the answer read, the NPI or the outcome differs from the
organization's last check, so confirming a verified NPI adds nothing). Each new check of
a credential supersedes the organization's open items about it.

Tenancy: the verdict is computed once per credential and recorded for each
organization the provider works for (credentials.owner_organization_ids), so that each
reads and decides its own, as the exclusion screenings are. The checks are written in
the service's context, anonymously: the change that started them may be made in
another organization (its admin verifying the provider's NPI), which must not show in
this organization's trail.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Select, select, update
from sqlalchemy.orm import Session

from app.domain import credentials
from app.domain.errors import Conflict, NotFound
from app.models import Credential, LicenseCheck, NpiRegistryAnswer, User
from app.models.enums import CredentialType, NpiVerification
from app.models.license_check import MISMATCHES
from app.tenancy.context import TenantContext, in_scope, system_context
from app.tenancy.read_only import ensure_writable

MATCH = "match"
NUMBER_NOT_LISTED = "number_not_listed"
STATE_NOT_LISTED = "state_not_listed"
PENDING = "pending"

OPEN = "open"
REJECTED = "rejected"
SUPERSEDED = "superseded"

# A taxonomy entry's fields kept as evidence, as the registry names them.
_EVIDENCE_FIELDS = ("code", "desc", "license", "state", "primary")
_LEADING_ZEROS = re.compile(r"(?<![0-9])0+(?=[0-9])")


@dataclass(frozen=True)
class Verdict:
    """A license against the registry, before it is recorded for anyone."""

    npi: str | None
    outcome: str
    detail: str | None = None
    registry_fetched_at: dt.datetime | None = None
    registry_licenses: list[dict[str, Any]] = field(default_factory=list)


def license_key(number: str) -> str:
    """A license number as compared (the module docstring's rule)."""
    kept = re.sub(r"[^A-Z0-9]", "", number.upper())
    return _LEADING_ZEROS.sub("", kept)


def registry_licenses(answer: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The taxonomy entries of a registry result, reduced to what the check reads and
    keeps (an answer of another shape lists none)."""
    taxonomies = answer.get("taxonomies")
    if not isinstance(taxonomies, list):
        return []
    return [
        {name: entry.get(name) for name in _EVIDENCE_FIELDS}
        for entry in taxonomies
        if isinstance(entry, Mapping)
    ]


def judge(
    number: str,
    state: str,
    npi: str | None,
    npi_verification: str,
    answer: tuple[Mapping[str, Any], dt.datetime] | None,
) -> Verdict:
    """The outcome for a license (`number`, `state`) of a provider with `npi` and its
    verification, against the cached registry `answer` about it (result, fetched_at)."""
    if npi is None:
        return Verdict(None, PENDING, "the provider has no NPI")
    if npi_verification != NpiVerification.VERIFIED:
        return Verdict(npi, PENDING, f"the provider's NPI is not verified ({npi_verification})")
    if answer is None or not answer[0]:
        return Verdict(npi, PENDING, "the registry has not answered about the NPI yet")
    result, fetched_at = answer
    listed = registry_licenses(result)
    key = license_key(number)
    same_number = [
        entry
        for entry in listed
        if isinstance(entry["license"], str) and key and license_key(entry["license"]) == key
    ]
    if any(str(entry["state"]).upper() == state.upper() for entry in same_number):
        return Verdict(npi, MATCH, None, fetched_at, listed)
    if same_number:
        states = ", ".join(sorted({str(entry["state"]) for entry in same_number}))
        detail = f"the registry lists the number in {states}, not in {state}"
        return Verdict(npi, STATE_NOT_LISTED, detail, fetched_at, listed)
    return Verdict(
        npi, NUMBER_NOT_LISTED, "the registry lists no license with this number", fetched_at, listed
    )


def _verdict(session: Session, credential: Credential) -> Verdict:
    """Read the owner's NPI and the cached answer about it (as the service: a worker's
    context, or an admin of a parent organization, may not see the owner's row)."""
    owner = session.execute(
        select(User.npi, User.npi_verification).where(User.id == credential.user_id)
    ).one()
    answer = None
    if owner.npi is not None:
        row = session.execute(
            select(NpiRegistryAnswer.answer, NpiRegistryAnswer.fetched_at).where(
                NpiRegistryAnswer.npi == owner.npi
            )
        ).one_or_none()
        answer = None if row is None else (row.answer, row.fetched_at)
    assert credential.number is not None and credential.state is not None  # a license's
    return judge(credential.number, credential.state, owner.npi, owner.npi_verification, answer)


def check_credential(
    session: Session, credential: Credential, *, only_news: bool = False
) -> list[LicenseCheck]:
    """Check a medical license and record the verdict for each organization of its
    owner; any other credential is not checked. With `only_news`, an organization whose
    last check of the credential read the same answer about the same NPI to the same
    outcome gets no new one. Returns the checks recorded. A license without its number
    or its state is not checked until it has both: there is nothing to look for in the
    registry (the compliance score already counts it incomplete)."""
    if (
        credential.credential_type != CredentialType.MEDICAL_LICENSE
        or not credential.number
        or not credential.state
    ):
        return []
    session.flush()  # the caller's changes, in the caller's own context
    with system_context(session, anonymous=True):
        verdict = _verdict(session, credential)
        organizations = sorted(credential.owner_organization_ids)
        if only_news:
            last = _last_checks(session, credential.id)
            organizations = [
                organization_id
                for organization_id in organizations
                if organization_id not in last
                or (
                    last[organization_id].npi,
                    last[organization_id].outcome,
                    last[organization_id].registry_fetched_at,
                )
                != (verdict.npi, verdict.outcome, verdict.registry_fetched_at)
            ]
        if not organizations:
            return []
        session.execute(
            update(LicenseCheck)
            .where(
                LicenseCheck.organization_id.in_(organizations),
                LicenseCheck.credential_id == credential.id,
                LicenseCheck.review_status == OPEN,
            )
            .values(review_status=SUPERSEDED)
            .execution_options(synchronize_session=False)
        )
        checks = [
            LicenseCheck(
                organization_id=organization_id,
                credential_id=credential.id,
                user_id=credential.user_id,
                npi=verdict.npi,
                state=credential.state,
                outcome=verdict.outcome,
                detail=verdict.detail,
                registry_fetched_at=verdict.registry_fetched_at,
                registry_licenses=verdict.registry_licenses,
                review_status=OPEN if verdict.outcome in MISMATCHES else None,
            )
            for organization_id in organizations
        ]
        session.add_all(checks)
        session.flush()
    return checks


def _last_checks(session: Session, credential_id: uuid.UUID) -> dict[uuid.UUID, LicenseCheck]:
    """Each organization's newest check of the credential."""
    rows = session.scalars(
        select(LicenseCheck)
        .where(LicenseCheck.credential_id == credential_id)
        .order_by(LicenseCheck.checked_at)
    )
    return {row.organization_id: row for row in rows}  # the newest of each wins


def recheck_user(session: Session, user_id: uuid.UUID) -> list[LicenseCheck]:
    """Check the user's medical licenses again, after their NPI verification stored a
    verdict (a new answer, or a verification gained or lost); only news is recorded."""
    with system_context(session, anonymous=True):
        licenses = list(
            session.scalars(
                select(Credential)
                .where(
                    Credential.user_id == user_id,
                    Credential.credential_type == CredentialType.MEDICAL_LICENSE.value,
                )
                .order_by(Credential.id)
            )
        )
    return [check for c in licenses for check in check_credential(session, c, only_news=True)]


# --- reading and deciding ----------------------------------------------------------------


def queue(organization_id: uuid.UUID, review_status: str) -> Select[LicenseCheck]:
    """The organization's checks in a review status (the queue: `open`), oldest first."""
    return (
        select(LicenseCheck)
        .where(
            LicenseCheck.organization_id == organization_id,
            LicenseCheck.review_status == review_status,
        )
        .order_by(LicenseCheck.checked_at, LicenseCheck.id)
    )


def checks_of(context: TenantContext, credential_id: uuid.UUID) -> Select[LicenseCheck]:
    """A credential's checks for the organizations the request acts for, newest first."""
    return (
        select(LicenseCheck)
        .where(
            LicenseCheck.credential_id == credential_id,
            in_scope(LicenseCheck.organization_id, context),
        )
        .order_by(LicenseCheck.checked_at.desc(), LicenseCheck.organization_id)
    )


def get_check(session: Session, context: TenantContext, check_id: uuid.UUID) -> LicenseCheck:
    check = session.scalars(
        select(LicenseCheck).where(
            LicenseCheck.id == check_id, in_scope(LicenseCheck.organization_id, context)
        )
    ).first()
    if check is None:
        raise NotFound("license check not found")
    return check


def decide(
    session: Session,
    context: TenantContext,
    check: LicenseCheck,
    decision: str,
    reason: str,
    now: dt.datetime,
) -> LicenseCheck:
    """Settle an open mismatch: `accepted` (the license stands though the registry does
    not show it), or `rejected` (the credential is rejected, with `reason`, through the
    credentials' verification flow, as the organization's decision)."""
    if check.review_status != OPEN:
        raise Conflict(
            f"only an open review item is decided; this one is {check.review_status or 'none'}",
            field="decision",
        )
    ensure_writable(context, check.organization_id)
    if decision == REJECTED:
        credential = session.get(Credential, check.credential_id)
        if credential is None:
            raise NotFound("credential not found")
        credentials.reject(session, context, credential, reason, now)
    check.review_status = decision
    check.decided_at = now
    check.decided_by_id = context.user_id
    check.decision_reason = reason
    session.flush()
    return check
