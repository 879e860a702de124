"""The renewal-reminder scan (app/domain/reminders.py) over real PostgreSQL, as the
application role: which messages it writes, to whom, once, and at what query cost.

Rows are written and read back as MSC_SYSTEM (the outbox is readable only with MSC
reach); the scan itself runs in the job's system context."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from app.domain import members, reminders
from app.domain.reminders import ScanResult
from app.integrations import mail
from app.models import (
    AuditEvent,
    Credential,
    Document,
    Membership,
    OutboxMessage,
    ProviderFacility,
    User,
)
from app.models.enums import MessageKind, Role
from app.tenancy.context import TenantContext, use_context
from tests import factories
from tests.conftest import MSC_SYSTEM, Tenant, TwoTenants
from tests.placement import tenant_tables_distributed

TODAY = dt.date(2026, 6, 1)
WINDOWS = (90, 60, 30, 7, 0)
BASE_URL = "https://msc.example.com/"  # the trailing slash must not double in links


def _credential(
    session: Session,
    user: User,
    days: int,
    *,
    number: str = "MD-4455667788",
    credential_type: str = "medical_license",
    **fields: Any,
) -> Credential:
    credential = Credential(
        user_id=user.id,
        owner_organization_ids=members.organizations_of(session, user.id),
        credential_type=credential_type,
        number=number,
        state="TX",
        expiry_date=TODAY + dt.timedelta(days=days),
        **fields,
    )
    session.add(credential)
    session.flush()
    return credential


def _org_document(session: Session, organization_id: uuid.UUID, days: int) -> Document:
    document = Document(
        organization_id=organization_id,
        document_type="tax_form",
        filename="w9-2026.pdf",
        content_type="application/pdf",
        size_bytes=1024,
        sha256="0" * 64,
        storage_key=f"test/{uuid.uuid4().hex}",
        expiry_date=TODAY + dt.timedelta(days=days),
    )
    session.add(document)
    session.flush()
    return document


def _scan(session: Session, today: dt.date = TODAY, batch_size: int = 500) -> ScanResult:
    use_context(session, TenantContext(is_msc_admin=True, request_id=f"job:reminder-scan:{today}"))
    return reminders.scan(session, today, WINDOWS, BASE_URL, batch_size=batch_size)


def _messages(session: Session, prefix: str) -> list[OutboxMessage]:
    use_context(session, MSC_SYSTEM)
    return list(
        session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.idempotency_key.startswith(prefix))
            .order_by(OutboxMessage.idempotency_key)
        )
    )


def _window(message: OutboxMessage) -> int:
    # credential:{id}:{expiry_date}:{window}:{recipient_user_id}
    return int(message.idempotency_key.split(":")[3])


@pytest.fixture
def with_manager(db: Session, tenants: TwoTenants) -> TwoTenants:
    """Tenant A's facility (where the shared provider works) gets its office manager;
    B's facility has none."""
    use_context(db, MSC_SYSTEM)
    tenants.a.facility.office_manager_id = tenants.a.office_manager.id
    db.flush()
    return tenants


# --- who is reminded, once ----------------------------------------------------------


def test_credential_in_30_days_reminds_provider_and_each_organizations_staff_once(
    db: Session, with_manager: TwoTenants
) -> None:
    t = with_manager
    use_context(db, MSC_SYSTEM)
    credential = _credential(db, t.shared_provider, 30)

    assert _scan(db) == ScanResult(credentials=4, documents=0)

    messages = _messages(db, f"credential:{credential.id}:")
    by_recipient = {m.recipient_user_id: m for m in messages}
    assert len(messages) == len(by_recipient) == 4
    assert set(by_recipient) == {
        t.shared_provider.id,
        t.a.admin.id,
        t.a.office_manager.id,
        t.b.admin.id,
    }

    own = by_recipient[t.shared_provider.id]
    assert own.organization_id is None
    assert own.recipient_email == t.shared_provider.email
    assert own.kind == own.template == MessageKind.CREDENTIAL_REMINDER
    assert own.subject == "Your medical license expires in 30 days"
    assert own.payload["for_provider"] is True
    assert own.payload["link"] == (
        f"https://msc.example.com/reminders/me/credentials/{credential.id}"
        f"?type=medical_license&expires={credential.expiry_date}"
    )
    assert own.idempotency_key == (
        f"credential:{credential.id}:{credential.expiry_date}:30:{t.shared_provider.id}"
    )

    for staff, organization in (
        (t.a.admin, t.a.organization),
        (t.a.office_manager, t.a.organization),
        (t.b.admin, t.b.organization),
    ):
        message = by_recipient[staff.id]
        assert message.organization_id == organization.id
        assert message.recipient_email == staff.email
        assert message.subject == f"Medical license of {t.shared_provider.name} expires in 30 days"
        assert message.payload["for_provider"] is False
        assert message.payload["recipient_name"] == staff.name
        assert message.payload["provider_name"] == t.shared_provider.name
        assert message.payload["days_left"] == 30
        assert message.payload["expiry_date"] == str(credential.expiry_date)
        assert message.payload["link"] == (
            f"https://msc.example.com/reminders/providers/{t.shared_provider.id}/credentials"
            f"?type=medical_license&expires={credential.expiry_date}"
        )
        # The payload is complete for the template (StrictUndefined would raise).
        mail.render(
            message.template,
            message.payload,
            sender="MSC <no-reply@msc.example.com>",
            recipient=message.recipient_email,
            subject=message.subject,
            idempotency_key=message.idempotency_key,
        )

    # The same day again (or a retried job): nothing new.
    assert _scan(db) == ScanResult()
    assert len(_messages(db, f"credential:{credential.id}:")) == 4


def test_a_person_in_two_roles_gets_one_message(db: Session, tenants: TwoTenants) -> None:
    """A's admin also manages the provider's facility: one reminder, not two."""
    use_context(db, MSC_SYSTEM)
    tenants.a.facility.office_manager_id = tenants.a.admin.id
    credential = _credential(db, tenants.shared_provider, 7)

    _scan(db)

    recipients = [m.recipient_user_id for m in _messages(db, f"credential:{credential.id}:")]
    assert sorted(map(str, recipients)) == sorted(
        str(u.id) for u in (tenants.shared_provider, tenants.a.admin, tenants.b.admin)
    )


def test_only_organizations_with_an_active_assignment_hear(
    db: Session, tenants: TwoTenants
) -> None:
    use_context(db, MSC_SYSTEM)
    assignment = db.scalars(
        select(ProviderFacility).where(
            ProviderFacility.user_id == tenants.shared_provider.id,
            ProviderFacility.organization_id == tenants.b.organization.id,
        )
    ).one()
    assignment.status = "inactive"
    assignment.end_date = assignment.start_date
    credential = _credential(db, tenants.shared_provider, 30)

    _scan(db)

    messages = _messages(db, f"credential:{credential.id}:")
    assert {m.recipient_user_id for m in messages} == {
        tenants.shared_provider.id,
        tenants.a.admin.id,
    }
    assert tenants.b.organization.id not in {m.organization_id for m in messages}


# --- windows -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("days", "window"),
    [(90, 90), (60, 60), (30, 30), (7, 7), (0, 0), (45, 60), (1, 7), (91, None), (-1, None)],
)
def test_the_window_an_item_is_in(
    db: Session, tenants: TwoTenants, days: int, window: int | None
) -> None:
    use_context(db, MSC_SYSTEM)
    credential = _credential(db, tenants.shared_provider, days)

    result = _scan(db)

    messages = _messages(db, f"credential:{credential.id}:")
    if window is None:
        assert result == ScanResult() and messages == []
        return
    assert result.credentials == 3  # the provider and each organization's admin
    assert {_window(m) for m in messages} == {window}
    assert {m.payload["days_left"] for m in messages} == {days}
    own = next(m for m in messages if m.organization_id is None)
    expected = "expires today" if days == 0 else f"expires in {days} day{'s' * (days != 1)}"
    assert own.subject == f"Your medical license {expected}"


def test_a_missed_scan_sends_the_current_windows_reminder_only_once(
    db: Session, tenants: TwoTenants
) -> None:
    """Reminded at 60 days; no scan until 28 days are left: the 30-day reminder goes
    out then, and the next day's scan (still in the 30 window) adds nothing."""
    use_context(db, MSC_SYSTEM)
    credential = _credential(db, tenants.shared_provider, 60)
    _scan(db)
    _scan(db, TODAY + dt.timedelta(days=32))
    _scan(db, TODAY + dt.timedelta(days=33))

    windows = sorted(_window(m) for m in _messages(db, f"credential:{credential.id}:"))
    assert windows == [30, 30, 30, 60, 60, 60]


def test_a_rejected_credential_gets_no_reminder(db: Session, tenants: TwoTenants) -> None:
    use_context(db, MSC_SYSTEM)
    credential = _credential(db, tenants.shared_provider, 30, verification_status="rejected")

    assert _scan(db) == ScanResult()
    assert _messages(db, f"credential:{credential.id}:") == []


def test_a_renewed_credential_gets_new_reminders(db: Session, tenants: TwoTenants) -> None:
    use_context(db, MSC_SYSTEM)
    credential = _credential(db, tenants.shared_provider, 7)
    assert _scan(db).credentials == 3

    use_context(db, MSC_SYSTEM)
    credential.expiry_date = TODAY + dt.timedelta(days=90)
    db.flush()
    assert _scan(db).credentials == 3
    assert _scan(db) == ScanResult()

    messages = _messages(db, f"credential:{credential.id}:")
    assert sorted((m.idempotency_key.split(":")[2], _window(m)) for m in messages) == sorted(
        [((TODAY + dt.timedelta(days=7)).isoformat(), 7)] * 3
        + [((TODAY + dt.timedelta(days=90)).isoformat(), 90)] * 3
    )


# --- what a message says -------------------------------------------------------------


def test_each_organizations_message_mentions_nothing_of_the_other(
    db: Session, with_manager: TwoTenants
) -> None:
    t = with_manager
    use_context(db, MSC_SYSTEM)
    credential = _credential(db, t.shared_provider, 30, number="DEA-AP5836727")

    _scan(db)

    messages = _messages(db, f"credential:{credential.id}:")
    assert len(messages) == 4

    def traces(tenant: Tenant) -> set[str]:
        return {
            tenant.organization.name,
            str(tenant.organization.id),
            tenant.facility.name,
            str(tenant.facility.id),
            tenant.admin.name,
            tenant.office_manager.name,
        }

    for message in messages:
        text = json.dumps(message.payload) + message.subject
        # The number itself never leaves the credentials table; its last four may.
        assert "DEA-AP5836727" not in text
        assert message.payload["masked_number"] == reminders.mask("DEA-AP5836727")
        assert message.payload["masked_number"].endswith("6727")
        assert message.payload["masked_number"].count("•") == len("DEA-AP5836727") - 4
        if message.organization_id is None:
            continue  # the provider's own message
        own, other = (t.a, t.b) if message.organization_id == t.a.organization.id else (t.b, t.a)
        assert message.organization_id == own.organization.id
        for trace in traces(other):
            assert trace not in text, (message.recipient_user_id, trace)
        # Nor of its own organization beyond the envelope: only provider and credential.
        assert set(message.payload) == {
            "recipient_name",
            "for_provider",
            "credential_label",
            "provider_name",
            "masked_number",
            "expiry_date",
            "days_left",
            "link",
        }

    # The provider's own message is filed under no organization and names none.
    own_message = next(m for m in messages if m.organization_id is None)
    text = json.dumps(own_message.payload)
    for trace in traces(t.a) | traces(t.b):
        assert trace not in text


# --- organization documents ----------------------------------------------------------


def test_organization_documents_remind_that_organizations_admins_only(
    db: Session, with_manager: TwoTenants
) -> None:
    t = with_manager
    use_context(db, MSC_SYSTEM)
    second_admin = factories.make_user(db)
    factories.make_membership(db, second_admin, t.a.organization, Role.ORGANIZATION_ADMIN)
    document = _org_document(db, t.a.organization.id, 30)
    _org_document(db, t.b.organization.id, 91)  # beyond every window
    # A provider's document is followed through the credential, not reminded here.
    db.add(
        Document(
            user_id=t.shared_provider.id,
            owner_organization_ids=members.organizations_of(db, t.shared_provider.id),
            document_type="license_copy",
            filename="license.pdf",
            content_type="application/pdf",
            size_bytes=10,
            sha256="1" * 64,
            storage_key=f"test/{uuid.uuid4().hex}",
            expiry_date=TODAY + dt.timedelta(days=30),
        )
    )
    db.flush()

    assert _scan(db) == ScanResult(credentials=0, documents=2)

    messages = _messages(db, "document:")
    assert {m.recipient_user_id for m in messages} == {t.a.admin.id, second_admin.id}
    for message in messages:
        assert message.idempotency_key.startswith(
            f"document:{document.id}:{document.expiry_date}:30:"
        )
        assert message.organization_id == t.a.organization.id
        assert message.kind == message.template == MessageKind.DOCUMENT_REMINDER
        assert message.subject == "Tax form of Tenant A expires in 30 days"
        assert message.payload["organization_name"] == "Tenant A"
        assert message.payload["filename"] == "w9-2026.pdf"
        assert message.payload["link"] == (
            f"https://msc.example.com/reminders/organizations/{t.a.organization.id}/documents"
            f"?type=tax_form&expires={document.expiry_date}"
        )
        text = json.dumps(message.payload)
        assert "Tenant B" not in text and str(t.b.organization.id) not in text
        mail.render(
            message.template,
            message.payload,
            sender="no-reply@msc.example.com",
            recipient=message.recipient_email,
            subject=message.subject,
            idempotency_key=message.idempotency_key,
        )

    assert _scan(db) == ScanResult()


def test_a_child_organization_without_an_admin_is_reminded_through_its_parents(
    db: Session, tenants: TwoTenants
) -> None:
    """A child of A with no admin of its own: its document and its provider's license go
    to A's admin, filed under the child; a grandchild with an admin keeps its own."""
    use_context(db, MSC_SYSTEM)
    a = tenants.a
    child = factories.make_organization(
        db, name="Child Practice", parent_organization_id=a.organization.id
    )
    grandchild = factories.make_organization(db, name="Grandchild", parent_organization_id=child.id)
    grandchild_admin = factories.make_user(db)
    factories.make_membership(db, grandchild_admin, grandchild, Role.ORGANIZATION_ADMIN)
    provider = factories.make_user(db)
    factories.make_membership(db, provider, child, Role.PROVIDER)
    factories.make_assignment(db, provider, factories.make_facility(db, child))
    document = _org_document(db, child.id, 7)
    _org_document(db, grandchild.id, 7)
    license_ = _credential(db, provider, 7)

    assert _scan(db) == ScanResult(credentials=2, documents=2)

    documents = _messages(db, "document:")
    assert {(m.organization_id, m.recipient_user_id) for m in documents} == {
        (child.id, a.admin.id),
        (grandchild.id, grandchild_admin.id),
    }
    [to_parent] = [m for m in documents if m.recipient_user_id == a.admin.id]
    assert to_parent.idempotency_key.startswith(f"document:{document.id}:")
    assert to_parent.subject == "Tax form of Child Practice expires in 7 days"
    credentials = _messages(db, f"credential:{license_.id}:")
    assert {(m.organization_id, m.recipient_user_id) for m in credentials} == {
        (None, provider.id),
        (child.id, a.admin.id),
    }
    assert _scan(db) == ScanResult()


# --- context and audit ---------------------------------------------------------------


def test_the_scan_runs_under_the_callers_context(db: Session, tenants: TwoTenants) -> None:
    """With no context the policies show nothing, so nothing is written: the scan does
    not widen its reach on its own."""
    use_context(db, MSC_SYSTEM)
    credential = _credential(db, tenants.shared_provider, 30)

    use_context(db, TenantContext())
    assert reminders.scan(db, TODAY, WINDOWS, BASE_URL) == ScanResult()
    assert _messages(db, f"credential:{credential.id}:") == []


def test_a_scan_in_the_system_context_is_audited_under_the_jobs_request_id(
    db: Session, tenants: TwoTenants
) -> None:
    if tenant_tables_distributed(db.connection()):
        pytest.skip(
            "on a Citus cluster the outbox, on the coordinator alone, writes no audit events"
            " (docs/citus-layout.md, outbox_messages)"
        )
    use_context(db, MSC_SYSTEM)
    credential = _credential(db, tenants.shared_provider, 30)

    assert _scan(db).credentials == 3

    message_ids = [m.id for m in _messages(db, f"credential:{credential.id}:")]
    events = db.scalars(
        select(AuditEvent).where(
            AuditEvent.table_name == "outbox_messages", AuditEvent.row_id.in_(message_ids)
        )
    ).all()
    assert len(events) == 3
    assert {e.request_id for e in events} == {f"job:reminder-scan:{TODAY.isoformat()}"}
    assert {e.actor_user_id for e in events} == {None}


# --- batches and query cost ------------------------------------------------------------


def _providers_with_credentials(
    session: Session, tenants: TwoTenants, count: int, days: int
) -> list[Credential]:
    """`count` providers at tenant A's facility, one credential each, all expiring the
    same day (so pages split inside one expiry date). Written in bulk to stay quick."""
    use_context(session, MSC_SYSTEM)
    stamp = uuid.uuid4().hex[:8]
    users = [
        User(email=f"bulk-{stamp}-{i}@example.com", name=f"Bulk Provider {i}") for i in range(count)
    ]
    session.add_all(users)
    session.flush()
    session.add_all(
        Membership(user_id=u.id, organization_id=tenants.a.organization.id, role=Role.PROVIDER)
        for u in users
    )
    session.flush()
    session.add_all(
        ProviderFacility(
            organization_id=tenants.a.organization.id,
            user_id=u.id,
            facility_id=tenants.a.facility.id,
            status="active",
            start_date=dt.date(2026, 1, 1),
        )
        for u in users
    )
    credentials = [
        Credential(
            user_id=u.id,
            owner_organization_ids=members.organizations_of(session, u.id),
            credential_type="dea_registration",
            number=f"AP{i:07d}",
            state="TX",
            dea_schedules=["2"],
            expiry_date=TODAY + dt.timedelta(days=days),
        )
        for i, u in enumerate(users)
    ]
    session.add_all(credentials)
    session.flush()
    return credentials


def test_pages_cover_every_credential_once(db: Session, tenants: TwoTenants) -> None:
    credentials = _providers_with_credentials(db, tenants, 10, 30)

    # Pages of 3 over 10 rows sharing one expiry date: the keyset must go by id too.
    assert _scan(db, batch_size=3).credentials == 20  # each provider and A's admin

    for credential in credentials:
        messages = _messages(db, f"credential:{credential.id}:")
        assert len(messages) == 2
    assert _scan(db, batch_size=3) == ScanResult()


@pytest.fixture
def statements(db: Session) -> Iterator[list[str]]:
    """Every statement the session's engine sends, while the test runs."""
    seen: list[str] = []
    engine = db.connection().engine

    def record(*args: Any) -> None:
        seen.append(args[2])  # (conn, cursor, statement, parameters, context, many)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def _is_outbox_insert(statement: str) -> bool:
    return statement.lstrip().upper().startswith("INSERT INTO OUTBOX_MESSAGES")


def _is_events_insert(statement: str) -> bool:
    return "INSERT INTO webhook_events" in statement


def test_the_scans_queries_do_not_grow_with_the_credentials(
    db: Session, tenants: TwoTenants, statements: list[str]
) -> None:
    """10 credentials, then 200 more (210 in one page): the same number of reads, and
    the page's new messages written in one statement, as are its webhook events."""
    _providers_with_credentials(db, tenants, 10, 30)
    statements.clear()
    first = _scan(db)
    small = list(statements)

    _providers_with_credentials(db, tenants, 200, 60)
    statements.clear()
    second = _scan(db)
    large = list(statements)

    assert first.credentials == 20
    assert second.credentials == 400  # the first 10 are already reminded
    reads_small = [s for s in small if not (_is_outbox_insert(s) or _is_events_insert(s))]
    reads_large = [s for s in large if not (_is_outbox_insert(s) or _is_events_insert(s))]
    assert len(reads_small) == len(reads_large)
    # 8, and the walk of the credentials expired lately (credential.expired events)
    assert len(reads_large) <= 9, reads_large
    assert sum(map(_is_outbox_insert, small)) == 1
    assert sum(map(_is_outbox_insert, large)) == 1
    assert sum(map(_is_events_insert, small)) == 1
    assert sum(map(_is_events_insert, large)) == 1


def test_a_deactivated_admin_membership_gets_no_reminders(
    db: Session, with_manager: TwoTenants
) -> None:
    t = with_manager
    use_context(db, MSC_SYSTEM)
    former = factories.make_user(db)
    factories.make_membership(
        db, former, t.a.organization, Role.ORGANIZATION_ADMIN
    ).is_active = False
    _org_document(db, t.a.organization.id, 30)
    db.flush()

    assert _scan(db) == ScanResult(credentials=0, documents=1)
    assert {m.recipient_user_id for m in _messages(db, "document:")} == {t.a.admin.id}
