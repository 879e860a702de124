"""Verification decisions: the outcome is shared by every organization the provider
works for, the decision (who, why) is the deciding organization's; the outcome's history
replays it on past days for any of them."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import psycopg
import pytest
from flask.testing import FlaskClient
from sqlalchemy import Engine, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from app.domain import credentials, members
from app.models import Credential, CredentialVerification
from app.tenancy.context import TenantContext, use_context
from app.tenancy.resolve import resolve_context
from tests.conftest import MSC_SYSTEM, Tenant, TwoTenants, bearer, token_for

LICENSE = {
    "credential_type": "medical_license",
    "state": "TX",
    "number": "TX-12345",
    "issuer": "Texas Medical Board",
    "expiry_date": "2099-12-31",
}
REASON = "the board has no license under this number"


def _staff(client: FlaskClient, tenant: Tenant) -> dict[str, str]:
    return bearer(token_for(client, tenant.admin))


def _credential(client: FlaskClient, seeded: TwoTenants) -> tuple[str, str]:
    """A license of the shared provider's, and its address for staff."""
    provider = bearer(token_for(client, seeded.shared_provider, seeded.a.organization))
    created = client.post("/api/v1/me/credentials", json=LICENSE, headers=provider)
    assert created.status_code == 201, created.get_json()
    cid = created.get_json()["id"]
    return cid, f"/api/v1/admin/providers/{seeded.shared_provider.id}/credentials/{cid}"


def _decision(body: dict[str, Any]) -> tuple[str, str | None, str | None]:
    return body["status"], body["verified_by_id"], body["rejection_reason"]


def test_the_outcome_is_shared_and_the_decision_is_the_deciding_organizations(
    client: FlaskClient, seeded: TwoTenants
) -> None:
    cid, url = _credential(client, seeded)
    a_admin, b_admin = str(seeded.a.admin.id), str(seeded.b.admin.id)
    a_staff = _staff(client, seeded.a)
    rejected = client.post(f"{url}/reject", json={"reason": REASON}, headers=a_staff)
    assert _decision(rejected.get_json()) == ("rejected", a_admin, REASON)

    # A reads its decision; B the outcome alone, as one credential and in the list.
    assert _decision(client.get(url, headers=_staff(client, seeded.a)).get_json()) == (
        "rejected", a_admin, REASON,
    )  # fmt: skip
    seen_by_b = client.get(url, headers=_staff(client, seeded.b)).get_json()
    assert _decision(seen_by_b) == ("rejected", None, None)
    assert seen_by_b["verified_at"] == rejected.get_json()["verified_at"]
    [listed] = client.get(url.rsplit("/", 1)[0], headers=_staff(client, seeded.b)).get_json()
    assert _decision(listed) == ("rejected", None, None)
    # The provider learns why, and so do MSC admins.
    provider = bearer(token_for(client, seeded.shared_provider, seeded.b.organization))
    own = client.get(f"/api/v1/me/credentials/{cid}", headers=provider).get_json()
    assert _decision(own) == ("rejected", a_admin, REASON)
    msc = bearer(token_for(client, seeded.msc_admin))
    assert _decision(client.get(url, headers=msc).get_json()) == ("rejected", a_admin, REASON)

    # B's decision replaces the outcome: now B's to explain, and no longer A's.
    verified = client.post(f"{url}/verify", headers=_staff(client, seeded.b)).get_json()
    assert _decision(verified) == ("verified", b_admin, None)
    assert _decision(client.get(url, headers=_staff(client, seeded.a)).get_json()) == (
        "verified", None, None,
    )  # fmt: skip
    assert _decision(client.get(f"/api/v1/me/credentials/{cid}", headers=provider).get_json()) == (
        "verified", b_admin, None,
    )  # fmt: skip


def test_an_msc_admin_acting_for_no_organization_decides_for_each_of_the_providers(
    client: FlaskClient, seeded: TwoTenants, admin_engine: Engine
) -> None:
    cid, url = _credential(client, seeded)
    msc_admin = str(seeded.msc_admin.id)
    msc = bearer(token_for(client, seeded.msc_admin))
    rejected = client.post(f"{url}/reject", json={"reason": REASON}, headers=msc).get_json()
    assert _decision(rejected) == ("rejected", msc_admin, REASON)
    for tenant in (seeded.a, seeded.b):
        seen = client.get(url, headers=_staff(client, tenant)).get_json()
        assert _decision(seen) == ("rejected", msc_admin, REASON)
    with admin_engine.connect() as conn:
        deciding = conn.scalars(
            text("SELECT organization_id FROM credential_verifications WHERE credential_id = :c"),
            {"c": cid},
        ).all()
    assert sorted(deciding) == sorted([seeded.a.organization.id, seeded.b.organization.id])


def test_another_organizations_trail_and_feed_name_none_of_the_deciders_staff(
    client: FlaskClient, seeded: TwoTenants
) -> None:
    cid, url = _credential(client, seeded)
    rejection = {"reason": REASON}
    rejected = client.post(f"{url}/reject", json=rejection, headers=_staff(client, seeded.a))
    assert rejected.status_code == 200
    # The provider's edit, acting for B, voids A's rejection: a change of B's trail.
    provider = bearer(token_for(client, seeded.shared_provider, seeded.b.organization))
    edited = client.put(f"/api/v1/me/credentials/{cid}", json={"number": "TX-1"}, headers=provider)
    assert _decision(edited.get_json()) == ("unverified", None, None)

    events = "/api/v1/admin/audit-events?page_size=100"
    b_trail = client.get(events, headers=_staff(client, seeded.b)).get_json()
    void = [e for e in b_trail if e["table_name"] == "credentials" and e["action"] == "update"]
    assert [e["actor_user_id"] for e in void] == [str(seeded.shared_provider.id)]
    assert set(void[0]["changes"]) == {
        "number", "verification_status", "verified_at", "verification_history",
    }  # fmt: skip
    assert void[0]["changes"]["verification_status"] == {"old": "rejected", "new": "unverified"}
    written = json.dumps(b_trail)
    assert str(seeded.a.admin.id) not in written and REASON not in written
    assert not [e for e in b_trail if e["table_name"] == "credential_verifications"]

    b_dashboard = f"/api/v1/admin/organizations/{seeded.b.organization.id}/dashboard"
    feed = client.get(b_dashboard, headers=_staff(client, seeded.b)).get_json()["recent_activity"]
    assert seeded.a.admin.name not in json.dumps(feed)

    # A's trail holds its decision, with its staff member and reason.
    a_trail = client.get(events, headers=_staff(client, seeded.a)).get_json()
    [decision] = [e for e in a_trail if e["table_name"] == "credential_verifications"]
    assert decision["actor_user_id"] == str(seeded.a.admin.id)
    assert decision["changes"]["rejection_reason"] == {"old": None, "new": REASON}
    a_dashboard = f"/api/v1/admin/organizations/{seeded.a.organization.id}/dashboard"
    a_feed = client.get(a_dashboard, headers=_staff(client, seeded.a)).get_json()
    summaries = [a["summary"] for a in a_feed["recent_activity"]]
    assert f"{seeded.a.admin.name} rejected a credential" in summaries


def _as(session: Session, tenant: Tenant) -> TenantContext:
    context = resolve_context(session, tenant.admin.id, tenant.organization.id)
    assert context is not None
    use_context(session, context)
    return context


def test_an_organization_reads_and_writes_its_own_decisions_only(
    db: Session, tenants: TwoTenants
) -> None:
    provider = tenants.shared_provider
    use_context(db, MSC_SYSTEM)
    credential = Credential(
        user_id=provider.id,
        owner_organization_ids=members.organizations_of(db, provider.id),
        **{**LICENSE, "expiry_date": dt.date(2099, 12, 31)},
    )
    db.add(credential)
    db.flush()
    now = dt.datetime(2026, 3, 2, 9, 30, tzinfo=dt.UTC)
    credentials.reject(db, _as(db, tenants.a), credential, REASON, now)
    decisions = select(
        CredentialVerification.organization_id, CredentialVerification.rejection_reason
    )
    assert db.execute(decisions).all() == [(tenants.a.organization.id, REASON)]

    _as(db, tenants.b)
    assert db.execute(decisions).all() == []
    assert db.scalar(text("SELECT count(*) FROM credential_verifications")) == 0
    # Nor can B file a decision under A, or rewrite the shared history.
    forged = text(
        "INSERT INTO credential_verifications (organization_id, credential_id, user_id,"
        " verification_status, verified_by_id, verified_at) VALUES (:o, :c, :u, 'verified', :b,"
        " now())"
    )
    params = {
        "o": tenants.a.organization.id,
        "c": credential.id,
        "u": provider.id,
        "b": tenants.b.admin.id,
    }
    with pytest.raises(DBAPIError) as refused, db.begin_nested():
        db.execute(forged, params)
    assert isinstance(refused.value.orig, psycopg.errors.InsufficientPrivilege)
    with pytest.raises(DBAPIError) as refused, db.begin_nested():
        db.execute(
            text("UPDATE credentials SET verification_history = '[]' WHERE id = :c"),
            {"c": credential.id},
        )
    assert "verification history" in str(refused.value.orig)
    for write in ("UPDATE credential_verifications SET rejection_reason = 'x'",
                  "DELETE FROM credential_verifications"):  # fmt: skip
        with pytest.raises(DBAPIError) as refused, db.begin_nested():
            db.execute(text(write))
        assert str(refused.value.orig).startswith("permission denied")


def _at(day: int, hour: int, minute: int = 0, second: int = 0) -> dt.datetime:
    return dt.datetime(2026, 3, day, hour, minute, second, tzinfo=dt.UTC)


def test_the_outcome_on_past_days_is_replayed_alike_for_every_organization(
    db: Session, tenants: TwoTenants
) -> None:
    provider = tenants.shared_provider
    use_context(db, MSC_SYSTEM)
    owners = members.organizations_of(db, provider.id)
    license_, renewal = (
        Credential(
            user_id=provider.id,
            owner_organization_ids=owners,
            created_at=created,
            **{**LICENSE, "expiry_date": dt.date(2099, 12, 31)},
        )
        for created in (_at(1, 15), _at(4, 8))
    )
    db.add_all([license_, renewal])
    db.flush()
    # A verifies a second before midnight; B rejects at midnight, which is the next day's.
    credentials.verify(db, _as(db, tenants.a), license_, _at(3, 23, 59, 59))
    credentials.reject(db, _as(db, tenants.b), license_, REASON, _at(5, 0))
    # The provider's edit voids it at noon on the 7th; A verifies again on the 8th.
    use_context(db, TenantContext(user_id=provider.id))
    license_.number = "TX-2"
    license_.updated_at = _at(7, 12)
    db.flush()
    credentials.verify(db, _as(db, tenants.a), license_, _at(8, 10))

    days = [dt.date(2026, 2, 28)] + [dt.date(2026, 3, d) for d in range(1, 9)]
    expected = {
        (license_.id, dt.date(2026, 3, 1)): "unverified",
        (license_.id, dt.date(2026, 3, 2)): "unverified",
        (license_.id, dt.date(2026, 3, 3)): "verified",
        (license_.id, dt.date(2026, 3, 4)): "verified",
        (license_.id, dt.date(2026, 3, 5)): "rejected",
        (license_.id, dt.date(2026, 3, 6)): "rejected",
        (license_.id, dt.date(2026, 3, 7)): "unverified",
        (license_.id, dt.date(2026, 3, 8)): "verified",
        # added on the 4th, never decided
        **{(renewal.id, dt.date(2026, 3, d)): "unverified" for d in range(4, 9)},
    }
    for tenant in (tenants.a, tenants.b):
        _as(db, tenant)
        stored = db.scalars(
            select(Credential)
            .where(Credential.id.in_([license_.id, renewal.id]))
            .execution_options(populate_existing=True)  # as this organization reads them
        ).all()
        assert len(stored) == 2
        replayed = {
            (credential.id, day): credentials.outcome_on(credential, day)
            for credential in stored
            for day in days
        }
        assert {key: status for key, status in replayed.items() if status} == expected
        # nothing before the credential was added
        assert replayed[license_.id, dt.date(2026, 2, 28)] is None
    # B's replay read A's outcomes, never their decisions: B holds its own one alone.
    assert db.scalars(select(CredentialVerification.verification_status)).all() == ["rejected"]
