"""Webhook events recorded where the changes happen, over real PostgreSQL: each type by
the domain action that makes it, in its transaction (a change rolled back leaves no
event), each organization's event naming its own data alone (a provider working for
two organizations makes one event at each), the scans' events recorded once however
often they run, and a subscribed endpoint given its delivery. What each event carries
is built by app/domain/webhook_events.py; delivery: tests/test_webhooks_domain.py."""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from app import clock
from app.domain import (
    assignments,
    credentials,
    facilities,
    invitations,
    members,
    organizations,
    reminders,
    webhook_events,
    webhooks,
)
from app.domain.webhook_events import EXAMPLES
from app.models import (
    Credential,
    Invitation,
    Membership,
    ProviderFacility,
    WebhookDelivery,
    WebhookEvent,
)
from app.models.enums import OnboardingStatus, Role, WebhookEventType
from app.tenancy.context import TenantContext, use_context
from tests import factories
from tests.conftest import MSC_SYSTEM, TwoTenants
from tests.test_screening import BORN, _entry, _list, _provider, _screen
from tests.test_webhooks_domain import SEALER

T = WebhookEventType
NUMBER = "MD-99887766"


def _events(db: Session, organization_id: uuid.UUID | None = None) -> list[tuple[str, Any]]:
    """(type, data) of the events recorded, of one organization or of all, in a stable
    order."""
    use_context(db, MSC_SYSTEM)
    query = select(WebhookEvent)
    if organization_id is not None:
        query = query.where(WebhookEvent.organization_id == organization_id)
    found = db.scalars(query.execution_options(populate_existing=True))
    return sorted(((e.type, e.data) for e in found), key=lambda pair: json.dumps(pair))


def _types(db: Session, organization_id: uuid.UUID) -> list[str]:
    return sorted(type_ for type_, _ in _events(db, organization_id))


def _provider_data(tenants: TwoTenants) -> dict[str, Any]:
    p = tenants.shared_provider
    return webhook_events.provider(p.id, p.name, p.npi)


def _assignment(db: Session, user_id: uuid.UUID, facility_id: uuid.UUID) -> ProviderFacility:
    use_context(db, MSC_SYSTEM)
    found = assignments.current_assignment(db, user_id, facility_id)
    assert found is not None
    return found


def test_every_type_has_an_example_as_receivers_get_it() -> None:
    assert set(EXAMPLES) == set(WebhookEventType)
    for data in EXAMPLES.values():
        assert json.loads(json.dumps(data)) == data  # plain JSON: stored as built
        assert "number" not in json.dumps(data)


def test_the_readme_shows_each_example_as_built() -> None:
    """The README's payload examples are the builders' (a changed payload changes them)."""
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    shown = re.findall(
        r"<details><summary><code>([a-z_.]+)</code></summary>\n\n```json\n(.*?)\n```",
        readme,
        flags=re.S,
    )
    assert {type_: json.loads(body) for type_, body in shown} == {
        str(type_): data for type_, data in EXAMPLES.items()
    }


def test_a_provider_invitation_is_announced_with_the_onboarding_step_it_completes(
    db: Session, tenants: TwoTenants
) -> None:
    a = tenants.a
    use_context(db, a.context())
    body: dict[str, Any] = {
        "email": "nova@example.com",
        "name": "Dr. Nova",
        "role": "provider",
        "facility_ids": [a.facility.id],
    }
    now = clock.now()

    def invite(data: dict[str, Any]) -> Invitation:
        return invitations.invite(
            db, a.context(), a.organization, data, dt.timedelta(days=7), "https://x", SEALER, now
        )

    first = invite(body)
    again = invite(body)  # a new token for the same person: a new invitation email
    invite({"email": "om@example.com", "name": "Omar", "role": "office_manager"})

    assert again.id == first.id
    invited = [data for type_, data in _events(db) if type_ == T.PROVIDER_INVITED]
    assert (
        invited
        == [
            webhook_events.provider_invited(
                a.organization.id,
                invitation_id=first.id,
                email="nova@example.com",
                name="Dr. Nova",
                facility_ids=[a.facility.id],
                primary_facility_id=None,
                expires_at=now + dt.timedelta(days=7),
                invited_by_id=a.admin.id,
            )
        ]
        * 2
    )
    steps = sorted(
        data["step"] for type_, data in _events(db) if type_ == T.ONBOARDING_STEP_COMPLETED
    )
    assert steps == ["invite_office_managers", "provider_invitations"]
    assert _events(db, tenants.b.organization.id) == []


def test_an_acceptance_announces_the_provider_and_their_assignments_to_that_organization(
    db: Session, tenants: TwoTenants
) -> None:
    a = tenants.a
    now = clock.now()
    token = "t-" + uuid.uuid4().hex
    use_context(db, MSC_SYSTEM)
    db.add(
        Invitation(
            organization_id=a.organization.id,
            email="joiner@example.com",
            name="Dr. Joiner",
            role=Role.PROVIDER,
            token_hash=invitations.token_hash(token),
            expires_at=now + dt.timedelta(days=7),
            facility_ids=[a.facility.id],
        )
    )
    db.flush()
    use_context(db, TenantContext())

    invitation, user = invitations.accept(
        db, token, {"password": "a-long-enough-password"}, now=now
    )

    pending = _assignment(db, user.id, a.facility.id)
    provider = webhook_events.provider(user.id, "Dr. Joiner", None)
    assert _events(db) == sorted(
        [
            (
                T.ASSIGNMENT_CHANGED,
                webhook_events.assignment_changed(
                    a.organization.id,
                    changes=[webhook_events.AssignmentChange.CREATED],
                    provider=provider,
                    assignment=webhook_events.assignment(
                        pending.id, a.facility.id, a.facility.name, "pending", now.date(), None
                    ),
                ),
            ),
            (
                T.PROVIDER_JOINED,
                webhook_events.provider_joined(
                    a.organization.id,
                    provider=provider,
                    joined_at=now,
                    invitation_id=invitation.id,
                    facility_ids=[a.facility.id],
                ),
            ),
        ],
        key=lambda pair: json.dumps(pair),
    )


def test_a_shared_providers_assignments_are_announced_to_their_own_organization_alone(
    db: Session, tenants: TwoTenants
) -> None:
    """Assigned, ended (not their last there), given an end date, and ended (their last:
    they left A). B, where they still work, hears of none of it."""
    a, b, p = tenants.a, tenants.b, tenants.shared_provider
    use_context(db, MSC_SYSTEM)
    second = factories.make_facility(db, a.organization, name="A Second Clinic")
    first = _assignment(db, p.id, a.facility.id)
    today = clock.today()
    use_context(db, a.context())

    added = assignments.assign(db, p.id, second, is_primary=False, start_date=None)
    assignments.end(db, first)
    assignments.end(db, added, end_date=today + dt.timedelta(days=10))
    assignments.end(db, added)

    changes = [
        (data["changes"], data["assignment"]["facility"]["name"])
        for type_, data in _events(db, a.organization.id)
        if type_ == T.ASSIGNMENT_CHANGED
    ]
    assert sorted(changes) == sorted(
        [
            (["created"], "A Second Clinic"),
            (["ended"], a.facility.name),
            (["end_date_set"], "A Second Clinic"),
            (["ended"], "A Second Clinic"),
        ]
    )
    left = [data for type_, data in _events(db, a.organization.id) if type_ == T.PROVIDER_LEFT]
    assert left == [
        webhook_events.provider_left(
            a.organization.id,
            provider=_provider_data(tenants),
            reason=webhook_events.LeftBecause.ASSIGNMENTS_ENDED,
            left_on=today,
        )
    ]
    seen_by_a = json.dumps(_events(db, a.organization.id))
    assert str(b.organization.id) not in seen_by_a and str(b.facility.id) not in seen_by_a
    assert _events(db, b.organization.id) == []


def test_the_primary_made_at_one_organization_is_announced_there(
    db: Session, tenants: TwoTenants
) -> None:
    b, p = tenants.b, tenants.shared_provider
    at_b = _assignment(db, p.id, b.facility.id)
    use_context(db, b.context())
    assignments.make_primary(db, at_b)
    assignments.make_primary(db, at_b)  # already: nothing changes

    assert [data["changes"] for _, data in _events(db, b.organization.id)] == [["made_primary"]]
    assert _events(db, tenants.a.organization.id) == []


def test_a_deactivated_membership_or_account_is_a_provider_leaving_each_organization(
    db: Session, tenants: TwoTenants
) -> None:
    a, b, p = tenants.a, tenants.b, tenants.shared_provider
    use_context(db, b.context())
    membership = db.scalars(
        select(Membership).where(
            Membership.organization_id == b.organization.id, Membership.user_id == p.id
        )
    ).one()
    members.deactivate(db, membership)
    use_context(db, TenantContext(user_id=tenants.msc_admin.id, is_msc_admin=True))
    members.deactivate_account(
        db, TenantContext(user_id=tenants.msc_admin.id, is_msc_admin=True), p
    )

    def reasons(organization_id: uuid.UUID) -> list[str]:
        events = _events(db, organization_id)
        return [data["reason"] for type_, data in events if type_ == T.PROVIDER_LEFT]

    assert reasons(b.organization.id) == ["membership_deactivated"]
    assert reasons(a.organization.id) == ["account_deactivated"]


def test_a_rolled_back_change_leaves_no_event(db: Session, tenants: TwoTenants) -> None:
    a, p = tenants.a, tenants.shared_provider
    use_context(db, MSC_SYSTEM)
    second = factories.make_facility(db, a.organization)
    with pytest.raises(RuntimeError), db.begin_nested():
        use_context(db, a.context())
        assignments.assign(db, p.id, second, is_primary=True, start_date=None)
        assert _types(db, a.organization.id) == [T.ASSIGNMENT_CHANGED]
        raise RuntimeError("the request failed after the change")
    assert _events(db) == []


def test_an_endpoint_subscribed_to_the_type_gets_a_delivery(
    db: Session, tenants: TwoTenants
) -> None:
    a, p = tenants.a, tenants.shared_provider
    use_context(db, a.context())
    subscribed, _ = (
        webhooks.create_endpoint(
            db,
            a.organization,
            {"url": "https://hooks.example.com/", "event_types": [type_]},
            sealer=SEALER,
            created_by_id=a.admin.id,
            require_https=True,
        )[0]
        for type_ in (T.ASSIGNMENT_CHANGED, T.PROVIDER_JOINED)
    )
    use_context(db, MSC_SYSTEM)
    second = factories.make_facility(db, a.organization)
    use_context(db, a.context())
    assignments.assign(db, p.id, second, is_primary=False, start_date=None)

    use_context(db, MSC_SYSTEM)
    deliveries = db.scalars(select(WebhookDelivery)).all()
    assert [d.endpoint_id for d in deliveries] == [subscribed.id]


def test_a_verified_credential_is_announced_at_every_organization_the_provider_works_for(
    db: Session, tenants: TwoTenants
) -> None:
    a, b, p = tenants.a, tenants.b, tenants.shared_provider
    use_context(db, MSC_SYSTEM)
    credential = Credential(
        user_id=p.id,
        owner_organization_ids=members.organizations_of(db, p.id),
        credential_type="medical_license",
        number=NUMBER,
        state="TX",
        expiry_date=clock.today() + dt.timedelta(days=400),
    )
    db.add(credential)
    db.flush()
    now = clock.now()
    use_context(db, a.context())
    credentials.verify(db, a.context(), credential, now)

    for organization in (a.organization, b.organization):
        assert _events(db, organization.id) == [
            (
                T.CREDENTIAL_VERIFIED,
                webhook_events.credential_verified(
                    organization.id,
                    provider=_provider_data(tenants),
                    credential=webhook_events.credential(
                        credential.id, "medical_license", credential.expiry_date, "verified"
                    ),
                    verified_at=now,
                ),
            )
        ]
    assert NUMBER not in json.dumps(_events(db))

    # B recording its own decision on the verified credential announces nothing new.
    use_context(db, b.context())
    credentials.verify(db, b.context(), credential, now + dt.timedelta(hours=1))
    for organization in (a.organization, b.organization):
        assert _types(db, organization.id) == [T.CREDENTIAL_VERIFIED]


def test_the_reminder_scan_announces_expiring_and_recently_expired_credentials_once(
    db: Session, tenants: TwoTenants
) -> None:
    """At each organization the provider works for; an expiry older than the look-back
    is not announced; a second scan records nothing new."""
    a, b, p = tenants.a, tenants.b, tenants.shared_provider
    today = clock.today()
    use_context(db, MSC_SYSTEM)
    made = {}
    for days in (25, -5, -40):
        made[days] = Credential(
            user_id=p.id,
            owner_organization_ids=members.organizations_of(db, p.id),
            credential_type="medical_license",
            number=NUMBER,
            state="TX",
            expiry_date=today + dt.timedelta(days=days),
        )
        db.add(made[days])
    db.flush()

    for _ in range(2):
        use_context(db, TenantContext(is_msc_admin=True, request_id="job:reminder-scan"))
        reminders.scan(db, today, (90, 60, 30, 7, 0), "https://msc.example.com")

    for organization in (a.organization, b.organization):
        events = _events(db, organization.id)
        assert sorted(
            (type_, data["credential"]["id"], data.get("window_days")) for type_, data in events
        ) == sorted(
            [
                (T.CREDENTIAL_EXPIRING, str(made[25].id), 30),
                (T.CREDENTIAL_EXPIRED, str(made[-5].id), None),
            ]
        )
        assert all(data["organization_id"] == str(organization.id) for _, data in events)
    assert NUMBER not in json.dumps(_events(db))


def test_an_onboarding_step_is_announced_once_and_not_by_a_live_organization(
    db: Session, tenants: TwoTenants
) -> None:
    a, b = tenants.a, tenants.b
    use_context(db, MSC_SYSTEM)
    b.organization.onboarding_status = OnboardingStatus.COMPLETED
    db.flush()
    for tenant in (a, a, b):
        use_context(db, tenant.context())
        facilities.create_facility(
            db, tenant.organization, {"name": "Clinic", "facility_type": "clinic", "state": "TX"}
        )

    assert [data["step"] for _, data in _events(db, a.organization.id)] == ["add_facilities"]
    assert _events(db, b.organization.id) == []


def test_an_organization_is_announced_activated_once(db: Session, tenants: TwoTenants) -> None:
    msc = TenantContext(user_id=tenants.msc_admin.id, is_msc_admin=True)
    use_context(db, msc)
    organization = factories.make_organization(db, name="Pending Practice", status="pending")
    for status in ("active", "suspended", "active"):
        organizations.update_organization(db, msc, organization, {"status": status})

    assert _events(db, organization.id) == [
        (
            T.ORGANIZATION_ACTIVATED,
            webhook_events.organization_activated(
                organization.id, name="Pending Practice", activated_at=organization.activated_at
            ),
        )
    ]


@contextmanager
def _statements(db: Session) -> Iterator[list[str]]:
    seen: list[str] = []
    engine = db.connection().engine

    def record(*args: Any) -> None:
        seen.append(args[2])

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def test_screening_announces_its_new_matches_in_a_fixed_number_of_statements(
    db: Session, tenants: TwoTenants
) -> None:
    """NPI matches (exclusions at once) and name matches (candidates), each to its
    organization, once; a pass with three times the new matches runs the same
    statements."""
    a, b = tenants.a, tenants.b
    use_context(db, MSC_SYSTEM)
    leie = _list(db, published_on=dt.date(2026, 11, 10))

    def listed(last_names: list[str]) -> None:
        for last in last_names:
            by_npi = _provider(db, tenants, f"Robin {last}", npi=factories.unique_npi())
            _entry(db, leie, npi=by_npi.npi, last_name=last.upper(), first_name="ROBIN")
            _provider(db, tenants, f"Casey {last}", born=BORN)
            _entry(db, leie, last_name=last.upper(), first_name="CASEY", date_of_birth=BORN)

    listed(["Quill"])
    with _statements(db) as one_each:
        _screen(db)
    listed(["Marsh", "Moss", "Mills"])
    with _statements(db) as three_each:
        _screen(db)
    _screen(db)  # finds them all again: nothing new

    events = _events(db, a.organization.id)
    assert {type_ for type_, _ in events} == {T.EXCLUSION_CANDIDATE}
    assert sorted((data["provider"]["name"], data["status"]) for _, data in events) == [
        (f"{first} {last}", status)
        for first, status in (("Casey", "candidate"), ("Robin", "excluded"))
        for last in ("Marsh", "Mills", "Moss", "Quill")
    ]
    assert _events(db, b.organization.id) == []
    assert len(one_each) == len(three_each)
