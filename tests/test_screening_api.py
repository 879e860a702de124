"""The screening log and the review queue over the HTTP API: who reads and decides what,
each organization its own (a provider shared by A and B: A's decision is not B's), every
decision audited in the deciding organization's trail and an exclusion emailed to its
admins, and the log's CSV export for a date range."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import uuid
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from app.models import User
from app.models.enums import Role
from app.tenancy.context import TenantContext, apply
from tests import factories
from tests.api_helpers import committed_representative, problem_of, validation_errors
from tests.conftest import TwoTenants, bearer, token_for
from tests.screening_fixtures import (
    committed_entry,
    committed_match,
    committed_screening,
)

QUEUE = "/api/v1/admin/exclusion-matches"
SCREENINGS = "/api/v1/admin/screenings"
DOB = dt.date(1971, 3, 14)


def _set_provider(admin_engine: Engine, seeded: TwoTenants, **values: Any) -> None:
    with admin_engine.begin() as conn:
        for column, value in values.items():
            conn.execute(
                text(f"UPDATE users SET {column} = :v WHERE id = :u"),  # nosec B608: test's own
                {"v": value, "u": seeded.shared_provider.id},
            )


@pytest.fixture
def candidates(seeded: TwoTenants, admin_engine: Engine) -> dict[str, uuid.UUID]:
    """The shared provider (born DOB, licensed in OK) matched by name and date of birth
    to one LEIE entry, a candidate in A and one in B."""
    _set_provider(admin_engine, seeded, date_of_birth=DOB)
    with admin_engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO credentials (user_id, owner_organization_ids, credential_type,"
                " number, state) VALUES (:u, :o, 'medical_license', 'L-1', 'OK')"
            ),
            {
                "u": seeded.shared_provider.id,
                "o": factories.owner_organization_ids(conn, seeded.shared_provider.id),
            },
        )
    listed = committed_entry(
        admin_engine,
        published_on=dt.date(2026, 11, 1),
        last_name="Mercer",
        first_name="Ada",
        date_of_birth=DOB,
        state="NM",
        general="PHYSICIAN",
    )
    return {
        "entry": listed.entry.id,
        "list": listed.exclusion_list.id,
        "a": committed_match(
            admin_engine, seeded.a.organization, seeded.shared_provider, listed.entry
        ).id,
        "b": committed_match(
            admin_engine, seeded.b.organization, seeded.shared_provider, listed.entry
        ).id,
    }


def _decide(
    client: FlaskClient, token: str, match_id: uuid.UUID, status: str, reason: str = "checked"
) -> Any:
    return client.post(
        f"{QUEUE}/{match_id}/decision",
        json={"status": status, "reason": reason},
        headers=bearer(token),
    )


def test_the_queue_shows_the_entry_beside_the_provider(
    client: FlaskClient, seeded: TwoTenants, candidates: dict[str, uuid.UUID]
) -> None:
    response = client.get(QUEUE, headers=bearer(token_for(client, seeded.a.admin)))
    assert response.status_code == 200, response.get_json()
    [item] = response.get_json()
    assert item["id"] == str(candidates["a"])
    assert item["organization_id"] == str(seeded.a.organization.id)
    assert item["status"] == "candidate"
    assert item["match_kind"] == "name_and_date_of_birth"
    assert item["provider_name"] == seeded.shared_provider.name
    assert item["provider_npi"] == seeded.shared_provider.npi
    assert item["provider_date_of_birth"] == "1971-03-14"
    # A's facility (TX) and the license (OK), not B's facility
    assert item["provider_states"] == ["OK", "TX"]
    assert (item["entry_last_name"], item["entry_first_name"]) == ("Mercer", "Ada")
    assert item["entry_date_of_birth"] == "1971-03-14"
    assert item["entry_state"] == "NM"
    assert item["entry_source"] == "leie"
    assert item["entry_exclusion_type"] == "1128a1"
    assert item["entry_excluded_on"] == "2019-05-20"
    assert item["list_published_on"] == "2026-11-01"
    assert item["decided_at"] is None and item["decided_by_id"] is None
    # Decided matches leave the default view; asked for by status, they are listed.
    assert (
        client.get(
            f"{QUEUE}?status=excluded", headers=bearer(token_for(client, seeded.a.admin))
        ).get_json()
        == []
    )


def test_a_confirmation_is_recorded_audited_and_emailed_to_each_admin(
    client: FlaskClient,
    seeded: TwoTenants,
    candidates: dict[str, uuid.UUID],
    admin_engine: Engine,
) -> None:
    with Session(admin_engine, expire_on_commit=False) as session:
        second_admin = factories.make_user(session)
        factories.make_membership(
            session, second_admin, seeded.a.organization, Role.ORGANIZATION_ADMIN
        )
        session.commit()
    token = token_for(client, seeded.a.admin)
    reason = "Same person: date of birth and former New Mexico practice confirmed."
    response = _decide(client, token, candidates["a"], "excluded", reason)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["status"] == "excluded"
    assert body["decided_by_id"] == str(seeded.a.admin.id)
    assert body["decided_by_name"] == seeded.a.admin.name
    assert body["decision_reason"] == reason
    assert body["decided_at"] is not None

    with admin_engine.connect() as conn:
        events = conn.execute(
            text(
                "SELECT organization_id, actor_user_id, cross_tenant, changes FROM audit_events"
                " WHERE table_name = 'exclusion_matches' AND row_id = :m AND action = 'update'"
            ),
            {"m": candidates["a"]},
        ).all()
        notices = conn.execute(
            text(
                "SELECT organization_id, recipient_user_id, payload FROM outbox_messages"
                " WHERE kind = 'exclusion_notice' ORDER BY recipient_email"
            )
        ).all()
    [(organization_id, actor, cross_tenant, changes)] = events
    assert organization_id == seeded.a.organization.id
    assert actor == seeded.a.admin.id and cross_tenant is False
    assert changes["status"] == {"old": "candidate", "new": "excluded"}
    assert changes["decision_reason"]["new"] == reason
    assert changes["decided_by_id"]["new"] == str(seeded.a.admin.id)
    assert {n.recipient_user_id for n in notices} == {seeded.a.admin.id, second_admin.id}
    assert {n.organization_id for n in notices} == {seeded.a.organization.id}
    for notice in notices:
        assert notice.payload["provider_name"] == seeded.shared_provider.name
        assert notice.payload["decision_reason"] == reason
        assert "1971" not in json.dumps(notice.payload)  # no date of birth in an email

    again = _decide(client, token, candidates["a"], "cleared")
    assert "only a candidate is decided" in problem_of(again, 409)["detail"]


def test_a_decision_needs_a_decision_and_a_reason(
    client: FlaskClient, seeded: TwoTenants, candidates: dict[str, uuid.UUID]
) -> None:
    token = token_for(client, seeded.a.admin)
    url = f"{QUEUE}/{candidates['a']}/decision"
    for body, field in (
        ({"status": "excluded"}, "reason"),
        ({"status": "excluded", "reason": ""}, "reason"),
        ({"status": "excluded", "reason": "x" * 2001}, "reason"),
        ({"status": "reinstated", "reason": "lifted"}, "status"),
        ({"status": "candidate", "reason": "undo"}, "status"),
        ({"reason": "checked"}, "status"),
    ):
        response = client.post(url, json=body, headers=bearer(token))
        problem_of(response, 422)
        assert field in validation_errors(response), body
    assert _decide(client, token, uuid.uuid4(), "cleared").status_code == 404
    # nothing was decided by the refusals
    [item] = client.get(QUEUE, headers=bearer(token)).get_json()
    assert item["status"] == "candidate"
    assert _decide(client, token, candidates["a"], "cleared", "x" * 2000).status_code == 200


def test_who_reads_and_who_decides(
    client: FlaskClient,
    seeded: TwoTenants,
    candidates: dict[str, uuid.UUID],
    admin_engine: Engine,
) -> None:
    a = seeded.a
    match_url = f"{QUEUE}/{candidates['a']}"
    for user, organization in (
        (a.office_manager, a.organization),
        (seeded.shared_provider, a.organization),
    ):
        token = token_for(client, user, organization)
        for url in (
            QUEUE,
            match_url,
            SCREENINGS,
            f"{SCREENINGS}/export?from=2026-01-01&to=2026-01-31",
        ):
            assert client.get(url, headers=bearer(token)).status_code == 403, (user.email, url)
        assert _decide(client, token, candidates["a"], "cleared").status_code == 403
    representative = committed_representative(admin_engine, a.organization)
    token = token_for(client, representative, a.organization)
    [seen] = client.get(QUEUE, headers=bearer(token)).get_json()
    assert seen["id"] == str(candidates["a"])
    assert client.get(match_url, headers=bearer(token)).status_code == 200
    assert _decide(client, token, candidates["a"], "cleared").status_code == 403

    msc = token_for(client, seeded.msc_admin)
    listed = client.get(QUEUE, headers=bearer(msc)).get_json()
    assert {item["id"] for item in listed} == {str(candidates["a"]), str(candidates["b"])}
    response = _decide(
        client, msc, candidates["b"], "cleared", "Another person (SSN checked by OIG)."
    )
    assert response.status_code == 200, response.get_json()
    with admin_engine.connect() as conn:
        organization_id, actor, cross_tenant = conn.execute(
            text(
                "SELECT organization_id, actor_user_id, cross_tenant FROM audit_events"
                " WHERE table_name = 'exclusion_matches' AND row_id = :m AND action = 'update'"
            ),
            {"m": candidates["b"]},
        ).one()
        notices = conn.execute(text("SELECT count(*) FROM outbox_messages")).scalar_one()
    assert (organization_id, actor, cross_tenant) == (
        seeded.b.organization.id,
        seeded.msc_admin.id,
        True,
    )
    assert notices == 0  # a clearance is no exclusion


def test_one_organizations_decision_is_invisible_to_the_other(
    client: FlaskClient, seeded: TwoTenants, candidates: dict[str, uuid.UUID]
) -> None:
    a_token = token_for(client, seeded.a.admin)
    b_token = token_for(client, seeded.b.admin)
    assert _decide(client, a_token, candidates["a"], "excluded").status_code == 200
    # B's queue: its own candidate, still waiting; nothing of A's decision
    [b_item] = client.get(QUEUE, headers=bearer(b_token)).get_json()
    assert (b_item["id"], b_item["status"]) == (str(candidates["b"]), "candidate")
    assert client.get(f"{QUEUE}?status=excluded", headers=bearer(b_token)).get_json() == []
    # A's match by id, read or decided from B: not found, as if it did not exist
    a_match = f"{QUEUE}/{candidates['a']}"
    assert problem_of(client.get(a_match, headers=bearer(b_token)), 404)["detail"] == (
        "exclusion match not found"
    )
    problem_of(_decide(client, b_token, candidates["a"], "cleared"), 404)
    # nor can B name A as its organization
    named = client.get(
        f"{QUEUE}?organization_id={seeded.a.organization.id}", headers=bearer(b_token)
    )
    assert named.get_json() == []
    # A's queue: its decision, and not B's candidate
    [a_item] = client.get(f"{QUEUE}?status=excluded", headers=bearer(a_token)).get_json()
    assert a_item["id"] == str(candidates["a"])
    assert client.get(QUEUE, headers=bearer(a_token)).get_json() == []
    # B decides its own, independently
    assert _decide(client, b_token, candidates["b"], "cleared").status_code == 200
    msc = token_for(client, seeded.msc_admin)
    assert [
        i["id"] for i in client.get(f"{QUEUE}?status=excluded", headers=bearer(msc)).get_json()
    ] == [str(candidates["a"])]
    assert [
        i["id"] for i in client.get(f"{QUEUE}?status=cleared", headers=bearer(msc)).get_json()
    ] == [str(candidates["b"])]


def _screen(admin_engine: Engine, seeded: TwoTenants, list_id: uuid.UUID) -> dict[str, uuid.UUID]:
    """Screenings of the shared provider: A on Nov 2 (clear) and Dec 1 (candidate), B on
    Dec 1 (clear); and of A's other provider on Nov 30 (clear)."""
    provider = seeded.shared_provider
    other = _provider_named_like_a_formula(admin_engine, seeded)
    evidence = [{"entry_id": str(uuid.uuid4()), "match_kind": "name_and_state", "source": "leie"}]
    return {
        "a_nov": committed_screening(
            admin_engine,
            seeded.a.organization,
            provider,
            [list_id],
            screened_at=_noon(dt.date(2026, 11, 2)),
        ).id,
        "a_dec": committed_screening(
            admin_engine,
            seeded.a.organization,
            provider,
            [list_id],
            screened_at=_noon(dt.date(2026, 12, 1)),
            outcome="candidate",
            matches=evidence,
            reason="list_import",
        ).id,
        "b_dec": committed_screening(
            admin_engine,
            seeded.b.organization,
            provider,
            [list_id],
            screened_at=_noon(dt.date(2026, 12, 1)),
        ).id,
        "other": committed_screening(
            admin_engine,
            seeded.a.organization,
            other,
            [list_id],
            screened_at=_noon(dt.date(2026, 11, 30)),
        ).id,
    }


def _noon(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(12), dt.UTC)


def _provider_named_like_a_formula(admin_engine: Engine, seeded: TwoTenants) -> User:
    """A provider of A's whose name a spreadsheet would run."""
    with Session(admin_engine, expire_on_commit=False) as session:
        provider = factories.make_user(
            session, name='=HYPERLINK("http://evil.example")', npi=factories.unique_npi()
        )
        factories.make_membership(session, provider, seeded.a.organization, Role.PROVIDER)
        session.commit()
    return provider


def test_each_organization_reads_its_own_screenings(
    client: FlaskClient, seeded: TwoTenants, admin_engine: Engine
) -> None:
    listed = committed_entry(admin_engine)
    ids = _screen(admin_engine, seeded, listed.exclusion_list.id)
    a_token = token_for(client, seeded.a.admin)
    b_token = token_for(client, seeded.b.admin)

    def listed_ids(token: str, query: str = "") -> list[str]:
        response = client.get(f"{SCREENINGS}{query}", headers=bearer(token))
        assert response.status_code == 200, response.get_json()
        return [item["id"] for item in response.get_json()]

    # newest first
    assert listed_ids(a_token) == [str(ids["a_dec"]), str(ids["other"]), str(ids["a_nov"])]
    assert listed_ids(b_token) == [str(ids["b_dec"])]
    provider = seeded.shared_provider.id
    assert listed_ids(a_token, f"?user_id={provider}") == [str(ids["a_dec"]), str(ids["a_nov"])]
    assert listed_ids(a_token, "?outcome=candidate") == [str(ids["a_dec"])]
    assert listed_ids(a_token, "?from=2026-11-03&to=2026-11-30") == [str(ids["other"])]
    assert listed_ids(a_token, "?page_size=1&page=2") == [str(ids["other"])]
    assert listed_ids(b_token, f"?organization_id={seeded.a.organization.id}") == []
    msc = token_for(client, seeded.msc_admin)
    assert len(listed_ids(msc)) == 4
    assert listed_ids(msc, f"?organization_id={seeded.b.organization.id}") == [str(ids["b_dec"])]
    [item] = client.get(f"{SCREENINGS}?outcome=candidate", headers=bearer(a_token)).get_json()
    assert item["list_ids"] == [str(listed.exclusion_list.id)]
    assert item["reason"] == "list_import"
    assert item["matches"][0]["match_kind"] == "name_and_state"
    assert item["provider_npi"] == seeded.shared_provider.npi
    # the provider's history, from each side
    history = f"/api/v1/admin/providers/{provider}/screenings"
    assert [i["id"] for i in client.get(history, headers=bearer(a_token)).get_json()] == [
        str(ids["a_dec"]),
        str(ids["a_nov"]),
    ]
    assert [i["id"] for i in client.get(history, headers=bearer(b_token)).get_json()] == [
        str(ids["b_dec"])
    ]
    response = client.get(f"{SCREENINGS}?from=2026-12-02&to=2026-12-01", headers=bearer(a_token))
    assert "from" in problem_of(response, 422)["errors"]["query"]


def test_the_log_exports_as_csv_for_a_date_range(
    client: FlaskClient, seeded: TwoTenants, admin_engine: Engine
) -> None:
    listed = committed_entry(admin_engine, published_on=dt.date(2026, 11, 1))
    sam = committed_entry(admin_engine, source="sam", published_on=dt.date(2026, 11, 28))
    both = [listed.exclusion_list.id, sam.exclusion_list.id]
    ids = _screen(admin_engine, seeded, listed.exclusion_list.id)
    committed_screening(
        admin_engine,
        seeded.a.organization,
        seeded.shared_provider,
        both,
        screened_at=dt.datetime(2026, 11, 30, 23, 59, tzinfo=dt.UTC),
    )
    assert ids
    token = token_for(client, seeded.a.admin)
    response = client.get(
        f"{SCREENINGS}/export?from=2026-11-03&to=2026-11-30", headers=bearer(token)
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"] == (
        'attachment; filename="screenings-2026-11-03-2026-11-30.csv"'
    )
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert rows[0] == [
        "screened_at",
        "provider_name",
        "provider_npi",
        "reason",
        "list_versions",
        "outcome",
        "matches",
    ]
    # oldest first; Nov 2 before the range, Dec 1 after it, B's never
    assert [row[0] for row in rows[1:]] == [
        "2026-11-30T12:00:00+00:00",
        "2026-11-30T23:59:00+00:00",
    ]
    injected, shared = rows[1], rows[2]
    assert injected[1] == '\'=HYPERLINK("http://evil.example")'  # shown as text, not run
    assert injected[4] == "leie full 2026-11-01"
    assert shared[1:] == [
        seeded.shared_provider.name,
        seeded.shared_provider.npi,
        "monthly",
        "leie full 2026-11-01; sam full 2026-11-28",
        "clear",
        "",
    ]
    december = client.get(
        f"{SCREENINGS}/export?from=2026-12-01&to=2026-12-31", headers=bearer(token)
    )
    [_, candidate] = list(csv.reader(io.StringIO(december.get_data(as_text=True))))
    assert (
        candidate[5] == "candidate"
        and json.loads(candidate[6])[0]["match_kind"] == "name_and_state"
    )

    b_token = token_for(client, seeded.b.admin)
    named = (
        f"{SCREENINGS}/export?from=2026-11-01&to=2026-12-31"
        f"&organization_id={seeded.a.organization.id}"
    )
    problem_of(client.get(named, headers=bearer(b_token)), 404)
    msc = token_for(client, seeded.msc_admin)
    unnamed = client.get(f"{SCREENINGS}/export?from=2026-11-01&to=2026-12-31", headers=bearer(msc))
    problem_of(unnamed, 422)
    assert "organization_id" in validation_errors(unnamed)
    by_msc = client.get(named, headers=bearer(msc))
    assert len(list(csv.reader(io.StringIO(by_msc.get_data(as_text=True))))) == 1 + 4
    too_long = client.get(
        f"{SCREENINGS}/export?from=2025-01-01&to=2026-12-31", headers=bearer(token)
    )
    assert "to" in problem_of(too_long, 422)["errors"]["query"]


def test_a_suspended_organization_reads_its_queue_but_decides_nothing(
    client: FlaskClient,
    seeded: TwoTenants,
    candidates: dict[str, uuid.UUID],
    admin_engine: Engine,
) -> None:
    with admin_engine.begin() as conn:
        apply(conn, TenantContext.system("test-setup"))  # MSC's column
        conn.execute(
            text("UPDATE organizations SET status = 'suspended' WHERE id = :o"),
            {"o": seeded.a.organization.id},
        )
    token = token_for(client, seeded.a.admin)
    [item] = client.get(QUEUE, headers=bearer(token)).get_json()
    assert item["id"] == str(candidates["a"])
    assert (
        "read-only" in problem_of(_decide(client, token, candidates["a"], "cleared"), 403)["detail"]
    )
    [still] = client.get(QUEUE, headers=bearer(token)).get_json()
    assert still["status"] == "candidate"
