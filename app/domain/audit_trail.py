"""The audit trail over a range of UTC days, and its export: an organization's events
(changes and accesses), oldest first, read in batches as they are sent."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator, Sequence

from sqlalchemy import ColumnElement, Select, select
from sqlalchemy.orm import Session

from app.models import AuditEvent

# Events read from the database at a time: one round trip, and one chunk of the body.
BATCH = 1000


def day_start(day: dt.date) -> dt.datetime:
    """The first instant of `day`, UTC: the trail's days are UTC days."""
    return dt.datetime.combine(day, dt.time.min, tzinfo=dt.UTC)


def on_days(start: dt.date | None, end: dt.date | None) -> list[ColumnElement[bool]]:
    """The conditions of an event on day `start` to day `end`, both included; a bound
    left out is no bound."""
    conditions: list[ColumnElement[bool]] = []
    if start is not None:
        conditions.append(AuditEvent.occurred_at >= day_start(start))
    if end is not None:
        conditions.append(AuditEvent.occurred_at < day_start(end + dt.timedelta(days=1)))
    return conditions


def events_between(
    organization_ids: Sequence[uuid.UUID], start: dt.date, end: dt.date
) -> Select[AuditEvent]:
    """The events of `organization_ids` (as far as the policies show them) from day
    `start` to day `end`, both included, oldest first."""
    return (
        select(AuditEvent)
        .where(AuditEvent.organization_id.in_(organization_ids), *on_days(start, end))
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
