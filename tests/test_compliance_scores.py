"""The compliance score over many days (`compliance.score_runs`, behind the analytics'
trend: facts read once, evaluated once per run of days between change days) gives every
provider, on every day, past or future, the same integer as `compliance.evaluate` of
`compliance.load_facts` on that day alone: providers with every mix of credentials
(several of a kind, rejected, expired, expiring, tied on dates, in the states where they
work, in others, in none; added before, on and after the days; verified or rejected
later, at the last instant of a day or the first of the next), NPI states, DEA
exemption, training certificates added over time, assignments starting and ending
between the days, and facilities in one or two states."""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import random
import uuid
from statistics import mean

from flask.testing import FlaskClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from app import clock
from app.domain import compliance, members
from app.models import Credential, Document, Membership, User
from app.models.enums import CredentialType, DocumentType, NpiVerification, Role
from app.models.enums import VerificationStatus as Verification
from tests import factories
from tests.conftest import TwoTenants, bearer, token_for

TODAY = clock.today()
# Around every edge of a share: expiry on the day, the day after, 30 and 31 days out.
OFFSETS = (None, -40, -1, 0, 1, 29, 30, 31, 100)
DAYS = [TODAY + dt.timedelta(days=d) for d in (-45, -2, -1, 0, 1, 30, 31, 70, 101)]
PROVIDERS = 160
# The facilities' states, and the credentials': some where no facility is, and none.
FACILITY_STATES = ("IL", "IN")
CREDENTIAL_STATES = (None, "IL", "IN", "OH")


def _around(rng: random.Random) -> dt.datetime:
    """A moment long before the days, or at either edge of one of them: its first or its
    last microsecond (UTC)."""
    day = rng.choice(DAYS)
    start = dt.datetime.combine(day, dt.time(), dt.UTC)
    return rng.choice(
        [
            dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
            start,
            start + dt.timedelta(days=1) - dt.timedelta(microseconds=1),
            start + dt.timedelta(hours=12),
        ]
    )


def _credential(
    session: Session, rng: random.Random, user: User, kind: str, at: dt.datetime
) -> Credential:
    status = rng.choice([Verification.VERIFIED, Verification.UNVERIFIED, Verification.REJECTED])
    offset = rng.choice(OFFSETS)
    return Credential(
        user_id=user.id,
        owner_organization_ids=members.organizations_of(session, user.id),
        credential_type=kind,
        verification_status=status,
        verified_at=None if status == Verification.UNVERIFIED else at,
        expiry_date=None if offset is None else TODAY + dt.timedelta(days=offset),
        state=rng.choice(CREDENTIAL_STATES),
        created_at=at,
    )


def _decide_later(rng: random.Random, credential: Credential) -> None:
    """A decision after the credential was added (its history follows, in the database)."""
    moment = _around(rng)
    if moment > credential.created_at:
        credential.verification_status = rng.choice([Verification.VERIFIED, Verification.REJECTED])
        credential.verified_at = moment


def _training(session: Session, rng: random.Random, user: User) -> Document | None:
    offset = rng.choice(["none", None, -1, 0, 40])
    if offset == "none":
        return None
    return Document(
        user_id=user.id,
        owner_organization_ids=members.organizations_of(session, user.id),
        document_type=DocumentType.TRAINING_CERTIFICATE,
        filename="training.pdf",
        content_type="application/pdf",
        size_bytes=1,
        sha256=hashlib.sha256(user.id.bytes).hexdigest(),
        storage_key=f"documents/{user.id}",
        expiry_date=None if offset is None else TODAY + dt.timedelta(days=offset),
        created_at=_around(rng),
    )


def _providers(session: Session, seeded: TwoTenants) -> list[User]:
    """Providers of tenant A, each at one or two of its facilities over some span, with
    random facts."""
    rng = random.Random(20260101)
    facilities = [seeded.a.facility] + [
        factories.make_facility(session, seeded.a.organization, state=FACILITY_STATES[n % 2])
        for n in range(3)
    ]
    created = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    providers = []
    decided: list[Credential] = []
    for n in range(PROVIDERS):
        npi = rng.choice([None, *list(NpiVerification)])
        user = factories.make_user(
            session,
            npi=None if npi is None else f"1{n:09d}",
            npi_verification=npi or NpiVerification.UNVERIFIED,
            dea_not_applicable=rng.random() < 0.25,
        )
        factories.make_membership(
            session, user, seeded.a.organization, Role.PROVIDER
        ).created_at = _around(rng)
        for facility in rng.sample(facilities, rng.choice([0, 1, 2])):
            start = rng.choice([dt.date(2026, 1, 1), *DAYS])
            end = rng.choice([None, *(d for d in DAYS if d > start)])
            factories.make_assignment(
                session,
                user,
                facility,
                start_date=start,
                end_date=end,
                status="inactive" if end is not None and end <= TODAY else "active",
            )
        for kind in (*compliance.CREDENTIAL_KINDS, CredentialType.BOARD_CERTIFICATION):
            # Equal creation stamps on purpose: ties are broken by id on both sides.
            stamps = rng.choice([created, created + dt.timedelta(seconds=n), _around(rng)])
            for _ in range(rng.choice([0, 1, 1, 2, 3])):
                credential = _credential(session, rng, user, kind, stamps)
                session.add(credential)
                if rng.random() < 0.4:
                    decided.append(credential)
        document = _training(session, rng, user)
        if document is not None:
            session.add(document)
        providers.append(user)
    session.flush()
    for credential in decided:
        _decide_later(rng, credential)
    session.flush()
    return providers


def _evaluated(
    session: Session, ids: list[uuid.UUID], scope: list[uuid.UUID], days: list[dt.date]
) -> dict[tuple[uuid.UUID, dt.date], compliance.ProviderCompliance]:
    """Each provider evaluated on each day, its facts read for that day alone."""
    return {
        (user_id, day): compliance.evaluate(facts, day)
        for day in days
        for user_id, facts in compliance.load_facts(session, ids, day, scope).items()
    }


# Every day from before the first of DAYS to after the last: each edge of every run.
EVERY_DAY = [DAYS[0] + dt.timedelta(days=n) for n in range(-1, (DAYS[-1] - DAYS[0]).days + 2)]


def test_scores_over_many_days_equal_evaluate_on_each_day(
    seeded: TwoTenants, admin_engine: Engine
) -> None:
    with Session(admin_engine) as session:
        ids = [p.id for p in _providers(session, seeded)]
        scope = [seeded.a.organization.id]
        evaluated = _evaluated(session, ids, scope, EVERY_DAY)
        runs = compliance.score_runs(session, ids, EVERY_DAY, scope)
        got = {
            (user_id, day): next(score for start, score in reversed(runs[user_id]) if start <= i)
            for user_id in ids
            for i, day in enumerate(EVERY_DAY)
        }
        facts_today = compliance.load_facts(session, ids, TODAY, scope)
        session.rollback()
    assert got == {key: result.score for key, result in evaluated.items()}
    assert len(set(got.values())) > 10  # the mix reaches many different scores
    # ... providers required one state, two, or none (scored on any state's)
    assert {len(f.required_states) for f in facts_today.values()} == {0, 1, 2}
    # ... whose scores change from day to day (history replayed, not only expiry)
    assert len({tuple(got[u, d] for d in DAYS) for u in ids}) > PROVIDERS // 2
    # ... evaluated far fewer times than there are days
    assert sum(len(r) for r in runs.values()) < len(ids) * len(EVERY_DAY) // 5
    # ... and ties on both sides, which round() breaks to even: 12.5 to 12, 13.5 to 14
    unrounded = (
        100 * sum(i.weight * i.share for i in r.items) / sum(i.weight for i in r.items)
        for r in evaluated.values()
    )
    assert {math.floor(value) % 2 for value in unrounded if value % 1 == 0.5} == {0, 1}


def test_dashboard_scores_are_the_means_of_evaluate(
    client: FlaskClient, seeded: TwoTenants, admin_engine: Engine
) -> None:
    with Session(admin_engine, expire_on_commit=False) as session:
        ids = [p.id for p in _providers(session, seeded)]
        session.commit()
    assert ids
    with Session(admin_engine) as session:
        providers = select(Membership.user_id).where(
            Membership.organization_id == seeded.a.organization.id,
            Membership.role == Role.PROVIDER,
        )
        facts = compliance.load_facts(session, list(session.scalars(providers)), TODAY)
    score = {u: compliance.evaluate(f, TODAY).score for u, f in facts.items()}
    token = token_for(client, seeded.a.admin)
    body = client.get(
        f"/api/v1/admin/organizations/{seeded.a.organization.id}/dashboard", headers=bearer(token)
    ).get_json()
    assert body["overview"]["compliance_score"] == round(mean(score.values()))
    for card in body["facilities"]:
        facility_id = uuid.UUID(card["id"])
        at = [score[u] for u, f in facts.items() if facility_id in f.active_facility_ids]
        assert card["compliance_score"] == (round(mean(at)) if at else None), card


def test_the_trends_sums_are_those_of_the_members_of_each_day(
    seeded: TwoTenants, admin_engine: Engine
) -> None:
    with Session(admin_engine) as session:
        ids = [p.id for p in _providers(session, seeded)]
        scope = [seeded.a.organization.id]
        # every provider member of A, the seeded ones too: first joined when
        joined: dict[uuid.UUID, dt.datetime] = {}
        for user_id, created_at in session.execute(
            select(Membership.user_id, Membership.created_at).where(
                Membership.organization_id == seeded.a.organization.id,
                Membership.role == Role.PROVIDER,
            )
        ):
            joined[user_id] = min(created_at, joined.get(user_id, created_at))
        evaluated = _evaluated(session, list(joined), scope, DAYS)
        expected: dict[dt.date, tuple[int, int]] = {day: (0, 0) for day in DAYS}
        for (user_id, day), result in evaluated.items():
            if joined[user_id] < dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), dt.UTC):
                total, count = expected[day]
                expected[day] = (total + result.score, count + 1)
        got = compliance.score_sums(session, scope, DAYS)
        session.rollback()
    assert got == expected
    # members joined over the days: fewer on the first than on the last
    assert 0 < got[DAYS[0]][1] < got[DAYS[-1]][1] == len(joined) > PROVIDERS
    assert set(ids) <= set(joined)
