"""The transactional outbox: an email is a row written with the change that causes it,
then relayed to the job queue, claimed by one worker, sent, and marked.

Delivery is at most once per idempotency key, and at least once unless a worker dies in
one narrow window (see `deliver`):
- `add` never creates a second row for a key (a unique index; ON CONFLICT DO NOTHING).
- `claim` moves a row to `sending` with a lease in one atomic UPDATE, so two workers
  holding the same job cannot both send it.
- The row is marked `sent` (and committed) after the SMTP server has the whole message
  but before the end-of-data mark that makes the server accept it; the same update
  erases its secret, so no `sent` row keeps one. A worker killed before that commit
  leaves an unaccepted message and a lease that expires, and the row is sent again;
  killed after it, the row stays sent and nothing is sent twice. Only a worker dying
  between that commit and the five bytes of end-of-data loses the message.
- Failures retry with exponential backoff and end `failed`, error kept, for an MSC
  admin to retry; a message that cannot be built from its data fails at once, and one
  whose worker keeps dying fails once its attempts are spent.
- A row handed to the queue but not claimed within `requeue_after` (its job lost with
  Redis) is handed to the queue again.
- An invitation's email still waiting is cancelled when the invitation is replaced or
  revoked (`cancel_invitation_email`).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from cryptography.fernet import Fernet
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from sqlalchemy import (
    Select,
    Text,
    Uuid,
    any_,
    bindparam,
    case,
    cast,
    except_,
    func,
    literal,
    select,
    update,
)
from sqlalchemy import column as typed_column
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.types import TypeEngine

from app.config import Settings
from app.domain.errors import Conflict
from app.models import OutboxMessage
from app.models.enums import OutboxStatus as Status


class Sealer:
    """Encrypts the secret part of a payload at rest (Fernet, key derived from
    OUTBOX_SECRET_KEY), so an invitation's token is stored only as a hash elsewhere and
    only encrypted here, and not at all once delivered."""

    def __init__(self, secret: str) -> None:
        key = base64.urlsafe_b64encode(hashlib.sha256(secret.encode()).digest())
        self._fernet = Fernet(key)

    def seal(self, values: dict[str, Any]) -> str:
        return self._fernet.encrypt(json.dumps(values).encode()).decode()

    def unseal(self, sealed: str | None) -> dict[str, Any]:
        if sealed is None:
            return {}
        values: dict[str, Any] = json.loads(self._fernet.decrypt(sealed.encode()))
        return values


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 6
    base_delay: dt.timedelta = dt.timedelta(minutes=1)
    lease: dt.timedelta = dt.timedelta(minutes=5)
    requeue_after: dt.timedelta = dt.timedelta(minutes=1)

    def delay(self, attempts: int) -> dt.timedelta:
        factor: int = 2 ** max(attempts - 1, 0)
        return self.base_delay * factor

    @classmethod
    def from_settings(cls, settings: Settings) -> RetryPolicy:
        return cls(
            max_attempts=settings.outbox_max_attempts,
            base_delay=dt.timedelta(seconds=settings.outbox_retry_base_seconds),
            lease=dt.timedelta(seconds=settings.outbox_lease_seconds),
            requeue_after=dt.timedelta(seconds=settings.outbox_requeue_seconds),
        )


def add(
    session: Session,
    *,
    kind: str,
    key: str,
    organization_id: uuid.UUID | None,
    recipient_email: str,
    recipient_user_id: uuid.UUID | None,
    subject: str,
    template: str,
    payload: dict[str, Any],
    sealed_payload: str | None = None,
    invitation_id: uuid.UUID | None = None,
) -> None:
    """Write a message unless one with this key exists (`sealed_payload`: from
    Sealer.seal, for secrets; `invitation_id`: the invitation an invitation email
    belongs to). The message keeps the current trace context, if a trace is being
    recorded, for its send to continue (app/tracing.py)."""
    trace_context: dict[str, str] = {}
    # The trace context alone: never the baggage a client may have sent along.
    TraceContextTextMapPropagator().inject(trace_context)
    session.execute(
        insert(OutboxMessage)
        .values(
            kind=kind,
            idempotency_key=key,
            organization_id=organization_id,
            recipient_email=recipient_email,
            recipient_user_id=recipient_user_id,
            subject=subject,
            template=template,
            payload=payload,
            sealed_payload=sealed_payload,
            invitation_id=invitation_id,
            trace_context=trace_context or None,
        )
        .on_conflict_do_nothing(index_elements=[OutboxMessage.idempotency_key])
    )


class NewMessage(NamedTuple):
    """A message for `add_many`, its fields named as the outbox's columns."""

    kind: str
    idempotency_key: str
    organization_id: uuid.UUID | None
    recipient_email: str
    recipient_user_id: uuid.UUID | None
    subject: str
    template: str
    payload: dict[str, Any]


# How the server reads each field of a NewMessage from its JSON.
NEW_MESSAGE_TYPES: dict[str, TypeEngine[Any]] = {
    "kind": Text(),
    "idempotency_key": Text(),
    "organization_id": Uuid(),
    "recipient_email": Text(),
    "recipient_user_id": Uuid(),
    "subject": Text(),
    "template": Text(),
    "payload": JSONB(),
}


def add_many(session: Session, messages: Sequence[NewMessage]) -> int:
    """Write the messages whose keys the outbox does not hold yet, in one statement (for a
    job writing thousands); returns how many it wrote. RETURNING counts the rows written,
    so the count is exact even when another writer races for the same keys."""
    if not messages:
        return 0
    # The rows travel as one JSON document, unpacked by the server: a parameter per
    # value would cost the client more than the insert costs the server.
    document = json.dumps([message._asdict() for message in messages], default=str)
    rows = (
        func.jsonb_to_recordset(cast(literal(document, Text), JSONB))
        .table_valued(*(typed_column(name, NEW_MESSAGE_TYPES[name]) for name in NewMessage._fields))
        .render_derived(with_types=True)
    )
    written = session.connection().execute(
        insert(OutboxMessage)
        .from_select(NewMessage._fields, select(*rows.c))
        .on_conflict_do_nothing(index_elements=[OutboxMessage.idempotency_key])
        .returning(OutboxMessage.id)
    )
    return len(written.all())


def missing(session: Session, keys: Iterable[str]) -> set[str]:
    """Which of `keys` the outbox holds no message for, in one query whatever their
    number. Only MSC reach reads the whole outbox: under a narrower context, the keys of
    messages it cannot see are among those returned."""
    # The keys travel once, as one newline-separated text (keys hold no line break),
    # which costs far less to send than an array parameter of thousands of strings, and
    # only the missing ones come back: a daily scan asks mostly about keys it already
    # wrote. The held keys are found with = ANY, one lookup over the table whatever the
    # plan (an anti-join from the keys is planned per key, and a scan that has just
    # written thousands of rows the statistics do not know yet made it a scan of the
    # table per key); EXCEPT then takes them away in one hashed pass.
    wanted = bindparam("keys", "\n".join(set(keys)), type_=Text)
    listed = func.string_to_array(wanted, "\n")
    lacking = except_(
        select(func.unnest(listed)),
        select(OutboxMessage.idempotency_key).where(OutboxMessage.idempotency_key == any_(listed)),
    )
    return set(session.connection().execute(lacking).scalars())


def relay(
    session: Session,
    enqueue: Callable[[uuid.UUID, int], None],
    now: dt.datetime,
    policy: RetryPolicy,
    batch: int = 200,
) -> int:
    """Hand due messages to the queue; returns how many. Recovers rows whose worker died
    (lease expired: sent again, unless that was the last attempt) and rows whose job was
    lost. If the queue is unreachable, `enqueue` raises, the transaction rolls back, and
    the rows wait for the next run."""
    session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.status == Status.SENDING, OutboxMessage.lease_until < now)
        .values(
            # A message that stops its worker every time must not loop for ever.
            status=case(
                (OutboxMessage.attempts >= policy.max_attempts, Status.FAILED.value),
                else_=Status.PENDING.value,
            ),
            lease_until=None,
            last_error="the worker stopped before finishing",
        )
        .execution_options(synchronize_session=False)
    )
    session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.status == Status.QUEUED,
            OutboxMessage.updated_at < now - policy.requeue_after,
        )
        .values(status=Status.PENDING)
        .execution_options(synchronize_session=False)
    )
    due = session.execute(
        select(OutboxMessage.id, OutboxMessage.attempts)
        .where(OutboxMessage.status == Status.PENDING, OutboxMessage.next_attempt_at <= now)
        .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
        .limit(batch)
        .with_for_update(skip_locked=True)
    ).all()
    for message_id, attempts in due:
        enqueue(message_id, attempts)
    if due:
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_([row.id for row in due]))
            .values(status=Status.QUEUED)
            .execution_options(synchronize_session=False)
        )
    return len(due)


def claim(
    session: Session, message_id: uuid.UUID, now: dt.datetime, policy: RetryPolicy
) -> OutboxMessage | None:
    """Take the message for sending, or None if it is not (or no longer) due."""
    claimed = session.scalar(
        update(OutboxMessage)
        .where(
            OutboxMessage.id == message_id,
            OutboxMessage.status.in_([Status.PENDING, Status.QUEUED]),
            OutboxMessage.next_attempt_at <= now,
        )
        .values(
            status=Status.SENDING,
            attempts=OutboxMessage.attempts + 1,
            lease_until=now + policy.lease,
        )
        .returning(OutboxMessage)
        .execution_options(synchronize_session=False)
    )
    return claimed


class LostClaim(Exception):
    """The worker's lease ran out and the message was handed to another worker."""


def _update_claimed(
    session: Session, message: OutboxMessage, values: dict[str, Any], *, erase_secret: bool = False
) -> None:
    """Change the row only while this worker's claim on it stands; with `erase_secret`,
    erase its sealed payload in the same statement. The instance keeps the payload it
    was claimed with, for `mark_failed_attempt` to put back should the server refuse."""
    # On the connection: a plain UPDATE, without the ORM's bulk-update bookkeeping.
    result = session.connection().execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.id == message.id,
            # this worker's claim: its attempt number, claimed or marked sent by it
            OutboxMessage.status.in_([Status.SENDING, Status.SENT]),
            OutboxMessage.attempts == message.attempts,
        )
        .values(**values, **({"sealed_payload": None} if erase_secret else {}))
    )
    if result.rowcount != 1:
        raise LostClaim(f"outbox {message.id}: the claim was lost")
    # The instance follows as the row now stands, without becoming dirty: a plain
    # assignment would have the next flush write the same values again.
    for name, value in values.items():
        set_committed_value(message, name, value)


def mark_sent(session: Session, message: OutboxMessage, now: dt.datetime) -> None:
    """Recorded just before the server is asked to accept the message, erasing its secret
    in the same update (a worker that dies next leaves no `sent` row holding one);
    raises LostClaim (and so the message is not completed) if another worker has it."""
    _update_claimed(
        session,
        message,
        {"status": Status.SENT, "sent_at": now, "lease_until": None, "last_error": None},
        erase_secret=True,
    )


def confirm_sent(session: Session, message: OutboxMessage, reply: str) -> None:
    """The server accepted: keep its reply."""
    _update_claimed(session, message, {"smtp_reply": reply[:512]})


def mark_failed_attempt(
    session: Session,
    message: OutboxMessage,
    error: str,
    now: dt.datetime,
    policy: RetryPolicy,
    *,
    permanent: bool = False,
) -> None:
    """Schedule the next attempt with backoff, or give up after the last one, or at once
    for a `permanent` error (the message cannot be built from its data). Only while this
    worker's claim stands; a message refused after its sent mark gets its secret back,
    for the next attempt."""
    values: dict[str, Any] = {
        "last_error": error[:2000],
        "lease_until": None,
        "sent_at": None,
        "sealed_payload": message.sealed_payload,
    }
    if permanent or message.attempts >= policy.max_attempts:
        values["status"] = Status.FAILED
    else:
        values["status"] = Status.PENDING
        values["next_attempt_at"] = now + policy.delay(message.attempts)
    _update_claimed(session, message, values)


def cancel_invitation_email(session: Session, invitation_id: uuid.UUID) -> None:
    """Cancel the invitation's email while it waits (pending or queued), erasing its
    link: the invitation is being replaced or revoked, in this same transaction, so the
    link would open nothing. An email a worker has already claimed goes out; its link
    then answers that the invitation is no longer open."""
    session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.invitation_id == invitation_id,
            OutboxMessage.status.in_([Status.PENDING, Status.QUEUED]),
        )
        .values(status=Status.CANCELLED, sealed_payload=None)
        .execution_options(synchronize_session=False)
    )


@dataclass(frozen=True)
class Backlog:
    """The outbox at a glance: how many messages are in each status (every status
    present, 0 for none), and since when the oldest message due to be sent (pending and
    due, or handed to the queue) has waited; None when none waits."""

    counts: dict[Status, int]
    oldest_due: dt.datetime | None


def backlog(session: Session, now: dt.datetime) -> Backlog:
    """The outbox's Backlog as of `now`, under the session's context (the system's sees
    every message). Both come from the (status, next_attempt_at) index."""
    counts = dict.fromkeys(Status, 0)
    for status, count in session.execute(
        select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
    ):
        counts[Status(status)] = count
    oldest_due = session.scalar(
        select(func.min(OutboxMessage.next_attempt_at)).where(
            OutboxMessage.status.in_([Status.PENDING, Status.QUEUED]),
            OutboxMessage.next_attempt_at <= now,
        )
    )
    return Backlog(counts, oldest_due)


def list_messages(filters: dict[str, Any]) -> Select[OutboxMessage]:
    query = select(OutboxMessage)
    for column in ("status", "kind", "organization_id"):
        if column in filters:
            query = query.where(getattr(OutboxMessage, column) == filters[column])
    return query.order_by(OutboxMessage.created_at.desc(), OutboxMessage.id)


def retry(session: Session, message: OutboxMessage, now: dt.datetime) -> OutboxMessage:
    """An MSC admin sends a failed message again (its attempts start over)."""
    if message.status != Status.FAILED:
        raise Conflict("only a failed message can be retried", field="status")
    message.status = Status.PENDING
    message.attempts = 0
    message.next_attempt_at = now
    session.flush()
    return message
