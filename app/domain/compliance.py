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
score = round(100 * sum(weight * share) / sum(weights of the items that apply)).
An organization's score is the mean of its providers' scores (none when it has no
providers); its training completion rate is the share of providers with training.

`evaluate` applies the formula to one provider's facts, item by item; `scores` and
`score_sums` state the same formula in SQL, for the reports that need thousands of
providers' scores only as sums (tests/test_compliance_scores.py holds them to the same
numbers).
"""

from __future__ import annotations

import datetime as dt
import typing
import uuid
from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import (
    CTE,
    ColumnElement,
    Date,
    Float,
    FromClause,
    Integer,
    Select,
    SQLColumnExpression,
    Subquery,
    Values,
    and_,
    case,
    cast,
    column,
    func,
    literal,
    or_,
    select,
    true,
    type_coerce,
    values,
)
from sqlalchemy.dialects.postgresql import ARRAY, distinct_on
from sqlalchemy.orm import InstrumentedAttribute, Session

from app.domain import credentials, queries
from app.models import Credential, Document, ProviderFacility, User
from app.models.enums import AssignmentStatus, DocumentType, NpiVerification
from app.models.enums import CredentialType as Kind
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


@dataclass(frozen=True)
class ProviderFacts:
    """What compliance and the onboarding checklist are computed from."""

    user: User
    credentials: list[Credential]
    has_training: bool
    active_facility_ids: frozenset[uuid.UUID]


@dataclass(frozen=True)
class ItemState:
    item: str
    weight: int
    share: float
    state: str  # missing, rejected, expired, unverified, verified, pending, not_applicable
    expiry_date: dt.date | None = None
    days_left: int | None = None
    expiring_within: int | None = None


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
# provider ids never matches).
_DOCUMENT_OWNER = typing.cast("InstrumentedAttribute[uuid.UUID]", Document.user_id)


def load_facts(
    session: Session, user_ids: list[uuid.UUID], today: dt.date
) -> dict[uuid.UUID, ProviderFacts]:
    """Facts for many providers in four queries (what the caller may see of them)."""
    if not user_ids:
        return {}
    users = session.scalars(select(User).where(queries.one_of(User.id, user_ids))).all()
    by_user: dict[uuid.UUID, list[Credential]] = defaultdict(list)
    for credential in session.scalars(
        select(Credential)
        .where(queries.one_of(Credential.user_id, user_ids))
        .order_by(Credential.id)
    ):
        by_user[credential.user_id].append(credential)
    trained = set(
        session.scalars(
            select(Document.user_id).where(
                queries.one_of(_DOCUMENT_OWNER, user_ids),
                _training_valid_on(today),
            )
        )
    )
    active: dict[uuid.UUID, set[uuid.UUID]] = defaultdict(set)
    for user_id, facility_id in session.execute(
        select(ProviderFacility.user_id, ProviderFacility.facility_id).where(
            queries.one_of(ProviderFacility.user_id, user_ids),
            ProviderFacility.status == AssignmentStatus.ACTIVE,
        )
    ):
        active[user_id].add(facility_id)
    return {
        u.id: ProviderFacts(u, by_user[u.id], u.id in trained, frozenset(active[u.id]))
        for u in users
    }


def _training_valid_on(day: dt.date) -> ColumnElement[bool]:
    return and_(
        Document.document_type == DocumentType.TRAINING_CERTIFICATE,
        # a certificate past its expiry no longer counts
        or_(Document.expiry_date.is_(None), Document.expiry_date >= day),
    )


def best_credential(facts: ProviderFacts, kind: str) -> Credential | None:
    """The credential of a kind that counts: a non-rejected one expiring last. No date is
    needed to choose it: on any day that one of them is unexpired, so is that one."""
    candidates = [c for c in facts.credentials if c.credential_type == kind]
    if not candidates:
        return None
    usable = [c for c in candidates if c.verification_status != Verification.REJECTED]
    pool = usable or candidates
    return max(pool, key=lambda c: (c.expiry_date or dt.date.max, c.created_at))


def _best_credentials(user_ids: list[uuid.UUID]) -> CTE:
    """(user_id, credential_type, verification_status, expiry_date) of the credential of
    each required kind that counts, as `best_credential` chooses it: non-rejected first,
    then the latest expiry (none: never expires), then the latest created, then the first
    by id (the order `load_facts` lists them in, where `max` keeps the first of equals)."""
    return (
        select(
            Credential.user_id,
            Credential.credential_type,
            Credential.verification_status,
            Credential.expiry_date,
        )
        .ext(distinct_on(Credential.user_id, Credential.credential_type))
        .where(
            queries.one_of(Credential.user_id, user_ids),
            Credential.credential_type.in_(CREDENTIAL_KINDS),
        )
        .order_by(
            Credential.user_id,
            Credential.credential_type,
            Credential.verification_status == Verification.REJECTED,
            Credential.expiry_date.desc().nulls_first(),
            Credential.created_at.desc(),
            Credential.id,
        )
        .cte("best_credentials")
    )


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
    """The share `_credential_item` gives a credential on `day` (0 when missing, `status`
    NULL): its state as `credentials.status_at` reads it, then that state's share."""
    return case(
        (status == Verification.REJECTED, CREDENTIAL_SHARES.get(Verification.REJECTED, 0.0)),
        (expiry < day, CREDENTIAL_SHARES.get(Verification.EXPIRED, 0.0)),
        (
            and_(status == Verification.VERIFIED, expiry - day <= EXPIRING_WINDOW),
            literal(EXPIRING_SHARE, Float),
        ),
        else_=_share(CREDENTIAL_SHARES, status),
    )


def _provider_facts(user_ids: list[uuid.UUID], training_day: dt.date) -> Subquery:
    """What each provider's score is computed from, one row per provider (of those the
    caller may see): dea_applies, npi_share, training_share (as on `training_day`), and
    the status and expiry of the credential of each kind that counts ({kind}_status,
    {kind}_expiry: NULL when missing)."""
    best = _best_credentials(user_ids)
    held = {kind: best.alias(kind) for kind in CREDENTIAL_KINDS}
    trained = (
        select(Document.user_id)
        .distinct()
        .where(queries.one_of(_DOCUMENT_OWNER, user_ids), _training_valid_on(training_day))
        .subquery("trained")
    )
    query = select(
        User.id.label("user_id"),
        (~User.dea_not_applicable).label("dea_applies"),
        case(
            (func.coalesce(User.npi, "") == "", literal(0.0, Float)),
            else_=_share(NPI_SHARES, User.npi_verification),
        ).label("npi_share"),
        case((trained.c.user_id.is_(None), literal(0.0, Float)), else_=literal(1.0, Float)).label(
            "training_share"
        ),
        *(
            label
            for kind, alias in held.items()
            for label in (
                alias.c.verification_status.label(f"{kind}_status"),
                alias.c.expiry_date.label(f"{kind}_expiry"),
            )
        ),
    ).where(queries.one_of(User.id, user_ids))
    for kind, alias in held.items():
        query = query.outerjoin(
            alias, and_(alias.c.user_id == User.id, alias.c.credential_type == kind)
        )
    return query.outerjoin(trained, trained.c.user_id == User.id).subquery("facts")


def _score(facts: FromClause, day: ColumnElement[dt.date]) -> ColumnElement[int]:
    """`evaluate(...).score` on `day`, from the columns `_provider_facts` names, in the
    same floating-point arithmetic: the same integers."""

    def weighted(kind: str) -> ColumnElement[float]:
        status, expiry = facts.c[f"{kind}_status"], facts.c[f"{kind}_expiry"]
        return literal(WEIGHTS[kind], Float) * _credential_share(status, expiry, day)

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


def _days(days: list[dt.date]) -> Values:
    return values(column("day", Date), name="days").data([(d,) for d in days])


def scores(user_ids: list[uuid.UUID], days: list[dt.date], training_day: dt.date) -> CTE:
    """(user_id, day, score): each provider's score (as `evaluate` gives it) on each of
    `days`, with training as on `training_day`."""
    facts = _provider_facts(user_ids, training_day)
    day = _days(days)
    return (
        select(facts.c.user_id, day.c.day, _score(facts, day.c.day).label("score"))
        .select_from(facts)
        .join(day, true())
        .cte("scores")
    )


def score_sums(
    user_ids: list[uuid.UUID], days: list[dt.date], training_day: dt.date
) -> Select[dt.date, int, int]:
    """(day, total, count): the sum and number of the providers' scores on each of `days`,
    as `scores` gives them, with each score computed once for all the providers whose
    facts score alike on every one of the days.

    A credential's share changes on a day only by whether its expiry falls before the day
    or within the next EXPIRING_WINDOW days: expiry dates that fall between the same two
    of those boundaries score alike on every day, so the earliest of them stands for all."""
    facts = _provider_facts(user_ids, training_day)
    boundaries = sorted({b for d in days for b in (d, d + dt.timedelta(days=EXPIRING_WINDOW + 1))})
    between = literal(boundaries, ARRAY(Date))
    alike = [
        facts.c.dea_applies,
        facts.c.npi_share,
        facts.c.training_share,
        *(facts.c[f"{kind}_status"] for kind in CREDENTIAL_KINDS),
    ]
    groups = (
        select(
            func.count().label("providers"),
            *alike,
            *(
                func.min(facts.c[f"{kind}_expiry"]).label(f"{kind}_expiry")
                for kind in CREDENTIAL_KINDS
            ),
        )
        .group_by(
            *alike,
            *(func.width_bucket(facts.c[f"{kind}_expiry"], between) for kind in CREDENTIAL_KINDS),
        )
        .subquery("groups")
    )
    day = _days(days)
    return (
        select(
            day.c.day,
            func.sum(_score(groups, day.c.day) * groups.c.providers).label("total"),
            func.sum(groups.c.providers).label("count"),
        )
        .select_from(groups)
        .join(day, true())
        .group_by(day.c.day)
    )


def mean_score(total: int, count: int) -> int | None:
    """The rounded mean of `count` scores adding up to `total`: round(mean(scores)), since
    an int divided by an int is the correctly rounded quotient, as that mean is."""
    return round(total / count) if count else None


def _credential_item(facts: ProviderFacts, kind: str, today: dt.date) -> ItemState:
    weight = WEIGHTS[kind]
    credential = best_credential(facts, kind)
    if credential is None:
        return ItemState(kind, weight, 0.0, "missing")
    state = credentials.status_at(credential, today)
    window = credentials.expiring_within(credential, today)
    share = CREDENTIAL_SHARES.get(state, 0.0)
    if state == Verification.VERIFIED and window == EXPIRING_WINDOW:
        share = EXPIRING_SHARE
    return ItemState(
        kind,
        weight,
        share,
        state,
        credential.expiry_date,
        credentials.days_left(credential, today),
        window,
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


@dataclass(frozen=True)
class OrganizationCompliance:
    organization_id: uuid.UUID
    score: int | None
    training_completion_rate: float | None
    providers: list[ProviderCompliance]


def organization_compliance(
    session: Session,
    organization_id: uuid.UUID,
    today: dt.date,
    *,
    expiring_within_days: int | None = None,
    missing_item: str | None = None,
    facility_id: uuid.UUID | None = None,
) -> OrganizationCompliance:
    """Every provider of the organization, riskiest first, with the organization's score
    and training rate (over all its providers, before the filters)."""
    facts = load_facts(session, queries.provider_ids(session, [organization_id]), today)
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
    return OrganizationCompliance(
        organization_id,
        round(sum(scores) / len(scores)) if scores else None,
        round(sum(trained) / len(trained), 4) if trained else None,
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
    session: Session, organization_id: uuid.UUID, today: dt.date, within_days: int
) -> list[Expiration]:
    """Credentials of the organization's providers and the organization's own documents
    that expire within `within_days` (or already have), soonest first."""
    horizon = today + dt.timedelta(days=within_days)
    provider_ids = queries.provider_ids(session, [organization_id])
    rows: list[Expiration] = []
    for credential, name in session.execute(
        select(Credential, User.name)
        .join(User, User.id == Credential.user_id)
        .where(Credential.user_id.in_(provider_ids), Credential.expiry_date <= horizon)
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
    for document in session.scalars(
        select(Document).where(
            Document.organization_id == organization_id, Document.expiry_date <= horizon
        )
    ):
        assert document.expiry_date is not None
        rows.append(
            Expiration(
                document.document_type,
                organization_id,
                "organization",
                document.id,
                document.expiry_date,
                (document.expiry_date - today).days,
            )
        )
    return sorted(rows, key=lambda e: (e.expiry_date, e.kind, e.record_id))
