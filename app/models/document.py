from __future__ import annotations

import uuid
from datetime import date

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    String,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, UUID
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, Timestamps, UUIDPrimaryKey, check_in
from app.models.enums import DocumentType, values


class Document(UUIDPrimaryKey, Timestamps, Base):
    """An uploaded file's metadata; the bytes live in the document store.

    Owned by an organization (tax forms, banking letters) or by a provider (license
    copies, certificates), exactly one of the two."""

    __tablename__ = "documents"
    __table_args__ = (
        CheckConstraint(check_in("document_type", values(DocumentType)), name="type"),
        CheckConstraint("(organization_id IS NULL) <> (user_id IS NULL)", name="one_owner"),
        CheckConstraint(
            "user_id IS NOT NULL OR owner_organization_ids = '{}'",
            name="owner_organizations_of_a_user",
        ),
        CheckConstraint("size_bytes > 0", name="not_empty"),
        CheckConstraint("sha256 ~ '^[0-9a-f]{64}$'", name="sha256_hex"),
        Index("ix_documents_organization_id", "organization_id"),
        # A provider's documents, and who holds training (compliance) as an index-only
        # read of the certificates.
        Index(
            "ix_documents_user_id_document_type",
            "user_id",
            "document_type",
            postgresql_include=["expiry_date", "organization_id"],
        ),
        Index("ix_documents_expiry_date", "expiry_date"),
        # The staff's reach into a provider's documents (policies/documents.sql).
        Index(
            "ix_documents_owner_organization_ids", "owner_organization_ids", postgresql_using="gin"
        ),
    )

    organization_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("organizations.id", ondelete="CASCADE")
    )
    user_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id", ondelete="CASCADE")
    )
    # A provider's organizations (users.organization_ids), whose staff read the provider's
    # documents, as with credentials (app/models/credential.py); none for an
    # organization's documents.
    owner_organization_ids: Mapped[list[uuid.UUID]] = mapped_column(
        ARRAY(UUID(as_uuid=True)), server_default=text("'{}'")
    )
    credential_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("credentials.id", ondelete="SET NULL")
    )
    document_type: Mapped[str] = mapped_column(String(32))
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    # Where the store keeps the bytes; never shown to clients.
    storage_key: Mapped[str] = mapped_column(String(255))
    # For documents that must be renewed (a W-9 re-certification, a banking letter).
    expiry_date: Mapped[date | None] = mapped_column(Date)
    uploaded_by_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id", ondelete="SET NULL")
    )
