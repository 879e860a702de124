"""One definition of each compliance figure, by hand: the same scope (an organization,
with or without its descendants) and the same numbers on the dashboard, the compliance
report and the expirations; licenses and DEA registrations per state; an organization's
document score.

The fixture: Tenant A (its facility in TX) with the shared provider (also at B), and a
child practice of A with a facility in IL and a provider of its own."""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from app import clock
from app.domain import members
from app.models import Credential, Document, Organization, User
from app.models.enums import Role
from app.models.enums import VerificationStatus as Verification
from tests import factories
from tests.conftest import TwoTenants, bearer, token_for

TODAY = clock.today()
ADMIN = "/api/v1/admin"


def _days(n: int) -> dt.date:
    return TODAY + dt.timedelta(days=n)


def _credential(session: Session, user: User, kind: str, **fields: Any) -> Credential:
    credential = Credential(
        user_id=user.id,
        owner_organization_ids=members.organizations_of(session, user.id),
        credential_type=kind,
        number=f"N-{uuid.uuid4().hex[:8]}",
        **fields,
    )
    session.add(credential)
    return credential


def _document(
    session: Session,
    kind: str,
    *,
    user: User | None = None,
    organization: Organization | None = None,
    expiry_date: dt.date | None = None,
) -> None:
    session.add(
        Document(
            user_id=user.id if user else None,
            organization_id=organization.id if organization else None,
            owner_organization_ids=members.organizations_of(session, user.id) if user else [],
            document_type=kind,
            filename=f"{kind}.pdf",
            content_type="application/pdf",
            size_bytes=1,
            sha256=hashlib.sha256(uuid.uuid4().bytes).hexdigest(),
            storage_key=f"documents/{uuid.uuid4().hex}",
            expiry_date=expiry_date,
        )
    )


@dataclass(frozen=True)
class Family:
    child: Organization
    child_provider: User


@pytest.fixture
def family(seeded: TwoTenants, admin_engine: Engine) -> Family:
    with Session(admin_engine, expire_on_commit=False) as session:
        child = factories.make_organization(
            session, name="Child Practice", parent_organization_id=seeded.a.organization.id
        )
        provider = factories.make_user(
            session, npi=factories.unique_npi(), npi_verification="verified"
        )
        factories.make_membership(session, provider, child, Role.PROVIDER)
        factories.make_assignment(
            session, provider, factories.make_facility(session, child, state="IL")
        )
        verified = {"verification_status": Verification.VERIFIED, "state": "IL"}
        _credential(session, provider, "medical_license", expiry_date=_days(7), **verified)
        _credential(session, provider, "dea_registration", expiry_date=_days(0), **verified)
        _credential(
            session,
            provider,
            "malpractice_insurance",
            expiry_date=_days(400),
            verification_status=Verification.VERIFIED,
        )
        # A's tax form, current; the child's banking letter, due in 10 days.
        _document(session, "tax_form", organization=seeded.a.organization)
        _document(session, "banking_letter", organization=child, expiry_date=_days(10))
        session.commit()
    return Family(child, provider)


# The shared provider: NPI on file, unverified (half of 15), nothing else, out of 100.
SHARED_PROVIDER = round(100 * (15 * 0.5) / 100)  # 7.5, to even: 8
# The child's provider: license verified but due in 7 days (0.75 of 30), DEA verified
# and due today, still valid (0.75 of 15), malpractice verified (25), NPI verified (15),
# no training: 22.5 + 11.25 + 25 + 15 = 73.75 of 100.
CHILD_PROVIDER = round(73.75)
# A: tax form on file (50), no banking letter. The child: banking letter due in 10 days
# (0.75 of 50), no tax form.
A_DOCUMENTS, CHILD_DOCUMENTS = 50, round(37.5)  # 37.5, to even: 38


def _get(client: FlaskClient, token: str, path: str) -> Any:
    response = client.get(path, headers=bearer(token))
    assert response.status_code == 200, response.get_json()
    return response.get_json()


@pytest.mark.parametrize(
    ("query", "score", "documents", "providers"),
    [
        ("", round((SHARED_PROVIDER + CHILD_PROVIDER) / 2), round((50 + 38) / 2), 2),
        ("?include_descendants=true", round((8 + 74) / 2), 44, 2),
        ("?include_descendants=false", SHARED_PROVIDER, A_DOCUMENTS, 1),
    ],
)
def test_the_dashboard_and_the_compliance_report_agree_on_a_parents_scope(
    client: FlaskClient,
    seeded: TwoTenants,
    family: Family,
    query: str,
    score: int,
    documents: int,
    providers: int,
) -> None:
    assert (SHARED_PROVIDER, CHILD_PROVIDER, CHILD_DOCUMENTS) == (8, 74, 38)
    token = token_for(client, seeded.a.admin)
    a = seeded.a.organization.id
    dashboard = _get(client, token, f"{ADMIN}/organizations/{a}/dashboard{query}")
    separator = "&" if query else "?"
    report = _get(client, token, f"{ADMIN}/compliance{query}{separator}organization_id={a}")
    assert dashboard["overview"]["compliance_score"] == report["score"] == score
    assert dashboard["overview"]["document_compliance_score"] == report["document_score"]
    assert report["document_score"] == documents
    assert dashboard["overview"]["total_providers"] == len(report["providers"]) == providers


def test_a_childs_own_figures(client: FlaskClient, seeded: TwoTenants, family: Family) -> None:
    token = token_for(client, seeded.a.admin)
    child = family.child.id
    dashboard = _get(client, token, f"{ADMIN}/organizations/{child}/dashboard")
    report = _get(client, token, f"{ADMIN}/compliance?organization_id={child}")
    assert dashboard["overview"]["compliance_score"] == report["score"] == CHILD_PROVIDER
    assert report["organization_ids"] == [str(child)]
    [documents] = report["documents"]
    assert documents["name"] == "Child Practice"
    assert documents["score"] == report["document_score"] == CHILD_DOCUMENTS
    assert [(i["item"], i["state"], i["share"], i["days_left"]) for i in documents["items"]] == [
        ("tax_form", "missing", 0.0, None),
        ("banking_letter", "on_file", 0.75, 10),
    ]


def test_expirations_cover_the_same_scope(
    client: FlaskClient, seeded: TwoTenants, family: Family
) -> None:
    token = token_for(client, seeded.a.admin)
    a = seeded.a.organization.id
    rows = _get(client, token, f"{ADMIN}/compliance/expirations?organization_id={a}")
    assert [(r["kind"], r["owner_name"], r["days_left"]) for r in rows] == [
        ("dea_registration", family.child_provider.name, 0),
        ("medical_license", family.child_provider.name, 7),
        ("banking_letter", "Child Practice", 10),
    ]  # within the default 90 days: not the malpractice policy, due in 400
    own = _get(
        client,
        token,
        f"{ADMIN}/compliance/expirations?organization_id={a}&include_descendants=false",
    )
    assert own == []


def test_licenses_and_dea_are_required_in_each_state_worked_in(
    client: FlaskClient, seeded: TwoTenants, admin_engine: Engine
) -> None:
    """A provider at A's TX facility and at an IL one: a TX license verified, an IL one
    unverified; a TX DEA registration and an IN one, none for IL."""
    with Session(admin_engine, expire_on_commit=False) as session:
        provider = factories.make_user(
            session, npi=factories.unique_npi(), npi_verification="verified"
        )
        factories.make_membership(session, provider, seeded.a.organization, Role.PROVIDER)
        factories.make_assignment(session, provider, seeded.a.facility)
        illinois = factories.make_facility(session, seeded.a.organization, state="IL")
        factories.make_assignment(session, provider, illinois)
        far = _days(900)
        for kind, state, status in (
            ("medical_license", "TX", Verification.VERIFIED),
            ("medical_license", "IL", Verification.UNVERIFIED),
            ("dea_registration", "TX", Verification.VERIFIED),
            ("dea_registration", "IN", Verification.VERIFIED),
        ):
            _credential(
                session, provider, kind, state=state, verification_status=status, expiry_date=far
            )
        _credential(
            session,
            provider,
            "malpractice_insurance",
            verification_status=Verification.VERIFIED,
            expiry_date=far,
        )
        _document(session, "training_certificate", user=provider)
        session.commit()
    token = token_for(client, seeded.a.admin)
    body = _get(client, token, f"{ADMIN}/providers/{provider.id}/compliance")
    items = {i["item"]: i for i in body["items"]}
    # license: IL's unverified is the weakest (half of 30); DEA: none for IL (0 of 15);
    # malpractice 25, NPI 15, training 15: 15 + 0 + 25 + 15 + 15 = 70.
    assert body["score"] == 70
    assert (items["medical_license"]["state"], items["medical_license"]["share"]) == (
        "unverified",
        0.5,
    )
    assert items["medical_license"]["required_states"] == ["IL", "TX"]
    assert items["medical_license"]["missing_states"] == []
    assert (items["dea_registration"]["state"], items["dea_registration"]["share"]) == (
        "missing",
        0.0,
    )
    assert items["dea_registration"]["missing_states"] == ["IL"]
    assert body["missing"] == ["dea_registration"]
    assert items["malpractice_insurance"]["required_states"] == []

    provider_token = token_for(client, provider)
    checklist = _get(client, provider_token, "/api/v1/me/onboarding")
    by_item = {i["item"]: i for i in checklist["items"]}
    assert (by_item["dea_registration"]["complete"], by_item["dea_registration"]["detail"]) == (
        False,
        "not on file in IL",
    )
    assert (by_item["medical_license"]["complete"], by_item["medical_license"]["detail"]) == (
        True,
        "unverified",
    )


def test_the_registration_of_the_state_worked_in_counts_not_the_latest_elsewhere(
    client: FlaskClient, seeded: TwoTenants, admin_engine: Engine
) -> None:
    """Working in IL only: a verified IL DEA registration counts, not an unverified IN
    one that expires later."""
    with Session(admin_engine, expire_on_commit=False) as session:
        provider = factories.make_user(session)
        factories.make_membership(session, provider, seeded.a.organization, Role.PROVIDER)
        illinois = factories.make_facility(session, seeded.a.organization, state="IL")
        factories.make_assignment(session, provider, illinois)
        _credential(
            session,
            provider,
            "dea_registration",
            state="IN",
            verification_status=Verification.UNVERIFIED,
            expiry_date=_days(800),
        )
        _credential(
            session,
            provider,
            "dea_registration",
            state="IL",
            verification_status=Verification.VERIFIED,
            expiry_date=_days(400),
        )
        session.commit()
    token = token_for(client, seeded.a.admin)
    body = _get(client, token, f"{ADMIN}/providers/{provider.id}/compliance")
    [dea] = [i for i in body["items"] if i["item"] == "dea_registration"]
    assert (dea["state"], dea["share"], dea["required_states"]) == ("verified", 1.0, ["IL"])
    # DEA 15 of 100, nothing else
    assert body["score"] == 15


def test_the_compliance_trend_replays_each_day_as_it_stood(
    client: FlaskClient, seeded: TwoTenants, admin_engine: Engine
) -> None:
    """Five days, D0 to today. A provider (no DEA needed: 85 points) joins A on D1 with a
    verified NPI, adds a TX license on D2 and has it verified on D3; the shared provider
    joined today."""
    d = [TODAY - dt.timedelta(days=4 - n) for n in range(5)]

    def at(day: dt.date, hour: int) -> dt.datetime:
        return dt.datetime.combine(day, dt.time(hour), dt.UTC)

    with Session(admin_engine, expire_on_commit=False) as session:
        provider = factories.make_user(
            session,
            npi=factories.unique_npi(),
            npi_verification="verified",
            dea_not_applicable=True,
        )
        factories.make_membership(
            session, provider, seeded.a.organization, Role.PROVIDER
        ).created_at = at(d[1], 10)
        factories.make_assignment(session, provider, seeded.a.facility, start_date=d[0])
        license_ = _credential(
            session,
            provider,
            "medical_license",
            state="TX",
            expiry_date=_days(400),
            created_at=at(d[2], 9),
        )
        session.flush()
        license_.verification_status = Verification.VERIFIED
        license_.verified_at = at(d[3], 15)
        session.commit()
    token = token_for(client, seeded.a.admin)
    body = _get(
        client,
        token,
        f"{ADMIN}/organizations/{seeded.a.organization.id}/analytics"
        f"?from={d[0]}&to={d[4]}&interval=day",
    )
    on_d3 = round(100 * (30 + 15) / 85)  # 52.9: 53
    assert (
        [p["compliance_score"] for p in body["periods"]]
        == [
            None,  # no provider member yet
            round(100 * 15 / 85),  # the NPI alone: 17.6, 18
            round(100 * (30 * 0.5 + 15) / 85),  # the license unverified: 35.3, 35
            on_d3,
            round((on_d3 + SHARED_PROVIDER) / 2),  # and the shared provider: 30.5, to even 30
        ]
        == [None, 18, 35, 53, 30]
    )
    # today's is the dashboard's
    dashboard = _get(client, token, f"{ADMIN}/organizations/{seeded.a.organization.id}/dashboard")
    assert dashboard["overview"]["compliance_score"] == 30
