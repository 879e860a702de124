from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Index,
    String,
    Text,
    false,
    func,
    text,
    true,
)
from sqlalchemy.dialects.postgresql import ARRAY, UUID
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, Timestamps, UUIDPrimaryKey, check_in
from app.models.enums import NpiVerification, values


class User(UUIDPrimaryKey, Timestamps, Base):
    """A global identity: one person, one email, one NPI, across every organization."""

    __tablename__ = "users"
    __table_args__ = (
        Index("uq_users_email", func.lower(text("email")), unique=True),
        Index("uq_users_npi", "npi", unique=True, postgresql_where=text("npi IS NOT NULL")),
        # The retry of registry lookups walks the pending ones.
        Index(
            "ix_users_npi_pending",
            "id",
            postgresql_where=text("npi_verification = 'pending'"),
        ),
        # The staff's reach into members (policies/users.sql).
        Index("ix_users_organization_ids", "organization_ids", postgresql_using="gin"),
        CheckConstraint("npi ~ '^[12][0-9]{9}$'", name="npi_format"),
        CheckConstraint(
            check_in("npi_verification", values(NpiVerification)), name="npi_verification"
        ),
    )

    email: Mapped[str] = mapped_column(String(320))
    name: Mapped[str] = mapped_column(String(255))
    phone: Mapped[str | None] = mapped_column(String(20))
    npi: Mapped[str | None] = mapped_column(String(10))
    # A provider's date of birth: exclusion screening tells apart two people of one name
    # by it (app/models/screening.py). Personal data, never logged.
    date_of_birth: Mapped[date | None] = mapped_column(Date)
    # NULL until the person sets a password (an invited provider, for instance).
    password_hash: Mapped[str | None] = mapped_column(String(255))
    # The NPI Registry's word on `npi` (see app/domain/npi.py); reset when the NPI changes.
    npi_verification: Mapped[str] = mapped_column(
        String(16), server_default=NpiVerification.UNVERIFIED.value
    )
    npi_verified_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # A provider who prescribes no controlled substances needs no DEA registration.
    dea_not_applicable: Mapped[bool] = mapped_column(Boolean, server_default=false())
    is_msc_admin: Mapped[bool] = mapped_column(Boolean, server_default=false())
    # MSC staff who read the organizations naming them as `msc_representative_id` (and
    # their descendants), never writing: see `tenancy.enter`. Set by MSC admins only.
    is_msc_representative: Mapped[bool] = mapped_column(Boolean, server_default=false())
    is_active: Mapped[bool] = mapped_column(Boolean, server_default=true())

    @property
    def is_msc_staff(self) -> bool:
        """MSC's own people: admins and representatives (who must use a second factor)."""
        return self.is_msc_admin or self.is_msc_representative

    # Multi-factor sign-in (app/domain/mfa.py), changed by the user alone
    # (policies/users.sql). The TOTP secret, encrypted (MFA_ENCRYPTION_KEY); set with no
    # `mfa_enabled_at` while an enrollment waits for its confirming code.
    mfa_secret: Mapped[str | None] = mapped_column(Text)
    # NULL: multi-factor sign-in is off.
    mfa_enabled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The time step of the last code accepted: a code of that step or an earlier one is
    # refused, so no code works twice.
    mfa_last_step: Mapped[int | None] = mapped_column(BigInteger)
    # The organizations the user is a member of, for the users policy (policies/users.sql):
    # written only by app.domain.members.sync_organization_ids, with the memberships.
    organization_ids: Mapped[list[uuid.UUID]] = mapped_column(
        ARRAY(UUID(as_uuid=True)), server_default=text("'{}'"), deferred=True
    )
