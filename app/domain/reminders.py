"""Renewal reminders: the daily scan that writes an outbox message for every credential
and organization document nearing its expiry date.

The windows (Settings.reminder_windows, by default 90, 60, 30, 7 and 0 days) are
buckets, not exact days: an item `days_left` days from expiry is in the smallest window
that is at least `days_left`. A scan that did not run for a few days therefore still
sends the reminder of the window the item is in now, and one that runs twice the same
day sends nothing new, because each message is named by an idempotency key (item,
expiry date, window, recipient) that the outbox writes once. A renewed credential has a
new expiry date, hence new keys and a new round of reminders.

Who hears about a credential: the provider who owns it, and, in every organization
where the provider has an active assignment, that organization's admins and the office
managers of the facilities the provider is assigned to there. A staff message is filed
under its organization and names only the provider and the credential, so organization
A never learns from it that the provider also works for organization B. An
organization's documents are for its admins.

The scan runs under whatever tenant context the caller set; in production that is the
system context of the reminder job's session (workers/runtime.py), which the policies
admit through their MSC-admin clause and the audit trail records under the job's
request id.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row, Select, literal, select, tuple_, union
from sqlalchemy.orm import InstrumentedAttribute, Session

from app.domain import outbox
from app.models import (
    Credential,
    Document,
    Facility,
    Membership,
    Organization,
    OutboxMessage,
    ProviderFacility,
    User,
)
from app.models.enums import (
    AssignmentStatus,
    CredentialType,
    DocumentType,
    MessageKind,
    OrganizationStatus,
    Role,
    VerificationStatus,
)

CREDENTIAL_LABELS: dict[str, str] = {
    CredentialType.MEDICAL_LICENSE: "medical license",
    CredentialType.DEA_REGISTRATION: "DEA registration",
    CredentialType.MALPRACTICE_INSURANCE: "malpractice insurance",
    CredentialType.BOARD_CERTIFICATION: "board certification",
}

DOCUMENT_LABELS: dict[str, str] = {
    DocumentType.TAX_FORM: "tax form",
    DocumentType.BANKING_LETTER: "banking letter",
    DocumentType.LICENSE_COPY: "license copy",
    DocumentType.INSURANCE_CERTIFICATE: "insurance certificate",
    DocumentType.TRAINING_CERTIFICATE: "training certificate",
}

# outbox_messages.subject is a String(255); a long provider name must not fail the scan.
_SUBJECT_MAX = 255


@dataclass(frozen=True)
class ScanResult:
    """How many outbox messages the scan created (not how many it found already sent).

    Exact when scans do not overlap; two scans racing on one item both count a message
    only one of them wrote (the outbox still holds it once)."""

    credentials: int = 0
    documents: int = 0

    @property
    def total(self) -> int:
        return self.credentials + self.documents


@dataclass(frozen=True)
class _Message:
    """The arguments of one `outbox.add`, gathered first so a batch can be deduplicated
    and checked against the outbox in one query before anything is written."""

    kind: str
    key: str
    organization_id: uuid.UUID | None
    recipient_email: str
    recipient_user_id: uuid.UUID
    subject: str
    template: str
    payload: dict[str, Any]


@dataclass(frozen=True)
class _Recipient:
    user_id: uuid.UUID
    name: str
    email: str


def mask(number: str | None) -> str:
    """A sensitive number shown by its last four characters only."""
    if not number:
        return ""
    return "•" * max(len(number) - 4, 0) + number[-4:]


def window_for(days_left: int, windows: Iterable[int]) -> int | None:
    """The window an item `days_left` days from expiry is in: the smallest window at
    least that far away. None when it has expired or is beyond the largest window."""
    if days_left < 0:
        return None
    return min((w for w in windows if w >= days_left), default=None)


def scan(
    session: Session,
    today: dt.date,
    windows: tuple[int, ...],
    base_url: str,
    batch_size: int = 500,
) -> ScanResult:
    """Write the reminders due on `today` into the outbox; the caller commits.

    Runs under the session's current tenant context (this function never widens it).
    Walks the candidates in pages of `batch_size` ordered by (expiry_date, id), so
    memory stays bounded whatever the number of credentials, and loads each page's
    recipients in a fixed number of queries."""
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    # A negative window could never match (expired items are skipped), so drop it.
    usable = tuple(sorted({w for w in windows if w >= 0}))
    if not usable:
        return ScanResult()
    last = today + dt.timedelta(days=max(usable))
    base = base_url.rstrip("/")
    return ScanResult(
        credentials=_scan_credentials(session, today, last, usable, base, batch_size),
        documents=_scan_documents(session, today, last, usable, base, batch_size),
    )


# --- credentials ------------------------------------------------------------------


def _scan_credentials(
    session: Session,
    today: dt.date,
    last: dt.date,
    windows: tuple[int, ...],
    base_url: str,
    batch_size: int,
) -> int:
    query = (
        select(
            Credential.id,
            Credential.user_id,
            Credential.credential_type,
            Credential.number,
            Credential.expiry_date,
            User.name.label("provider_name"),
            User.email.label("provider_email"),
            User.is_active.label("provider_active"),
        )
        .join(User, User.id == Credential.user_id)
        # The range on expiry_date is what lets ix_credentials_expiry_date drive the walk.
        .where(
            Credential.expiry_date.between(today, last),
            Credential.verification_status != VerificationStatus.REJECTED,
        )
    )
    created = 0
    for rows in _pages(session, query, Credential.expiry_date, Credential.id, batch_size):
        staff = _credential_staff(session, {row.user_id for row in rows})
        messages: list[_Message] = []
        for row in rows:
            days_left = (row.expiry_date - today).days
            window = window_for(days_left, windows)
            if window is None:  # only possible with gaps below the smallest window
                continue
            messages.extend(_credential_messages(row, days_left, window, staff, base_url))
        created += _write(session, messages)
        session.flush()
    return created


def _credential_staff(
    session: Session, provider_ids: set[uuid.UUID]
) -> dict[uuid.UUID, list[tuple[uuid.UUID, _Recipient]]]:
    """For each provider of the page: (organization id, staff member) for every
    organization where the provider is actively assigned. One query for the page.

    UNION (not UNION ALL) merges a person who is both an organization admin and the
    office manager of the provider's facility into one row for that organization."""
    active = ProviderFacility.status == AssignmentStatus.ACTIVE
    admins = (
        select(
            ProviderFacility.user_id.label("provider_id"),
            ProviderFacility.organization_id.label("organization_id"),
            Membership.user_id.label("recipient_id"),
        )
        .join(
            Membership,
            (Membership.organization_id == ProviderFacility.organization_id)
            & (Membership.role == Role.ORGANIZATION_ADMIN),
        )
        .where(ProviderFacility.user_id.in_(provider_ids), active)
    )
    managers = (
        select(
            ProviderFacility.user_id,
            ProviderFacility.organization_id,
            Facility.office_manager_id,
        )
        .join(
            Facility,
            (Facility.organization_id == ProviderFacility.organization_id)
            & (Facility.id == ProviderFacility.facility_id),
        )
        .where(
            ProviderFacility.user_id.in_(provider_ids),
            active,
            Facility.office_manager_id.is_not(None),
        )
    )
    staff = union(admins, managers).subquery()
    rows = session.execute(
        select(staff.c.provider_id, staff.c.organization_id, User.id, User.name, User.email)
        .join(User, User.id == staff.c.recipient_id)
        .join(Organization, Organization.id == staff.c.organization_id)
        # A deactivated account gets no mail; a closed organization no reminders.
        .where(User.is_active, Organization.status != OrganizationStatus.INACTIVE)
        # A stable order, so which organization files a shared recipient's single
        # message (see _write) is the same on every run.
        .order_by(staff.c.provider_id, staff.c.organization_id, User.id)
    ).all()
    by_provider: dict[uuid.UUID, list[tuple[uuid.UUID, _Recipient]]] = defaultdict(list)
    for provider_id, organization_id, user_id, name, email in rows:
        by_provider[provider_id].append((organization_id, _Recipient(user_id, name, email)))
    return by_provider


def _credential_messages(
    row: Row[*tuple[Any, ...]],
    days_left: int,
    window: int,
    staff: dict[uuid.UUID, list[tuple[uuid.UUID, _Recipient]]],
    base_url: str,
) -> Iterator[_Message]:
    label = CREDENTIAL_LABELS.get(row.credential_type, row.credential_type.replace("_", " "))
    when = _expires(days_left)
    prefix = f"credential:{row.id}:{row.expiry_date.isoformat()}:{window}"
    # Only what the templates need: the provider, the credential, the dates. Nothing
    # about the organizations the provider works for, so no message can leak one.
    common: dict[str, Any] = {
        "credential_label": label,
        "provider_name": row.provider_name,
        "masked_number": mask(row.number),
        "expiry_date": row.expiry_date.isoformat(),
        "days_left": days_left,
    }
    # The provider's own message comes first: a provider who is also staff of an
    # organization assigning them gets this one, not a second one as staff.
    if row.provider_active:
        yield _Message(
            kind=MessageKind.CREDENTIAL_REMINDER,
            key=f"{prefix}:{row.user_id}",
            organization_id=None,
            recipient_email=row.provider_email,
            recipient_user_id=row.user_id,
            subject=_subject(f"Your {label} {when}"),
            template=MessageKind.CREDENTIAL_REMINDER,
            payload={
                **common,
                "recipient_name": row.provider_name,
                "for_provider": True,
                "link": f"{base_url}/api/v1/me/credentials/{row.id}",
            },
        )
    link = f"{base_url}/api/v1/admin/providers/{row.user_id}/credentials"
    for organization_id, recipient in staff.get(row.user_id, ()):
        yield _Message(
            kind=MessageKind.CREDENTIAL_REMINDER,
            key=f"{prefix}:{recipient.user_id}",
            organization_id=organization_id,
            recipient_email=recipient.email,
            recipient_user_id=recipient.user_id,
            subject=_subject(f"{_capitalized(label)} of {row.provider_name} {when}"),
            template=MessageKind.CREDENTIAL_REMINDER,
            payload={
                **common,
                "recipient_name": recipient.name,
                "for_provider": False,
                "link": link,
            },
        )


# --- organization documents -------------------------------------------------------


def _scan_documents(
    session: Session,
    today: dt.date,
    last: dt.date,
    windows: tuple[int, ...],
    base_url: str,
    batch_size: int,
) -> int:
    query = (
        select(
            Document.id,
            Document.organization_id,
            Document.document_type,
            Document.filename,
            Document.expiry_date,
            Organization.name.label("organization_name"),
        )
        .join(Organization, Organization.id == Document.organization_id)
        .where(
            Document.expiry_date.between(today, last),
            # Provider documents (license copies...) are followed through credentials.
            Document.organization_id.is_not(None),
            Organization.status != OrganizationStatus.INACTIVE,
        )
    )
    created = 0
    for rows in _pages(session, query, Document.expiry_date, Document.id, batch_size):
        admins = _organization_admins(session, {row.organization_id for row in rows})
        messages: list[_Message] = []
        for row in rows:
            days_left = (row.expiry_date - today).days
            window = window_for(days_left, windows)
            if window is None:
                continue
            messages.extend(
                _document_messages(
                    row, days_left, window, admins.get(row.organization_id, ()), base_url
                )
            )
        created += _write(session, messages)
        session.flush()
    return created


def _organization_admins(
    session: Session, organization_ids: set[uuid.UUID]
) -> dict[uuid.UUID, list[_Recipient]]:
    """The active admins of each organization of the page, in one query."""
    rows = session.execute(
        select(Membership.organization_id, User.id, User.name, User.email)
        .join(User, User.id == Membership.user_id)
        .where(
            Membership.organization_id.in_(organization_ids),
            Membership.role == Role.ORGANIZATION_ADMIN,
            User.is_active,
        )
        .order_by(Membership.organization_id, User.id)
    ).all()
    by_organization: dict[uuid.UUID, list[_Recipient]] = defaultdict(list)
    for organization_id, user_id, name, email in rows:
        by_organization[organization_id].append(_Recipient(user_id, name, email))
    return by_organization


def _document_messages(
    row: Row[*tuple[Any, ...]],
    days_left: int,
    window: int,
    admins: Iterable[_Recipient],
    base_url: str,
) -> Iterator[_Message]:
    label = DOCUMENT_LABELS.get(row.document_type, row.document_type.replace("_", " "))
    subject = _subject(f"{_capitalized(label)} of {row.organization_name} {_expires(days_left)}")
    link = f"{base_url}/api/v1/admin/organizations/{row.organization_id}/documents"
    for admin in admins:
        yield _Message(
            kind=MessageKind.DOCUMENT_REMINDER,
            key=f"document:{row.id}:{row.expiry_date.isoformat()}:{window}:{admin.user_id}",
            organization_id=row.organization_id,
            recipient_email=admin.email,
            recipient_user_id=admin.user_id,
            subject=subject,
            template=MessageKind.DOCUMENT_REMINDER,
            payload={
                "recipient_name": admin.name,
                "organization_name": row.organization_name,
                "document_label": label,
                "filename": row.filename,
                "expiry_date": row.expiry_date.isoformat(),
                "days_left": days_left,
                "link": link,
            },
        )


# --- shared -----------------------------------------------------------------------


def _pages(
    session: Session,
    query: Select[*tuple[Any, ...]],
    expiry: InstrumentedAttribute[dt.date | None],
    row_id: InstrumentedAttribute[uuid.UUID],
    batch_size: int,
) -> Iterator[Sequence[Row[*tuple[Any, ...]]]]:
    """Keyset pagination on (expiry_date, id): each page starts after the last row of
    the previous one, so the cost of a page does not grow with the pages before it (as
    OFFSET's would) and rows sharing an expiry date are neither skipped nor repeated.
    `query` must select columns named `expiry_date` and `id`."""
    ordered = query.order_by(expiry, row_id).limit(batch_size)
    after: tuple[dt.date, uuid.UUID] | None = None
    while True:
        page = ordered
        if after is not None:
            # Bound with the columns' own types, so the row comparison stays on the
            # index's terms (date, uuid) rather than untyped parameters.
            page = ordered.where(
                tuple_(expiry, row_id)
                > tuple_(literal(after[0], expiry.type), literal(after[1], row_id.type))
            )
        rows = session.execute(page).all()
        if rows:
            yield rows
        # A short page is the last one: no need for a query that returns nothing.
        if len(rows) < batch_size:
            return
        after = (rows[-1].expiry_date, rows[-1].id)


def _write(session: Session, messages: list[_Message]) -> int:
    """Add the page's messages the outbox does not hold yet; returns how many.

    The keys already present are read in one query: it gives an exact count (the
    outbox's insert does not report whether it wrote), and a daily scan re-finds items
    of a window it already covered, whose inserts would only hit ON CONFLICT. The
    outbox's unique key still settles a race with a concurrent scan. (Only MSC reach
    reads the outbox: under a narrower context nothing is found, and the count is of
    the messages attempted.)"""
    unique: dict[str, _Message] = {}
    for message in messages:
        # One message per recipient and reminder: the first role found wins.
        unique.setdefault(message.key, message)
    if not unique:
        return 0
    existing = set(
        session.scalars(
            select(OutboxMessage.idempotency_key).where(
                OutboxMessage.idempotency_key.in_(list(unique))
            )
        )
    )
    created = 0
    for key, message in unique.items():
        if key in existing:
            continue
        outbox.add(
            session,
            kind=message.kind,
            key=key,
            organization_id=message.organization_id,
            recipient_email=message.recipient_email,
            recipient_user_id=message.recipient_user_id,
            subject=message.subject,
            template=message.template,
            payload=message.payload,
        )
        created += 1
    return created


def _expires(days_left: int) -> str:
    if days_left == 0:
        return "expires today"
    return f"expires in {days_left} day{'' if days_left == 1 else 's'}"


def _capitalized(label: str) -> str:
    # str.capitalize() would lower the rest ("Dea registration").
    return label[:1].upper() + label[1:]


def _subject(text: str) -> str:
    return text[:_SUBJECT_MAX]
