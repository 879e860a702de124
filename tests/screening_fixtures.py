"""Exclusion lists, screenings and matches for tests of what is built on them (the review
queue, the log, the effects of an exclusion), written as the screening writes them: in
the service's own context, the only one the policies let write them."""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from app.models import Organization, User
from app.models.exclusion import ExclusionEntry, ExclusionList
from app.models.screening import ExclusionMatch, ProviderScreening
from app.tenancy.context import TenantContext, use_context

_counter = itertools.count(1)
SYSTEM = TenantContext.system("test-screening")


def make_list(
    session: Session, *, source: str = "leie", published_on: dt.date = dt.date(2026, 11, 1)
) -> ExclusionList:
    n = next(_counter)
    exclusion_list = ExclusionList(
        source=source,
        kind="full",
        published_on=published_on,
        sha256=hashlib.sha256(f"list {n} {uuid.uuid4()}".encode()).hexdigest(),
        entry_count=1,
    )
    session.add(exclusion_list)
    session.flush()
    return exclusion_list


def make_entry(session: Session, exclusion_list: ExclusionList, **fields: Any) -> ExclusionEntry:
    fields.setdefault("last_name", "DOE")
    fields.setdefault("first_name", "JANE")
    fields.setdefault("state", "TX")
    fields.setdefault("exclusion_type", "1128a1")
    fields.setdefault("excluded_on", dt.date(2019, 5, 20))
    entry = ExclusionEntry(
        source=exclusion_list.source,
        entry_key=f"entry-{next(_counter)}-{uuid.uuid4().hex[:8]}",
        list_id=exclusion_list.id,
        **fields,
    )
    session.add(entry)
    session.flush()
    return entry


def make_match(
    session: Session,
    organization: Organization,
    provider: User,
    entry: ExclusionEntry,
    **fields: Any,
) -> ExclusionMatch:
    fields.setdefault("match_kind", "name_and_date_of_birth")
    fields.setdefault("status", "candidate")
    found = ExclusionMatch(
        organization_id=organization.id, user_id=provider.id, entry_id=entry.id, **fields
    )
    session.add(found)
    session.flush()
    return found


def make_screening(
    session: Session,
    organization: Organization,
    provider: User,
    list_ids: list[uuid.UUID],
    **fields: Any,
) -> ProviderScreening:
    fields.setdefault("reason", "monthly")
    fields.setdefault("outcome", "clear")
    screening = ProviderScreening(
        organization_id=organization.id, user_id=provider.id, list_ids=list_ids, **fields
    )
    session.add(screening)
    session.flush()
    return screening


@dataclass
class Listed:
    """A committed list version and one entry of it."""

    exclusion_list: ExclusionList
    entry: ExclusionEntry


def committed_entry(admin_engine: Engine, **fields: Any) -> Listed:
    """A committed list version (`source`, `published_on` among `fields`) with one entry
    (the other `fields`)."""
    list_fields = {key: fields.pop(key) for key in ("source", "published_on") if key in fields}
    with Session(admin_engine, expire_on_commit=False) as session:
        use_context(session, SYSTEM)
        exclusion_list = make_list(session, **list_fields)
        entry = make_entry(session, exclusion_list, **fields)
        session.commit()
    return Listed(exclusion_list, entry)


def committed_match(
    admin_engine: Engine,
    organization: Organization,
    provider: User,
    entry: ExclusionEntry,
    **fields: Any,
) -> ExclusionMatch:
    with Session(admin_engine, expire_on_commit=False) as session:
        use_context(session, SYSTEM)
        found = make_match(session, organization, provider, entry, **fields)
        session.commit()
    return found


def committed_screening(
    admin_engine: Engine,
    organization: Organization,
    provider: User,
    list_ids: list[uuid.UUID],
    **fields: Any,
) -> ProviderScreening:
    with Session(admin_engine, expire_on_commit=False) as session:
        use_context(session, SYSTEM)
        screening = make_screening(session, organization, provider, list_ids, **fields)
        session.commit()
    return screening
