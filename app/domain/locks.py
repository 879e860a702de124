"""Row locks on a tenant's rows."""

from __future__ import annotations

from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Invitation, Membership

Locked = TypeVar("Locked", Invitation, Membership)


def lock(session: Session, row: Locked) -> None:
    """Read `row` again under a row lock held until the transaction ends, so a change in
    flight ends first and is seen (the row is overwritten as the lock found it).

    By its whole key, not by `id` as session.refresh would: a Citus cluster locks rows in
    one shard only, so the statement must name the organization (the distribution
    column)."""
    model = type(row)
    # Fetched, not only executed: the ORM overwrites the instance as it reads the rows.
    session.scalars(
        select(model)
        .where(model.organization_id == row.organization_id, model.id == row.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).all()
