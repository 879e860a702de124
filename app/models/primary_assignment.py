from __future__ import annotations

import uuid

from sqlalchemy import ForeignKey, Index
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, Timestamps


class PrimaryAssignment(Timestamps, Base):
    """A provider's one primary facility, whichever organization it belongs to: their
    current assignment at `facility_id` of `organization_id`.

    One row per provider, keyed by the provider, so the primary key is the rule: no index
    on provider_facilities could hold it once that table is spread over shards by
    organization (docs/citus-layout.md). It is the provider's choice, not an organization's
    row: an assignment reads as primary when this row points at it, and an organization
    sees the row only while it does (policies/primary_assignments.sql), so moving the
    primary elsewhere changes nothing of the organization it leaves. No foreign key to
    the assignment or the facility: this table is to be distributed by `user_id`, theirs
    by `organization_id`, and Citus keeps no foreign key between the two; users and
    organizations are to be reference tables.
    """

    __tablename__ = "primary_assignments"
    __table_args__ = (Index("ix_primary_assignments_organization_id", "organization_id"),)

    user_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    organization_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("organizations.id", ondelete="CASCADE")
    )
    facility_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
