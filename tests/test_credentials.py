"""Credentials: shared by a provider's organizations, verified by staff, expiring by
date; compliance scores computed from them."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from flask.testing import FlaskClient
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from app import clock
from app.domain import credentials
from app.models import Credential
from app.models.enums import Role
from app.tenancy.context import TenantContext, apply, use_context
from tests import factories
from tests.conftest import MSC_SYSTEM, TwoTenants, bearer, token_for

TODAY = clock.today()
LICENSE = {
    "credential_type": "medical_license",
    "state": "TX",
    "number": "TX-12345",
    "issuer": "Texas Medical Board",
    "expiry_date": str(TODAY + dt.timedelta(days=400)),
}


def test_shared_provider_shows_the_same_credentials_to_both_organizations(
    client: FlaskClient, seeded: TwoTenants, admin_engine: Engine
) -> None:
    provider = token_for(client, seeded.shared_provider, seeded.a.organization)
    created = client.post("/api/v1/me/credentials", json=LICENSE, headers=bearer(provider))
    assert created.status_code == 201, created.get_json()
    credential = created.get_json()
    assert credential["status"] == "unverified" and credential["days_left"] == 400

    url = f"/api/v1/admin/providers/{seeded.shared_provider.id}/credentials"
    for tenant in (seeded.a, seeded.b):
        seen = client.get(url, headers=bearer(token_for(client, tenant.admin))).get_json()
        assert [c["id"] for c in seen] == [credential["id"]]
        assert seen[0]["number"] == "TX-12345"

    with Session(admin_engine, expire_on_commit=False) as setup:
        third = factories.make_organization(setup, name="Tenant C")
        outsider = factories.make_user(setup)
        factories.make_membership(setup, outsider, third, Role.ORGANIZATION_ADMIN)
        setup.commit()
    outsider_token = token_for(client, outsider)
    assert client.get(url, headers=bearer(outsider_token)).status_code == 404
    with admin_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM credentials")).scalar_one() == 1


def test_staff_verify_and_reject_and_an_edit_voids_verification(
    client: FlaskClient, seeded: TwoTenants
) -> None:
    provider = token_for(client, seeded.shared_provider, seeded.a.organization)
    credential = client.post("/api/v1/me/credentials", json=LICENSE, headers=bearer(provider))
    cid = credential.get_json()["id"]
    base = f"/api/v1/admin/providers/{seeded.shared_provider.id}/credentials/{cid}"

    manager = token_for(client, seeded.b.office_manager)  # manages nothing: reaches nobody
    assert client.post(f"{base}/verify", headers=bearer(manager)).status_code == 404
    b_admin = token_for(client, seeded.b.admin)
    verified = client.post(f"{base}/verify", headers=bearer(b_admin)).get_json()
    assert verified["status"] == "verified" and verified["verified_by_id"] == str(seeded.b.admin.id)

    # The provider cannot verify themselves, and editing voids the verification.
    assert client.post(f"{base}/verify", headers=bearer(provider)).status_code == 403
    edited = client.put(
        f"/api/v1/me/credentials/{cid}", json={"number": "TX-99999"}, headers=bearer(provider)
    ).get_json()
    assert edited["status"] == "unverified" and edited["verified_by_id"] is None

    missing_reason = client.post(f"{base}/reject", json={}, headers=bearer(b_admin))
    assert missing_reason.status_code == 422
    rejected = client.post(
        f"{base}/reject", json={"reason": "number unknown to the board"}, headers=bearer(b_admin)
    ).get_json()
    assert rejected["status"] == "rejected"
    assert rejected["rejection_reason"] == "number unknown to the board"


def test_each_kind_requires_its_fields(client: FlaskClient, seeded: TwoTenants) -> None:
    provider = token_for(client, seeded.shared_provider, seeded.a.organization)
    incomplete = client.post(
        "/api/v1/me/credentials",
        json={"credential_type": "malpractice_insurance", "issuer": "Carrier"},
        headers=bearer(provider),
    )
    assert incomplete.status_code == 422
    assert "number" in incomplete.get_json()["errors"]["json"]
    bad = client.post(
        "/api/v1/me/credentials",
        json={"credential_type": "dea_registration", "dea_schedules": ["7"], "state": "ZZZ"},
        headers=bearer(provider),
    )
    assert bad.status_code == 422
    assert {"dea_schedules", "state"} <= set(bad.get_json()["errors"]["json"])
    bad_dea = client.post(
        "/api/v1/me/credentials",
        json={
            "credential_type": "dea_registration",
            "number": "AP5836728",
            "state": "TX",
            "dea_schedules": ["2", "3"],
            "expiry_date": str(TODAY + dt.timedelta(days=900)),
        },
        headers=bearer(provider),
    )
    assert bad_dea.status_code == 422
    assert "number" in bad_dea.get_json()["errors"]["json"]
    good_dea = client.post(
        "/api/v1/me/credentials",
        json={
            "credential_type": "dea_registration",
            "number": "AP5836727",
            "state": "TX",
            "dea_schedules": ["2", "3"],
            "expiry_date": str(TODAY + dt.timedelta(days=900)),
        },
        headers=bearer(provider),
    )
    assert good_dea.status_code == 201, good_dea.get_json()
    admin = token_for(client, seeded.a.admin)
    assert (
        client.post("/api/v1/me/credentials", json=LICENSE, headers=bearer(admin)).status_code
        == 403
    )


def test_expiry_boundaries() -> None:
    def with_expiry(days: int) -> Credential:
        return Credential(
            credential_type="medical_license",
            verification_status="verified",
            expiry_date=TODAY + dt.timedelta(days=days),
        )

    assert credentials.status_at(with_expiry(-1), TODAY) == "expired"  # yesterday
    assert credentials.status_at(with_expiry(0), TODAY) == "verified"  # valid through today
    assert credentials.status_at(with_expiry(1), TODAY) == "verified"
    assert credentials.expiring_within(with_expiry(0), TODAY) == 30
    assert credentials.expiring_within(with_expiry(31), TODAY) == 60
    assert credentials.expiring_within(with_expiry(90), TODAY) == 90
    assert credentials.expiring_within(with_expiry(91), TODAY) is None
    assert credentials.expiring_within(with_expiry(-1), TODAY) is None
    rejected = with_expiry(-5)
    rejected.verification_status = "rejected"
    assert credentials.status_at(rejected, TODAY) == "rejected"


def test_compliance_score_matches_the_hand_computed_value(
    client: FlaskClient, seeded: TwoTenants, admin_engine: Engine
) -> None:
    """One expired (verified) license, no malpractice insurance, DEA not applicable, NPI
    verified, training on file: (30*0 + 25*0 + 15*1 + 15*1) / (30 + 25 + 15 + 15) = 35.3."""
    provider = seeded.shared_provider
    with admin_engine.begin() as conn:
        apply(conn, TenantContext(is_msc_admin=True))
        owners = factories.owner_organization_ids(conn, provider.id)
        conn.execute(
            text(
                "UPDATE users SET dea_not_applicable = true, npi_verification = 'verified'"
                " WHERE id = :u"
            ),
            {"u": provider.id},
        )
        conn.execute(
            text(
                "INSERT INTO credentials (user_id, owner_organization_ids, credential_type, state,"
                " number, expiry_date, verification_status) VALUES (:u, :o, 'medical_license',"
                " 'TX', 'X1', :d, 'verified')"
            ),
            {"u": provider.id, "o": owners, "d": TODAY - dt.timedelta(days=1)},
        )
        conn.execute(
            text(
                "INSERT INTO documents (user_id, owner_organization_ids, document_type, filename,"
                " content_type, size_bytes, sha256, storage_key) VALUES (:u, :o,"
                " 'training_certificate', 't.pdf', 'application/pdf', 10, repeat('b', 64), 'k')"
            ),
            {"u": provider.id, "o": owners},
        )
    admin = token_for(client, seeded.a.admin)
    one = client.get(f"/api/v1/admin/providers/{provider.id}/compliance", headers=bearer(admin))
    assert one.status_code == 200
    body = one.get_json()
    assert body["score"] == round(100 * 30 / 85)  # 35
    assert body["expired"] == ["medical_license"]
    assert body["missing"] == ["malpractice_insurance"]

    organization = client.get("/api/v1/admin/compliance", headers=bearer(admin)).get_json()
    assert [p["user_id"] for p in organization["providers"]] == [str(provider.id)]
    assert organization["score"] == 35 and organization["training_completion_rate"] == 1.0
    missing = client.get(
        "/api/v1/admin/compliance?missing=malpractice_insurance", headers=bearer(admin)
    ).get_json()
    assert len(missing["providers"]) == 1
    expirations = client.get(
        "/api/v1/admin/compliance/expirations?within_days=90", headers=bearer(admin)
    ).get_json()
    assert [(e["kind"], e["days_left"]) for e in expirations] == [("medical_license", -1)]
    other = client.get(
        f"/api/v1/admin/compliance?organization_id={seeded.b.organization.id}",
        headers=bearer(admin),
    )
    assert other.status_code == 404


def test_provider_checklist(client: FlaskClient, seeded: TwoTenants) -> None:
    provider = token_for(client, seeded.shared_provider, seeded.a.organization)
    client.put(
        "/api/v1/me",
        json={"phone": "+14155552671", "dea_not_applicable": True},
        headers=bearer(provider),
    )
    client.post("/api/v1/me/credentials", json=LICENSE, headers=bearer(provider))
    mine = client.get("/api/v1/me/onboarding", headers=bearer(provider)).get_json()
    items = {i["item"]: i["complete"] for i in mine["items"]}
    assert items == {
        "personal_information": True,
        "npi_verification": False,
        "medical_license": True,
        "dea_registration": True,
        "malpractice_insurance": False,
        "facility_assignment": True,
        "system_training": False,
        "first_order": False,
        "primary_facility": True,  # at A (the provider's own checklist only)
    }
    assert mine["percent_complete"] == 56  # 5 of 9: 55.6%
    admin = token_for(client, seeded.b.admin)
    seen = client.get(
        f"/api/v1/admin/providers/{seeded.shared_provider.id}/onboarding", headers=bearer(admin)
    )
    assert seen.status_code == 200


# A malpractice insurance without its per-claim coverage, which the tests below vary.
INSURANCE = {
    "credential_type": "malpractice_insurance",
    "issuer": "Carrier",
    "number": "P-1",
    "coverage_aggregate": "3000000",
    "effective_date": str(TODAY),
    "expiry_date": str(TODAY + dt.timedelta(days=365)),
}


def test_out_of_range_and_inconsistent_values_are_422_naming_the_field(
    client: FlaskClient, seeded: TwoTenants
) -> None:
    provider = token_for(client, seeded.shared_provider, seeded.a.organization)
    insurance = {**INSURANCE, "coverage_per_claim": "1e20"}
    too_big = client.post("/api/v1/me/credentials", json=insurance, headers=bearer(provider))
    assert too_big.status_code == 422
    assert "coverage_per_claim" in too_big.get_json()["errors"]["json"]
    reversed_dates = {
        **insurance,
        "coverage_per_claim": "1000000",
        "effective_date": str(TODAY + dt.timedelta(days=400)),
    }
    response = client.post("/api/v1/me/credentials", json=reversed_dates, headers=bearer(provider))
    assert response.status_code == 422
    assert "expiry_date" in response.get_json()["errors"]["json"]


def test_coverage_amounts_are_never_rounded(client: FlaskClient, seeded: TwoTenants) -> None:
    """A third decimal place is refused, as in an order's amount, not rounded away, and so
    is a JSON number, which may arrive as a binary fraction; two or fewer decimal places
    in a string come back as written, with their cents."""
    provider = token_for(client, seeded.shared_provider, seeded.a.organization)
    insurance = INSURANCE
    for amount in ("100.005", "1e-9", 0.001, 100.5):
        refused = client.post(
            "/api/v1/me/credentials",
            json={**insurance, "coverage_per_claim": amount},
            headers=bearer(provider),
        )
        assert refused.status_code == 422, amount
        assert refused.get_json()["errors"]["json"]["coverage_per_claim"] == [
            "must be a decimal string with at most 12 digits before the point and 2 after"
            ' ("125.50")'
        ]
    kept = client.post(
        "/api/v1/me/credentials",
        json={**insurance, "coverage_per_claim": "100.5"},
        headers=bearer(provider),
    )
    assert kept.status_code == 201, kept.get_json()
    assert kept.get_json()["coverage_per_claim"] == "100.50"


def test_a_suspended_organization_cannot_verify_credentials(
    client: FlaskClient, seeded: TwoTenants, admin_engine: Engine
) -> None:
    provider = token_for(client, seeded.shared_provider, seeded.a.organization)
    cid = client.post("/api/v1/me/credentials", json=LICENSE, headers=bearer(provider)).get_json()[
        "id"
    ]
    with admin_engine.begin() as conn:
        apply(conn, TenantContext(is_msc_admin=True))
        conn.execute(
            text("UPDATE organizations SET status = 'suspended' WHERE id = :o"),
            {"o": seeded.b.organization.id},
        )
    b_admin = token_for(client, seeded.b.admin)
    url = f"/api/v1/admin/providers/{seeded.shared_provider.id}/credentials/{cid}/verify"
    assert client.post(url, headers=bearer(b_admin)).status_code == 403


def _seen_by_admin_of(db: Session, organization_id: object, admin_id: object) -> list[str]:
    """The credentials and provider documents an organization's admin reads."""
    apply(
        db.connection(),
        TenantContext(
            user_id=admin_id,
            organization_id=organization_id,
            role=Role.ORGANIZATION_ADMIN,
            organization_ids=(organization_id,),
        ),
    )
    return list(
        db.execute(
            text(
                "SELECT 'credential' FROM credentials"
                " UNION ALL SELECT 'document' FROM documents WHERE user_id IS NOT NULL"
            )
        ).scalars()
    )


def test_a_membership_opens_what_the_member_owns_to_that_organization_alone(
    db: Session, tenants: TwoTenants
) -> None:
    """Credentials and a provider's documents carry their owner's organizations: a new
    membership opens them to the new organization's staff, in the same transaction, as a
    copy (no new updated_at, no audit event of the credential's own)."""
    provider = tenants.shared_provider
    use_context(db, MSC_SYSTEM)
    third = factories.make_organization(db, name="Tenant C")
    third_admin = factories.make_user(db)
    factories.make_membership(db, third_admin, third, Role.ORGANIZATION_ADMIN)
    use_context(db, TenantContext(user_id=provider.id))
    credential = credentials.create(db, provider.id, {**LICENSE, "expiry_date": TODAY})
    db.execute(
        text(
            "INSERT INTO documents (user_id, owner_organization_ids, document_type, filename,"
            " content_type, size_bytes, sha256, storage_key) VALUES (:u, :o,"
            " 'training_certificate', 't.pdf', 'application/pdf', 10, repeat('b', 64), 'k')"
        ),
        {"u": provider.id, "o": list(credential.owner_organization_ids)},
    )
    assert sorted(credential.owner_organization_ids) == sorted(
        [tenants.a.organization.id, tenants.b.organization.id]
    )
    stamped = credential.updated_at

    assert _seen_by_admin_of(db, tenants.a.organization.id, tenants.a.admin.id) == [
        "credential",
        "document",
    ]
    assert _seen_by_admin_of(db, third.id, third_admin.id) == []

    use_context(db, MSC_SYSTEM)
    factories.make_membership(db, provider, third, Role.PROVIDER)
    assert _seen_by_admin_of(db, third.id, third_admin.id) == ["credential", "document"]

    use_context(db, MSC_SYSTEM)
    db.refresh(credential)
    assert third.id in credential.owner_organization_ids
    assert credential.updated_at == stamped
    events = db.execute(
        text("SELECT action FROM audit_events WHERE row_id = :c"), {"c": credential.id}
    ).scalars()
    assert list(events) == ["insert"]


def test_nobody_opens_their_credentials_to_an_organization_of_their_choosing(
    db: Session, tenants: TwoTenants
) -> None:
    """The copy of the owner's organizations takes no other value, from the owner as from
    anyone but the system copying it."""
    provider = tenants.shared_provider
    use_context(db, TenantContext(user_id=provider.id))
    credential = credentials.create(db, provider.id, dict(LICENSE))
    elsewhere = [*credential.owner_organization_ids, uuid.uuid4()]
    with pytest.raises(DBAPIError, match="follows the owner's memberships"), db.begin_nested():
        db.execute(
            text("UPDATE credentials SET owner_organization_ids = :o WHERE id = :c"),
            {"o": elsewhere, "c": credential.id},
        )
    with pytest.raises(DBAPIError, match="follows the owner's memberships"), db.begin_nested():
        db.add(Credential(user_id=provider.id, owner_organization_ids=elsewhere, **LICENSE))
        db.flush()
    with pytest.raises(DBAPIError, match="follows the owner's memberships"), db.begin_nested():
        # a credential that names none of them, hidden from the owner's organizations
        db.add(Credential(user_id=provider.id, **LICENSE))
        db.flush()
