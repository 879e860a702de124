"""A medical license cross-checked against the NPPES registry, for one organization.

The registry's record of an individual NPI lists, per taxonomy, a license number and its
state. Each check of a provider's medical license against that list is kept here: when,
against which NPI and which registry answer (`registry_fetched_at`, the answer's date:
the evidence), what the registry listed, and the outcome (app/domain/license_checks.py
says how it is reached).

Tenancy: the check is computed once per credential (the registry is public, the
credential shared by every organization of its owner) but recorded for each of those
organizations, one row each, under that organization's row-level security, as the
exclusion screenings are. So the review of a mismatch (`review_status`: accepted, who,
why) is the deciding organization's own, like its credential_verifications, and no
organization learns from this table that another reviews the same provider.
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
    func,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, TenantRowKey, check_in

# The registry lists the number in the license's state; it lists no such number; it
# lists the number, but not in the license's state; no registry answer to check against
# yet (no NPI, an NPI not verified, or the registry not asked yet).
OUTCOMES = ["match", "number_not_listed", "state_not_listed", "pending"]
MISMATCHES = ["number_not_listed", "state_not_listed"]
# A mismatch's standing in the review queue: awaiting a person; accepted (the registry
# is out of date, say), with the reason; the credential rejected; or a later check of
# the same credential took its place (a new number, a new registry answer).
REVIEW_STATUSES = ["open", "accepted", "rejected", "superseded"]
DECISIONS = ["accepted", "rejected"]


class LicenseCheck(TenantRowKey, Base):
    __tablename__ = "license_checks"
    __table_args__ = (
        PrimaryKeyConstraint("organization_id", "id"),
        CheckConstraint(check_in("outcome", OUTCOMES), name="outcome"),
        CheckConstraint(check_in("review_status", REVIEW_STATUSES), name="review_status"),
        # Every mismatch is a review item, and nothing else is: never a silent pass.
        CheckConstraint(
            f"({check_in('outcome', MISMATCHES)}) = (review_status IS NOT NULL)",
            name="mismatch_is_reviewed",
        ),
        # A verdict names the answer it was read from.
        CheckConstraint(
            "outcome = 'pending' OR registry_fetched_at IS NOT NULL", name="answer_dated"
        ),
        CheckConstraint(
            "review_status NOT IN ('accepted', 'rejected')"
            " OR (decision_reason IS NOT NULL AND decided_at IS NOT NULL)",
            name="decision_has_reason",
        ),
        # The organization's queue; a credential's checks, newest last.
        Index(
            "ix_license_checks_organization_id_review_status", "organization_id", "review_status"
        ),
        Index("ix_license_checks_credential_id_checked_at", "credential_id", "checked_at"),
    )

    organization_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("organizations.id", ondelete="CASCADE")
    )
    credential_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("credentials.id", ondelete="CASCADE")
    )
    # The credential's owner, the provider.
    user_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id", ondelete="CASCADE")
    )
    checked_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.statement_timestamp()
    )
    # The provider's NPI as checked (NULL: they had none).
    npi: Mapped[str | None] = mapped_column(String(10))
    # The license's state as checked (its number is not copied here: see the domain).
    state: Mapped[str] = mapped_column(String(2))
    outcome: Mapped[str] = mapped_column(String(24))
    # Why, in words for people.
    detail: Mapped[str | None] = mapped_column(Text)
    # When the registry answer read was fetched (npi_registry_answers.fetched_at).
    registry_fetched_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # What that answer listed: [{code, desc, license, state, primary}], one per taxonomy.
    registry_licenses: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, server_default="[]")
    review_status: Mapped[str | None] = mapped_column(String(16))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    decided_by_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id", ondelete="SET NULL")
    )
    decision_reason: Mapped[str | None] = mapped_column(Text)
