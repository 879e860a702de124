"""License cross-check: a provider's medical licenses against the licenses and states
the NPPES registry lists for their NPI, recorded per organization, with mismatches in
each organization's review queue.

The registry's answers reach the cache the way they do in service: the provider's NPI
verification asks tests/fake_registry.py (a local server, never the internet) and keeps
its answer through the cache's one writer; the check itself reads only the cache.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session

from app.config import Settings
from app.domain.license_checks import judge, license_key
from app.factory import create_app
from app.models import LicenseCheck
from app.tenancy.context import TenantContext, use_context
from tests.conftest import MSC_SYSTEM, Tenant, TwoTenants, bearer, token_for
from tests.fake_registry import FakeRegistry, individual_result

FETCHED_AT = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)
REASON = "The Texas board lists the license as active; the registry lags behind."


def _license(number: str, state: str = "TX") -> dict[str, Any]:
    return {
        "credential_type": "medical_license",
        "state": state,
        "number": number,
        "issuer": "Texas Medical Board",
        "expiry_date": "2099-12-31",
    }


# --- the rule ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("entered", "listed", "same"),
    [
        ("MD-00123", "md 123", True),
        ("q1234", "Q1234", True),
        ("Q.12/34", "Q1234", True),
        ("A0123", "A123", True),
        ("A1023", "A123", False),  # a zero inside a number is kept
        ("MD123", "123", False),  # a board's prefix is kept
        ("Q1234", "Q12345", False),
    ],
)
def test_numbers_compare_normalised(entered: str, listed: str, same: bool) -> None:
    assert (license_key(entered) == license_key(listed)) is same


def test_the_verdicts() -> None:
    answer = individual_result("1234567893", "Jordan", "Lee")  # Q1234 in TX
    fetched = (answer, FETCHED_AT)
    verified = "verified"
    match = judge("q-1234", "TX", "1234567893", verified, fetched)
    assert (match.outcome, match.registry_fetched_at) == ("match", FETCHED_AT)
    assert judge("Q9999", "TX", "1234567893", verified, fetched).outcome == "number_not_listed"
    wrong_state = judge("Q1234", "OK", "1234567893", verified, fetched)
    assert (wrong_state.outcome, wrong_state.detail) == (
        "state_not_listed",
        "the registry lists the number in TX, not in OK",
    )
    # No NPI, an NPI not verified, no answer: nothing to check against, nothing passes.
    assert judge("Q1234", "TX", None, "unverified", None).outcome == "pending"
    assert judge("Q1234", "TX", "1234567893", "mismatch", fetched).outcome == "pending"
    assert judge("Q1234", "TX", "1234567893", verified, None).outcome == "pending"


# --- through the API ---------------------------------------------------------------


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeRegistry]:
    registry = FakeRegistry().start()
    yield registry
    registry.stop()


@pytest.fixture(scope="module")
def license_app(settings: Settings, fake: FakeRegistry) -> Iterator[Flask]:
    app = create_app(
        dataclasses.replace(settings, npi_registry_url=fake.url, npi_registry_timeout_seconds=0.5)
    )
    yield app
    app.extensions["services"].engine.dispose()


@pytest.fixture
def registry(fake: FakeRegistry) -> FakeRegistry:
    fake.reset()
    return fake


@pytest.fixture
def api(license_app: Flask, registry: FakeRegistry, clean_database: None) -> FlaskClient:
    return license_app.test_client()


@pytest.fixture
def provider(api: FlaskClient, seeded: TwoTenants, admin_engine: Engine) -> dict[str, str]:
    """The shared provider's headers, under the name the registry lists."""
    with admin_engine.begin() as connection:
        connection.execute(
            text("UPDATE users SET name = 'Dr. Jordan Lee' WHERE id = :i"),
            {"i": seeded.shared_provider.id},
        )
    return bearer(token_for(api, seeded.shared_provider, seeded.a.organization))


def _listing(registry: FakeRegistry, seeded: TwoTenants, *licenses: tuple[str, str]) -> None:
    npi = seeded.shared_provider.npi
    assert npi is not None
    result = individual_result(npi, "Jordan", "Lee")
    result["taxonomies"] = [
        {"code": "207Q00000X", "desc": "Family Medicine", "license": number, "state": state,
         "primary": index == 0}
        for index, (number, state) in enumerate(licenses)
    ]  # fmt: skip
    registry.found(result)


def _verify_npi(api: FlaskClient, provider: dict[str, str]) -> None:
    response = api.post("/api/v1/me/npi/verify", headers=provider)
    assert response.get_json()["npi_verification"] == "verified", response.get_json()


def _add(api: FlaskClient, provider: dict[str, str], number: str, state: str = "TX") -> str:
    created = api.post("/api/v1/me/credentials", json=_license(number, state), headers=provider)
    assert created.status_code == 201, created.get_json()
    return str(created.get_json()["id"])


def _admin(api: FlaskClient, tenant: Tenant) -> dict[str, str]:
    return bearer(token_for(api, tenant.admin))


def _checks(api: FlaskClient, seeded: TwoTenants, cid: str, headers: dict[str, str]) -> Any:
    url = f"/api/v1/admin/providers/{seeded.shared_provider.id}/credentials/{cid}/license-checks"
    response = api.get(url, headers=headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def _queue(api: FlaskClient, tenant: Tenant, **query: str) -> Any:
    url = f"/api/v1/admin/organizations/{tenant.organization.id}/license-checks"
    response = api.get(url, headers=_admin(api, tenant), query_string=query)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def _fetched_at(admin_engine: Engine, npi: str | None) -> str:
    with admin_engine.connect() as connection:
        fetched = connection.execute(
            text("SELECT fetched_at FROM npi_registry_answers WHERE npi = :n"), {"n": npi}
        ).scalar_one()
    return str(fetched.isoformat())


def test_a_match_is_dated_evidence_for_each_organization(
    api: FlaskClient,
    seeded: TwoTenants,
    registry: FakeRegistry,
    provider: dict[str, str],
    admin_engine: Engine,
) -> None:
    _listing(registry, seeded, ("Q-01234", "TX"), ("B777", "OK"))
    _verify_npi(api, provider)
    cid = _add(api, provider, "q 1234")

    fetched_at = _fetched_at(admin_engine, seeded.shared_provider.npi)
    for tenant in (seeded.a, seeded.b):
        [check] = _checks(api, seeded, cid, _admin(api, tenant))
        assert check["organization_id"] == str(tenant.organization.id)
        assert (check["outcome"], check["review_status"], check["state"]) == ("match", None, "TX")
        assert check["registry_fetched_at"] == fetched_at
        assert [(e["license"], e["state"]) for e in check["registry_licenses"]] == [
            ("Q-01234", "TX"),
            ("B777", "OK"),
        ]
        assert _queue(api, tenant) == []


@pytest.mark.parametrize(
    ("number", "state", "outcome", "detail"),
    [
        ("Z-999", "TX", "number_not_listed", "the registry lists no license with this number"),
        ("Q1234", "OK", "state_not_listed", "the registry lists the number in TX, not in OK"),
    ],
)
def test_a_mismatch_waits_in_each_organizations_queue(
    api: FlaskClient,
    seeded: TwoTenants,
    registry: FakeRegistry,
    provider: dict[str, str],
    number: str,
    state: str,
    outcome: str,
    detail: str,
) -> None:
    _listing(registry, seeded, ("Q1234", "TX"))
    _verify_npi(api, provider)
    cid = _add(api, provider, number, state)
    for tenant in (seeded.a, seeded.b):
        [item] = _queue(api, tenant)
        assert (item["credential_id"], item["outcome"], item["detail"]) == (cid, outcome, detail)
        assert (item["review_status"], item["organization_id"]) == (
            "open",
            str(tenant.organization.id),
        )


def test_pending_until_the_registry_answers_then_checked(
    api: FlaskClient, seeded: TwoTenants, registry: FakeRegistry, provider: dict[str, str]
) -> None:
    cid = _add(api, provider, "Q1234")  # before the NPI is verified
    [pending] = _checks(api, seeded, cid, _admin(api, seeded.a))
    assert (pending["outcome"], pending["registry_fetched_at"], pending["review_status"]) == (
        "pending",
        None,
        None,
    )
    assert pending["detail"] == "the provider's NPI is not verified (unverified)"

    _listing(registry, seeded, ("Q1234", "TX"))
    _verify_npi(api, provider)
    newest, older = _checks(api, seeded, cid, _admin(api, seeded.a))
    assert (newest["outcome"], older["id"]) == ("match", pending["id"])
    assert newest["registry_fetched_at"] is not None

    # A verification that confirms the same answer adds no check.
    _verify_npi(api, provider)
    assert len(_checks(api, seeded, cid, _admin(api, seeded.a))) == 2
    assert registry.requests[seeded.shared_provider.npi] == 1


def test_a_license_without_its_number_is_checked_once_it_has_one(
    api: FlaskClient,
    seeded: TwoTenants,
    registry: FakeRegistry,
    provider: dict[str, str],
    app_engine: Engine,
) -> None:
    """A license kept without its number (written before the API asked for one): nothing
    to look for in the registry, so no check, and the NPI's verification, which checks
    the provider's licenses again, goes through; the number entered, it is checked."""
    with Session(app_engine) as session:
        use_context(session, MSC_SYSTEM)
        cid = str(
            session.execute(
                text(
                    "INSERT INTO credentials (user_id, owner_organization_ids, credential_type,"
                    " state, expiry_date) VALUES (:u, :o, 'medical_license', 'TX',"
                    " '2099-12-31') RETURNING id"
                ),
                {
                    "u": seeded.shared_provider.id,
                    "o": [seeded.a.organization.id, seeded.b.organization.id],
                },
            ).scalar_one()
        )
        session.commit()
    _listing(registry, seeded, ("Q1234", "TX"))
    _verify_npi(api, provider)
    assert _checks(api, seeded, cid, _admin(api, seeded.a)) == []

    updated = api.put(f"/api/v1/me/credentials/{cid}", json={"number": "Q1234"}, headers=provider)
    assert updated.status_code == 200, updated.get_json()
    [checked] = _checks(api, seeded, cid, _admin(api, seeded.a))
    assert checked["outcome"] == "match"


def test_a_new_number_supersedes_the_open_item(
    api: FlaskClient, seeded: TwoTenants, registry: FakeRegistry, provider: dict[str, str]
) -> None:
    _listing(registry, seeded, ("Q1234", "TX"))
    _verify_npi(api, provider)
    cid = _add(api, provider, "Q1243")  # a typo
    [item] = _queue(api, seeded.a)
    edited = api.put(f"/api/v1/me/credentials/{cid}", json={"number": "Q1234"}, headers=provider)
    assert edited.status_code == 200, edited.get_json()
    assert _queue(api, seeded.a) == []
    [superseded] = _queue(api, seeded.a, review_status="superseded")
    assert superseded["id"] == item["id"]
    newest = _checks(api, seeded, cid, _admin(api, seeded.a))[0]
    assert newest["outcome"] == "match"
    # An edit of anything else asks the registry nothing new.
    api.put(f"/api/v1/me/credentials/{cid}", json={"issuer": "TMB"}, headers=provider)
    assert len(_checks(api, seeded, cid, _admin(api, seeded.a))) == 2


def test_accepting_is_the_organizations_own_decision_and_audited(
    api: FlaskClient,
    seeded: TwoTenants,
    registry: FakeRegistry,
    provider: dict[str, str],
    admin_engine: Engine,
) -> None:
    _listing(registry, seeded, ("Q1234", "TX"))
    _verify_npi(api, provider)
    cid = _add(api, provider, "Q5555")
    [item] = _queue(api, seeded.a)
    [b_item] = _queue(api, seeded.b)

    # B's admin cannot reach A's item: it does not exist for them.
    url = f"/api/v1/admin/license-checks/{item['id']}/decision"
    decision = {"decision": "accepted", "reason": REASON}
    assert api.post(url, json=decision, headers=_admin(api, seeded.b)).status_code == 404

    decided = api.post(url, json=decision, headers=_admin(api, seeded.a))
    assert decided.status_code == 200, decided.get_json()
    body = decided.get_json()
    assert (body["review_status"], body["decision_reason"], body["decided_by_id"]) == (
        "accepted",
        REASON,
        str(seeded.a.admin.id),
    )
    assert _queue(api, seeded.a) == []
    again = api.post(url, json=decision, headers=_admin(api, seeded.a))
    assert again.status_code == 409 and "decision" in again.get_json()["errors"]["json"]

    # B still has its own item open, and reads nothing of A's decision.
    [still_open] = _checks(api, seeded, cid, _admin(api, seeded.b))
    assert (still_open["id"], still_open["review_status"]) == (b_item["id"], "open")
    assert still_open["decided_by_id"] is None and still_open["decision_reason"] is None
    # MSC admins read both organizations' rows.
    msc = bearer(token_for(api, seeded.msc_admin))
    assert {c["organization_id"] for c in _checks(api, seeded, cid, msc)} == {
        str(seeded.a.organization.id),
        str(seeded.b.organization.id),
    }

    with admin_engine.connect() as connection:
        trail = connection.execute(
            text(
                "SELECT organization_id, actor_user_id, changes FROM audit_events"
                " WHERE table_name = 'license_checks' AND action = 'update' AND row_id = :i"
            ),
            {"i": item["id"]},
        ).all()
    [(organization_id, actor, changes)] = trail
    assert (organization_id, actor) == (seeded.a.organization.id, seeded.a.admin.id)
    assert changes["review_status"] == {"old": "open", "new": "accepted"}
    assert changes["decision_reason"]["new"] == REASON


def test_rejecting_rejects_the_credential_through_its_verification(
    api: FlaskClient, seeded: TwoTenants, registry: FakeRegistry, provider: dict[str, str]
) -> None:
    _listing(registry, seeded, ("Q1234", "TX"))
    _verify_npi(api, provider)
    cid = _add(api, provider, "Q1234", "OK")
    [item] = _queue(api, seeded.a)
    url = f"/api/v1/admin/license-checks/{item['id']}/decision"
    decided = api.post(
        url, json={"decision": "rejected", "reason": "No Oklahoma license."}, headers=_admin(
            api, seeded.a)
    )  # fmt: skip
    assert decided.get_json()["review_status"] == "rejected"
    credential = api.get(
        f"/api/v1/admin/providers/{seeded.shared_provider.id}/credentials/{cid}",
        headers=_admin(api, seeded.a),
    ).get_json()
    assert (credential["status"], credential["rejection_reason"]) == (
        "rejected",
        "No Oklahoma license.",
    )


def test_only_admins_review(
    api: FlaskClient, seeded: TwoTenants, registry: FakeRegistry, provider: dict[str, str]
) -> None:
    _listing(registry, seeded, ("Q1234", "TX"))
    _verify_npi(api, provider)
    cid = _add(api, provider, "Q0000")
    [item] = _queue(api, seeded.a)
    manager = bearer(token_for(api, seeded.a.office_manager))
    queue = f"/api/v1/admin/organizations/{seeded.a.organization.id}/license-checks"
    decision = f"/api/v1/admin/license-checks/{item['id']}/decision"
    checks = f"/api/v1/admin/providers/{seeded.shared_provider.id}/credentials/{cid}/license-checks"
    for headers in (manager, provider):
        assert api.get(queue, headers=headers).status_code == 403
        assert api.get(checks, headers=headers).status_code == 403
        body = {"decision": "accepted", "reason": REASON}
        assert api.post(decision, json=body, headers=headers).status_code == 403
    # Another organization's queue is not found.
    other = f"/api/v1/admin/organizations/{seeded.b.organization.id}/license-checks"
    assert api.get(other, headers=_admin(api, seeded.a)).status_code == 404


# --- row-level security --------------------------------------------------------------


def test_each_organization_reads_and_writes_its_own_rows(db: Session, tenants: TwoTenants) -> None:
    use_context(db, MSC_SYSTEM)
    credential_id = db.execute(
        text(
            "INSERT INTO credentials (user_id, owner_organization_ids, credential_type, state,"
            " number) VALUES (:u, :o, 'medical_license', 'TX', 'Q1') RETURNING id"
        ),
        {
            "u": tenants.shared_provider.id,
            "o": [tenants.a.organization.id, tenants.b.organization.id],
        },
    ).scalar_one()
    for tenant in (tenants.a, tenants.b):
        db.add(
            LicenseCheck(
                organization_id=tenant.organization.id,
                credential_id=credential_id,
                user_id=tenants.shared_provider.id,
                npi=None,
                state="TX",
                outcome="number_not_listed",
                registry_fetched_at=db.execute(text("SELECT now()")).scalar_one(),
                review_status="open",
            )
        )
    db.flush()
    db.expunge_all()

    def seen() -> set[uuid.UUID]:
        return set(db.scalars(select(LicenseCheck.organization_id)))

    use_context(db, TenantContext())
    assert seen() == set()
    use_context(db, TenantContext(user_id=tenants.shared_provider.id))
    assert seen() == set()  # not the provider's to read either
    a = tenants.a
    use_context(
        db,
        TenantContext(
            user_id=a.admin.id,
            organization_id=a.organization.id,
            role="organization_admin",
            organization_ids=(a.organization.id,),
        ),
    )
    assert seen() == {a.organization.id}
    # A's admin writes no decision into B's row: there is none to update.
    updated = db.execute(
        text(
            "UPDATE license_checks SET review_status = 'accepted', decision_reason = 'x',"
            " decided_at = now(), decided_by_id = :u WHERE organization_id = :o"
        ),
        {"u": a.admin.id, "o": tenants.b.organization.id},
    )
    assert updated.rowcount == 0
