"""NPI verification: does the NPPES NPI Registry know this number, for this person or
organization?

The offline check (app.domain.reference.is_valid_npi) always runs first; the registry is
asked only about numbers that pass it, through a client given by the caller (requests
build one from the settings; a worker or a test passes its own). Answers are kept in
npi_registry_answers, shared public data written only through a function of the
database's (`remember_answer`): a found record for `cache_hours`, a "no such number" for
at most NEGATIVE_CACHE_HOURS, because a newly issued NPI takes a while to appear in the
registry and its owner should not wait a day to be verified.

Outcomes, as stored in users.npi_verification:
- verified: the registry has the number, active, of the expected type, under the name;
- mismatch: it has the number, but of the other type, not active, or under another name;
- not_found: it has no such number;
- pending: it could not be asked (down, slow, garbled answer). A request never fails for
  that; `retry_pending` (run by a worker) asks again later. An outage never downgrades a
  user who is already verified.

Name rule (individuals): both names are reduced to tokens (accents folded, upper case,
apostrophes dropped, any other non-alphanumeric a separator). The registry's first given
name and every token of its last name must all appear among the tokens of the name we
hold, in any order; everything else there (titles such as "Dr.", middle names,
credentials such as "MD", suffixes) is ignored. "Dr. Jordan Lee" and "Lee, Jordan A., MD"
match first JORDAN, last LEE; "Jordan Li" or "J. Lee" do not. Names the registry lists as
other names (former names) are accepted too.
Name rule (organizations): equal token sequences once "&" reads as AND and legal-form
words (INC, LLC, PLLC, PC, CORP, ...) and "THE" are dropped, against the organization
name or any other name the registry lists (e.g. doing-business-as names).
"""

from __future__ import annotations

import logging
import re
import unicodedata
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, type_coerce, update
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from app.domain import errors, license_checks
from app.domain.reference import is_valid_npi
from app.integrations.nppes import (
    EnumerationType,
    Found,
    LookupResult,
    NotFound,
    RegistryClient,
    RegistryRecord,
    Unavailable,
    parse_record,
)
from app.models import NpiRegistryAnswer, User
from app.models.enums import NpiVerification
from app.tenancy.context import system_context

log = logging.getLogger(__name__)

# How long "the registry knows no such number" is trusted (capped by cache_hours).
NEGATIVE_CACHE_HOURS = 1


@dataclass(frozen=True)
class NpiCheck:
    """The registry's verdict on a number for an expected holder."""

    npi: str
    outcome: NpiVerification  # verified, mismatch, not_found or pending
    # What the registry holds for the number, when it answered with a record.
    record: RegistryRecord | None = None
    # Why the outcome is not `verified`, in words for people.
    reason: str | None = None


@dataclass(frozen=True)
class UserNpiVerification:
    """A user's NPI verification after a check: what is stored, and what was seen."""

    npi: str
    npi_verification: str
    npi_verified_at: datetime | None
    check: NpiCheck

    @property
    def registry(self) -> RegistryRecord | None:
        return self.check.record


@dataclass
class RetrySummary:
    """What one `retry_pending` pass did: outcomes counted, and whether it stopped
    early because the registry was still unavailable."""

    outcomes: Counter[str] = field(default_factory=Counter)
    stopped_early: bool = False

    @property
    def checked(self) -> int:
        return sum(self.outcomes.values())


# --- the registry, through the cache ------------------------------------------------


def lookup_npi(
    session: Session,
    npi: str,
    *,
    client: RegistryClient,
    now: datetime,
    cache_hours: int,
) -> LookupResult:
    """The registry's answer for `npi`: the cached one while fresh, else a new one,
    cached when it says something about the number (never when it is unavailable)."""
    if not is_valid_npi(npi):
        return NotFound(npi)  # nothing to ask, nothing worth caching
    cached = _cached_answer(session, npi, now=now, cache_hours=cache_hours)
    if cached is not None:
        return cached
    result = client.lookup(npi)
    if isinstance(result, Found):
        remember_answer(session, npi, dict(result.record.raw), now)
    elif isinstance(result, NotFound):
        remember_answer(session, npi, {}, now)
    return result


def _cached_answer(
    session: Session, npi: str, *, now: datetime, cache_hours: int
) -> Found | NotFound | None:
    # A Core select, not session.get: the identity map could hold an older answer.
    row = session.execute(
        select(NpiRegistryAnswer.answer, NpiRegistryAnswer.fetched_at).where(
            NpiRegistryAnswer.npi == npi
        )
    ).one_or_none()
    if row is None:
        return None
    answer, fetched_at = row
    hours = cache_hours if answer else min(cache_hours, NEGATIVE_CACHE_HOURS)
    if now - fetched_at >= timedelta(hours=hours):
        return None
    if not answer:
        return NotFound(npi)
    record = parse_record(answer)
    if record is None or record.number != npi:
        # Stored by an older version, or damaged: ask the registry again.
        log.warning("ignoring an unreadable cached NPI Registry answer for %s", npi)
        return None
    return Found(record)


def remember_answer(
    session: Session, npi: str, answer: dict[str, Any], fetched_at: datetime
) -> None:
    """Keep the registry's answer about `npi` (a result, or {} for no such number), unless
    the cache holds one fetched later. Through the one function that writes the cache
    (policies/npi_registry_answers.sql): the application role may not write it itself."""
    session.execute(
        select(func.tenancy.remember_npi_answer(npi, type_coerce(answer, JSONB), fetched_at))
    )


# --- the verdict ----------------------------------------------------------------------


def check_npi(
    session: Session,
    npi: str,
    expected_kind: EnumerationType,
    expected_name: str,
    *,
    client: RegistryClient,
    now: datetime,
    cache_hours: int,
) -> NpiCheck:
    """Whether `npi` belongs to `expected_name`: NPI-1 for providers and other people,
    NPI-2 for facilities and organizations. Writes nothing but the cache."""
    result = lookup_npi(session, npi, client=client, now=now, cache_hours=cache_hours)
    if isinstance(result, Unavailable):
        return NpiCheck(npi, NpiVerification.PENDING, reason=result.reason)
    if isinstance(result, NotFound):
        return NpiCheck(npi, NpiVerification.NOT_FOUND, reason="the registry has no such NPI")
    record = result.record
    if record.enumeration_type is not expected_kind:
        return NpiCheck(
            npi,
            NpiVerification.MISMATCH,
            record,
            f"the registry lists it as {record.enumeration_type.value},"
            f" expected {expected_kind.value}",
        )
    if not record.active:
        return NpiCheck(npi, NpiVerification.MISMATCH, record, "the registry lists it as inactive")
    if not names_match(record, expected_name):
        return NpiCheck(
            npi, NpiVerification.MISMATCH, record, "the registry lists it under another name"
        )
    return NpiCheck(npi, NpiVerification.VERIFIED, record)


def name_tokens(name: str) -> list[str]:
    """Upper-case ASCII tokens: accents folded, apostrophes dropped ("O'Brien" is OBRIEN,
    as the registry writes it), every other non-alphanumeric a separator."""
    folded = unicodedata.normalize("NFKD", name)
    folded = "".join(c for c in folded if not unicodedata.combining(c)).upper()
    folded = re.sub(r"['\u2019`]", "", folded)
    return re.findall(r"[A-Z0-9]+", folded)


def person_name_matches(first_name: str | None, last_name: str, name: str) -> bool:
    """The registry's first given name and whole last name appear in `name` (a multiset
    check, so "LEE LEE" needs two LEEs)."""
    wanted = Counter(name_tokens(first_name or "")[:1] + name_tokens(last_name))
    return bool(wanted) and not wanted - Counter(name_tokens(name))


# Words that say what kind of legal entity an organization is, not which one.
_ORGANIZATION_NOISE = frozenset(
    {
        "THE",
        "INC",
        "INCORPORATED",
        "LLC",
        "PLLC",
        "LLP",
        "LP",
        "PC",
        "PA",
        "CORP",
        "CORPORATION",
        "CO",
        "COMPANY",
        "LTD",
        "LIMITED",
    }
)


def _organization_tokens(name: str) -> list[str]:
    return [t for t in name_tokens(name.replace("&", " AND ")) if t not in _ORGANIZATION_NOISE]


def organization_name_matches(registry_name: str, name: str) -> bool:
    wanted = _organization_tokens(registry_name)
    return bool(wanted) and wanted == _organization_tokens(name)


def names_match(record: RegistryRecord, name: str) -> bool:
    """The name rule of the module docstring, against every name the registry lists."""
    if record.enumeration_type is EnumerationType.ORGANIZATION:
        candidates = (record.organization_name or "", *record.other_organization_names)
        return any(organization_name_matches(c, name) for c in candidates)
    people = ((record.first_name, record.last_name or ""), *record.other_person_names)
    return any(person_name_matches(first, last, name) for first, last in people)


# --- users ----------------------------------------------------------------------------


def verify_user_npi(
    session: Session,
    user: User,
    *,
    client: RegistryClient,
    now: datetime,
    cache_hours: int,
) -> UserNpiVerification:
    """Check the user's NPI against the registry (as an individual, NPI-1) and store the
    verdict. Raises a 422 naming `npi` when the user has none.

    The verdict columns are MSC's to write (a trigger guards them), so the write runs in
    `system_context` (audited as the caller's change) and touches only those two columns
    of this one row. It applies only if the user's NPI is still the number checked: an
    NPI changed meanwhile (by another transaction) keeps its reset, unverified state.
    `npi_verified_at` is when the number was verified; a later check that confirms it
    changes nothing.
    """
    npi = user.npi
    if npi is None:
        # The request is sound; the profile is not ready for it: a conflict with its state.
        raise errors.Conflict("there is no NPI to verify: add one to the profile", field="npi")
    check = check_npi(
        session,
        npi,
        EnumerationType.INDIVIDUAL,
        user.name,
        client=client,
        now=now,
        cache_hours=cache_hours,
    )
    # A verdict already stored is not written again (no audit event, and npi_verified_at
    # keeps the moment the number was first verified); nothing says anything about an
    # NPI that is no longer the user's.
    statement = update(User).where(
        User.id == user.id,
        User.npi == npi,
        User.npi_verification != check.outcome.value,
    )
    if check.outcome is NpiVerification.PENDING:
        # An outage says nothing new: a verified user stays verified.
        statement = statement.where(User.npi_verification != NpiVerification.VERIFIED.value)
    statement = (
        statement.values(
            npi_verification=check.outcome.value,
            npi_verified_at=now if check.outcome is NpiVerification.VERIFIED else None,
        )
        .returning(User.npi_verification, User.npi_verified_at)
        .execution_options(synchronize_session=False)  # `user` is updated below
    )
    current = select(User.npi_verification, User.npi_verified_at).where(User.id == user.id)

    # Flush the caller's pending changes first, under the caller's own context: only these
    # statements about this one row may run with MSC reach. The row's state is read back
    # there too, so a worker whose own context cannot see the user still gets it.
    session.flush()
    with system_context(session):
        row = session.execute(statement).one_or_none() or session.execute(current).one_or_none()
    if row is None:  # deleted meanwhile
        raise errors.NotFound("user not found")
    verification, verified_at = row
    set_committed_value(user, "npi_verification", verification)
    set_committed_value(user, "npi_verified_at", verified_at)
    session.expire(user, ["updated_at"])  # a trigger sets it
    # The user's licenses against the answer now cached (license_checks records news only).
    license_checks.recheck_user(session, user.id)
    return UserNpiVerification(npi, verification, verified_at, check)


def retry_pending(
    session: Session,
    *,
    client: RegistryClient,
    now: datetime,
    cache_hours: int,
    batch_size: int = 100,
    commit: bool = True,
) -> RetrySummary:
    """Verify again every user left pending, for a background worker.

    Users are read in batches of `batch_size`, in id order from where the last batch
    ended (keyset pagination, so memory stays flat and no user is read twice in a pass),
    under `system_context`: pending users belong to every tenant. With `commit`, each
    batch is committed, so a pass holds no transaction across many registry calls.
    The pass stops at the first user the registry still cannot answer for: it is down,
    and asking about the others would only wait out one timeout each.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be positive")
    summary = RetrySummary()
    after: uuid.UUID | None = None
    while True:
        query = (
            select(User)
            .where(User.npi_verification == NpiVerification.PENDING.value, User.npi.is_not(None))
            .order_by(User.id)
            .limit(batch_size)
        )
        if after is not None:
            query = query.where(User.id > after)
        with system_context(session):
            batch = list(session.scalars(query))
        if not batch:
            break
        after = batch[-1].id  # read now: a commit below expires the rows
        for user in batch:
            outcome = verify_user_npi(
                session, user, client=client, now=now, cache_hours=cache_hours
            ).check.outcome
            summary.outcomes[outcome.value] += 1
            if outcome is NpiVerification.PENDING:
                summary.stopped_early = True
                break
        if commit:
            session.commit()
        if summary.stopped_early or len(batch) < batch_size:
            break
    return summary
