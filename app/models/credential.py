from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Numeric,
    String,
    and_,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID
from sqlalchemy.orm import Mapped, foreign, mapped_column, relationship

from app.models.base import Base, Timestamps, UUIDPrimaryKey, check_in
from app.models.credential_verification import CredentialVerification
from app.models.enums import CredentialType, VerificationStatus, values

# `expired` is derived from expiry_date, never stored.
STORED_VERIFICATION = [v for v in values(VerificationStatus) if v != VerificationStatus.EXPIRED]


class Credential(UUIDPrimaryKey, Timestamps, Base):
    """A provider's credential: owned by the provider, seen by every organization they
    work for. One table for the four kinds; the columns a kind does not use stay NULL."""

    __tablename__ = "credentials"
    __table_args__ = (
        CheckConstraint(check_in("credential_type", values(CredentialType)), name="type"),
        CheckConstraint(check_in("verification_status", STORED_VERIFICATION), name="verification"),
        CheckConstraint(
            "expiry_date IS NULL OR effective_date IS NULL OR expiry_date >= effective_date",
            name="dates_ordered",
        ),
        Index("ix_credentials_user_id", "user_id"),
        # The renewal-reminder scan walks credentials in (expiry date, id) order.
        Index("ix_credentials_expiry_date_id", "expiry_date", "id"),
        # The staff's reach (policies/credentials.sql).
        Index(
            "ix_credentials_owner_organization_ids",
            "owner_organization_ids",
            postgresql_using="gin",
        ),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id", ondelete="CASCADE")
    )
    # The owner's organizations (users.organization_ids), whose staff read the credential:
    # a copy kept by the domain (app/domain/members.py), so that the policy reads the
    # reach from the row itself.
    owner_organization_ids: Mapped[list[uuid.UUID]] = mapped_column(
        ARRAY(UUID(as_uuid=True)), server_default=text("'{}'")
    )
    credential_type: Mapped[str] = mapped_column(String(32))
    # License, DEA registration, policy or certificate number: sensitive.
    number: Mapped[str | None] = mapped_column(String(64))
    state: Mapped[str | None] = mapped_column(String(2), ForeignKey("us_states.code"))
    # Licensing board, insurance carrier, or certifying board.
    issuer: Mapped[str | None] = mapped_column(String(255))
    specialty: Mapped[str | None] = mapped_column(String(255))
    dea_schedules: Mapped[list[str] | None] = mapped_column(ARRAY(String(3)))
    coverage_per_claim: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    coverage_aggregate: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    effective_date: Mapped[date | None] = mapped_column(Date)
    expiry_date: Mapped[date | None] = mapped_column(Date)
    verification_status: Mapped[str] = mapped_column(
        String(16), server_default=VerificationStatus.UNVERIFIED.value
    )
    # When the outcome was last decided (NULL while unverified).
    verified_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The outcome's changes, oldest first: {"verification_status", "changed_at"} for each
    # decision and each edit that voided one. Shared like the outcome: every organization
    # the owner works for replays it (credentials.outcome_on), where the
    # decisions themselves are each the deciding organization's.
    verification_history: Mapped[list[dict[str, str]]] = mapped_column(
        JSONB, server_default=text("'[]'")
    )
    # The decision behind the outcome, as far as the caller may see it: the deciding
    # organization's staff, the provider and MSC admins do (policies/
    # credential_verifications.sql); another organization sees none. Several rows are one
    # decision, that of an MSC admin made for each of the provider's organizations.
    decisions: Mapped[list[CredentialVerification]] = relationship(
        primaryjoin=lambda: and_(
            foreign(CredentialVerification.credential_id) == Credential.id,
            CredentialVerification.verified_at == Credential.verified_at,
        ),
        viewonly=True,
        lazy="selectin",
    )

    # The API's names for the decision's (kept from when they were this row's columns).
    @property
    def verified_by_id(self) -> uuid.UUID | None:
        return self.decisions[0].verified_by_id if self.decisions else None

    @property
    def rejection_reason(self) -> str | None:
        return self.decisions[0].rejection_reason if self.decisions else None
