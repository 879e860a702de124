"""The exclusion review queue and the screening log as an organization reads them, and
the decisions its admins take on a candidate match.

A match (app/models/screening.py) is its organization's own: each organization
adjudicates the candidates found among its providers, and neither its decision nor its
queue shows in another organization that shares the provider (the policies see to it;
the queries below also name the organizations the request acts for).

A decision moves a `candidate` to `excluded` (a person confirms that the entry is the
provider) or `cleared` (it is someone else), with the reason, the person and the time;
the table's audit trigger files it in the organization's trail. Only a candidate is
decided here: an exclusion by NPI, a reinstatement and a decision already taken are the
record, not a queue item. An exclusion, however it came about, is announced to the
organization's admins through the outbox (`notify_exclusion`), and it counts against
the provider in that organization from the day it was decided (app/domain/compliance.py;
orders and assignments refuse the provider there: `excluded_in`).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Date,
    Exists,
    Row,
    cast,
    exists,
    func,
    select,
    union_all,
    update,
)
from sqlalchemy.orm import QueryableAttribute, Session, aliased

from app.domain import outbox, webhook_events, webhooks
from app.domain.errors import Conflict
from app.domain.queries import Rows, one_of
from app.models import (
    Credential,
    Facility,
    Membership,
    ProviderFacility,
    User,
)
from app.models.enums import (
    AssignmentStatus,
    CredentialType,
    MessageKind,
    Role,
    WebhookEventType,
)
from app.models.exclusion import ExclusionEntry, ExclusionList
from app.models.screening import ExclusionMatch, ProviderScreening
from app.tenancy.context import TenantContext, in_scope, system_context
from app.tenancy.read_only import ensure_writable

CANDIDATE = "candidate"
EXCLUDED = "excluded"
CLEARED = "cleared"
# What a person decides a candidate to be.
DECISIONS = (EXCLUDED, CLEARED)
SOURCE_NAMES = {"leie": "the HHS-OIG LEIE", "sam": "SAM.gov exclusions"}


def screened_on() -> Any:
    """The UTC day of a screening, as the filters and the log's dates read it."""
    return cast(func.timezone("UTC", ProviderScreening.screened_at), Date)


def screenings(context: TenantContext, filters: dict[str, Any]) -> Rows:
    """The screenings of the organizations the request acts for (or of
    `organization_id` among them), newest first, each with its provider's name and NPI;
    filtered by provider, outcome and UTC days `start` through `end`."""
    query = (
        select(
            ProviderScreening.id,
            ProviderScreening.organization_id,
            ProviderScreening.user_id,
            User.name.label("provider_name"),
            User.npi.label("provider_npi"),
            ProviderScreening.screened_at,
            ProviderScreening.reason,
            ProviderScreening.list_ids,
            ProviderScreening.outcome,
            ProviderScreening.matches,
        )
        .join(User, User.id == ProviderScreening.user_id)
        .where(in_scope(ProviderScreening.organization_id, context))
    )
    if filters.get("organization_id") is not None:
        query = query.where(ProviderScreening.organization_id == filters["organization_id"])
    if filters.get("user_id") is not None:
        query = query.where(ProviderScreening.user_id == filters["user_id"])
    if filters.get("outcome") is not None:
        query = query.where(ProviderScreening.outcome == filters["outcome"])
    if filters.get("start") is not None:
        query = query.where(screened_on() >= filters["start"])
    if filters.get("end") is not None:
        query = query.where(screened_on() <= filters["end"])
    return query.order_by(ProviderScreening.screened_at.desc(), ProviderScreening.id)


def matches(context: TenantContext, filters: dict[str, Any]) -> Rows:
    """The review queue: the matches of the organizations the request acts for (or of
    `organization_id` among them) in `status` (all of them when None), oldest first,
    each with the provider's data beside the list entry's and the version that last
    carried it. The provider's states come with the page (`provider_states`)."""
    query = _match_rows().where(in_scope(ExclusionMatch.organization_id, context))
    if filters.get("status") is not None:
        query = query.where(ExclusionMatch.status == filters["status"])
    if filters.get("organization_id") is not None:
        query = query.where(ExclusionMatch.organization_id == filters["organization_id"])
    if filters.get("user_id") is not None:
        query = query.where(ExclusionMatch.user_id == filters["user_id"])
    return query.order_by(ExclusionMatch.found_at, ExclusionMatch.id)


def match(session: Session, context: TenantContext, match_id: uuid.UUID) -> dict[str, Any] | None:
    """One match as the queue shows it, when the request reaches it."""
    row = (
        session.execute(
            _match_rows().where(
                ExclusionMatch.id == match_id, in_scope(ExclusionMatch.organization_id, context)
            )
        )
        .mappings()
        .first()
    )
    if row is None:
        return None
    [found] = with_provider_states(session, [dict(row)])
    return found


def _match_rows() -> Rows:
    # Who decided, when the caller may see them (an MSC admin's account they may not).
    decider = aliased(User, name="decider")
    return (
        select(
            ExclusionMatch.id,
            ExclusionMatch.organization_id,
            ExclusionMatch.user_id,
            ExclusionMatch.match_kind,
            ExclusionMatch.status,
            ExclusionMatch.found_at,
            ExclusionMatch.decided_at,
            ExclusionMatch.decided_by_id,
            decider.name.label("decided_by_name"),
            ExclusionMatch.decision_reason,
            User.name.label("provider_name"),
            User.npi.label("provider_npi"),
            User.date_of_birth.label("provider_date_of_birth"),
            ExclusionMatch.entry_id,
            ExclusionEntry.source.label("entry_source"),
            ExclusionEntry.last_name.label("entry_last_name"),
            ExclusionEntry.first_name.label("entry_first_name"),
            ExclusionEntry.middle_name.label("entry_middle_name"),
            ExclusionEntry.business_name.label("entry_business_name"),
            ExclusionEntry.npi.label("entry_npi"),
            ExclusionEntry.date_of_birth.label("entry_date_of_birth"),
            ExclusionEntry.state.label("entry_state"),
            ExclusionEntry.general.label("entry_general"),
            ExclusionEntry.specialty.label("entry_specialty"),
            ExclusionEntry.exclusion_type.label("entry_exclusion_type"),
            ExclusionEntry.excluded_on.label("entry_excluded_on"),
            ExclusionEntry.reinstated_on.label("entry_reinstated_on"),
            ExclusionList.published_on.label("list_published_on"),
        )
        .join(User, User.id == ExclusionMatch.user_id)
        .join(ExclusionEntry, ExclusionEntry.id == ExclusionMatch.entry_id)
        .join(ExclusionList, ExclusionList.id == ExclusionEntry.list_id)
        .outerjoin(decider, decider.id == ExclusionMatch.decided_by_id)
    )


def with_provider_states(session: Session, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`rows` (matches), each given `provider_states`: the states the matching compares
    an entry's with, as the organization knows them: those of the facilities of the
    provider's assignments in force there and of their medical licenses. One query for
    the whole page."""
    if not rows:
        return rows
    user_ids = sorted({row["user_id"] for row in rows})
    organization_ids = sorted({row["organization_id"] for row in rows})
    assigned = (
        select(ProviderFacility.organization_id, ProviderFacility.user_id, Facility.state)
        .join(
            Facility,
            (Facility.organization_id == ProviderFacility.organization_id)
            & (Facility.id == ProviderFacility.facility_id),
        )
        .where(
            one_of(ProviderFacility.organization_id, organization_ids),
            one_of(ProviderFacility.user_id, user_ids),
            ProviderFacility.status == AssignmentStatus.ACTIVE,
        )
    )
    licensed = select(
        cast(None, ProviderFacility.organization_id.type), Credential.user_id, Credential.state
    ).where(
        one_of(Credential.user_id, user_ids),
        Credential.credential_type == CredentialType.MEDICAL_LICENSE,
        Credential.state.is_not(None),
    )
    states: dict[tuple[uuid.UUID | None, uuid.UUID], set[str]] = defaultdict(set)
    for organization_id, user_id, state in session.execute(union_all(assigned, licensed)):
        states[organization_id, user_id].add(state)
    for row in rows:
        row["provider_states"] = sorted(
            states[row["organization_id"], row["user_id"]] | states[None, row["user_id"]]
        )
    return rows


def decide(
    session: Session,
    context: TenantContext,
    organization_id: uuid.UUID,
    match_id: uuid.UUID,
    status: str,
    reason: str,
) -> None:
    """A person's decision on a candidate: `excluded` or `cleared`, with `reason`. The
    update is conditional on the match still being a candidate, so of two admins
    deciding at once the second is told it was decided meanwhile. An exclusion is
    announced to the organization's admins in the same transaction."""
    assert status in DECISIONS, status
    ensure_writable(context, organization_id)  # a bulk update: no flush checks it
    decided = session.execute(
        update(ExclusionMatch)
        .where(
            ExclusionMatch.organization_id == organization_id,
            ExclusionMatch.id == match_id,
            ExclusionMatch.status == CANDIDATE,
        )
        .values(
            status=status,
            decided_at=func.now(),
            decided_by_id=context.user_id,
            decision_reason=reason,
        )
        .returning(ExclusionMatch.id),
        execution_options={"synchronize_session": False},
    ).first()
    if decided is None:
        current = session.scalar(
            select(ExclusionMatch.status).where(
                ExclusionMatch.organization_id == organization_id, ExclusionMatch.id == match_id
            )
        )
        raise Conflict(
            f"the match is {current}, not a candidate: only a candidate is decided",
            field="status",
        )
    if status == EXCLUDED:
        notify_exclusion(session, [match_id])


def _found(
    session: Session, match_ids: Sequence[uuid.UUID], statuses: Sequence[str]
) -> Sequence[Row[*tuple[Any, ...]]]:
    """What the exclusion notice and the exclusion.candidate event say of each match of
    `match_ids` in one of `statuses`, in one read."""
    if not match_ids:
        return []
    return session.execute(
        select(
            ExclusionMatch.organization_id,
            ExclusionMatch.id,
            ExclusionMatch.user_id,
            ExclusionMatch.status,
            ExclusionMatch.match_kind,
            ExclusionMatch.found_at,
            ExclusionMatch.decision_reason,
            User.name,
            User.npi,
            ExclusionEntry.source,
            ExclusionEntry.exclusion_type,
            ExclusionEntry.excluded_on,
            ExclusionList.published_on,
        )
        .join(User, User.id == ExclusionMatch.user_id)
        .join(ExclusionEntry, ExclusionEntry.id == ExclusionMatch.entry_id)
        .join(ExclusionList, ExclusionList.id == ExclusionEntry.list_id)
        .where(one_of(ExclusionMatch.id, list(match_ids)), ExclusionMatch.status.in_(statuses))
    ).all()


def announce_found(session: Session, match_ids: Sequence[uuid.UUID]) -> int:
    """For the screening's new matches: an exclusion.candidate event for each (a
    candidate, or an exclusion by NPI), to the match's organization alone, and the
    exclusions' notices (`notify_exclusion`); returns how many notices. One read and two
    writes, whatever the number of matches. In the service's context, as the screening
    runs."""
    rows = _found(session, match_ids, (CANDIDATE, EXCLUDED))
    webhooks.record_many(
        session,
        [
            webhooks.event(
                row.organization_id,
                WebhookEventType.EXCLUSION_CANDIDATE,
                webhook_events.exclusion_candidate(
                    row.organization_id,
                    match_id=row.id,
                    status=row.status,
                    match_kind=row.match_kind,
                    source=row.source,
                    found_at=row.found_at,
                    provider=webhook_events.provider(row.user_id, row.name, row.npi),
                ),
                key=webhook_events.exclusion_key(row.id),
            )
            for row in rows
        ],
    )
    return _notify(session, [row for row in rows if row.status == EXCLUDED])


def notify_exclusion(session: Session, match_ids: Sequence[uuid.UUID]) -> int:
    """Announce the exclusions among `match_ids` (matches in status `excluded`) to the
    active admins of each one's organization, a message each, through the outbox; returns
    how many messages it wrote. Idempotent: a match announces itself once to each admin
    (the key names both), however often this is called. For the screening, whose NPI
    matches are exclusions at once, as for a person's decision; runs in the caller's
    context, which must read the matches and their organizations' admins and write the
    outbox in their name (the service's context does). The message names the provider,
    the list and the exclusion, never the provider's date of birth."""
    return _notify(session, _found(session, match_ids, (EXCLUDED,)))


def _notify(session: Session, rows: Sequence[Row[*tuple[Any, ...]]]) -> int:
    if not rows:
        return 0
    admins: dict[uuid.UUID, list[tuple[uuid.UUID, str, str]]] = defaultdict(list)
    for organization_id, user_id, name, email in session.execute(
        select(Membership.organization_id, User.id, User.name, User.email)
        .join(User, User.id == Membership.user_id)
        .where(
            one_of(Membership.organization_id, sorted({row.organization_id for row in rows})),
            Membership.role == Role.ORGANIZATION_ADMIN,
            Membership.is_active,
            User.is_active,
        )
        .order_by(Membership.organization_id, User.id)
    ):
        admins[organization_id].append((user_id, name, email))
    messages = []
    for row in rows:
        source = SOURCE_NAMES.get(row.source, row.source)
        for admin_id, admin_name, email in admins[row.organization_id]:
            messages.append(
                outbox.NewMessage(
                    kind=MessageKind.EXCLUSION_NOTICE,
                    idempotency_key=f"exclusion:{row.organization_id}:{row.id}:{admin_id}",
                    organization_id=row.organization_id,
                    recipient_email=email,
                    recipient_user_id=admin_id,
                    subject=f"{row.name} is excluded ({source})"[:200],
                    template=MessageKind.EXCLUSION_NOTICE,
                    payload={
                        "recipient_name": admin_name,
                        "provider_name": row.name,
                        "provider_npi": row.npi,
                        "source": source,
                        "list_published_on": row.published_on.isoformat(),
                        "exclusion_type": row.exclusion_type,
                        "excluded_on": row.excluded_on.isoformat() if row.excluded_on else None,
                        "by_npi": row.match_kind == "npi",
                        "decision_reason": row.decision_reason,
                    },
                )
            )
    return outbox.add_many(session, messages)


# An id, or the column holding one in the statement a test goes into.
Key = ColumnElement[uuid.UUID] | QueryableAttribute[uuid.UUID] | uuid.UUID


def stands_excluded(
    organization_id: Key,
    user_id: Key,
) -> Exists:
    """Whether the provider stands excluded in the organization: a match of its in
    status `excluded` (by the organization's key first, so that a Citus cluster reads
    it on the organization's node)."""
    return exists().where(
        ExclusionMatch.organization_id == organization_id,
        ExclusionMatch.user_id == user_id,
        ExclusionMatch.status == EXCLUDED,
    )


def excluded_in(session: Session, user_id: uuid.UUID, organization_id: uuid.UUID) -> bool:
    """Whether the provider stands excluded in the organization: new orders and
    assignments there are refused. Read with the service's reach, as the caller (a
    provider placing an order, an office manager assigning one) may not read the queue;
    only the answer goes back."""
    with system_context(session):
        return bool(session.scalar(select(stands_excluded(organization_id, user_id))))


def excluded_since(
    session: Session, user_ids: list[uuid.UUID], scope: list[uuid.UUID] | None
) -> dict[uuid.UUID, dt.date]:
    """The first UTC day from which each of the providers stands excluded in one of the
    organizations of `scope` (None: wherever the caller reads the queue): the day its
    match became `excluded` (decided, or found so by NPI), for the matches that still
    are. A cleared or reinstated match counts on no day: the table keeps a match's
    latest decision, the audit trail its history. With a `scope`, read with the
    service's reach, so that everyone who reads the organizations' figures (an office
    manager too, who may not read the queue) gets the same figures; only the day goes
    back."""
    if not user_ids:
        return {}
    since = func.min(
        cast(
            func.timezone("UTC", func.coalesce(ExclusionMatch.decided_at, ExclusionMatch.found_at)),
            Date,
        )
    )
    query = (
        select(ExclusionMatch.user_id, since)
        .where(one_of(ExclusionMatch.user_id, user_ids), ExclusionMatch.status == EXCLUDED)
        .group_by(ExclusionMatch.user_id)
    )
    if scope is not None:
        with system_context(session):
            rows = session.execute(query.where(ExclusionMatch.organization_id.in_(scope))).all()
    else:
        rows = session.execute(query).all()
    return {user_id: day for user_id, day in rows}


def counts(session: Session, scope: list[uuid.UUID]) -> dict[str, int]:
    """The dashboard's figures: providers excluded in the organizations of `scope`, and
    candidates waiting for a decision there. Read with the service's reach, as
    `excluded_since` is, so that every reader of the organizations' dashboard gets the
    same figures (the caller has been found to act for `scope`)."""
    with system_context(session):
        excluded, candidates = session.execute(
            select(
                func.count(func.distinct(ExclusionMatch.user_id)).filter(
                    ExclusionMatch.status == EXCLUDED
                ),
                func.count().filter(ExclusionMatch.status == CANDIDATE),
            ).where(
                ExclusionMatch.organization_id.in_(scope),
                ExclusionMatch.status.in_((EXCLUDED, CANDIDATE)),
            )
        ).one()
    return {"excluded_providers": int(excluded), "open_exclusion_candidates": int(candidates)}
