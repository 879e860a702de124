"""Webhooks' rules over real PostgreSQL, without HTTP: recording events with their
deliveries, the endpoints' isolation by row-level security, the relay, claims, the
retry schedule, disabling, signing and secret rotation, replay, and the URL and address
checks. Delivery to a real receiver by a real worker: tests/test_webhook_delivery.py."""

from __future__ import annotations

import dataclasses
import datetime as dt
import ipaddress
import uuid

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from app.domain import webhooks
from app.domain.errors import Conflict, Invalid
from app.domain.outbox import Sealer
from app.integrations.webhook_http import Answer, address_refusal
from app.models import (
    OutboxMessage,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)
from app.models.enums import Role, WebhookEventType
from app.tenancy.context import TenantContext, use_context
from tests.conftest import MSC_SYSTEM, TwoTenants

SEALER = Sealer("test-outbox-secret-of-enough-length-0123456789")
POLICY = webhooks.DeliveryPolicy(delays=(10, 60), disable_after=dt.timedelta(hours=1))
JOINED = WebhookEventType.PROVIDER_JOINED
EXPIRING = WebhookEventType.CREDENTIAL_EXPIRING


def _endpoint(
    db: Session,
    tenants: TwoTenants,
    *,
    tenant: str = "a",
    types: tuple[str, ...] = (JOINED,),
    active: bool = True,
) -> tuple[WebhookEndpoint, str]:
    chosen = getattr(tenants, tenant)
    use_context(db, chosen.context())
    endpoint, secret = webhooks.create_endpoint(
        db,
        chosen.organization,
        {"url": "https://hooks.example.com/msc", "event_types": list(types), "active": active},
        sealer=SEALER,
        created_by_id=chosen.admin.id,
        require_https=True,
    )
    return endpoint, secret


def _deliveries(db: Session) -> list[WebhookDelivery]:
    use_context(db, MSC_SYSTEM)
    query = select(WebhookDelivery).order_by(WebhookDelivery.created_at, WebhookDelivery.id)
    return list(db.scalars(query.execution_options(populate_existing=True)))


def test_an_event_gets_a_delivery_for_each_active_subscribed_endpoint_of_its_organization(
    db: Session, tenants: TwoTenants
) -> None:
    subscribed, _ = _endpoint(db, tenants)
    _endpoint(db, tenants, types=(EXPIRING,))  # another type
    _endpoint(db, tenants, active=False)  # inactive
    _endpoint(db, tenants, tenant="b")  # another organization
    # recorded by a provider's change: their context reaches no endpoint
    use_context(
        db,
        TenantContext(
            user_id=tenants.shared_provider.id,
            organization_id=tenants.a.organization.id,
            role=Role.PROVIDER,
            organization_ids=(tenants.a.organization.id,),
        ),
    )
    webhooks.record(db, tenants.a.organization.id, JOINED, {"provider": {"id": "p"}})

    deliveries = _deliveries(db)
    assert [(d.organization_id, d.endpoint_id) for d in deliveries] == [
        (tenants.a.organization.id, subscribed.id)
    ]
    event = db.get_one(WebhookEvent, (tenants.a.organization.id, deliveries[0].event_id))
    assert (event.type, event.data) == (JOINED, {"provider": {"id": "p"}})


def test_an_occurrence_recorded_twice_under_its_key_is_one_event_and_one_delivery(
    db: Session, tenants: TwoTenants
) -> None:
    _endpoint(db, tenants, types=(EXPIRING,))
    use_context(db, MSC_SYSTEM)
    event = webhooks.NewEvent(tenants.a.organization.id, EXPIRING, "credential:c:30", {"x": 1})
    assert webhooks.record_many(db, [event]) == (1, 1)
    assert webhooks.record_many(db, [event]) == (0, 0)
    assert db.scalar(select(func.count()).select_from(WebhookEvent)) == 1
    assert len(_deliveries(db)) == 1


def test_endpoints_events_and_the_log_are_the_organizations_admins_and_msc_admins_alone(
    db: Session, tenants: TwoTenants
) -> None:
    endpoint, _ = _endpoint(db, tenants)
    use_context(db, MSC_SYSTEM)
    webhooks.record(db, tenants.a.organization.id, JOINED, {"n": 1})
    tables = (WebhookEndpoint, WebhookEvent, WebhookDelivery)

    def seen(context: TenantContext) -> list[int]:
        use_context(db, context)
        return [db.scalar(select(func.count()).select_from(t)) or 0 for t in tables]

    assert seen(tenants.a.context()) == [1, 1, 1]
    assert seen(tenants.b.context()) == [0, 0, 0]
    assert seen(tenants.a.context(tenants.a.office_manager, Role.OFFICE_MANAGER)) == [0, 0, 0]
    assert seen(TenantContext()) == [0, 0, 0]
    assert seen(TenantContext(user_id=tenants.msc_admin.id, is_msc_admin=True)) == [1, 1, 1]
    # another organization's admin cannot change it either
    use_context(db, tenants.b.context())
    changed = db.execute(
        WebhookEndpoint.__table__.update()
        .where(WebhookEndpoint.id == endpoint.id)
        .values(url="https://attacker.example.com/")
    )
    assert changed.rowcount == 0


@pytest.fixture
def now(db: Session) -> dt.datetime:
    """A moment when the deliveries the test records are due: they are due from their
    transaction's time on the database's clock, so this is read from that clock, not
    from the test process's (a module-level constant goes stale in a long run)."""
    started: dt.datetime = db.scalar(select(func.now()))
    return started.replace(microsecond=0) + dt.timedelta(minutes=5)


def _claim(db: Session, delivery: WebhookDelivery, now: dt.datetime) -> webhooks.Claimed:
    use_context(db, MSC_SYSTEM)
    claimed = webhooks.claim(db, delivery.organization_id, delivery.id, now, POLICY)
    assert claimed is not None
    return claimed


def _failed(code: int = 500) -> Answer:
    return Answer(status_code=code, body="no", error=None, latency_ms=3)


def test_failures_retry_after_each_delay_then_fail_and_each_attempt_is_logged(
    db: Session, tenants: TwoTenants, now: dt.datetime
) -> None:
    _endpoint(db, tenants)
    use_context(db, MSC_SYSTEM)
    webhooks.record(db, tenants.a.organization.id, JOINED, {})
    (delivery,) = _deliveries(db)

    claimed = _claim(db, delivery, now)
    assert webhooks.claim(db, delivery.organization_id, delivery.id, now, POLICY) is None
    assert webhooks.settle(db, claimed, _failed(), now, POLICY) == "pending"
    db.refresh(delivery)
    # 10 s, varied by a fifth at most
    assert dt.timedelta(seconds=8) <= delivery.next_attempt_at - now <= dt.timedelta(seconds=12)
    assert webhooks.claim(db, delivery.organization_id, delivery.id, now, POLICY) is None

    later = delivery.next_attempt_at
    assert webhooks.settle(db, _claim(db, delivery, later), _failed(), later, POLICY) == "pending"
    db.refresh(delivery)
    last = delivery.next_attempt_at
    assert dt.timedelta(seconds=48) <= last - later <= dt.timedelta(seconds=72)
    assert webhooks.settle(db, _claim(db, delivery, last), _failed(503), last, POLICY) == "failed"
    db.refresh(delivery)
    assert (delivery.status, delivery.attempts, delivery.last_error) == ("failed", 3, "HTTP 503")
    log = db.scalars(select(WebhookAttempt).order_by(WebhookAttempt.number)).all()
    assert [(a.number, a.status_code) for a in log] == [(1, 500), (2, 500), (3, 503)]


def test_an_endpoint_failing_for_long_enough_is_disabled_and_its_admins_emailed_once(
    db: Session, tenants: TwoTenants, now: dt.datetime
) -> None:
    endpoint, _ = _endpoint(db, tenants)
    use_context(db, MSC_SYSTEM)
    for n in range(3):
        webhooks.record(db, tenants.a.organization.id, JOINED, {"n": n})
    first, second, third = _deliveries(db)

    webhooks.settle(db, _claim(db, first, now), _failed(), now, POLICY)
    db.refresh(endpoint)
    assert (endpoint.active, endpoint.failing_since) == (True, now)
    # a success in between clears the record
    webhooks.settle(db, _claim(db, second, now), Answer(204, "", None, 1), now, POLICY)
    db.refresh(endpoint)
    assert endpoint.failing_since is None

    # retried an hour later, as a policy whose delays reach an hour does: one streak
    hourly = dataclasses.replace(POLICY, delays=(10, 3600))
    webhooks.settle(db, _claim(db, third, now), _failed(), now, hourly)
    hour_later = now + dt.timedelta(hours=1)
    retry = third
    db.execute(
        WebhookDelivery.__table__.update()
        .where(WebhookDelivery.id == retry.id)
        .values(next_attempt_at=hour_later)
    )
    webhooks.settle(db, _claim(db, retry, hour_later), _failed(), hour_later, hourly)
    db.refresh(endpoint)
    assert (endpoint.active, endpoint.disabled_at) == (False, hour_later)
    assert endpoint.disabled_reason is not None and "HTTP 500" in endpoint.disabled_reason
    notices = db.scalars(
        select(OutboxMessage).where(OutboxMessage.kind == "webhook_disabled")
    ).all()
    assert [n.recipient_email for n in notices] == [tenants.a.admin.email]
    assert notices[0].payload["endpoint_url"] == endpoint.url

    # made active again by an admin: the failure record is cleared
    use_context(db, tenants.a.context())
    webhooks.update_endpoint(db, endpoint, {"active": True}, require_https=True)
    assert (endpoint.disabled_at, endpoint.failing_since) == (None, None)


def test_a_failure_after_a_quiet_spell_starts_a_new_streak_and_a_paused_endpoint_stays_paused(
    db: Session, tenants: TwoTenants, now: dt.datetime
) -> None:
    """An endpoint that failed, then had nothing to deliver for longer than its retries
    ever wait, is not disabled by one failure days later; an endpoint its admin made
    inactive while an attempt was under way is not disabled (nor its admins emailed); a
    new URL clears the old one's failures."""
    endpoint, _ = _endpoint(db, tenants)
    use_context(db, MSC_SYSTEM)
    for n in range(3):
        webhooks.record(db, tenants.a.organization.id, JOINED, {"n": n})
    first, second, third = _deliveries(db)
    webhooks.settle(db, _claim(db, first, now), _failed(), now, POLICY)

    days_later = now + dt.timedelta(days=3)
    webhooks.settle(db, _claim(db, second, days_later), _failed(), days_later, POLICY)
    db.refresh(endpoint)
    assert (endpoint.active, endpoint.failing_since) == (True, days_later)

    # paused by an admin while the third was being posted, long after the streak began
    claimed = _claim(db, third, days_later)
    use_context(db, tenants.a.context())
    webhooks.update_endpoint(db, endpoint, {"active": False}, require_https=True)
    use_context(db, MSC_SYSTEM)
    db.execute(
        WebhookEndpoint.__table__.update()
        .where(WebhookEndpoint.id == endpoint.id)
        .values(failing_since=now)
    )
    webhooks.settle(db, claimed, _failed(), days_later, POLICY)
    db.refresh(endpoint)
    assert (endpoint.active, endpoint.disabled_at) == (False, None)
    notices = select(OutboxMessage).where(OutboxMessage.kind == "webhook_disabled")
    assert db.scalars(notices).all() == []

    use_context(db, tenants.a.context())
    webhooks.update_endpoint(
        db, endpoint, {"url": "https://other.example.com/msc"}, require_https=True
    )
    assert endpoint.failing_since is None


def test_the_relay_hands_over_due_deliveries_and_recovers_a_dead_workers(
    db: Session, tenants: TwoTenants
) -> None:
    _endpoint(db, tenants)
    use_context(db, MSC_SYSTEM)
    webhooks.record(db, tenants.a.organization.id, JOINED, {})
    (delivery,) = _deliveries(db)
    now = dt.datetime.now(dt.UTC)  # within the requeue interval of the relay's mark
    handed: list[uuid.UUID] = []
    assert webhooks.relay(db, lambda o, d, a: handed.append(d), now, POLICY) == 1
    assert handed == [delivery.id]
    assert webhooks.relay(db, lambda o, d, a: handed.append(d), now, POLICY) == 0

    _claim(db, delivery, now)  # and the worker dies
    # After its lease, the attempt is logged as lost and waits its delay like a failure.
    after_lease = now + POLICY.lease + dt.timedelta(seconds=1)
    assert webhooks.relay(db, lambda o, d, a: handed.append(d), after_lease, POLICY) == 0
    db.refresh(delivery)
    assert (delivery.status, delivery.attempts) == ("pending", 1)
    assert (
        dt.timedelta(seconds=8)
        <= delivery.next_attempt_at - after_lease
        <= dt.timedelta(seconds=12)
    )
    (lost,) = db.scalars(select(WebhookAttempt)).all()
    assert (lost.number, lost.status_code, lost.error) == (1, None, webhooks.STOPPED)
    assert lost.attempted_at == now  # when it was claimed
    assert webhooks.relay(db, lambda o, d, a: handed.append(d), after_lease, POLICY) == 0
    retry_at = delivery.next_attempt_at
    assert webhooks.relay(db, lambda o, d, a: handed.append(d), retry_at, POLICY) == 1
    db.refresh(delivery)
    assert delivery.status == "queued" and delivery.attempts == 1


def _verified(secret: str, body: bytes, headers: dict[str, str]) -> bool:
    try:
        Webhook(secret).verify(body, headers)
    except WebhookVerificationError:
        return False
    return True


def test_signatures_verify_with_the_standard_webhooks_package_and_rotation_overlaps(
    db: Session, tenants: TwoTenants
) -> None:
    endpoint, old_secret = _endpoint(db, tenants)
    assert old_secret.startswith("whsec_")
    use_context(db, MSC_SYSTEM)
    webhooks.record(db, tenants.a.organization.id, JOINED, {"provider": {"name": "Zoë"}})
    event = db.scalars(select(WebhookEvent)).one()
    body = webhooks.envelope(event)
    now = dt.datetime.now(dt.UTC)

    headers = webhooks.signed_headers(event.id, body, [old_secret], now)
    assert headers["webhook-id"] == str(event.id)
    assert _verified(old_secret, body, headers)
    assert not _verified(webhooks.new_secret(), body, headers)
    assert not _verified(old_secret, body.replace(b"Zo", b"Jo"), headers)

    use_context(db, tenants.a.context())
    new_secret = webhooks.rotate_secret(
        db, endpoint, sealer=SEALER, now=now, overlap=dt.timedelta(hours=24)
    )
    during = webhooks.signing_secrets(endpoint, SEALER, now + dt.timedelta(hours=23))
    assert during == [new_secret, old_secret]
    headers = webhooks.signed_headers(event.id, body, during, now)
    assert _verified(new_secret, body, headers) and _verified(old_secret, body, headers)
    after = webhooks.signing_secrets(endpoint, SEALER, now + dt.timedelta(hours=24))
    assert after == [new_secret]


def test_replay_starts_one_event_or_a_ranges_failed_deliveries_over(
    db: Session, tenants: TwoTenants, now: dt.datetime
) -> None:
    endpoint, _ = _endpoint(db, tenants)
    use_context(db, MSC_SYSTEM)
    for n in range(2):
        webhooks.record(db, tenants.a.organization.id, JOINED, {"n": n})
    for delivery in _deliveries(db):
        claimed = _claim(db, delivery, now)
        for _ in range(POLICY.max_attempts - 1):
            webhooks.settle(db, claimed, _failed(), now, POLICY)
            db.refresh(delivery)
            claimed = _claim(db, delivery, delivery.next_attempt_at)
        webhooks.settle(db, claimed, _failed(), now, POLICY)
    assert {d.status for d in _deliveries(db)} == {"failed"}

    use_context(db, tenants.a.context())
    first = _deliveries(db)[0]
    use_context(db, tenants.a.context())
    assert webhooks.replay(db, endpoint, now, event_id=first.event_id) == 1
    with pytest.raises(Invalid):
        webhooks.replay(db, endpoint, now, event_id=uuid.uuid4())
    with pytest.raises(Invalid):
        webhooks.replay(db, endpoint, now, since=now, until=now)
    occurred = db.scalars(select(WebhookEvent.occurred_at)).all()
    since, until = min(occurred) - dt.timedelta(minutes=1), max(occurred) + dt.timedelta(minutes=1)
    assert webhooks.replay(db, endpoint, now, since=since, until=until) == 1  # the other failed
    statuses = [(d.status, d.attempts) for d in _deliveries(db)]
    assert statuses == [("pending", 0), ("pending", 0)]
    assert db.scalar(select(func.count()).select_from(WebhookAttempt)) == 6  # the log stays

    use_context(db, tenants.a.context())
    webhooks.update_endpoint(db, endpoint, {"active": False}, require_https=True)
    with pytest.raises(Conflict):
        webhooks.replay(db, endpoint, now, event_id=first.event_id)


def test_a_range_replay_delivers_what_an_inactive_endpoint_missed(
    db: Session, tenants: TwoTenants, now: dt.datetime
) -> None:
    """Events of its types recorded while the endpoint was inactive (disabled, paused) got
    no delivery; replaying their time range delivers them, and only them: not another
    type's, nor another endpoint's."""
    endpoint, _ = _endpoint(db, tenants)
    other, _ = _endpoint(db, tenants)
    use_context(db, tenants.a.context())
    webhooks.update_endpoint(db, endpoint, {"active": False}, require_https=True)
    use_context(db, MSC_SYSTEM)
    webhooks.record(db, tenants.a.organization.id, JOINED, {"n": 1})
    webhooks.record(db, tenants.a.organization.id, EXPIRING, {"n": 2})
    assert [d.endpoint_id for d in _deliveries(db)] == [other.id]  # the active one's

    use_context(db, tenants.a.context())
    webhooks.update_endpoint(db, endpoint, {"active": True}, require_https=True)
    occurred = db.scalars(select(WebhookEvent.occurred_at)).all()
    since, until = min(occurred) - dt.timedelta(minutes=1), max(occurred) + dt.timedelta(minutes=1)
    assert webhooks.replay(db, endpoint, now, since=since, until=until) == 1
    mine = [d for d in _deliveries(db) if d.endpoint_id == endpoint.id]
    assert [(d.status, d.attempts) for d in mine] == [("pending", 0)]
    event = db.get_one(WebhookEvent, (mine[0].organization_id, mine[0].event_id))
    assert event.type == JOINED
    # a second replay finds nothing failed or missed
    use_context(db, tenants.a.context())
    assert webhooks.replay(db, endpoint, now, since=since, until=until) == 0


@pytest.mark.parametrize(
    ("url", "require_https", "problem"),
    [
        ("https://hooks.example.com/x?a=1", True, None),
        ("http://hooks.example.com/x", False, None),
        ("http://hooks.example.com/x", True, "https"),
        ("ftp://hooks.example.com/x", False, "https"),
        ("/relative", False, "absolute"),
        ("https://user:pw@hooks.example.com/", True, "password"),
        ("https://hooks.example.com/#frag", True, "fragment"),
        ("https://hooks.example.com:99999/", True, "valid"),
        ("https://hooks.example.com/a b", True, "spaces"),
    ],
)
def test_endpoint_urls(url: str, require_https: bool, problem: str | None) -> None:
    if problem is None:
        assert webhooks.check_url(url, require_https=require_https) == url
    else:
        with pytest.raises(Invalid) as refused:
            webhooks.check_url(url, require_https=require_https)
        assert refused.value.field == "url" and problem in refused.value.message


@pytest.mark.parametrize(
    ("address", "refused"),
    [
        ("93.184.215.14", False),
        ("2606:4700::6810:84e5", False),
        ("127.0.0.1", True),
        ("10.1.2.3", True),
        ("172.16.0.1", True),
        ("192.168.1.1", True),
        ("169.254.169.254", True),  # cloud metadata
        ("100.100.100.200", True),  # a metadata address in shared space
        ("0.0.0.0", True),
        ("::1", True),
        ("fe80::1", True),
        ("fd00:ec2::254", True),  # cloud metadata over IPv6
        ("::ffff:127.0.0.1", True),  # IPv4 loopback written as IPv6
        ("224.0.0.1", True),
    ],
)
def test_only_public_addresses_are_reached(address: str, refused: bool) -> None:
    parsed = ipaddress.ip_address(address)
    assert (address_refusal(parsed, ()) is not None) is refused


def test_the_allowed_networks_admit_their_addresses_alone() -> None:
    allowed = (ipaddress.ip_network("127.0.0.1/32"),)
    assert address_refusal(ipaddress.ip_address("127.0.0.1"), allowed) is None
    assert address_refusal(ipaddress.ip_address("127.0.0.2"), allowed) is not None
    assert address_refusal(ipaddress.ip_address("10.0.0.1"), allowed) is not None
