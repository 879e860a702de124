"""The door through which a read of sensitive data enters the audit trail.

The application role may not write `audit_events`. It inserts a row here instead, and
the table's trigger (`tenancy.record_access`, policies/access_records.sql) turns it into
one audit event, action `access`, with the actor, the request id and the cross-tenant
flag taken from the transaction's context, never from the row, and refuses an
organization the context does not reach. The row itself is never kept.

A table rather than a function the application calls: on a Citus cluster this table is
distributed like the trail, so the insert travels over the request's own connection to
the node holding the organization's shard of the trail, where the trigger writes it
locally, as the audit triggers do. A function running as the owner on the coordinator
would write the trail through a connection of the owner's, after which Citus refuses the
request any further read of that organization's rows in the same transaction
("placements that were modified in this transaction by a different user").
"""

from __future__ import annotations

from sqlalchemy import Column, String, Table
from sqlalchemy.dialects.postgresql import UUID

from app.models.audit_event import PURPOSE_LENGTH
from app.models.base import Base

access_records = Table(
    "access_records",
    Base.metadata,
    Column("organization_id", UUID(as_uuid=True), nullable=False),
    Column("table_name", String(63), nullable=False),
    Column("row_id", UUID(as_uuid=True), nullable=False),
    Column("purpose", String(PURPOSE_LENGTH), nullable=False),
)
