from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import DateTime, MetaData, func, text
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# Stable constraint names, so migrations and the models agree on them.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UUIDPrimaryKey:
    id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), primary_key=True, server_default=text("gen_random_uuid()")
    )


class TenantRowKey:
    """A tenant's row: its table's primary key is (organization_id, id), so that a Citus
    cluster can distribute the table by organization (docs/citus-layout.md), and the ORM
    names both in every UPDATE and DELETE it writes, which a cluster then sends to the
    one node holding the row (by `id` alone, to every node). `id`, a random UUID unique by
    itself, stays the identity the API uses. The model lists
    PrimaryKeyConstraint("organization_id", "id") among its table arguments.
    """

    id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), server_default=text("gen_random_uuid()")
    )


class Timestamps:
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    # Set by each update the models make, and by the set_updated_at trigger for any other
    # (policies/functions.sql says why both).
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.statement_timestamp()
    )


def check_in(column: str, values: Sequence[str]) -> str:
    """SQL for a CHECK constraint limiting a column to a fixed list of values."""
    quoted = ", ".join(f"'{v}'" for v in values)
    return f"{column} IN ({quoted})"
