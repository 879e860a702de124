"""Exclusion screening (app/domain/screening.py): who matches which list entry and how,
what each screening records per organization, reinstatement, privacy between the
organizations of a shared provider, the triggers and the monthly schedule.

The list entries are written directly, in the service's context, as the import would
leave them."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import psycopg.errors
import pytest
from flask import Flask
from flask.testing import FlaskClient
from redis import Redis
from rq.cron import CronScheduler
from sqlalchemy import Engine, func, insert, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from app.config import Settings
from app.domain import screening
from app.models import (
    AuditEvent,
    Credential,
    ExclusionEntry,
    ExclusionList,
    OutboxMessage,
    User,
)
from app.models.enums import MessageKind, Role
from app.models.screening import ExclusionMatch, ProviderScreening
from app.tenancy.context import TenantContext, use_context
from tests import factories
from tests.conftest import MSC_SYSTEM, TwoTenants, bearer, token_for
from tests.test_invitations import NEW_PASSWORD, _accept, _invite, _token_for
from workers import cron, jobs

NOW = dt.datetime(2026, 12, 11, 7, 0, tzinfo=dt.UTC)
BORN = dt.date(1970, 3, 14)


def _list(
    session: Session, *, source: str = "leie", kind: str = "full", published_on: dt.date
) -> uuid.UUID:
    return session.execute(
        insert(ExclusionList)
        .values(
            source=source,
            kind=kind,
            published_on=published_on,
            sha256=uuid.uuid4().hex * 2,
            entry_count=0,
        )
        .returning(ExclusionList.id)
    ).scalar_one()


def _entry(session: Session, list_id: uuid.UUID, **fields: Any) -> uuid.UUID:
    """An entry as the import writes it: name_key by the database's own rule."""
    first, last = fields.get("first_name"), fields.get("last_name")
    key = session.scalar(
        select(func.tenancy.name_key(f"{first} {last}")) if first and last else select(None)
    )
    values = {
        "source": "leie",
        "entry_key": uuid.uuid4().hex,
        "list_id": list_id,
        "name_key": key,
        "exclusion_type": "1128a1",
        "excluded_on": dt.date(2019, 5, 20),
        **fields,
    }
    return session.execute(
        insert(ExclusionEntry).values(**values).returning(ExclusionEntry.id)
    ).scalar_one()


@pytest.fixture
def leie(db: Session, tenants: TwoTenants) -> uuid.UUID:
    """The LEIE full file of 2026-11-10, empty until a test adds entries."""
    use_context(db, MSC_SYSTEM)
    return _list(db, published_on=dt.date(2026, 11, 10))


def _provider(
    db: Session,
    tenants: TwoTenants,
    name: str,
    *,
    born: dt.date | None = None,
    npi: str | None = None,
) -> User:
    """A provider of tenant A alone, assigned to its facility (in TX)."""
    use_context(db, MSC_SYSTEM)
    user = factories.make_user(db, name=name, date_of_birth=born, npi=npi)
    factories.make_membership(db, user, tenants.a.organization, Role.PROVIDER)
    factories.make_assignment(db, user, tenants.a.facility)
    return user


def _screen(db: Session, **kwargs: Any) -> screening.ScreeningSummary:
    use_context(db, MSC_SYSTEM)
    return screening.screen(db, reason=kwargs.pop("reason", "monthly"), now=NOW, **kwargs)


def _matches(db: Session, user: User) -> list[ExclusionMatch]:
    use_context(db, MSC_SYSTEM)
    return list(
        db.scalars(
            select(ExclusionMatch)
            .where(ExclusionMatch.user_id == user.id)
            .order_by(ExclusionMatch.organization_id)
        )
    )


def _screenings(db: Session, user: User) -> list[ProviderScreening]:
    use_context(db, MSC_SYSTEM)
    return list(
        db.scalars(
            select(ProviderScreening)
            .where(ProviderScreening.user_id == user.id)
            .order_by(ProviderScreening.organization_id, ProviderScreening.screened_at)
        )
    )


# --- matching -------------------------------------------------------------------------


def test_an_npi_on_the_list_is_an_exclusion_at_once(
    db: Session, tenants: TwoTenants, leie: uuid.UUID
) -> None:
    provider = tenants.shared_provider
    # Another name altogether: the NPI is enough.
    entry = _entry(db, leie, first_name="ROBIN", last_name="QUILL", npi=provider.npi, state="NY")

    summary = _screen(db, user_ids=[provider.id])

    assert (summary.providers, summary.rows, summary.excluded, summary.new_matches) == (1, 2, 2, 2)
    # each organization's one admin is told, through the outbox, in the same transaction
    assert summary.notices == 2
    notices = db.execute(
        select(OutboxMessage.organization_id, OutboxMessage.recipient_email).where(
            OutboxMessage.kind == MessageKind.EXCLUSION_NOTICE
        )
    ).all()
    assert sorted(map(tuple, notices)) == sorted(
        [
            (tenants.a.organization.id, tenants.a.admin.email),
            (tenants.b.organization.id, tenants.b.admin.email),
        ]
    )
    matches = _matches(db, provider)
    assert {m.organization_id for m in matches} == {
        tenants.a.organization.id,
        tenants.b.organization.id,
    }
    for match in matches:
        assert (match.entry_id, match.match_kind, match.status) == (entry, "npi", "excluded")
        assert match.decided_by_id is None
        assert match.decided_at == NOW
        assert match.decision_reason == "NPI listed on LEIE 2026-11-10"
    for row in _screenings(db, provider):
        assert (row.outcome, row.reason, row.list_ids, row.screened_at) == (
            "excluded",
            "monthly",
            [leie],
            NOW,
        )
        [evidence] = row.matches
        assert evidence["entry_id"] == str(entry)
        assert (evidence["match_kind"], evidence["status"], evidence["npi"]) == (
            "npi",
            "excluded",
            provider.npi,
        )
        assert (evidence["last_name"], evidence["exclusion_type"], evidence["excluded_on"]) == (
            "QUILL",
            "1128a1",
            "2019-05-20",
        )


def test_name_and_date_of_birth_make_a_candidate(
    db: Session, tenants: TwoTenants, leie: uuid.UUID
) -> None:
    provider = _provider(db, tenants, "Dr. Mary Ann Smith-Jones, MD", born=BORN)
    # In another state than the provider's: the dates of birth decide, not the state.
    entry = _entry(
        db,
        leie,
        first_name="MARY ANN",
        last_name="SMITH-JONES",
        date_of_birth=BORN,
        state="FL",
    )

    summary = _screen(db)

    [match] = _matches(db, provider)
    assert (match.entry_id, match.match_kind, match.status) == (
        entry,
        "name_and_date_of_birth",
        "candidate",
    )
    assert (match.decided_at, match.decision_reason) == (None, None)
    [row] = _screenings(db, provider)
    assert row.outcome == "candidate"
    assert row.matches[0]["date_of_birth"] == "1970-03-14"
    assert summary.candidates == 1


def test_name_and_state_make_a_candidate_when_a_date_of_birth_is_unknown(
    db: Session, tenants: TwoTenants, leie: uuid.UUID
) -> None:
    # The provider's date of birth unknown; the facility of their assignment is in TX.
    at_facility = _provider(db, tenants, "Lee Park")
    by_facility = _entry(db, leie, first_name="LEE", last_name="PARK", state="TX")
    # The entry's date of birth unknown; the provider holds a license of Ohio.
    licensed = _provider(db, tenants, "Ana Ruiz", born=BORN)
    db.add(
        Credential(
            user_id=licensed.id,
            owner_organization_ids=[tenants.a.organization.id],
            credential_type="medical_license",
            number="OH-123",
            state="OH",
        )
    )
    by_license = _entry(db, leie, first_name="ANA", last_name="RUIZ", state="OH")

    _screen(db)

    assert [(m.entry_id, m.match_kind, m.status) for m in _matches(db, at_facility)] == [
        (by_facility, "name_and_state", "candidate")
    ]
    assert [(m.entry_id, m.match_kind, m.status) for m in _matches(db, licensed)] == [
        (by_license, "name_and_state", "candidate")
    ]


def test_near_misses_do_not_match(db: Session, tenants: TwoTenants, leie: uuid.UUID) -> None:
    born_elsewhere = _provider(db, tenants, "John Carter", born=BORN)
    _entry(db, leie, first_name="JOHN", last_name="CARTER", date_of_birth=dt.date(1971, 3, 14))
    # Date of birth unknown, and the entry in a state the provider has nothing in.
    other_state = _provider(db, tenants, "Paul Young")
    _entry(db, leie, first_name="PAUL", last_name="YOUNG", state="WA")
    # Same last name and date of birth, another first name.
    other_first = _provider(db, tenants, "Karen Webb", born=BORN)
    _entry(db, leie, first_name="KEVIN", last_name="WEBB", date_of_birth=BORN, state="TX")
    # An entity whose name reads like the provider's: entities match by NPI alone.
    like_entity = _provider(db, tenants, "Grace Hill")
    _entry(db, leie, business_name="GRACE HILL", state="TX")
    # Same name and state, but the list knows another NPI: another person.
    other_npi = _provider(db, tenants, "Omar Haddad", npi=factories.unique_npi())
    _entry(db, leie, first_name="OMAR", last_name="HADDAD", npi=factories.unique_npi(), state="TX")

    summary = _screen(db)

    for provider in (born_elsewhere, other_state, other_first, like_entity, other_npi):
        assert _matches(db, provider) == []
        [row] = _screenings(db, provider)
        assert (row.outcome, row.matches) == ("clear", [])
    assert summary.new_matches == 0


def test_a_withdrawn_entry_matches_no_one(
    db: Session, tenants: TwoTenants, leie: uuid.UUID
) -> None:
    later = _list(db, kind="supplement", published_on=dt.date(2026, 12, 10))
    provider = tenants.shared_provider
    _entry(db, leie, npi=provider.npi, last_name="X", withdrawn_list_id=later)

    _screen(db, user_ids=[provider.id])

    assert _matches(db, provider) == []
    assert {row.outcome for row in _screenings(db, provider)} == {"clear"}
    # the versions in force: the full file and the supplement after it
    assert {tuple(row.list_ids) for row in _screenings(db, provider)} == {(leie, later)}


def test_an_inactive_membership_and_a_user_without_organization_are_not_screened(
    db: Session, tenants: TwoTenants, leie: uuid.UUID
) -> None:
    use_context(db, MSC_SYSTEM)
    loner = factories.make_user(db, npi=factories.unique_npi())
    gone = _provider(db, tenants, "Ida Stone", npi=factories.unique_npi())
    db.execute(text("UPDATE memberships SET is_active = false WHERE user_id = :u"), {"u": gone.id})
    for user in (loner, gone):
        _entry(db, leie, npi=user.npi, last_name="X")

    summary = _screen(db, user_ids=[loner.id, gone.id])

    assert (summary.providers, summary.rows) == (0, 0)
    assert _matches(db, loner) == _matches(db, gone) == []


# --- reinstatement and history ----------------------------------------------------------


def test_a_reinstatement_clears_an_exclusion_with_a_record(
    db: Session, tenants: TwoTenants, leie: uuid.UUID
) -> None:
    provider = tenants.shared_provider
    entry = _entry(db, leie, npi=provider.npi, last_name="QUILL", first_name="ROBIN")
    _screen(db, user_ids=[provider.id])
    # The December supplement reinstates the exclusion.
    december = _list(db, kind="supplement", published_on=dt.date(2026, 12, 10))
    use_context(db, MSC_SYSTEM)
    db.execute(
        text(
            "UPDATE exclusion_entries SET withdrawn_list_id = :l, reinstated_on = :d WHERE id = :e"
        ),
        {"l": december, "d": dt.date(2026, 12, 1), "e": entry},
    )
    later = NOW + dt.timedelta(days=30)

    summary = screening.screen(db, reason="list_import", user_ids=[provider.id], now=later)

    assert (summary.reinstated, summary.excluded, summary.rows) == (2, 0, 2)
    for match in _matches(db, provider):
        db.refresh(match)
        assert (match.status, match.decided_at, match.decided_by_id) == (
            "reinstated",
            later,
            None,
        )
        assert match.decision_reason == "reinstated on LEIE list of 2026-12-10"
    history = _screenings(db, provider)
    assert [(row.reason, row.outcome) for row in history] == [
        ("monthly", "excluded"),
        ("list_import", "clear"),
    ] * 2
    for row in history[1::2]:
        [evidence] = row.matches
        assert (evidence["entry_id"], evidence["status"], evidence["reinstated_on"]) == (
            str(entry),
            "reinstated",
            "2026-12-01",
        )
    # the change is in each organization's trail
    audited = db.scalars(
        select(AuditEvent).where(
            AuditEvent.table_name == "exclusion_matches", AuditEvent.action == "update"
        )
    ).all()
    assert {event.organization_id for event in audited} == {
        tenants.a.organization.id,
        tenants.b.organization.id,
    }
    assert all(event.changes["status"]["new"] == "reinstated" for event in audited)
    # and the next pass neither reopens it nor reinstates it again
    assert screening.screen(db, reason="monthly", user_ids=[provider.id]).reinstated == 0
    assert {m.status for m in _matches(db, provider)} == {"reinstated"}


def test_screenings_are_only_ever_added(db: Session, tenants: TwoTenants, leie: uuid.UUID) -> None:
    provider = _provider(db, tenants, "Lee Park")
    _entry(db, leie, first_name="LEE", last_name="PARK", state="TX")
    _screen(db)
    first = [(row.id, row.outcome, row.screened_at) for row in _screenings(db, provider)]
    _screen(db, reason="manual")

    history = _screenings(db, provider)
    assert [(row.id, row.outcome, row.screened_at) for row in history[:1]] == first
    assert [row.reason for row in history] == ["monthly", "manual"]
    # the same entry is one match, found once
    assert len(_matches(db, provider)) == 1
    # and not even the service may change or delete a screening
    use_context(db, MSC_SYSTEM)
    for statement in (
        "UPDATE provider_screenings SET outcome = 'clear'",
        "DELETE FROM provider_screenings",
    ):
        with pytest.raises(DBAPIError) as raised, db.begin_nested():
            db.execute(text(statement))
        assert isinstance(raised.value.orig, psycopg.errors.InsufficientPrivilege)


def test_a_cleared_candidate_is_not_reopened_by_the_same_entry(
    db: Session, tenants: TwoTenants, leie: uuid.UUID
) -> None:
    provider = _provider(db, tenants, "Lee Park")
    _entry(db, leie, first_name="LEE", last_name="PARK", state="TX")
    _screen(db)
    use_context(db, MSC_SYSTEM)
    db.execute(
        text(
            "UPDATE exclusion_matches SET status = 'cleared', decided_at = now(),"
            " decision_reason = 'another Lee Park: different middle name and address'"
            " WHERE user_id = :u"
        ),
        {"u": provider.id},
    )

    _screen(db)

    assert [m.status for m in _matches(db, provider)] == ["cleared"]
    latest = _screenings(db, provider)[-1]
    assert latest.outcome == "clear"
    assert [e["status"] for e in latest.matches] == ["cleared"]  # found again, shown so


# --- privacy ---------------------------------------------------------------------------


def test_a_shared_provider_is_recorded_per_organization_each_reading_its_own(
    db: Session, tenants: TwoTenants, leie: uuid.UUID
) -> None:
    provider = tenants.shared_provider
    _entry(db, leie, npi=provider.npi, last_name="QUILL", first_name="ROBIN")
    _screen(db)

    for own, other in ((tenants.a, tenants.b), (tenants.b, tenants.a)):
        use_context(db, own.context())
        screenings = db.scalars(select(ProviderScreening)).all()
        matches = db.scalars(select(ExclusionMatch)).all()
        assert [(s.organization_id, s.user_id) for s in screenings] == [
            (own.organization.id, provider.id)
        ]
        assert [m.organization_id for m in matches] == [own.organization.id]
        # the other organization's rows are not there, even asked for by organization
        assert (
            db.scalar(
                select(func.count())
                .select_from(ProviderScreening)
                .where(ProviderScreening.organization_id == other.organization.id)
            )
            == 0
        )
    # the provider reads none: a candidate is not theirs to see before a person looked
    use_context(
        db,
        TenantContext(
            user_id=provider.id,
            organization_id=tenants.a.organization.id,
            role=Role.PROVIDER,
            organization_ids=(tenants.a.organization.id,),
        ),
    )
    assert db.scalars(select(ProviderScreening)).all() == []


def test_acceptance_screens_at_the_organization_accepted_alone(
    db: Session, tenants: TwoTenants, leie: uuid.UUID
) -> None:
    """Screened at acceptance, in its transaction (domain-level: the API's acceptance
    is the same function)."""
    from app.domain import invitations

    provider = tenants.shared_provider
    _entry(db, leie, npi=provider.npi, last_name="QUILL", first_name="ROBIN")
    third = factories.make_organization(db, name="Tenant C")
    factories.make_membership(db, factories.make_user(db), third, Role.ORGANIZATION_ADMIN)
    token = "t-" + uuid.uuid4().hex
    from app.models import Invitation

    db.add(
        Invitation(
            organization_id=third.id,
            email=provider.email,
            name=provider.name,
            role=Role.PROVIDER,
            token_hash=invitations.token_hash(token),
            expires_at=NOW + dt.timedelta(days=7),
            facility_ids=[],
        )
    )
    db.flush()
    use_context(db, TenantContext())

    invitations.accept(db, token, {}, now=NOW)

    rows = _screenings(db, provider)
    assert [(row.organization_id, row.reason, row.outcome) for row in rows] == [
        (third.id, "acceptance", "excluded")
    ]


# --- triggers through the API, committed ------------------------------------------------


def _committed_list(app_engine: Engine, **entry: Any) -> None:
    """Written as the import writes it: in the service's context (the database's owner
    as much as anyone else needs it, tenancy.refuse_list_writes)."""
    with Session(app_engine) as session:
        use_context(session, MSC_SYSTEM)
        list_id = _list(session, published_on=dt.date(2026, 11, 10))
        _entry(session, list_id, **entry)
        session.commit()


def _committed_screenings(admin_engine: Engine, user_id: str) -> list[tuple[Any, ...]]:
    with admin_engine.connect() as connection:
        return [
            tuple(row)
            for row in connection.execute(
                text(
                    "SELECT organization_id, reason, outcome FROM provider_screenings"
                    " WHERE user_id = :u ORDER BY screened_at, organization_id"
                ),
                {"u": user_id},
            )
        ]


def test_an_accepted_provider_invitation_is_screened(
    client: FlaskClient,
    seeded: TwoTenants,
    admin_engine: Engine,
    app_engine: Engine,
    clean_database: None,
) -> None:
    _committed_list(app_engine, first_name="NOVA", last_name="REYES", state="TX")
    a = seeded.a
    invited = _invite(
        client, token_for(client, a.admin), str(a.organization.id), [str(a.facility.id)]
    )
    assert invited.status_code == 201, invited.get_json()

    accepted = _accept(client, _token_for(admin_engine), password=NEW_PASSWORD)

    assert accepted.status_code == 200, accepted.get_json()
    user_id = accepted.get_json()["user_id"]
    # Dr. Nova Reyes, date of birth unknown, invited to a facility in TX
    assert _committed_screenings(admin_engine, user_id) == [
        (a.organization.id, "acceptance", "candidate")
    ]


def test_a_new_npi_name_or_date_of_birth_is_screened_at_once(
    client: FlaskClient,
    seeded: TwoTenants,
    admin_engine: Engine,
    app_engine: Engine,
    clean_database: None,
) -> None:
    listed = factories.unique_npi()
    _committed_list(app_engine, last_name="QUILL", first_name="ROBIN", npi=listed)
    provider = seeded.shared_provider
    token = token_for(client, provider)

    # the phone alone: nothing to screen again
    assert (
        client.put("/api/v1/me", json={"phone": "+14155552671"}, headers=bearer(token)).status_code
        == 200
    )
    assert _committed_screenings(admin_engine, str(provider.id)) == []

    changed = client.put(
        "/api/v1/me", json={"npi": listed, "date_of_birth": "1970-03-14"}, headers=bearer(token)
    )

    assert changed.status_code == 200, changed.get_json()
    assert changed.get_json()["date_of_birth"] == "1970-03-14"
    assert sorted(_committed_screenings(admin_engine, str(provider.id))) == sorted(
        [
            (seeded.a.organization.id, "profile_change", "excluded"),
            (seeded.b.organization.id, "profile_change", "excluded"),
        ]
    )


@pytest.mark.parametrize("born", ["1899-12-31", "2999-01-01", "1970-02-30", "yesterday"])
def test_a_date_of_birth_is_a_real_past_date_since_1900(
    client: FlaskClient, seeded: TwoTenants, born: str
) -> None:
    token = token_for(client, seeded.shared_provider)
    answer = client.put("/api/v1/me", json={"date_of_birth": born}, headers=bearer(token))
    assert answer.status_code == 422
    assert "date_of_birth" in str(answer.get_json())


def test_the_organizations_admin_reads_the_providers_date_of_birth(
    client: FlaskClient, seeded: TwoTenants, admin_engine: Engine
) -> None:
    with admin_engine.begin() as connection:
        connection.execute(
            text("UPDATE users SET date_of_birth = :d WHERE id = :u"),
            {"d": BORN, "u": seeded.shared_provider.id},
        )
    listed = client.get(
        "/api/v1/admin/providers", headers=bearer(token_for(client, seeded.a.admin))
    )
    assert listed.status_code == 200
    [row] = [p for p in listed.get_json() if p["id"] == str(seeded.shared_provider.id)]
    assert row["date_of_birth"] == "1970-03-14"


# --- the job and its schedule ----------------------------------------------------------


def test_the_job_screens_every_provider(
    app: Flask,
    seeded: TwoTenants,
    admin_engine: Engine,
    app_engine: Engine,
    clean_database: None,
) -> None:
    _committed_list(
        app_engine, last_name="QUILL", first_name="ROBIN", npi=seeded.shared_provider.npi
    )
    with app.app_context():
        assert jobs.screen_providers("list_import") == 2
    assert sorted(_committed_screenings(admin_engine, str(seeded.shared_provider.id))) == sorted(
        [
            (seeded.a.organization.id, "list_import", "excluded"),
            (seeded.b.organization.id, "list_import", "excluded"),
        ]
    )


def test_the_monthly_screening_is_scheduled_from_the_settings() -> None:
    assert Settings().screening_cron == "0 7 11 * *"  # the day after the LEIE's 10th
    settings = Settings.from_env({"QUEUE_NAME": "screening", "SCREENING_CRON": "30 8 12 * *"})
    scheduler = CronScheduler(Redis())  # registering jobs connects to nothing
    cron.register(scheduler, settings)
    [job] = [j for j in scheduler.get_jobs() if j.func_name == "workers.jobs.screen_providers"]
    assert (job.queue_name, job.cron, job.args) == ("screening", "30 8 12 * *", ("monthly",))
