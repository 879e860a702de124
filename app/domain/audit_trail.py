"""The audit trail's export: an organization's events (changes and accesses) over a
range of days, oldest first, read in batches as they are sent."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator, Sequence

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from app.models import AuditEvent

# Events read from the database at a time: one round trip, and one chunk of the body.
BATCH = 1000


def day_start(day: dt.date) -> dt.datetime:
    """The first instant of `day`, UTC: the trail's days are UTC days."""
    return dt.datetime.combine(day, dt.time.min, tzinfo=dt.UTC)


def events_between(
    organization_ids: Sequence[uuid.UUID], start: dt.date, end: dt.date
) -> Select[AuditEvent]:
    """The events of `organization_ids` (as far as the policies show them) from day
    `start` to day `end`, both included, oldest first."""
    return (
        select(AuditEvent)
        .where(
            AuditEvent.organization_id.in_(organization_ids),
            AuditEvent.occurred_at >= day_start(start),
            AuditEvent.occurred_at < day_start(end + dt.timedelta(days=1)),
        )
        .order_by(AuditEvent.occurred_at, AuditEvent.id)
    )


def batches(session: Session, query: Select[AuditEvent]) -> Iterator[Sequence[AuditEvent]]:
    """`query`'s events, BATCH at a time, from a server-side cursor: the whole range is
    never held in memory. Its cursor is closed when the iteration ends, however it ends."""
    result = session.scalars(query.execution_options(yield_per=BATCH))
    try:
        yield from result.partitions()
    finally:
        result.close()
