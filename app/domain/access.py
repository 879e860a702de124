"""Reads of sensitive data recorded in the audit trail (HIPAA §164.312(b), audit
controls): access events, beside the changes the audit triggers record.

Each is written in the transaction of the read it records, by the request that reads:
a read whose event cannot be written fails, and a read that fails leaves no event. The
trail takes the actor, the request id and the cross-tenant flag from the transaction's
context; the caller says only what was read, whose data it is, and why
(app/models/access_record.py, policies/access_records.sql).

What is recorded:

- every download of a document's file, whoever downloads it;
- every export: an organization's FHIR bundle, its analytics report (JSON as well as
  CSV: the same figures leave either way, and an audit that a change of format escaped
  would show nothing), MSC's breakdown of every organization (an event in each one's
  trail), and the audit trail itself;
- reads of one credential, of a provider's credentials, and of one member, when the
  caller reads them from outside the organization the data belongs to: MSC staff, or an
  admin of a parent organization. An organization's own staff reading their own
  organization's people, and anyone reading their own credentials, leave none.

Whose trail: the organization the data belongs to. A provider's credentials and
documents belong to the provider and are shared with every organization they work for;
an access to them is filed under the one through which the caller reached them (their
active organization when it is one of the provider's, else the first of the provider's
organizations in their scope), and under no organization (MSC admins' own trail) for an
MSC admin outside all of them.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Iterable
from dataclasses import dataclass

from sqlalchemy import insert
from sqlalchemy.orm import Session

from app.models import Credential, Document, User, access_records
from app.models.audit_event import NO_ORGANIZATION_ID
from app.models.enums import MSC_REPRESENTATIVE, AccessPurpose
from app.tenancy.context import TenantContext


@dataclass(frozen=True)
class Access:
    """A read to record: the row read (or the organization exported), why, and the
    organization whose trail records it (None: no organization)."""

    organization_id: uuid.UUID | None
    table_name: str
    row_id: uuid.UUID
    purpose: AccessPurpose


def record(session: Session, accesses: Iterable[Access]) -> None:
    """Write an audit event for each access, in the session's transaction: one
    statement, whatever their number."""
    rows = [
        {
            "organization_id": access.organization_id or NO_ORGANIZATION_ID,
            "table_name": access.table_name,
            "row_id": access.row_id,
            "purpose": access.purpose.value,
        }
        for access in accesses
    ]
    if rows:
        session.execute(insert(access_records).values(rows))


def from_outside(context: TenantContext, organization_ids: Collection[uuid.UUID]) -> bool:
    """Whether the caller reads data of `organization_ids` from outside them: as MSC staff,
    or acting for another organization (an admin of a parent organization)."""
    return (
        context.is_msc_admin
        or context.role == MSC_REPRESENTATIVE
        or context.organization_id not in organization_ids
    )


def filed_under(
    context: TenantContext, organization_ids: Collection[uuid.UUID]
) -> uuid.UUID | None:
    """The organization, of the data's `organization_ids`, through which the caller
    reaches the data: their active one if it is among them, else the first of them in
    their scope; None (no organization) when the caller reaches it through none, as an
    MSC admin outside all of them does."""
    if context.organization_id in organization_ids:
        return context.organization_id
    in_scope = sorted(set(organization_ids) & set(context.organization_ids))
    return in_scope[0] if in_scope else None


def export(organization_id: uuid.UUID, purpose: AccessPurpose) -> Access:
    """An export of an organization's data (and its descendants')."""
    return Access(organization_id, "organizations", organization_id, purpose)


def document_download(context: TenantContext, document: Document) -> Access:
    organization_id = document.organization_id or filed_under(
        context, document.owner_organization_ids
    )
    return Access(organization_id, "documents", document.id, AccessPurpose.DOCUMENT_DOWNLOAD)


def credential_read(context: TenantContext, credential: Credential) -> list[Access]:
    """The access of reading one credential: none when the caller owns it or reads it as
    staff of one of the owner's organizations."""
    owners = credential.owner_organization_ids
    if credential.user_id == context.user_id or not from_outside(context, owners):
        return []
    return [
        Access(
            filed_under(context, owners),
            "credentials",
            credential.id,
            AccessPurpose.CREDENTIAL_READ,
        )
    ]


def credential_list(context: TenantContext, provider: User) -> list[Access]:
    """The access of reading a provider's credentials (filed under the provider's row):
    as for one of them."""
    owners = provider.organization_ids
    if provider.id == context.user_id or not from_outside(context, owners):
        return []
    return [
        Access(filed_under(context, owners), "users", provider.id, AccessPurpose.CREDENTIAL_LIST)
    ]


def member_read(
    context: TenantContext, membership_id: uuid.UUID, organization_id: uuid.UUID
) -> list[Access]:
    """The access of reading one member of `organization_id`: none for its own staff."""
    if not from_outside(context, (organization_id,)):
        return []
    return [Access(organization_id, "memberships", membership_id, AccessPurpose.MEMBER_READ)]
