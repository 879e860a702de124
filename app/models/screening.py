"""Exclusion screening of providers, per organization.

`provider_screenings`: each time a provider was checked against the exclusion lists
in force, for one organization they work for: when, why, against which list versions,
and the outcome (clear, candidate, excluded) with the entries matched. Never changed or
deleted: the dated evidence an auditor asks for. A provider shared by several
organizations is screened once and the result recorded for each, so that each reads its
own record under its row-level security and learns nothing of the others.

`exclusion_matches`: the review queue. One row per organization, provider and list
entry matched: a match by NPI is an exclusion at once (`excluded`); a match by name
with date of birth or state is a `candidate` an admin of the organization confirms
(`excluded`) or clears, with a reason; an entry the lists later reinstate moves it to
`reinstated`.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    PrimaryKeyConstraint,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, TenantRowKey, check_in

# Why a screening ran.
SCREENING_REASONS = ["acceptance", "profile_change", "list_import", "monthly", "manual"]
# What it found: nothing, a match a person must adjudicate, an exclusion.
OUTCOMES = ["clear", "candidate", "excluded"]
# How a provider matched an entry.
MATCH_KINDS = ["npi", "name_and_date_of_birth", "name_and_state"]
# A match's standing in the review queue.
MATCH_STATUSES = ["candidate", "excluded", "cleared", "reinstated"]


class ProviderScreening(TenantRowKey, Base):
    __tablename__ = "provider_screenings"
    __table_args__ = (
        PrimaryKeyConstraint("organization_id", "id"),
        CheckConstraint(check_in("reason", SCREENING_REASONS), name="reason"),
        CheckConstraint(check_in("outcome", OUTCOMES), name="outcome"),
        # A provider's history, newest first; an organization's log by date.
        Index("ix_provider_screenings_user_id_screened_at", "user_id", "screened_at"),
        Index(
            "ix_provider_screenings_organization_id_screened_at",
            "organization_id",
            "screened_at",
        ),
    )

    organization_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("organizations.id", ondelete="CASCADE")
    )
    user_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id", ondelete="CASCADE")
    )
    screened_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.statement_timestamp()
    )
    reason: Mapped[str] = mapped_column(String(16))
    # The list versions in force at the time (exclusion_lists.id).
    list_ids: Mapped[list[uuid.UUID]] = mapped_column(ARRAY(UUID(as_uuid=True)))
    outcome: Mapped[str] = mapped_column(String(16))
    # The entries matched, as they read then: [{entry_id, match_kind, source, names,
    # npi, date_of_birth, state, exclusion_type, excluded_on}].
    matches: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, server_default="[]")


class ExclusionMatch(TenantRowKey, Base):
    __tablename__ = "exclusion_matches"
    __table_args__ = (
        PrimaryKeyConstraint("organization_id", "id"),
        CheckConstraint(check_in("match_kind", MATCH_KINDS), name="match_kind"),
        CheckConstraint(check_in("status", MATCH_STATUSES), name="status"),
        # A person's decision names its reason.
        CheckConstraint(
            "decided_by_id IS NULL OR decision_reason IS NOT NULL", name="decision_has_reason"
        ),
        UniqueConstraint("organization_id", "user_id", "entry_id"),
        Index("ix_exclusion_matches_organization_id_status", "organization_id", "status"),
    )

    organization_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("organizations.id", ondelete="CASCADE")
    )
    user_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id", ondelete="CASCADE")
    )
    entry_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("exclusion_entries.id")
    )
    match_kind: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))
    found_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.statement_timestamp()
    )
    # The last change of status: a person's decision (who and why), or the service's
    # (an NPI match, a reinstatement: no one, and the reason it records).
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    decided_by_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id", ondelete="SET NULL")
    )
    decision_reason: Mapped[str | None] = mapped_column(Text)
