"""Cancelling an invitation's waiting email, checked as the application role: staff who
manage the invitation may cancel its email while it waits, and do nothing else to the
outbox; the workers' system context is not limited."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from sqlalchemy.sql import Executable

from app import clock
from app.domain import outbox
from app.models import Invitation, OutboxMessage
from app.models.enums import MessageKind, OutboxStatus, Role
from app.tenancy.context import TenantContext, use_context
from tests.conftest import MSC_SYSTEM, TwoTenants


def _message(
    db: Session, organization_id: uuid.UUID, invitation_id: uuid.UUID | None, status: str
) -> uuid.UUID:
    key = f"test:{uuid.uuid4().hex}"
    outbox.add(
        db,
        kind=MessageKind.INVITATION if invitation_id else MessageKind.CREDENTIAL_REMINDER,
        key=key,
        organization_id=organization_id,
        recipient_email="someone@example.com",
        recipient_user_id=None,
        subject="subject",
        template="invitation",
        payload={},
        sealed_payload="sealed",
        invitation_id=invitation_id,
    )
    message_id = db.scalar(select(OutboxMessage.id).where(OutboxMessage.idempotency_key == key))
    assert message_id is not None
    db.execute(update(OutboxMessage).where(OutboxMessage.id == message_id).values(status=status))
    return message_id


def _rows(db: Session, *ids: uuid.UUID) -> list[tuple[str, str | None]]:
    use_context(db, MSC_SYSTEM)
    return [
        (row.status, row.sealed_payload)
        for row in (db.get(OutboxMessage, i, populate_existing=True) for i in ids)
        if row is not None
    ]


def _refused(db: Session, statement: Executable) -> bool:
    try:
        with db.begin_nested():
            db.execute(statement)
    except DBAPIError:
        return True
    return False


def test_staff_cancel_only_their_invitations_waiting_emails(
    db: Session, tenants: TwoTenants
) -> None:
    a, b = tenants.a, tenants.b
    use_context(db, MSC_SYSTEM)
    invitation = Invitation(
        organization_id=a.organization.id,
        email="invitee@example.com",
        name="Invitee",
        role=Role.PROVIDER,
        token_hash="0" * 64,
        expires_at=clock.now() + dt.timedelta(days=1),
        invited_by_id=a.admin.id,
    )
    db.add(invitation)
    db.flush()
    waiting = _message(db, a.organization.id, invitation.id, OutboxStatus.QUEUED)
    claimed = _message(db, a.organization.id, invitation.id, OutboxStatus.SENDING)
    reminder = _message(db, a.organization.id, None, OutboxStatus.PENDING)

    # Neither another organization's admin nor an office manager who did not send the
    # invitation reaches its email.
    for context in (b.context(), a.context(a.office_manager, Role.OFFICE_MANAGER)):
        use_context(db, context)
        outbox.cancel_invitation_email(db, invitation.id)
    assert _rows(db, waiting, claimed) == [("queued", "sealed"), ("sending", "sealed")]

    use_context(db, a.context())
    outbox.cancel_invitation_email(db, invitation.id)
    assert _rows(db, waiting, claimed) == [("cancelled", None), ("sending", "sealed")]

    # Nothing else: no other column, no other status, no message of another kind.
    use_context(db, a.context())
    for values in (
        {"recipient_email": "elsewhere@example.com"},
        {"status": OutboxStatus.PENDING},
        {"status": OutboxStatus.CANCELLED},  # the claimed one: no longer waiting
    ):
        statement = update(OutboxMessage).where(OutboxMessage.id.in_([waiting, claimed]))
        assert _refused(db, statement.values(**values)), values
    result = db.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == reminder)
        .values(status=OutboxStatus.CANCELLED, sealed_payload=None)
    )
    assert result.rowcount == 0  # type: ignore[attr-defined]

    # The workers' system context is not limited.
    use_context(db, TenantContext.system("test-worker"))
    db.execute(update(OutboxMessage).where(OutboxMessage.id == reminder).values(status="failed"))
    assert _rows(db, reminder) == [("failed", "sealed")]
