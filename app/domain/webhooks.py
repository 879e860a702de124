"""Webhooks: an organization's endpoints, the events recorded for them, and delivery.

An event is recorded in the same transaction as the change that causes it (`record`,
`record_many`), with one delivery row for each of the organization's active endpoints
subscribed to its type, in the same statement. From there delivery follows the outbox's
rules (app/domain/outbox.py):

- the relay hands due deliveries to the queue; a worker claims one in a single UPDATE
  with a lease, so two workers never post the same delivery at once;
- each attempt is signed to the Standard Webhooks specification (`webhook-id`: the
  event's id, the same on every attempt and replay, for the receiver to de-duplicate;
  `webhook-timestamp`; `webhook-signature`, HMAC-SHA256 with the endpoint's secret and,
  during a rotation's overlap, with the previous one as well), recorded in the delivery
  log whatever its outcome, and retried after each of the settings' delays, varied by up
  to a fifth, until the delivery fails;
- delivery is at least once: a worker that dies after the endpoint answered but before
  the answer was recorded leaves a lease that expires; the attempt is logged as lost and
  the event is posted again after the retry's delay, under the same `webhook-id`;
- an endpoint whose attempts have all failed for long enough is disabled, and its
  organization's admins are emailed (through the outbox);
- an admin replays one event, or every failed delivery of a time range: the deliveries
  start over.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import random
import secrets
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol
from urllib.parse import urlsplit

from sqlalchemy import Select, func, literal, or_, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session
from standardwebhooks.webhooks import Webhook

from app.config import Settings
from app.domain import outbox
from app.domain.errors import Conflict, Invalid
from app.domain.outbox import Sealer
from app.domain.queries import Rows, one_of
from app.integrations.webhook_http import Answer
from app.models import (
    Membership,
    Organization,
    User,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)
from app.models.enums import MessageKind, Role, WebhookEventType
from app.models.enums import WebhookDeliveryStatus as Status
from app.tenancy.context import SESSION_KEY, TenantContext, system_context

# The Standard Webhooks prefix of a secret, not a secret (bandit B105).
SECRET_PREFIX = "whsec_"  # nosec B105
SECRET_BYTES = 32
# A delivery's next attempt is put off by its delay, give or take this fraction.
JITTER = 0.2


# What each event type announces, in a line: the API lists them (GET
# /api/v1/admin/webhook-event-types) and the README shows them from here.
EVENT_TYPE_DESCRIPTIONS: dict[WebhookEventType, str] = {
    WebhookEventType.PROVIDER_INVITED: "a provider was invited to join the organization",
    WebhookEventType.PROVIDER_JOINED: "a provider accepted an invitation and joined the"
    " organization",
    WebhookEventType.PROVIDER_LEFT: "a provider left the organization: their last active"
    " assignment there ended, or their membership or account was deactivated",
    WebhookEventType.ASSIGNMENT_CHANGED: "a provider's assignment to one of the"
    " organization's facilities was made, ended, made primary or had its dates changed",
    WebhookEventType.CREDENTIAL_EXPIRING: "a credential of one of the organization's"
    " providers reached a reminder window before its expiry",
    WebhookEventType.CREDENTIAL_EXPIRED: "a credential of one of the organization's"
    " providers passed its expiry date",
    WebhookEventType.CREDENTIAL_VERIFIED: "a credential of one of the organization's"
    " providers was verified",
    WebhookEventType.ONBOARDING_STEP_COMPLETED: "a step of the organization's onboarding was"
    " completed",
    WebhookEventType.ORGANIZATION_ACTIVATED: "the organization went live",
    WebhookEventType.EXCLUSION_CANDIDATE: "exclusion screening matched one of the"
    " organization's providers to an exclusion list entry",
}


# --- endpoints ------------------------------------------------------------------


def new_secret() -> str:
    """A signing secret in the Standard Webhooks form: `whsec_` and 32 random bytes in
    base64."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def check_url(url: str, *, require_https: bool) -> str:
    """The endpoint's URL as stored, or Invalid naming `url`: absolute http(s) (https when
    required: in production), with a host, no credentials and no fragment. Where it
    leads is checked at each delivery, after resolving its host
    (app/integrations/webhook_http.py), as a name may resolve elsewhere later."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (raises on a malformed port)
    except ValueError as exc:
        raise Invalid(f"not a valid URL: {exc}", field="url") from None
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise Invalid("must be an absolute https:// URL", field="url")
    if require_https and parts.scheme != "https":
        raise Invalid("must be an https:// URL", field="url")
    if parts.username is not None or parts.password is not None:
        raise Invalid("must not carry a user name or password", field="url")
    if parts.fragment:
        raise Invalid("must not carry a fragment (#...)", field="url")
    if any(ch.isspace() for ch in url):
        raise Invalid("must not contain spaces", field="url")
    return url


def create_endpoint(
    session: Session,
    organization: Organization,
    data: dict[str, Any],
    *,
    sealer: Sealer,
    created_by_id: uuid.UUID | None,
    require_https: bool,
) -> tuple[WebhookEndpoint, str]:
    """Register an endpoint; returns it with its signing secret, which is shown this once."""
    secret = new_secret()
    endpoint = WebhookEndpoint(
        organization_id=organization.id,
        url=check_url(data["url"], require_https=require_https),
        description=data.get("description", ""),
        event_types=sorted(set(data["event_types"])),
        active=data.get("active", True),
        secret_sealed=sealer.seal({"secret": secret}),
        created_by_id=created_by_id,
    )
    session.add(endpoint)
    session.flush()
    return endpoint, secret


def update_endpoint(
    session: Session, endpoint: WebhookEndpoint, changes: dict[str, Any], *, require_https: bool
) -> WebhookEndpoint:
    """Change the fields sent. Making a disabled endpoint active again clears its failure
    record; its failed deliveries stay failed until replayed."""
    if "url" in changes:
        url = check_url(changes["url"], require_https=require_https)
        if url != endpoint.url:
            # the old address's failures say nothing of the new one's
            endpoint.failing_since = None
        endpoint.url = url
    if "description" in changes:
        endpoint.description = changes["description"]
    if "event_types" in changes:
        endpoint.event_types = sorted(set(changes["event_types"]))
    if "active" in changes:
        endpoint.active = changes["active"]
        if endpoint.active:
            endpoint.disabled_at = None
            endpoint.disabled_reason = None
            endpoint.failing_since = None
    session.flush()
    return endpoint


def delete_endpoint(session: Session, endpoint: WebhookEndpoint) -> None:
    """Remove the endpoint with its deliveries and their log (the events stay)."""
    session.delete(endpoint)
    session.flush()


def rotate_secret(
    session: Session,
    endpoint: WebhookEndpoint,
    *,
    sealer: Sealer,
    now: dt.datetime,
    overlap: dt.timedelta,
) -> str:
    """Give the endpoint a new secret, shown this once; the current one keeps signing
    beside it until `now + overlap`, for the receiver to switch without losing an event.
    A secret still in its overlap from an earlier rotation is dropped."""
    secret = new_secret()
    endpoint.previous_secret_sealed = endpoint.secret_sealed
    endpoint.previous_secret_expires_at = now + overlap
    endpoint.secret_sealed = sealer.seal({"secret": secret})
    session.flush()
    return secret


def signing_secrets(endpoint: WebhookEndpoint, sealer: Sealer, now: dt.datetime) -> list[str]:
    """The secrets an attempt at `now` is signed with: the current one, and the previous
    one while its overlap lasts."""
    found = [sealer.unseal(endpoint.secret_sealed)["secret"]]
    expires = endpoint.previous_secret_expires_at
    if endpoint.previous_secret_sealed is not None and expires is not None and now < expires:
        found.append(sealer.unseal(endpoint.previous_secret_sealed)["secret"])
    return found


def list_endpoints(organization_id: uuid.UUID) -> Select[WebhookEndpoint]:
    return (
        select(WebhookEndpoint)
        .where(WebhookEndpoint.organization_id == organization_id)
        .order_by(WebhookEndpoint.created_at, WebhookEndpoint.id)
    )


# --- events ---------------------------------------------------------------------


class NewEvent(NamedTuple):
    """An event for `record_many`: the organization it belongs to, its type, the key
    naming its occurrence (recorded once per organization), and its data."""

    organization_id: uuid.UUID
    type: str
    key: str
    data: dict[str, Any]


# The events travel as one JSON document, unpacked by the server; inserted with their
# deliveries in one statement. An event whose key the organization has recorded already
# is skipped, and so gets no second delivery.
_RECORD = text(
    """
    WITH new_events AS (
        SELECT * FROM jsonb_to_recordset(CAST(:events AS jsonb))
            AS e(organization_id uuid, type text, key text, data jsonb)
    ), recorded AS (
        INSERT INTO webhook_events (organization_id, type, key, data)
        SELECT organization_id, type, key, data FROM new_events
        ON CONFLICT (organization_id, key) DO NOTHING
        RETURNING organization_id, id, type
    ), delivered AS (
        INSERT INTO webhook_deliveries (organization_id, endpoint_id, event_id)
        SELECT recorded.organization_id, endpoint.id, recorded.id
          FROM recorded
          JOIN webhook_endpoints endpoint
            ON endpoint.organization_id = recorded.organization_id
           AND endpoint.active
           AND recorded.type = ANY (endpoint.event_types)
        RETURNING 1
    )
    SELECT (SELECT count(*) FROM recorded), (SELECT count(*) FROM delivered)
    """
)


@contextmanager
def _as_service(session: Session) -> Iterator[None]:
    """The service's reach for recording: the change's author (a provider accepting an
    invitation, say) may reach none of the organization's endpoints, yet the event is
    the organization's. Nothing read here goes back to the caller; a session already in
    the system context stays in it."""
    current: TenantContext | None = session.info.get(SESSION_KEY)
    if current is not None and current.is_msc_admin and current.user_id is None:
        yield
        return
    with system_context(session, anonymous=True):
        yield


def event(
    organization_id: uuid.UUID,
    type_: WebhookEventType,
    data: dict[str, Any],
    *,
    key: str | None = None,
) -> NewEvent:
    """An event of the organization's (data: its webhook_events builder's); `key` names
    an occurrence that may be recorded twice (a scan run again), none makes it unique."""
    return NewEvent(organization_id, type_, key or f"{type_}:{uuid.uuid4()}", data)


def record(
    session: Session,
    organization_id: uuid.UUID,
    type_: WebhookEventType,
    data: dict[str, Any],
    *,
    key: str | None = None,
) -> None:
    """Record an `event`, with a delivery for each endpoint subscribed."""
    record_many(session, [event(organization_id, type_, data, key=key)])


def record_many(session: Session, events: Sequence[NewEvent]) -> tuple[int, int]:
    """Record events and their deliveries in one statement, whatever their number; returns
    how many events were new and how many deliveries that made."""
    if not events:
        return (0, 0)
    document = json.dumps([event._asdict() for event in events], default=str)
    with _as_service(session):
        recorded, delivered = session.execute(_RECORD, {"events": document}).one()
    return int(recorded), int(delivered)


def envelope(event: WebhookEvent) -> bytes:
    """The body every delivery of the event carries: its type, when it happened, and its
    data (the Standard Webhooks payload structure)."""
    document = {
        "type": event.type,
        "timestamp": event.occurred_at.astimezone(dt.UTC).isoformat().replace("+00:00", "Z"),
        "data": event.data,
    }
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()


def signed_headers(
    event_id: uuid.UUID, body: bytes, secrets_: Sequence[str], now: dt.datetime
) -> dict[str, str]:
    """The Standard Webhooks headers of one attempt at `now`, signed with each secret."""
    message_id = str(event_id)
    signatures = " ".join(
        Webhook(secret).sign(message_id, now, body.decode()) for secret in secrets_
    )
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": signatures,
        "content-type": "application/json",
        "user-agent": "MSC-Webhooks/1",
    }


# --- delivery -------------------------------------------------------------------


@dataclass(frozen=True)
class DeliveryPolicy:
    """How deliveries are retried, and when an endpoint is given up on."""

    delays: tuple[int, ...] = (5, 300, 1800, 7200, 18000, 36000, 36000)
    disable_after: dt.timedelta = dt.timedelta(hours=72)
    lease: dt.timedelta = dt.timedelta(minutes=2)
    requeue_after: dt.timedelta = dt.timedelta(minutes=1)

    @property
    def max_attempts(self) -> int:
        return len(self.delays) + 1

    @property
    def quiet_gap(self) -> dt.timedelta:
        """A failing endpoint with pending deliveries is tried at least this often (the
        longest delay at its most varied, and a lease); a failure after a longer quiet
        spell starts a new failing streak rather than extending an old one."""
        return dt.timedelta(seconds=max(self.delays, default=0) * (1 + JITTER)) + self.lease

    def delay(self, attempts: int, rand: Callable[[], float] = random.random) -> dt.timedelta:
        """The wait after the `attempts`-th failed attempt, varied by up to JITTER."""
        base = self.delays[min(attempts, len(self.delays)) - 1]
        return dt.timedelta(seconds=base * (1 + JITTER * (2 * rand() - 1)))

    @classmethod
    def from_settings(cls, settings: Settings) -> DeliveryPolicy:
        return cls(
            delays=settings.webhook_retry_delays,
            disable_after=settings.webhook_disable_after,
            # An attempt ends within the timeout; the rest is time to sign and record it.
            lease=dt.timedelta(seconds=settings.webhook_timeout_seconds * 3 + 30),
            requeue_after=dt.timedelta(seconds=settings.outbox_requeue_seconds),
        )


STOPPED = "the worker stopped before recording the answer"


class _DeliveryKey(Protocol):
    organization_id: uuid.UUID
    id: uuid.UUID


def _release(
    session: Session,
    delivery: _DeliveryKey,
    attempts: int,
    lease_until: dt.datetime | None,
    values: dict[str, Any],
) -> bool:
    """End a claim with the delivery's new state, if the claim still stands: the same
    attempt under the same lease (a replay and a new claim since make another). Whether
    it did."""
    changed = session.execute(
        update(WebhookDelivery)
        .where(
            WebhookDelivery.organization_id == delivery.organization_id,
            WebhookDelivery.id == delivery.id,
            WebhookDelivery.status == Status.SENDING,
            WebhookDelivery.attempts == attempts,
            WebhookDelivery.lease_until == lease_until,
        )
        .values(**values, lease_until=None)
        .execution_options(synchronize_session=False)
    )
    return bool(changed.rowcount == 1)  # type: ignore[attr-defined]


def _recover_stopped(session: Session, now: dt.datetime, policy: DeliveryPolicy) -> None:
    """Deliveries whose worker died under its lease (the lease ran out): the attempt
    counts, is logged as such at its claim's time, and waits its delay like any failed
    one (or the delivery fails, if it was the last). A few rows at most: workers rarely
    die mid-attempt."""
    stopped = session.execute(
        select(
            WebhookDelivery.organization_id,
            WebhookDelivery.id,
            WebhookDelivery.endpoint_id,
            WebhookDelivery.event_id,
            WebhookDelivery.attempts,
            WebhookDelivery.lease_until,
            WebhookEndpoint.url,
        )
        .join(
            WebhookEndpoint,
            (WebhookEndpoint.organization_id == WebhookDelivery.organization_id)
            & (WebhookEndpoint.id == WebhookDelivery.endpoint_id),
        )
        .where(WebhookDelivery.status == Status.SENDING, WebhookDelivery.lease_until < now)
    ).all()
    for row in stopped:
        last = row.attempts >= policy.max_attempts
        values = {
            "status": Status.FAILED if last else Status.PENDING,
            "next_attempt_at": now + policy.delay(row.attempts),
            "last_status_code": None,
            "last_error": STOPPED,
        }
        if _release(session, row, row.attempts, row.lease_until, values):
            session.add(
                WebhookAttempt(
                    organization_id=row.organization_id,
                    delivery_id=row.id,
                    endpoint_id=row.endpoint_id,
                    event_id=row.event_id,
                    number=row.attempts,
                    attempted_at=row.lease_until - policy.lease,
                    url=row.url,
                    status_code=None,
                    latency_ms=int(policy.lease.total_seconds() * 1000),
                    error=STOPPED,
                )
            )
    session.flush()


def relay(
    session: Session,
    enqueue: Callable[[uuid.UUID, uuid.UUID, int], None],
    now: dt.datetime,
    policy: DeliveryPolicy,
    batch: int = 500,
) -> int:
    """Hand due deliveries to the queue; returns how many. Recovers deliveries whose
    worker died (lease expired: posted again, unless that was the last attempt) and
    those whose job was lost. If the queue is unreachable, `enqueue` raises, the
    transaction rolls back, and the deliveries wait for the next run."""
    _recover_stopped(session, now, policy)
    session.execute(
        update(WebhookDelivery)
        .where(
            WebhookDelivery.status == Status.QUEUED,
            WebhookDelivery.updated_at < now - policy.requeue_after,
        )
        .values(status=Status.PENDING)
        .execution_options(synchronize_session=False)
    )
    due = session.execute(
        select(WebhookDelivery.organization_id, WebhookDelivery.id, WebhookDelivery.attempts)
        .where(WebhookDelivery.status == Status.PENDING, WebhookDelivery.next_attempt_at <= now)
        .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
        .limit(batch)
    ).all()
    for organization_id, delivery_id, attempts in due:
        enqueue(organization_id, delivery_id, attempts)
    if due:
        # Only those still pending: a replay may have run meanwhile (it makes them pending
        # again, which the next relay hands over).
        session.execute(
            update(WebhookDelivery)
            .where(
                one_of(WebhookDelivery.id, [row.id for row in due]),
                WebhookDelivery.status == Status.PENDING,
            )
            .values(status=Status.QUEUED)
            .execution_options(synchronize_session=False)
        )
    return len(due)


@dataclass(frozen=True)
class Claimed:
    """A delivery taken for one attempt, with what the attempt needs."""

    delivery: WebhookDelivery
    endpoint: WebhookEndpoint
    event: WebhookEvent


def claim(
    session: Session,
    organization_id: uuid.UUID,
    delivery_id: uuid.UUID,
    now: dt.datetime,
    policy: DeliveryPolicy,
) -> Claimed | None:
    """Take the delivery for one attempt, or None if it is not (or no longer) due."""
    delivery = session.scalar(
        update(WebhookDelivery)
        .where(
            WebhookDelivery.organization_id == organization_id,
            WebhookDelivery.id == delivery_id,
            WebhookDelivery.status.in_([Status.PENDING, Status.QUEUED]),
            WebhookDelivery.next_attempt_at <= now,
        )
        .values(
            status=Status.SENDING,
            attempts=WebhookDelivery.attempts + 1,
            lease_until=now + policy.lease,
        )
        .returning(WebhookDelivery)
        # the row as claimed, even where the session holds the delivery already
        .execution_options(synchronize_session=False, populate_existing=True)
    )
    if delivery is None:
        return None
    endpoint = session.get_one(WebhookEndpoint, (organization_id, delivery.endpoint_id))
    event = session.get_one(WebhookEvent, (organization_id, delivery.event_id))
    return Claimed(delivery, endpoint, event)


class LostClaim(Exception):
    """The worker's lease ran out and the delivery was handed to another worker."""


def settle(
    session: Session,
    claimed: Claimed,
    outcome: Answer,
    now: dt.datetime,
    policy: DeliveryPolicy,
) -> str:
    """Record the attempt in the log and the delivery's new state (delivered, due again
    after its delay, or failed), and the endpoint's failure record; disable the endpoint
    when it has failed for `policy.disable_after`. Only while this worker's claim stands
    (LostClaim otherwise). Returns the delivery's status."""
    delivery, endpoint = claimed.delivery, claimed.endpoint
    values: dict[str, Any] = {
        "last_status_code": outcome.status_code,
        "last_error": None if outcome.succeeded else outcome.summary()[:2000],
    }
    if outcome.succeeded:
        values.update(status=Status.DELIVERED, delivered_at=now)
    elif delivery.attempts >= policy.max_attempts:
        values.update(status=Status.FAILED)
    else:
        values.update(status=Status.PENDING, next_attempt_at=now + policy.delay(delivery.attempts))
    if not _release(session, delivery, delivery.attempts, delivery.lease_until, values):
        raise LostClaim(f"webhook delivery {delivery.id}: the claim was lost")
    if not outcome.succeeded:
        _note_failure(session, endpoint, now, policy)
    session.add(
        WebhookAttempt(
            organization_id=delivery.organization_id,
            delivery_id=delivery.id,
            endpoint_id=endpoint.id,
            event_id=delivery.event_id,
            number=delivery.attempts,
            attempted_at=now,
            url=endpoint.url,
            status_code=outcome.status_code,
            latency_ms=outcome.latency_ms,
            error=outcome.error,
            response_body=outcome.body,
        )
    )
    session.flush()
    # The endpoint's failure record, in single statements on its row as it stands now: other
    # workers settle its other deliveries meanwhile, and an admin may have changed it
    # since this delivery was claimed.
    of_endpoint = (WebhookEndpoint.organization_id == endpoint.organization_id) & (
        WebhookEndpoint.id == endpoint.id
    )
    if outcome.succeeded:
        session.execute(
            update(WebhookEndpoint)
            .where(of_endpoint, WebhookEndpoint.failing_since.is_not(None))
            .values(failing_since=None)
            .execution_options(synchronize_session=False)
        )
    else:
        hours = round(policy.disable_after.total_seconds() / 3600)
        reason = (
            f"every attempt has failed for {hours} hours or more; the last: {outcome.summary()}"
        )
        disable(session, endpoint, now, reason, failing_for=policy.disable_after)
    return str(values["status"])


def _note_failure(
    session: Session, endpoint: WebhookEndpoint, now: dt.datetime, policy: DeliveryPolicy
) -> None:
    """Start the endpoint's failing streak at `now`, unless one is running: one is broken
    by a quiet spell (no attempt for `policy.quiet_gap`), after which a single failure
    must not count as days of them. Runs before this attempt is logged."""
    last_attempt = (
        select(func.max(WebhookAttempt.attempted_at))
        .where(
            WebhookAttempt.organization_id == endpoint.organization_id,
            WebhookAttempt.endpoint_id == endpoint.id,
        )
        .scalar_subquery()
    )
    session.execute(
        update(WebhookEndpoint)
        .where(
            WebhookEndpoint.organization_id == endpoint.organization_id,
            WebhookEndpoint.id == endpoint.id,
            or_(
                WebhookEndpoint.failing_since.is_(None),
                func.coalesce(last_attempt, WebhookEndpoint.failing_since) < now - policy.quiet_gap,
            ),
        )
        .values(failing_since=now)
        .execution_options(synchronize_session=False)
    )


def fail_unsendable(session: Session, claimed: Claimed, reason: str, now: dt.datetime) -> None:
    """End a claimed delivery that is not to be posted (its endpoint is inactive): failed,
    with the reason, to be replayed once the endpoint is active again."""
    delivery = claimed.delivery
    values = {"status": Status.FAILED, "last_error": reason}
    _release(session, delivery, delivery.attempts, delivery.lease_until, values)


def disable(
    session: Session,
    endpoint: WebhookEndpoint,
    now: dt.datetime,
    reason: str,
    *,
    failing_for: dt.timedelta,
) -> bool:
    """Disable the endpoint if it is active and has been failing for `failing_for` at
    `now`, and then tell each of its organization's active admins, through the outbox;
    returns whether it did. One statement decides, so of workers failing at once one
    disables and emails, and an endpoint an admin made inactive meanwhile is left as it
    is."""
    disabled = session.execute(
        update(WebhookEndpoint)
        .where(
            WebhookEndpoint.organization_id == endpoint.organization_id,
            WebhookEndpoint.id == endpoint.id,
            WebhookEndpoint.active,
            WebhookEndpoint.failing_since <= now - failing_for,
        )
        .values(active=False, disabled_at=now, disabled_reason=reason)
        .returning(WebhookEndpoint.id)
        .execution_options(synchronize_session=False)
    ).scalar_one_or_none()
    # the row as it now stands, when next read
    session.expire(endpoint)
    if disabled is None:
        return False
    admins = session.execute(
        select(User.id, User.name, User.email)
        .join(Membership, Membership.user_id == User.id)
        .where(
            Membership.organization_id == endpoint.organization_id,
            Membership.role == Role.ORGANIZATION_ADMIN,
            Membership.is_active,
            User.is_active,
        )
        .order_by(User.id)
    ).all()
    organization_name = session.scalar(
        select(Organization.name).where(Organization.id == endpoint.organization_id)
    )
    outbox.add_many(
        session,
        [
            outbox.NewMessage(
                kind=MessageKind.WEBHOOK_DISABLED,
                idempotency_key=f"webhook-disabled:{endpoint.id}:{now.isoformat()}:{admin.id}",
                organization_id=endpoint.organization_id,
                recipient_email=admin.email,
                recipient_user_id=admin.id,
                subject="A webhook endpoint was disabled"[:200],
                template=MessageKind.WEBHOOK_DISABLED,
                payload={
                    "recipient_name": admin.name,
                    "organization_name": organization_name,
                    "endpoint_url": endpoint.url,
                    "endpoint_description": endpoint.description,
                    "reason": reason,
                },
            )
            for admin in admins
        ],
    )
    return True


# --- the delivery log and replay ------------------------------------------------


def deliveries(organization_id: uuid.UUID, filters: dict[str, Any]) -> Rows:
    """An organization's deliveries, newest first, each with its event's type (the
    delivery's columns and `event_type`); by endpoint, event, status and event type."""
    query = (
        select(*WebhookDelivery.__table__.columns, WebhookEvent.type.label("event_type"))
        .join(
            WebhookEvent,
            (WebhookEvent.organization_id == WebhookDelivery.organization_id)
            & (WebhookEvent.id == WebhookDelivery.event_id),
        )
        .where(WebhookDelivery.organization_id == organization_id)
    )
    for name in ("endpoint_id", "event_id", "status"):
        if name in filters:
            query = query.where(getattr(WebhookDelivery, name) == filters[name])
    if "event_type" in filters:
        query = query.where(WebhookEvent.type == filters["event_type"])
    return query.order_by(WebhookDelivery.created_at.desc(), WebhookDelivery.id)


def attempts(organization_id: uuid.UUID, filters: dict[str, Any]) -> Select[WebhookAttempt]:
    """The delivery log: an organization's attempts, newest first; by endpoint, event or
    delivery."""
    query = select(WebhookAttempt).where(WebhookAttempt.organization_id == organization_id)
    for name in ("endpoint_id", "event_id", "delivery_id"):
        if name in filters:
            query = query.where(getattr(WebhookAttempt, name) == filters[name])
    return query.order_by(WebhookAttempt.attempted_at.desc(), WebhookAttempt.id)


def events(organization_id: uuid.UUID, filters: dict[str, Any]) -> Select[WebhookEvent]:
    """An organization's events, newest first; by type and time range."""
    query = select(WebhookEvent).where(WebhookEvent.organization_id == organization_id)
    if "type" in filters:
        query = query.where(WebhookEvent.type == filters["type"])
    if "since" in filters:
        query = query.where(WebhookEvent.occurred_at >= filters["since"])
    if "until" in filters:
        query = query.where(WebhookEvent.occurred_at < filters["until"])
    return query.order_by(WebhookEvent.occurred_at.desc(), WebhookEvent.id)


def replay(
    session: Session,
    endpoint: WebhookEndpoint,
    now: dt.datetime,
    *,
    event_id: uuid.UUID | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
) -> int:
    """Deliver again to an active endpoint: one event (whatever its delivery's state, and
    one it was never sent, if it subscribes to its type), or every event of its types that
    happened in [since, until) and failed or was missed (recorded while the endpoint was
    inactive). The deliveries start over (attempts from zero, due now); their log keeps
    the earlier attempts. Returns how many were replayed."""
    if not endpoint.active:
        raise Conflict("the endpoint is not active: make it active first", field="active")
    if event_id is not None:
        event = session.get(WebhookEvent, (endpoint.organization_id, event_id))
        if event is None:
            raise Invalid("no such event of the endpoint's organization", field="event_id")
        if event.type not in endpoint.event_types:
            raise Invalid("the endpoint does not subscribe to this event's type", field="event_id")
        # Never sent to this endpoint (it subscribed later, or was inactive then): now.
        session.execute(
            insert(WebhookDelivery)
            .values(
                organization_id=endpoint.organization_id,
                endpoint_id=endpoint.id,
                event_id=event.id,
            )
            .on_conflict_do_nothing(
                index_elements=[
                    WebhookDelivery.organization_id,
                    WebhookDelivery.endpoint_id,
                    WebhookDelivery.event_id,
                ]
            )
        )
        chosen = select(WebhookDelivery.id).where(
            WebhookDelivery.organization_id == endpoint.organization_id,
            WebhookDelivery.endpoint_id == endpoint.id,
            WebhookDelivery.event_id == event_id,
        )
    else:
        if since is None or until is None or since >= until:
            raise Invalid("give event_id, or since before until", field="since")
        in_range = (
            WebhookEvent.organization_id == endpoint.organization_id,
            WebhookEvent.occurred_at >= since,
            WebhookEvent.occurred_at < until,
        )
        # Events of the endpoint's types it was never sent since it was registered (it was
        # inactive then, disabled or paused): missed, so delivered now with the failed.
        missed = session.scalars(
            insert(WebhookDelivery)
            .from_select(
                ["organization_id", "endpoint_id", "event_id"],
                select(WebhookEvent.organization_id, literal(endpoint.id), WebhookEvent.id).where(
                    *in_range,
                    WebhookEvent.type.in_(endpoint.event_types),
                    WebhookEvent.occurred_at >= endpoint.created_at,
                ),
            )
            .on_conflict_do_nothing(
                index_elements=[
                    WebhookDelivery.organization_id,
                    WebhookDelivery.endpoint_id,
                    WebhookDelivery.event_id,
                ]
            )
            .returning(WebhookDelivery.id)
        ).all()
        chosen = (
            select(WebhookDelivery.id)
            .join(
                WebhookEvent,
                (WebhookEvent.organization_id == WebhookDelivery.organization_id)
                & (WebhookEvent.id == WebhookDelivery.event_id),
            )
            .where(
                *in_range,
                WebhookDelivery.organization_id == endpoint.organization_id,
                WebhookDelivery.endpoint_id == endpoint.id,
                or_(WebhookDelivery.status == Status.FAILED, one_of(WebhookDelivery.id, missed)),
            )
        )
    result = session.execute(
        update(WebhookDelivery)
        .where(
            WebhookDelivery.organization_id == endpoint.organization_id,
            WebhookDelivery.id.in_(chosen.scalar_subquery()),
            # one a worker holds now goes its way
            WebhookDelivery.status != Status.SENDING,
        )
        .values(
            status=Status.PENDING,
            attempts=0,
            next_attempt_at=now,
            lease_until=None,
            delivered_at=None,
        )
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
