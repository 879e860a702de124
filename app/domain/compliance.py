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
score = round(100 * sum(weight * share) / sum(weights of the items that apply)).
An organization's score is the mean of its providers' scores (none when it has no
providers); its training completion rate is the share of providers with training.
Every figure is as things stood at the end of a day (UTC): the credentials added by
then with their verification outcome then, training then, assignments in force then.

`evaluate` applies the formula to one provider's facts (`load_facts`), item by item;
`scores` and `score_sums` state the same in SQL, for the reports that need thousands of
providers' scores on many days (tests/test_compliance_scores.py holds them to the same
numbers).
"""

from __future__ import annotations

import datetime as dt
import typing
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from statistics import mean

from sqlalchemy import (
    CTE,
    ColumnElement,
    Date,
    Float,
    FromClause,
    Integer,
    Label,
    Select,
    SQLColumnExpression,
    String,
    Subquery,
    Values,
    and_,
    case,
    cast,
    column,
    false,
    func,
    literal,
    or_,
    select,
    true,
    type_coerce,
    values,
)
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.orm import InstrumentedAttribute, Session

from app.domain import credentials, queries
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
    def on(cls, credential: Credential, day: dt.date) -> HeldCredential:
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


def load_facts(
    session: Session,
    user_ids: list[uuid.UUID],
    day: dt.date,
    scope: list[uuid.UUID] | None = None,
) -> dict[uuid.UUID, ProviderFacts]:
    """Facts for many providers as they stood at the end of `day`, in four queries (what
    the caller may see of them): the credentials added by then with their outcome then,
    training certificates on file and valid that day, and the assignments in force, in
    the organizations of `scope` (None: wherever the caller sees them)."""
    if not user_ids:
        return {}
    end = credentials.day_end(day)
    users = session.scalars(select(User).where(queries.one_of(User.id, user_ids))).all()
    by_user: dict[uuid.UUID, list[HeldCredential]] = defaultdict(list)
    for credential in session.scalars(
        select(Credential)
        .where(queries.one_of(Credential.user_id, user_ids), Credential.created_at < end)
        .order_by(Credential.id)
    ):
        by_user[credential.user_id].append(HeldCredential.on(credential, day))
    trained = set(
        session.scalars(
            select(Document.user_id).where(
                queries.one_of(_DOCUMENT_OWNER, user_ids), _training_valid_on(day, end)
            )
        )
    )
    active: dict[uuid.UUID, set[uuid.UUID]] = defaultdict(set)
    states: dict[uuid.UUID, set[str]] = defaultdict(set)
    for user_id, facility_id, state in session.execute(
        select(ProviderFacility.user_id, ProviderFacility.facility_id, Facility.state)
        .join(Facility, _assignment_facility())
        .where(
            queries.one_of(ProviderFacility.user_id, user_ids),
            queries.active_on(day),
            *([] if scope is None else [ProviderFacility.organization_id.in_(scope)]),
        )
    ):
        active[user_id].add(facility_id)
        states[user_id].add(state)
    return {
        u.id: ProviderFacts(
            u, by_user[u.id], u.id in trained, frozenset(active[u.id]), frozenset(states[u.id])
        )
        for u in users
    }


def _assignment_facility() -> ColumnElement[bool]:
    # By the whole key (fk_provider_facilities_facility): on a Citus cluster both tables
    # lie by organization, and the join stays on one node.
    return and_(
        Facility.organization_id == ProviderFacility.organization_id,
        Facility.id == ProviderFacility.facility_id,
    )


def _training_valid_on(
    day: dt.date | ColumnElement[dt.date], end: dt.datetime | ColumnElement[dt.datetime]
) -> ColumnElement[bool]:
    """A training certificate on file by `end` (the end of `day`) and valid on `day`."""
    return and_(
        Document.document_type == DocumentType.TRAINING_CERTIFICATE,
        Document.created_at < end,
        # a certificate past its expiry no longer counts
        or_(Document.expiry_date.is_(None), Document.expiry_date >= day),
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


# --- the same in SQL, for many providers on many days --------------------------------


def _days(days: list[dt.date]) -> Values:
    return values(column("day", Date), name="days").data([(d,) for d in days])


def _pairs(
    user_ids: list[uuid.UUID], days: list[dt.date], members_of: list[uuid.UUID] | None
) -> CTE:
    """(user_id, day): each provider on each day, or, given organizations, on each day
    by whose end they were a provider member of one of them."""
    day = _days(days)
    if members_of is None:
        return (
            select(User.id.label("user_id"), day.c.day)
            .join(day, true())
            .where(queries.one_of(User.id, user_ids))
            .cte("pairs")
        )
    return (
        select(Membership.user_id, day.c.day)
        .distinct()
        .join(day, Membership.created_at < credentials.day_end_of(day.c.day))
        .where(
            queries.one_of(Membership.user_id, user_ids),
            queries.one_of(Membership.organization_id, members_of),
            Membership.role == Role.PROVIDER,
        )
        .cte("pairs")
    )


def _counting_credentials(user_ids: list[uuid.UUID], pairs: CTE, scope: list[uuid.UUID]) -> CTE:
    """(user_id, day, kind, gap, verified, verified_expiry, unverified,
    unverified_expiry): for each provider, day and required kind, what the credentials
    `counting_credentials` counts that day (one per state required then, or one whatever
    the state) come to. `gap`: a state holds none, or only a rejected one.
    `verified`/`unverified`: some counting credential has that outcome; `*_expiry`: the
    earliest expiry among them (NULL: none expires).

    An item earns the share of its weakest counting credential, and a credential's share
    falls as its expiry nears: of credentials of one outcome the earliest expiring is the
    weakest on every day, so these columns give the item's share."""
    required = (
        select(pairs.c.user_id, pairs.c.day, Facility.state)
        .distinct()
        .select_from(pairs)
        .join(ProviderFacility, ProviderFacility.user_id == pairs.c.user_id)
        .join(Facility, _assignment_facility())
        .where(
            # An IN list of the organizations, on both tables: a Citus cluster then
            # sends the statement to the node holding them alone.
            ProviderFacility.organization_id.in_(scope),
            Facility.organization_id.in_(scope),
            queries.one_of(ProviderFacility.user_id, user_ids),
            queries.active_on(pairs.c.day),
        )
        .cte("required_states")
    )
    kinds = values(column("kind", String), name="kinds").data([(k,) for k in CREDENTIAL_KINDS])
    # A row per credential that will count: per required state, or '' for one whatever
    # the state.
    slots = (
        select(
            pairs.c.user_id,
            pairs.c.day,
            kinds.c.kind,
            func.coalesce(required.c.state, "").label("slot"),
        )
        .select_from(pairs)
        .join(kinds, true())
        .outerjoin(
            required,
            and_(
                required.c.user_id == pairs.c.user_id,
                required.c.day == pairs.c.day,
                kinds.c.kind.in_(PER_STATE_KINDS),
            ),
        )
        .cte("slots")
    )
    end = credentials.day_end_of(slots.c.day)
    candidates = (
        select(
            slots.c.user_id,
            slots.c.day,
            slots.c.kind,
            slots.c.slot,
            Credential.id,
            Credential.created_at,
            Credential.expiry_date,
            credentials.outcome_at(end).label("verification_status"),
        )
        .select_from(slots)
        .join(
            Credential,
            and_(
                Credential.user_id == slots.c.user_id,
                Credential.credential_type == slots.c.kind,
                or_(slots.c.slot == "", Credential.state == slots.c.slot),
                Credential.created_at < end,
            ),
        )
        .where(queries.one_of(Credential.user_id, user_ids))
        .subquery("candidates")
    )
    # Each slot's credential as `_best` chooses it: non-rejected first, then the latest
    # expiry (none: never expires), then the latest added, then the first by id (the
    # order `load_facts` lists them in, where `max` keeps the first of equals).
    best = (
        select(candidates)
        .ext(
            distinct_on(
                candidates.c.user_id, candidates.c.day, candidates.c.kind, candidates.c.slot
            )
        )
        .order_by(
            candidates.c.user_id,
            candidates.c.day,
            candidates.c.kind,
            candidates.c.slot,
            candidates.c.verification_status == Verification.REJECTED,
            candidates.c.expiry_date.desc().nulls_first(),
            candidates.c.created_at.desc(),
            candidates.c.id,
        )
        .cte("best_credentials")
    )
    status = best.c.verification_status

    def held(verification: Verification) -> tuple[Label[bool], Label[dt.date]]:
        return (
            func.coalesce(func.bool_or(status == verification), false()).label(verification),
            func.min(best.c.expiry_date)
            .filter(status == verification)
            .label(f"{verification}_expiry"),
        )

    return (
        select(
            slots.c.user_id,
            slots.c.day,
            slots.c.kind,
            func.bool_or(or_(status.is_(None), status == Verification.REJECTED)).label("gap"),
            *held(Verification.VERIFIED),
            *held(Verification.UNVERIFIED),
        )
        .select_from(slots)
        .outerjoin(
            best,
            and_(
                best.c.user_id == slots.c.user_id,
                best.c.day == slots.c.day,
                best.c.kind == slots.c.kind,
                best.c.slot == slots.c.slot,
            ),
        )
        .group_by(slots.c.user_id, slots.c.day, slots.c.kind)
        .cte("credential_facts")
    )


# The columns `_counting_credentials` gives a kind, as `_provider_facts` names them
# ({kind}_{fact}).
_KIND_FACTS = ("gap", "verified", "verified_expiry", "unverified", "unverified_expiry")


def _share(choices: dict[str, float], value: SQLColumnExpression[str]) -> ColumnElement[float]:
    """`choices.get(value, 0.0)`, as a simple CASE (`value` evaluated once)."""
    return case(
        {key: literal(share, Float) for key, share in choices.items()},
        value=value,
        else_=literal(0.0, Float),
    )


def _credential_share(
    status: ColumnElement[str], expiry: ColumnElement[dt.date], day: ColumnElement[dt.date]
) -> ColumnElement[float]:
    """The share `_earned_by` gives a credential on `day`: its state as
    `credentials.status_at` reads it, then that state's share."""
    return case(
        (status == Verification.REJECTED, CREDENTIAL_SHARES.get(Verification.REJECTED, 0.0)),
        (expiry < day, CREDENTIAL_SHARES.get(Verification.EXPIRED, 0.0)),
        (
            and_(status == Verification.VERIFIED, expiry - day <= EXPIRING_WINDOW),
            literal(EXPIRING_SHARE, Float),
        ),
        else_=_share(CREDENTIAL_SHARES, status),
    )


def _kind_share(facts: FromClause, kind: str) -> ColumnElement[float]:
    """The share `_credential_item` gives the kind on the row's day: nothing with a gap,
    else the lesser of what its weakest verified and weakest unverified credentials
    earn."""

    def weakest(verification: Verification) -> ColumnElement[float]:
        return case(
            (
                facts.c[f"{kind}_{verification}"],
                _credential_share(
                    literal(verification.value),
                    facts.c[f"{kind}_{verification}_expiry"],
                    facts.c.day,
                ),
            ),
            else_=literal(1.0, Float),
        )

    return case(
        (facts.c[f"{kind}_gap"], literal(0.0, Float)),
        else_=func.least(weakest(Verification.VERIFIED), weakest(Verification.UNVERIFIED)),
    )


def _provider_facts(user_ids: list[uuid.UUID], pairs: CTE, scope: list[uuid.UUID]) -> Subquery:
    """What each provider's score on each day is computed from, one row per pair of
    `pairs` (of the providers the caller may see): dea_applies, npi_share,
    training_share, and for each required kind what its counting credentials come to
    ({kind}_{fact} for each of `_KIND_FACTS`)."""
    counting = _counting_credentials(user_ids, pairs, scope)
    held = {kind: counting.alias(kind) for kind in CREDENTIAL_KINDS}
    trained = (
        select(pairs.c.user_id, pairs.c.day)
        .distinct()
        .select_from(pairs)
        .join(Document, pairs.c.user_id == _DOCUMENT_OWNER)
        .where(
            queries.one_of(_DOCUMENT_OWNER, user_ids),
            _training_valid_on(pairs.c.day, credentials.day_end_of(pairs.c.day)),
        )
        .subquery("trained")
    )
    query = (
        select(
            pairs.c.user_id,
            pairs.c.day,
            (~User.dea_not_applicable).label("dea_applies"),
            case(
                (func.coalesce(User.npi, "") == "", literal(0.0, Float)),
                else_=_share(NPI_SHARES, User.npi_verification),
            ).label("npi_share"),
            case(
                (trained.c.user_id.is_(None), literal(0.0, Float)), else_=literal(1.0, Float)
            ).label("training_share"),
            *(
                alias.c[fact].label(f"{kind}_{fact}")
                for kind, alias in held.items()
                for fact in _KIND_FACTS
            ),
        )
        .select_from(pairs)
        .join(User, User.id == pairs.c.user_id)
        .where(queries.one_of(User.id, user_ids))
    )
    for kind, alias in held.items():
        query = query.join(
            alias,
            and_(
                alias.c.user_id == pairs.c.user_id,
                alias.c.day == pairs.c.day,
                alias.c.kind == kind,
            ),
        )
    return query.outerjoin(
        trained, and_(trained.c.user_id == pairs.c.user_id, trained.c.day == pairs.c.day)
    ).subquery("facts")


def _score(facts: FromClause) -> ColumnElement[int]:
    """`evaluate(...).score` on the row's day, from the columns `_provider_facts` names,
    in the same floating-point arithmetic: the same integers."""

    def weighted(kind: str) -> ColumnElement[float]:
        return literal(WEIGHTS[kind], Float) * _kind_share(facts, kind)

    dea_applies = facts.c.dea_applies
    earned = (
        weighted(Kind.MEDICAL_LICENSE)
        + weighted(Kind.MALPRACTICE_INSURANCE)
        + case((dea_applies, weighted(Kind.DEA_REGISTRATION)), else_=literal(0.0, Float))
        + literal(WEIGHTS["npi"], Float) * facts.c.npi_share
        + literal(WEIGHTS["training"], Float) * facts.c.training_share
    )
    total = sum(WEIGHTS.values()) - case((dea_applies, 0), else_=WEIGHTS[Kind.DEA_REGISTRATION])
    # round() of a double rounds half to even (rint), as Python's round() does; the tests
    # hold the two to the same integers on ties.
    return cast(func.round(type_coerce(100 * earned / total, Float)), Integer)


def scores(user_ids: list[uuid.UUID], days: list[dt.date], scope: list[uuid.UUID]) -> CTE:
    """(user_id, day, score): each provider's score on each of `days`, as `evaluate` of
    `load_facts` over `scope` on that day gives it."""
    facts = _provider_facts(user_ids, _pairs(user_ids, days, None), scope)
    return select(facts.c.user_id, facts.c.day, _score(facts).label("score")).cte("scores")


def score_sums(
    user_ids: list[uuid.UUID], days: list[dt.date], scope: list[uuid.UUID]
) -> Select[dt.date, int, int]:
    """(day, total, count): the sum and number of the scores `scores` gives the provider
    members of the organizations of `scope` on each of `days`, counting those who had
    joined by its end (no row for a day without any)."""
    facts = _provider_facts(user_ids, _pairs(user_ids, days, scope), scope)
    return select(
        facts.c.day, func.sum(_score(facts)).label("total"), func.count().label("count")
    ).group_by(facts.c.day)


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
