"""The exclusion lists providers are screened against, the same for every tenant.

`exclusion_lists` holds each version of a list as imported: the HHS-OIG LEIE's full file
or a monthly supplement, or a SAM.gov exclusions extract, with its publication date and
the SHA-256 of what was read, so that a screening names exactly which versions it was
checked against. `exclusion_entries` holds the excluded individuals and entities the
lists carry, one row per exclusion in its source, kept after a reinstatement (with the
list that reinstated it or no longer carried it): a screening's evidence points at it.

Written by the import alone (app/domain/exclusion_lists.py), in the service's own
context (policies/exclusion_lists.sql, exclusion_entries.sql). `exclusion_import_rows` is
the import's staging: it streams a version's rows there with COPY (the application role
may make no temporary table), merges them into the entries and removes them, all in one
transaction, so that no other transaction ever sees a row of it.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import (
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, UUIDPrimaryKey, check_in

# The lists: the HHS-OIG List of Excluded Individuals/Entities and SAM.gov exclusions.
SOURCES = ["leie", "sam"]
# A whole list (the LEIE's UPDATED.csv, a SAM.gov extract), or the LEIE's monthly
# supplement of new exclusions and reinstatements.
KINDS = ["full", "supplement"]


class ExclusionList(UUIDPrimaryKey, Base):
    __tablename__ = "exclusion_lists"
    __table_args__ = (
        CheckConstraint(check_in("source", SOURCES), name="source"),
        CheckConstraint(check_in("kind", KINDS), name="kind"),
        CheckConstraint("sha256 ~ '^[0-9a-f]{64}$'", name="sha256_hex"),
        # The same file twice is one version.
        UniqueConstraint("source", "sha256"),
    )

    source: Mapped[str] = mapped_column(String(8))
    kind: Mapped[str] = mapped_column(String(16))
    # The date the source published the version (the LEIE file's date; for SAM.gov, the
    # day the extract was taken).
    published_on: Mapped[date] = mapped_column(Date)
    sha256: Mapped[str] = mapped_column(String(64))
    entry_count: Mapped[int] = mapped_column(Integer)
    imported_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.statement_timestamp()
    )


class ExclusionEntry(UUIDPrimaryKey, Base):
    __tablename__ = "exclusion_entries"
    __table_args__ = (
        CheckConstraint(check_in("source", SOURCES), name="source"),
        # One row per exclusion in its source: the same exclusion on the next version
        # of the list updates it.
        UniqueConstraint("source", "entry_key"),
        # Screening reads the exclusions in force by NPI and by name.
        Index(
            "ix_exclusion_entries_npi_in_force",
            "npi",
            postgresql_where=text("withdrawn_list_id IS NULL AND npi IS NOT NULL"),
        ),
        Index(
            "ix_exclusion_entries_name_key_in_force",
            "name_key",
            postgresql_where=text("withdrawn_list_id IS NULL"),
        ),
    )

    source: Mapped[str] = mapped_column(String(8))
    # The exclusion's identity in its source: for the LEIE, which has no identifier,
    # the SHA-256 of its person or entity, exclusion type and date; for SAM.gov, the
    # record's own identifier.
    entry_key: Mapped[str] = mapped_column(String(128))
    # The latest version that carried the exclusion.
    list_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("exclusion_lists.id"))
    last_name: Mapped[str | None] = mapped_column(Text)
    first_name: Mapped[str | None] = mapped_column(Text)
    middle_name: Mapped[str | None] = mapped_column(Text)
    business_name: Mapped[str | None] = mapped_column(Text)
    # tenancy.name_key(first and last name): how screening compares names
    # (policies/exclusion_entries.sql). NULL for an entity.
    name_key: Mapped[str | None] = mapped_column(Text)
    # NULL when the list does not know it (the LEIE writes 0000000000).
    npi: Mapped[str | None] = mapped_column(String(10))
    date_of_birth: Mapped[date | None] = mapped_column(Date)
    state: Mapped[str | None] = mapped_column(String(2))
    general: Mapped[str | None] = mapped_column(Text)
    specialty: Mapped[str | None] = mapped_column(Text)
    exclusion_type: Mapped[str | None] = mapped_column(Text)
    excluded_on: Mapped[date | None] = mapped_column(Date)
    # Set when a version reinstates the exclusion (a supplement's reinstatement, or a
    # full file that no longer carries it): the date the source gives, and the version.
    reinstated_on: Mapped[date | None] = mapped_column(Date)
    withdrawn_list_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("exclusion_lists.id")
    )


class ExclusionImportRow(Base):
    """A row of a list being imported, as read and checked: `line` is where the file has
    it (or the record's place in a SAM.gov pull), `entry_key` the identity it will have
    among the entries."""

    __tablename__ = "exclusion_import_rows"
    __table_args__ = (PrimaryKeyConstraint("list_id", "line"),)

    list_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    line: Mapped[int] = mapped_column(Integer)
    entry_key: Mapped[str] = mapped_column(String(128))
    last_name: Mapped[str | None] = mapped_column(Text)
    first_name: Mapped[str | None] = mapped_column(Text)
    middle_name: Mapped[str | None] = mapped_column(Text)
    business_name: Mapped[str | None] = mapped_column(Text)
    npi: Mapped[str | None] = mapped_column(String(10))
    date_of_birth: Mapped[date | None] = mapped_column(Date)
    state: Mapped[str | None] = mapped_column(String(2))
    general: Mapped[str | None] = mapped_column(Text)
    specialty: Mapped[str | None] = mapped_column(Text)
    exclusion_type: Mapped[str | None] = mapped_column(Text)
    excluded_on: Mapped[date | None] = mapped_column(Date)
    reinstated_on: Mapped[date | None] = mapped_column(Date)
