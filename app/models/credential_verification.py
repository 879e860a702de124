"""One organization's decision on a provider's credential.

A credential is shared by every organization its owner works for, and so is its outcome
(`credentials.verification_status`, `verified_at`). The decision behind an outcome is
the deciding organization's: who decided and, for a rejection, why. It is kept here,
one row per decision, under that organization's row-level security, never changed or
deleted (it goes only with its credential): the organization's verification history.
The columns keep the names the credential's API fields have always had.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    PrimaryKeyConstraint,
    String,
    Text,
)
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, TenantRowKey, check_in
from app.models.enums import VerificationStatus

# What staff decide; `unverified` is no decision (an edit voids the outcome) and
# `expired` follows from the date.
DECISIONS = [VerificationStatus.VERIFIED.value, VerificationStatus.REJECTED.value]


class CredentialVerification(TenantRowKey, Base):
    __tablename__ = "credential_verifications"
    __table_args__ = (
        PrimaryKeyConstraint("organization_id", "id"),
        CheckConstraint(check_in("verification_status", DECISIONS), name="decision"),
        CheckConstraint(
            "(verification_status = 'rejected') = (rejection_reason IS NOT NULL)",
            name="reason_of_rejection",
        ),
        # A credential's decisions in order: the credentials' API finds the one made at
        # the credential's verified_at, and a credential's removal takes its decisions.
        Index(
            "ix_credential_verifications_credential_id_verified_at", "credential_id", "verified_at"
        ),
    )

    organization_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("organizations.id", ondelete="CASCADE")
    )
    credential_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("credentials.id", ondelete="CASCADE")
    )
    # The credential's owner: the provider reads the decisions on their credentials.
    user_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id", ondelete="CASCADE")
    )
    verification_status: Mapped[str] = mapped_column(String(16))
    rejection_reason: Mapped[str | None] = mapped_column(Text)
    verified_by_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id", ondelete="SET NULL")
    )
    verified_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
