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
organization's documents are for its admins. Where an organization has no active admin
of its own (a child practice run from its health system), its admins' messages go to
the admins of its nearest ancestor that has some, still filed under the organization.

The scan also records the webhook events of the credentials it finds
(app/domain/webhook_events.py), one per organization where the provider has an active
assignment, each naming that organization alone: `credential.expiring` once per
credential, expiry date and window, and `credential.expired` once per credential and
expiry date, for expiries of the last EXPIRED_LOOKBACK days only (a first scan does not
announce every expiry of the past). Each is recorded once, by its key, however often
the scan runs.

The scan runs under whatever tenant context the caller set; in production that is the
system context of the reminder job's session (workers/runtime.py), which the policies
admit through their MSC-admin clause and the audit trail records under the job's
request id.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple
from urllib.parse import urlencode

from sqlalchemy import ColumnElement, Row, Select, Text, cast, func, literal, select, tuple_
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.orm import InstrumentedAttribute, Session

from app.domain import outbox, webhook_events, webhooks
from app.domain.queries import one_of
from app.models import (
    Credential,
    Document,
    Facility,
    Membership,
    Organization,
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
    WebhookEventType,
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
# How far back the scan announces expiries (credential.expired).
EXPIRED_LOOKBACK = dt.timedelta(days=30)


@dataclass(frozen=True)
class ScanResult:
    """How many outbox messages the scan created (not how many it found already there).
    Exact even when two scans race on one item: each counts only the rows it wrote."""

    credentials: int = 0
    documents: int = 0

    @property
    def total(self) -> int:
        return self.credentials + self.documents


# Named tuples rather than dataclasses: a scan makes hundreds of thousands of them.


class _Recipient(NamedTuple):
    user_id: uuid.UUID
    name: str
    email: str
    ref: str  # the user id as idempotency keys spell it


def _recipient(user_id: uuid.UUID, name: str, email: str) -> _Recipient:
    return _Recipient(user_id, name, email, str(user_id))


class _Due(NamedTuple):
    """A reminder due to one recipient, named by its idempotency key. Its message is
    composed only once the key is known to be new: a daily scan finds again every item
    of the windows it already covered, and composing those would be most of its work."""

    key: str
    item: Row[*tuple[Any, ...]]
    days_left: int
    # The organization the message is filed under; None for a provider's own.
    organization_id: uuid.UUID | None
    recipient: _Recipient


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
    Reads the organizations' staff once, then walks the candidates in pages of
    `batch_size` ordered by (expiry_date, id), so memory stays bounded whatever the
    number of credentials, with a fixed number of statements per page."""
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    # A negative window could never match (expired items are skipped), so drop it.
    usable = tuple(sorted({w for w in windows if w >= 0}))
    if not usable:
        return ScanResult()
    last = today + dt.timedelta(days=max(usable))
    # The window of every item found, by its days left (0 to the largest window).
    windows_by_day: list[int] = []
    for days in range(max(usable) + 1):
        window = window_for(days, usable)
        assert window is not None  # the largest window holds every day up to it
        windows_by_day.append(window)
    base = base_url.rstrip("/")
    staff = _Staff.load(session)
    result = ScanResult(
        credentials=_scan_credentials(
            session, staff, today, last, windows_by_day, base, batch_size
        ),
        documents=_scan_documents(session, staff, today, last, windows_by_day, base, batch_size),
    )
    _announce_expired(session, staff, today, batch_size)
    return result


@dataclass(frozen=True)
class _Staff:
    """Who hears about an organization's providers and documents: its active admins,
    and each facility's active office manager, for every organization that is not
    closed. Read once per scan: its size follows the organizations and facilities, not
    the credentials."""

    admins: dict[uuid.UUID, list[_Recipient]]  # by organization, in user id order
    # by organization: its ancestors, nearest first (open or not: a closed one has no
    # admins above, and the search goes on past it)
    ancestors: dict[uuid.UUID, list[uuid.UUID]]
    # by facility: its organization, and its manager if any (closed organizations' absent)
    facilities: dict[str, tuple[uuid.UUID, _Recipient | None]]
    # Providers at the same facilities share their staff: worked out once per set.
    _known: dict[str, list[tuple[uuid.UUID, _Recipient]]] = field(default_factory=dict)

    @classmethod
    def load(cls, session: Session) -> _Staff:
        # A deactivated account or membership gets no mail; a closed organization no
        # reminders.
        open_organization = Organization.status != OrganizationStatus.INACTIVE
        connection = session.connection()
        admins: dict[uuid.UUID, list[_Recipient]] = defaultdict(list)
        for organization_id, user_id, name, email in connection.execute(
            select(Membership.organization_id, User.id, User.name, User.email)
            .join(User, User.id == Membership.user_id)
            .join(Organization, Organization.id == Membership.organization_id)
            .where(
                Membership.role == Role.ORGANIZATION_ADMIN,
                Membership.is_active,
                User.is_active,
                open_organization,
            )
            .order_by(Membership.organization_id, User.id)
        ):
            admins[organization_id].append(_recipient(user_id, name, email))
        ancestors = {
            organization_id: list(reversed(path[:-1]))
            for organization_id, path in connection.execute(
                select(Organization.id, Organization.ancestor_ids).where(
                    func.cardinality(Organization.ancestor_ids) > 1
                )
            )
        }
        # Keyed by the id as text, as a credential's facilities arrive (see of_provider).
        facilities: dict[str, tuple[uuid.UUID, _Recipient | None]] = {
            str(facility_id): (
                organization_id,
                None if user_id is None else _recipient(user_id, name, email),
            )
            for facility_id, organization_id, user_id, name, email in connection.execute(
                select(Facility.id, Facility.organization_id, User.id, User.name, User.email)
                .join(Organization, Organization.id == Facility.organization_id)
                .outerjoin(User, (User.id == Facility.office_manager_id) & User.is_active)
                .where(open_organization)
            )
        }
        return cls(admins, ancestors, facilities)

    def admins_of(self, organization_id: uuid.UUID) -> list[_Recipient]:
        """The organization's admins, or else its nearest ancestor's that has some."""
        for candidate in (organization_id, *self.ancestors.get(organization_id, ())):
            if found := self.admins.get(candidate):
                return found
        return []

    def of_provider(self, facilities: str | None) -> list[tuple[uuid.UUID, _Recipient]]:
        """(organization id, staff member) for every organization where the provider is
        actively assigned, given the facilities of those assignments (their ids, in
        order, comma-separated; None for none): the organization's admins and the
        managers of the provider's facilities there, a person in both roles once. In a
        stable order (organization, then person), so which organization files a shared
        recipient's single message (see _write) is the same on every run."""
        if not facilities:
            return []
        known = self._known.get(facilities)
        if known is None:
            known = self._known[facilities] = self._of(facilities.split(","))
        return known

    def organizations_of(self, facilities: str | None) -> list[uuid.UUID]:
        """The open organizations where the provider is actively assigned, given the
        facilities of those assignments (as `of_provider` takes them)."""
        found = (self.facilities.get(facility_id) for facility_id in (facilities or "").split(","))
        return sorted({entry[0] for entry in found if entry is not None})

    def _of(self, facility_ids: list[str]) -> list[tuple[uuid.UUID, _Recipient]]:
        by_organization: dict[uuid.UUID, dict[uuid.UUID, _Recipient]] = defaultdict(dict)
        for facility_id in facility_ids:
            found = self.facilities.get(facility_id)
            if found is None:  # a closed organization's facility
                continue
            organization_id, manager = found
            people = by_organization[organization_id]
            for admin in self.admins_of(organization_id):
                people[admin.user_id] = admin
            if manager is not None:
                people[manager.user_id] = manager
        return [
            (organization_id, person)
            for organization_id, people in sorted(by_organization.items())
            for _, person in sorted(people.items())
        ]


# --- credentials ------------------------------------------------------------------


def _scan_credentials(
    session: Session,
    staff: _Staff,
    today: dt.date,
    last: dt.date,
    windows_by_day: list[int],
    base_url: str,
    batch_size: int,
) -> int:
    query = _credentials(
        Credential.number,
        Credential.verification_status,
        User.email.label("provider_email"),
        User.is_active.label("provider_active"),
    ).where(Credential.expiry_date.between(today, last))
    created = 0
    for rows in _pages(session, query, Credential.expiry_date, Credential.id, batch_size):
        facilities = _active_facilities(session, {row.user_id for row in rows})
        dues: list[_Due] = []
        events: list[webhooks.NewEvent] = []
        for row in rows:
            days_left = (row.expiry_date - today).days
            window = windows_by_day[days_left]
            staff_of_provider = staff.of_provider(facilities.get(row.user_id))
            dues.extend(_credential_dues(row, days_left, window, staff_of_provider))
            events.extend(
                webhooks.event(
                    organization_id,
                    WebhookEventType.CREDENTIAL_EXPIRING,
                    webhook_events.credential_expiring(
                        organization_id,
                        provider=_provider(row),
                        credential=_credential(row),
                        days_left=days_left,
                        window=window,
                    ),
                    key=webhook_events.expiring_key(row.id, row.expiry_date, window),
                )
                for organization_id in staff.organizations_of(facilities.get(row.user_id))
            )
        created += _write(session, dues, lambda due: _credential_message(due, base_url))
        webhooks.record_many(session, events)
    return created


def _credentials(
    *columns: ColumnElement[Any] | InstrumentedAttribute[Any],
) -> Select[*tuple[Any, ...]]:
    """The credentials a scan walks, with their providers and `columns`: any but the
    rejected ones. Filtered by a range of expiry dates, which, with the page order, lets
    ix_credentials_expiry_date_id drive the walk."""
    return (
        select(
            Credential.id,
            Credential.user_id,
            Credential.credential_type,
            Credential.expiry_date,
            User.name.label("provider_name"),
            User.npi.label("provider_npi"),
            *columns,
        )
        .join(User, User.id == Credential.user_id)
        .where(Credential.verification_status != VerificationStatus.REJECTED)
    )


def _announce_expired(session: Session, staff: _Staff, today: dt.date, batch_size: int) -> None:
    """credential.expired for the credentials that expired in the last EXPIRED_LOOKBACK
    days (valid through their expiry date: expired from the day after), to each open
    organization where the provider is actively assigned; each recorded once by its key."""
    query = _credentials().where(
        Credential.expiry_date.between(today - EXPIRED_LOOKBACK, today - dt.timedelta(days=1))
    )
    for rows in _pages(session, query, Credential.expiry_date, Credential.id, batch_size):
        facilities = _active_facilities(session, {row.user_id for row in rows})
        webhooks.record_many(
            session,
            [
                webhooks.event(
                    organization_id,
                    WebhookEventType.CREDENTIAL_EXPIRED,
                    webhook_events.credential_expired(
                        organization_id,
                        provider=_provider(row),
                        credential=webhook_events.credential(
                            row.id,
                            row.credential_type,
                            row.expiry_date,
                            VerificationStatus.EXPIRED,
                        ),
                    ),
                    key=webhook_events.expired_key(row.id, row.expiry_date),
                )
                for row in rows
                for organization_id in staff.organizations_of(facilities.get(row.user_id))
            ],
        )


def _provider(row: Row[*tuple[Any, ...]]) -> dict[str, Any]:
    return webhook_events.provider(row.user_id, row.provider_name, row.provider_npi)


def _credential(row: Row[*tuple[Any, ...]]) -> dict[str, Any]:
    return webhook_events.credential(
        row.id, row.credential_type, row.expiry_date, row.verification_status
    )


def _active_facilities(session: Session, user_ids: set[uuid.UUID]) -> dict[uuid.UUID, str]:
    """The facilities of each provider's active assignments (their ids, in order,
    comma-separated: see _Staff.of_provider), for a page's providers in one statement:
    the staff who hear about a credential follow from them. Apart from the page's
    credentials: a Citus cluster plans no subquery on the assignments, spread over the
    workers, beside a table every node holds."""
    rows = session.connection().execute(
        select(
            ProviderFacility.user_id,
            func.string_agg(
                cast(ProviderFacility.facility_id, Text),
                aggregate_order_by(literal(","), ProviderFacility.facility_id),
            ),
        )
        .where(
            one_of(ProviderFacility.user_id, sorted(user_ids)),
            ProviderFacility.status == AssignmentStatus.ACTIVE,
        )
        .group_by(ProviderFacility.user_id)
    )
    return {user_id: facilities for user_id, facilities in rows}


def _credential_dues(
    row: Row[*tuple[Any, ...]],
    days_left: int,
    window: int,
    staff: list[tuple[uuid.UUID, _Recipient]],
) -> Iterator[_Due]:
    """`staff`: the provider's, as (organization id, staff member)."""
    prefix = f"credential:{row.id}:{row.expiry_date.isoformat()}:{window}:"
    # The provider's own message comes first: a provider who is also staff of an
    # organization assigning them gets this one, not a second one as staff.
    if row.provider_active:
        provider = _recipient(row.user_id, row.provider_name, row.provider_email)
        yield _Due(prefix + provider.ref, row, days_left, None, provider)
    for organization_id, recipient in staff:
        yield _Due(prefix + recipient.ref, row, days_left, organization_id, recipient)


def _credential_message(due: _Due, base_url: str) -> outbox.NewMessage:
    row = due.item
    label = CREDENTIAL_LABELS.get(row.credential_type, row.credential_type.replace("_", " "))
    when = _expires(due.days_left)
    for_provider = due.organization_id is None
    # The reminder pages (app/blueprints/pages.py), which a browser opens: the item's
    # type and expiry date, nothing about the person.
    about = urlencode({"type": row.credential_type, "expires": row.expiry_date.isoformat()})
    if for_provider:
        subject = f"Your {label} {when}"
        link = f"{base_url}/reminders/me/credentials/{row.id}?{about}"
    else:
        subject = f"{_capitalized(label)} of {row.provider_name} {when}"
        link = f"{base_url}/reminders/providers/{row.user_id}/credentials?{about}"
    return outbox.NewMessage(
        kind=MessageKind.CREDENTIAL_REMINDER,
        idempotency_key=due.key,
        organization_id=due.organization_id,
        recipient_email=due.recipient.email,
        recipient_user_id=due.recipient.user_id,
        subject=_subject(subject),
        template=MessageKind.CREDENTIAL_REMINDER,
        # Only what the templates need: the provider, the credential, the dates. Nothing
        # about the organizations the provider works for, so no message can leak one.
        payload={
            "recipient_name": due.recipient.name,
            "for_provider": for_provider,
            "credential_label": label,
            "provider_name": row.provider_name,
            "masked_number": mask(row.number),
            "expiry_date": row.expiry_date.isoformat(),
            "days_left": due.days_left,
            "link": link,
        },
    )


# --- organization documents -------------------------------------------------------


def _scan_documents(
    session: Session,
    staff: _Staff,
    today: dt.date,
    last: dt.date,
    windows_by_day: list[int],
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
        dues: list[_Due] = []
        for row in rows:
            days_left = (row.expiry_date - today).days
            window = windows_by_day[days_left]
            prefix = f"document:{row.id}:{row.expiry_date.isoformat()}:{window}:"
            dues.extend(
                _Due(prefix + admin.ref, row, days_left, row.organization_id, admin)
                for admin in staff.admins_of(row.organization_id)
            )
        created += _write(session, dues, lambda due: _document_message(due, base_url))
    return created


def _document_message(due: _Due, base_url: str) -> outbox.NewMessage:
    row = due.item
    label = DOCUMENT_LABELS.get(row.document_type, row.document_type.replace("_", " "))
    subject = f"{_capitalized(label)} of {row.organization_name} {_expires(due.days_left)}"
    return outbox.NewMessage(
        kind=MessageKind.DOCUMENT_REMINDER,
        idempotency_key=due.key,
        organization_id=row.organization_id,
        recipient_email=due.recipient.email,
        recipient_user_id=due.recipient.user_id,
        subject=_subject(subject),
        template=MessageKind.DOCUMENT_REMINDER,
        payload={
            "recipient_name": due.recipient.name,
            "organization_name": row.organization_name,
            "document_label": label,
            "filename": row.filename,
            "expiry_date": row.expiry_date.isoformat(),
            "days_left": due.days_left,
            "link": f"{base_url}/reminders/organizations/{row.organization_id}/documents?"
            + urlencode({"type": row.document_type, "expires": row.expiry_date.isoformat()}),
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
        rows = session.connection().execute(page).all()
        if rows:
            yield rows
        # A short page is the last one: no need for a query that returns nothing.
        if len(rows) < batch_size:
            return
        after = (rows[-1].expiry_date, rows[-1].id)


def _write(session: Session, dues: list[_Due], compose: Callable[[_Due], outbox.NewMessage]) -> int:
    """Write the messages of the page's dues that the outbox does not hold yet; returns
    how many.

    The outbox is asked first which of the page's keys it lacks, in one query: a daily
    scan finds again the items of every window it already covered, and only new
    messages are composed and sent. The outbox's unique key still settles a race with a
    concurrent scan. (Only MSC reach reads the whole outbox: under a narrower context
    every message is attempted.)"""
    unique: dict[str, _Due] = {}
    for due in dues:
        # One message per recipient and reminder: the first role found wins.
        unique.setdefault(due.key, due)
    if not unique:
        return 0
    lacking = outbox.missing(session, unique)
    return outbox.add_many(session, [compose(due) for key, due in unique.items() if key in lacking])


def _expires(days_left: int) -> str:
    if days_left == 0:
        return "expires today"
    return f"expires in {days_left} day{'' if days_left == 1 else 's'}"


def _capitalized(label: str) -> str:
    # str.capitalize() would lower the rest ("Dea registration").
    return label[:1].upper() + label[1:]


def _subject(text: str) -> str:
    return text[:_SUBJECT_MAX]
