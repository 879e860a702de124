"""Compliance: how complete and current each provider's required items are, as a score.

Score formula (0-100). Required items and their weights:
  medical license 30, malpractice insurance 25, DEA registration 15 (left out entirely
  when the provider marked DEA not applicable), NPI verified 15, training 15.
Each item earns a share of its weight:
  1.0  verified (credentials: verified and not expiring within 30 days; NPI: the
       registry confirmed it; training: a training certificate on file)
  0.75 verified but expiring within 30 days
  0.5  on file but unverified (credentials), or an NPI awaiting the registry
  0    missing, rejected, expired, or an NPI the registry does not confirm
Licenses and DEA registrations are per state: the states required of a provider are
those of the facilities of their assignments in force, in the organizations in scope
(on one provider's page, those the reader may see). For each required state the
credential that counts is that state's best (non-rejected first, then the latest
expiry), and the item earns the share of the weakest state: a state without one earns
nothing, and is named in `missing_states`. A provider assigned nowhere yet is scored on
their best credential of the kind, any state.
score = round(100 * sum(weight * share) / sum(weights of the items that apply)),
except that a provider excluded (an exclusion match in status `excluded`, app/domain/
exclusion_reviews.py) in one of the organizations in scope scores 0, from the day (UTC)
the match became `excluded`; on one provider's page, in the organizations whose review
queue the reader may read. A match later cleared or reinstated counts on no day.
An organization's score is the mean of its providers' scores (none when it has no
providers); its training completion rate is the share of providers with training.
Every figure is as things stood at the end of a day (UTC): the credentials added by
then with their verification outcome then, training then, assignments in force then.

`evaluate` applies the formula to one provider's facts (`load_facts`), item by item: the
one statement of it. Reports that need thousands of providers' scores on many days
(`score_runs`, `score_sums`) read each provider's facts once for all the days and
evaluate them once per run of days over which none of them changes.
"""

from __future__ import annotations

import datetime as dt
import typing
import uuid
from bisect import bisect_left, bisect_right
from collections import defaultdict
from dataclasses import dataclass, field
from itertools import accumulate
from statistics import mean

from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from app.domain import credentials, exclusion_reviews, queries
from app.models import (
    Credential,
    Document,
    Facility,
    Membership,
    Organization,
    ProviderFacility,
    User,
)
from app.models.enums import CredentialType as Kind
from app.models.enums import DocumentType, NpiVerification, Role
from app.models.enums import VerificationStatus as Verification

WEIGHTS: dict[str, int] = {
    Kind.MEDICAL_LICENSE: 30,
    Kind.MALPRACTICE_INSURANCE: 25,
    Kind.DEA_REGISTRATION: 15,
    "npi": 15,
    "training": 15,
}

CREDENTIAL_SHARES: dict[str, float] = {Verification.VERIFIED: 1.0, Verification.UNVERIFIED: 0.5}
NPI_SHARES: dict[str, float] = {
    NpiVerification.VERIFIED: 1.0,
    NpiVerification.PENDING: 0.5,
    NpiVerification.UNVERIFIED: 0.5,
}
# A verified credential in the first reminder window (credentials.EXPIRY_WINDOWS) earns less.
EXPIRING_WINDOW = credentials.EXPIRY_WINDOWS[0]
EXPIRING_SHARE = 0.75
CREDENTIAL_KINDS = (Kind.MEDICAL_LICENSE, Kind.MALPRACTICE_INSURANCE, Kind.DEA_REGISTRATION)
# Issued by a state, and required in each state where the provider works.
PER_STATE_KINDS = (Kind.MEDICAL_LICENSE, Kind.DEA_REGISTRATION)


@dataclass(frozen=True)
class HeldCredential:
    """A credential as it stood at the end of a day: its outcome then, replayed from its
    history (credentials.outcome_on)."""

    id: uuid.UUID
    credential_type: str
    state: str | None
    verification_status: str
    expiry_date: dt.date | None
    created_at: dt.datetime

    @classmethod
    def on(cls, credential: _StoredCredential, day: dt.date) -> HeldCredential:
        outcome = credentials.outcome_on(credential, day)
        assert outcome is not None, "a credential added after the day"
        return cls(
            credential.id,
            credential.credential_type,
            credential.state,
            outcome,
            credential.expiry_date,
            credential.created_at,
        )


@dataclass(frozen=True)
class ProviderFacts:
    """What compliance and the onboarding checklist are computed from, as they stood at
    the end of a day."""

    user: User
    credentials: list[HeldCredential]
    has_training: bool
    active_facility_ids: frozenset[uuid.UUID]
    # The states of those facilities: where the provider must hold a license and a DEA
    # registration.
    required_states: frozenset[str] = frozenset()
    # Excluded (exclusion_reviews.excluded_since) in an organization in scope that day.
    excluded: bool = False


@dataclass(frozen=True)
class ItemState:
    item: str
    weight: int
    share: float
    state: str  # missing, rejected, expired, unverified, verified, pending, not_applicable
    expiry_date: dt.date | None = None
    days_left: int | None = None
    expiring_within: int | None = None
    # Per-state kinds: the states required, and those without an unexpired,
    # non-rejected credential of the kind.
    required_states: tuple[str, ...] = ()
    missing_states: tuple[str, ...] = ()


@dataclass(frozen=True)
class ProviderCompliance:
    user_id: uuid.UUID
    name: str
    score: int
    items: list[ItemState] = field(default_factory=list)
    excluded: bool = False

    def items_in(self, *states: str) -> list[str]:
        return [i.item for i in self.items if i.state in states]

    @property
    def missing(self) -> list[str]:
        return self.items_in("missing")

    @property
    def expired(self) -> list[str]:
        return self.items_in("expired")

    @property
    def unverified(self) -> list[str]:
        return self.items_in("unverified", "pending", "rejected")

    @property
    def expiring(self) -> list[str]:
        return [i.item for i in self.items if i.expiring_within is not None]


# The owner of a provider's document (NULL only on an organization's, which `one_of` of
# provider ids never matches), and of an organization's (NULL on a provider's).
_DOCUMENT_OWNER = typing.cast("InstrumentedAttribute[uuid.UUID]", Document.user_id)
_ORGANIZATION_OWNER = typing.cast("InstrumentedAttribute[uuid.UUID]", Document.organization_id)


class _StoredCredential(typing.NamedTuple):
    """What compliance reads of a credential, whatever the day (credentials.Recorded)."""

    id: uuid.UUID
    credential_type: str
    state: str | None
    expiry_date: dt.date | None
    created_at: dt.datetime
    verification_history: list[dict[str, str]]


class _Assignment(typing.NamedTuple):
    facility_id: uuid.UUID
    state: str  # the facility's
    start_date: dt.date
    end_date: dt.date | None


class _Certificate(typing.NamedTuple):
    """A training certificate."""

    created_at: dt.datetime
    expiry_date: dt.date | None


def _utc_day(moment: dt.datetime) -> dt.date:
    """The day (UTC) at whose end a change made at `moment` is in the facts."""
    return moment.astimezone(dt.UTC).date()


@dataclass(frozen=True)
class _Record:
    """One provider's facts over a run of days, read once: `facts_on` any of those days."""

    user: User
    credentials: list[_StoredCredential]  # by id: `_best` keeps the first of equals
    certificates: list[_Certificate]
    assignments: list[_Assignment]
    # The first day on which the provider stands excluded, if they do.
    excluded_from: dt.date | None = None

    def facts_on(self, day: dt.date) -> ProviderFacts:
        """The facts as they stood at the end of `day`: the credentials added by then with
        their outcome then, a training certificate on file by then and valid that day,
        the assignments in force (queries.active_on)."""
        end = credentials.day_end(day)
        active = [a for a in self.assignments if queries.in_force_on(a.start_date, a.end_date, day)]
        return ProviderFacts(
            self.user,
            [HeldCredential.on(c, day) for c in self.credentials if c.created_at < end],
            any(
                c.created_at < end and (c.expiry_date is None or c.expiry_date >= day)
                for c in self.certificates
            ),
            frozenset(a.facility_id for a in active),
            frozenset(a.state for a in active),
            self.excluded_from is not None and self.excluded_from <= day,
        )

    def change_days(self) -> list[dt.date]:
        """The days from which something `evaluate` reads may differ from the day before
        (in order): a credential or certificate added, an outcome changed, an assignment
        starting or ending, a credential entering its last EXPIRING_WINDOW days or
        expiring, a certificate expiring, the exclusion beginning. Between two of them
        every day gets the same score."""
        days: set[dt.date] = set()
        if self.excluded_from is not None:
            days.add(self.excluded_from)
        for credential in self.credentials:
            days.add(_utc_day(credential.created_at))
            days.update(_utc_day(when) for when, _ in credentials.changes_of(credential))
            if credential.expiry_date is not None:
                days.add(credential.expiry_date - dt.timedelta(days=EXPIRING_WINDOW))
                days.add(credential.expiry_date + dt.timedelta(days=1))
        for certificate in self.certificates:
            days.add(_utc_day(certificate.created_at))
            if certificate.expiry_date is not None:
                days.add(certificate.expiry_date + dt.timedelta(days=1))
        for assignment in self.assignments:
            days.add(assignment.start_date)
            if assignment.end_date is not None:
                days.add(assignment.end_date)
        return sorted(days)


def _records(
    session: Session,
    user_ids: list[uuid.UUID],
    first: dt.date,
    last: dt.date,
    scope: list[uuid.UUID] | None,
) -> dict[uuid.UUID, _Record]:
    """What the facts of the providers on the days from `first` through `last` are made
    of, in five queries (what the caller may see of it): the credentials added by the end
    of `last`, the training certificates added by then and valid on a day of the run,
    the assignments in force on one of its days and the exclusions, in the organizations
    of `scope` (None: wherever the caller sees them)."""
    if not user_ids:
        return {}
    end = credentials.day_end(last)
    users = session.scalars(select(User).where(queries.one_of(User.id, user_ids))).all()
    held: dict[uuid.UUID, list[_StoredCredential]] = defaultdict(list)
    for row in session.execute(
        select(
            Credential.user_id,
            Credential.id,
            Credential.credential_type,
            Credential.state,
            Credential.expiry_date,
            Credential.created_at,
            Credential.verification_history,
        )
        .where(queries.one_of(Credential.user_id, user_ids), Credential.created_at < end)
        .order_by(Credential.id)
    ):
        held[row[0]].append(_StoredCredential._make(row[1:]))
    certificates: dict[uuid.UUID, list[_Certificate]] = defaultdict(list)
    for user_id, *certificate in session.execute(
        select(_DOCUMENT_OWNER, Document.created_at, Document.expiry_date).where(
            queries.one_of(_DOCUMENT_OWNER, user_ids),
            Document.document_type == DocumentType.TRAINING_CERTIFICATE,
            Document.created_at < end,
            or_(Document.expiry_date.is_(None), Document.expiry_date >= first),
        )
    ):
        certificates[user_id].append(_Certificate._make(certificate))
    assignments: dict[uuid.UUID, list[_Assignment]] = defaultdict(list)
    for user_id, *assignment in session.execute(
        select(
            ProviderFacility.user_id,
            ProviderFacility.facility_id,
            Facility.state,
            ProviderFacility.start_date,
            ProviderFacility.end_date,
        )
        .join(Facility, _assignment_facility())
        .where(
            queries.one_of(ProviderFacility.user_id, user_ids),
            queries.active_between(first, last),
            # An IN list of the organizations, on both tables: a Citus cluster then sends
            # the statement to the node holding them alone.
            *(
                []
                if scope is None
                else [
                    ProviderFacility.organization_id.in_(scope),
                    Facility.organization_id.in_(scope),
                ]
            ),
        )
    ):
        assignments[user_id].append(_Assignment._make(assignment))
    excluded = exclusion_reviews.excluded_since(session, user_ids, scope)
    return {
        u.id: _Record(u, held[u.id], certificates[u.id], assignments[u.id], excluded.get(u.id))
        for u in users
    }


def load_facts(
    session: Session,
    user_ids: list[uuid.UUID],
    day: dt.date,
    scope: list[uuid.UUID] | None = None,
) -> dict[uuid.UUID, ProviderFacts]:
    """Facts for many providers as they stood at the end of `day`, in five queries (what
    the caller may see of them), assignments in the organizations of `scope` (None:
    wherever the caller sees them)."""
    return {
        user_id: record.facts_on(day)
        for user_id, record in _records(session, user_ids, day, day, scope).items()
    }


def score_runs(
    session: Session, user_ids: list[uuid.UUID], days: list[dt.date], scope: list[uuid.UUID]
) -> dict[uuid.UUID, list[tuple[int, int]]]:
    """Each provider's score on each of `days` (in order, earliest first), as `evaluate`
    of `load_facts` over `scope` on that day gives it, in runs: (index in `days` of the
    run's first day, the score of every day up to the next run's first). The facts are
    read in the same five queries whatever the number of days, and evaluated once per
    run of days between two change days: a daily report over years costs about what a
    monthly one does."""
    assert days == sorted(days), "days in order"
    if not days:
        return {}
    result: dict[uuid.UUID, list[tuple[int, int]]] = {}
    for user_id, record in _records(session, user_ids, days[0], days[-1], scope).items():
        # Where the days asked about cross a change day.
        starts = {0, *(bisect_left(days, change) for change in record.change_days())}
        result[user_id] = [
            (index, evaluate(record.facts_on(days[index]), days[index]).score)
            for index in sorted(starts - {len(days)})
        ]
    return result


def score_sums(
    session: Session, organization_ids: list[uuid.UUID], days: list[dt.date]
) -> dict[dt.date, tuple[int, int]]:
    """(total, count) on each of `days` (in order): the sum and number of the scores
    (`score_runs`) of the organizations' provider members who had joined one of them by
    the day's end; `mean_score` of the two is the organizations' score that day."""
    joined: dict[uuid.UUID, dt.datetime] = {}
    for user_id, created_at in session.execute(
        select(Membership.user_id, Membership.created_at).where(
            Membership.organization_id.in_(organization_ids), Membership.role == Role.PROVIDER
        )
    ):
        joined[user_id] = min(created_at, joined.get(user_id, created_at))
    ends = [credentials.day_end(day) for day in days]
    # What each run adds from its first day and takes away after its last.
    totals = [0] * (len(days) + 1)
    counts = [0] * (len(days) + 1)
    for user_id, runs in score_runs(session, list(joined), days, organization_ids).items():
        member_from = bisect_right(ends, joined[user_id])
        counts[member_from] += 1
        stops = [start for start, _ in runs[1:]] + [len(days)]
        for (start, score), stop in zip(runs, stops, strict=True):
            if (start := max(start, member_from)) < stop:
                totals[start] += score
                totals[stop] -= score
    return {
        day: (total, count)
        for day, total, count in zip(days, accumulate(totals), accumulate(counts), strict=False)
    }


def _assignment_facility() -> ColumnElement[bool]:
    # By the whole key (fk_provider_facilities_facility): on a Citus cluster both tables
    # lie by organization, and the join stays on one node.
    return and_(
        Facility.organization_id == ProviderFacility.organization_id,
        Facility.id == ProviderFacility.facility_id,
    )


def _best(candidates: list[HeldCredential]) -> HeldCredential | None:
    """Of credentials that could count, the one that does: a non-rejected one expiring
    last, then the latest added, then the first by id."""
    if not candidates:
        return None
    usable = [c for c in candidates if c.verification_status != Verification.REJECTED]
    pool = usable or candidates
    return max(pool, key=lambda c: (c.expiry_date or dt.date.max, c.created_at))


def counting_credentials(
    facts: ProviderFacts, kind: str
) -> dict[str | None, HeldCredential | None]:
    """The credential of a kind that counts in each state required of the provider
    (None where they hold none there), or, for a kind not held per state or a provider
    assigned nowhere, the one that counts whatever its state (under the key None)."""
    of_kind = [c for c in facts.credentials if c.credential_type == kind]
    if kind in PER_STATE_KINDS and facts.required_states:
        return {
            state: _best([c for c in of_kind if c.state == state])
            for state in sorted(facts.required_states)
        }
    return {None: _best(of_kind)}


def mean_score(total: int, count: int) -> int | None:
    """The rounded mean of `count` scores adding up to `total`: round(mean(scores)), since
    an int divided by an int is the correctly rounded quotient, as that mean is."""
    return round(total / count) if count else None


def _earned_by(credential: HeldCredential, today: dt.date) -> float:
    state = credentials.status_at(credential, today)
    if (
        state == Verification.VERIFIED
        and credentials.expiring_within(credential, today) == EXPIRING_WINDOW
    ):
        return EXPIRING_SHARE
    return CREDENTIAL_SHARES.get(state, 0.0)


def _credential_item(facts: ProviderFacts, kind: str, today: dt.date) -> ItemState:
    """The item as its weakest state's credential earns it (the soonest to expire of
    equals), with the states required and those missing."""
    weight = WEIGHTS[kind]
    counting = counting_credentials(facts, kind)
    required = tuple(state for state in counting if state is not None)
    missing = tuple(
        state
        for state, credential in counting.items()
        if state is not None
        and (
            credential is None
            or credentials.status_at(credential, today)
            in (Verification.REJECTED, Verification.EXPIRED)
        )
    )
    if any(credential is None for credential in counting.values()):
        return ItemState(
            kind, weight, 0.0, "missing", required_states=required, missing_states=missing
        )
    weakest = min(
        (typing.cast(HeldCredential, c) for c in counting.values()),
        key=lambda c: (_earned_by(c, today), c.expiry_date or dt.date.max, c.state or ""),
    )
    return ItemState(
        kind,
        weight,
        _earned_by(weakest, today),
        credentials.status_at(weakest, today),
        weakest.expiry_date,
        credentials.days_left(weakest, today),
        credentials.expiring_within(weakest, today),
        required,
        missing,
    )


def _npi_item(user: User) -> ItemState:
    if not user.npi:
        return ItemState("npi", WEIGHTS["npi"], 0.0, "missing")
    state = user.npi_verification
    return ItemState("npi", WEIGHTS["npi"], NPI_SHARES.get(state, 0.0), state)


def evaluate(facts: ProviderFacts, today: dt.date) -> ProviderCompliance:
    items = [
        _credential_item(facts, Kind.MEDICAL_LICENSE, today),
        _credential_item(facts, Kind.MALPRACTICE_INSURANCE, today),
    ]
    if facts.user.dea_not_applicable:
        items.append(ItemState(Kind.DEA_REGISTRATION, 0, 0.0, "not_applicable"))
    else:
        items.append(_credential_item(facts, Kind.DEA_REGISTRATION, today))
    items.append(_npi_item(facts.user))
    items.append(
        ItemState(
            "training",
            WEIGHTS["training"],
            1.0 if facts.has_training else 0.0,
            "verified" if facts.has_training else "missing",
        )
    )
    if facts.excluded:
        # Nothing the provider holds makes up for an exclusion.
        return ProviderCompliance(facts.user.id, facts.user.name, 0, items, excluded=True)
    total = sum(i.weight for i in items)
    earned = sum(i.weight * i.share for i in items)
    return ProviderCompliance(facts.user.id, facts.user.name, round(100 * earned / total), items)


# An organization's required documents, what its onboarding asks for (the tax and
# banking steps), and their weights. A document earns 1.0 on file and not expiring
# within EXPIRING_WINDOW days, EXPIRING_SHARE when it is, and nothing when missing or
# expired (the day after its expiry date); the latest-expiring of a type counts.
# Documents have no review step, so no share for an unverified one.
DOCUMENT_WEIGHTS: dict[str, int] = {DocumentType.TAX_FORM: 50, DocumentType.BANKING_LETTER: 50}


@dataclass(frozen=True)
class DocumentCompliance:
    """An organization's own documents, scored like a provider's credentials."""

    organization_id: uuid.UUID
    name: str
    score: int
    items: list[ItemState]


def _document_item(kind: str, held: list[Document], today: dt.date) -> ItemState:
    weight = DOCUMENT_WEIGHTS[kind]
    if not held:
        return ItemState(kind, weight, 0.0, "missing")
    document = max(held, key=lambda d: (d.expiry_date or dt.date.max, d.created_at, d.id))
    left = credentials.days_left(document, today)
    window = credentials.expiring_within(document, today)
    if left is not None and left < 0:
        return ItemState(kind, weight, 0.0, Verification.EXPIRED, document.expiry_date, left)
    share = EXPIRING_SHARE if window == EXPIRING_WINDOW else 1.0
    return ItemState(kind, weight, share, "on_file", document.expiry_date, left, window)


def document_compliance(
    session: Session, organization_ids: list[uuid.UUID], today: dt.date
) -> list[DocumentCompliance]:
    """Each organization's document score (0-100, the DOCUMENT_WEIGHTS formula), by name,
    in one query."""
    names: dict[uuid.UUID, str] = {}
    held: dict[tuple[uuid.UUID, str], list[Document]] = defaultdict(list)
    for organization_id, name, document in session.execute(
        select(Organization.id, Organization.name, Document)
        .outerjoin(
            Document,
            and_(
                Document.organization_id == Organization.id,
                Document.document_type.in_(DOCUMENT_WEIGHTS),
            ),
        )
        .where(queries.one_of(Organization.id, organization_ids))
    ):
        names[organization_id] = name
        if document is not None:
            held[organization_id, document.document_type].append(document)
    results = []
    for organization_id, name in names.items():
        items = [
            _document_item(kind, held[organization_id, kind], today) for kind in DOCUMENT_WEIGHTS
        ]
        earned = sum(i.weight * i.share for i in items)
        total = sum(i.weight for i in items)
        results.append(
            DocumentCompliance(organization_id, name, round(100 * earned / total), items)
        )
    return sorted(results, key=lambda d: (d.name, d.organization_id))


def mean_document_score(documents: list[DocumentCompliance]) -> int | None:
    """The organizations' document scores, as one figure: their rounded mean."""
    return round(mean(d.score for d in documents)) if documents else None


@dataclass(frozen=True)
class OrganizationCompliance:
    organization_id: uuid.UUID
    # The organizations the figures cover (queries.scope_ids).
    organization_ids: list[uuid.UUID]
    score: int | None
    training_completion_rate: float | None
    document_score: int | None
    documents: list[DocumentCompliance]
    providers: list[ProviderCompliance]


def organization_compliance(
    session: Session,
    organization_id: uuid.UUID,
    scope: list[uuid.UUID],
    today: dt.date,
    *,
    expiring_within_days: int | None = None,
    missing_item: str | None = None,
    facility_id: uuid.UUID | None = None,
) -> OrganizationCompliance:
    """Every provider of the organizations in `scope`, riskiest first, with their score
    and training rate (over all those providers, before the filters), and the
    organizations' document scores."""
    facts = load_facts(session, queries.provider_ids(session, scope), today, scope)
    evaluated = [(evaluate(f, today), f) for f in facts.values()]
    scores = [c.score for c, _ in evaluated]
    trained = [f.has_training for _, f in evaluated]

    def keep(result: ProviderCompliance, fact: ProviderFacts) -> bool:
        if facility_id is not None and facility_id not in fact.active_facility_ids:
            return False
        if missing_item is not None and missing_item not in result.missing:
            return False
        if expiring_within_days is not None:
            return any(
                i.days_left is not None and 0 <= i.days_left <= expiring_within_days
                for i in result.items
            )
        return True

    kept = sorted(
        (c for c, f in evaluated if keep(c, f)), key=lambda c: (c.score, c.name, c.user_id)
    )
    documents = document_compliance(session, scope, today)
    return OrganizationCompliance(
        organization_id,
        scope,
        round(sum(scores) / len(scores)) if scores else None,
        round(sum(trained) / len(trained), 4) if trained else None,
        mean_document_score(documents),
        documents,
        kept,
    )


@dataclass(frozen=True)
class Expiration:
    kind: str  # a credential type or a document type
    owner_id: uuid.UUID
    owner_name: str
    record_id: uuid.UUID
    expiry_date: dt.date
    days_left: int


def expirations(
    session: Session, scope: list[uuid.UUID], today: dt.date, within_days: int
) -> list[Expiration]:
    """Credentials of the providers of the organizations in `scope` and those
    organizations' own documents that expire within `within_days` (or already have),
    soonest first."""
    horizon = today + dt.timedelta(days=within_days)
    provider_ids = queries.provider_ids(session, scope)
    rows: list[Expiration] = []
    for credential, name in session.execute(
        select(Credential, User.name)
        .join(User, User.id == Credential.user_id)
        .where(queries.one_of(Credential.user_id, provider_ids), Credential.expiry_date <= horizon)
    ):
        assert credential.expiry_date is not None
        rows.append(
            Expiration(
                credential.credential_type,
                credential.user_id,
                name,
                credential.id,
                credential.expiry_date,
                (credential.expiry_date - today).days,
            )
        )
    for document, name in session.execute(
        select(Document, Organization.name)
        .join(Organization, Organization.id == Document.organization_id)
        .where(queries.one_of(_ORGANIZATION_OWNER, scope), Document.expiry_date <= horizon)
    ):
        assert document.expiry_date is not None and document.organization_id is not None
        rows.append(
            Expiration(
                document.document_type,
                document.organization_id,
                name,
                document.id,
                document.expiry_date,
                (document.expiry_date - today).days,
            )
        )
    return sorted(rows, key=lambda e: (e.expiry_date, e.kind, e.record_id))
