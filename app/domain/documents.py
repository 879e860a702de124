"""Documents: uploaded files owned by an organization or by a provider.

Which rows a caller sees and may write is the policies' business (policies/documents.sql);
these functions check what the policies cannot (the file's type and size, which
document types an owner may hold, the linked credential) and keep the bytes in the
store consistent with the rows: a file is stored before its row is written, and no
file outlives a transaction that failed to keep its row, nor is removed before the
deletion of its row is committed.
"""

from __future__ import annotations

import hashlib
import logging
import re
import unicodedata
import uuid
from dataclasses import dataclass
from datetime import date
from typing import Literal

import puremagic
from sqlalchemy import Select, select
from sqlalchemy.orm import Session, SessionTransaction

from app.domain import members, onboarding
from app.domain.errors import Forbidden, Invalid, NotFound, TooLarge
from app.integrations.document_crypto import DecryptionFailed
from app.integrations.storage import DocumentStore, new_key
from app.models import Credential, Document, Organization
from app.models.enums import DocumentType, Role
from app.tenancy.context import TenantContext

log = logging.getLogger(__name__)

OwnerKind = Literal["organization", "provider"]

DOCUMENT_TYPES: dict[OwnerKind, frozenset[str]] = {
    "organization": frozenset({DocumentType.TAX_FORM, DocumentType.BANKING_LETTER}),
    "provider": frozenset(
        {
            DocumentType.LICENSE_COPY,
            DocumentType.INSURANCE_CERTIFICATE,
            DocumentType.TRAINING_CERTIFICATE,
        }
    ),
}


@dataclass(frozen=True)
class FileType:
    content_type: str
    label: str
    magic: bytes
    # The first is the one given to a file uploaded without a usable name.
    extensions: tuple[str, ...]


FILE_TYPES = (
    FileType("application/pdf", "PDF", b"%PDF-", ("pdf",)),
    FileType("image/png", "PNG", b"\x89PNG\r\n\x1a\n", ("png",)),
    FileType("image/jpeg", "JPEG", b"\xff\xd8\xff", ("jpg", "jpeg", "jpe")),
)
ALLOWED_CONTENT_TYPES = tuple(t.content_type for t in FILE_TYPES)

# What clients send when they do not know the type; the bytes then decide.
_UNDECLARED = frozenset({"", "application/octet-stream", "binary/octet-stream"})
_FILENAME_MAX = 255


@dataclass(frozen=True)
class Owner:
    """Whose document it is: an organization or a provider (a user), never both."""

    organization_id: uuid.UUID | None = None
    user_id: uuid.UUID | None = None

    def __post_init__(self) -> None:
        if (self.organization_id is None) == (self.user_id is None):
            raise ValueError("a document has exactly one owner")

    @classmethod
    def organization(cls, organization_id: uuid.UUID) -> Owner:
        return cls(organization_id=organization_id)

    @classmethod
    def provider(cls, user_id: uuid.UUID) -> Owner:
        return cls(user_id=user_id)

    @property
    def kind(self) -> OwnerKind:
        return "organization" if self.organization_id is not None else "provider"


def sniff(data: bytes) -> FileType | None:
    """The accepted type the bytes really are, whatever the client called them: what a
    maintained detector (puremagic) reads from the whole content, and the type's own
    signature at the start agreeing."""
    try:
        found = puremagic.magic_string(data)
    except puremagic.PureError:  # nothing it knows
        return None
    return next(
        (
            t
            for match in found
            for t in FILE_TYPES
            if match.mime_type == t.content_type and data.startswith(t.magic)
        ),
        None,
    )


# Markup a browser would run, were it led to read the file as a page: a file that is also
# one (a "polyglot", a PDF that is an HTML page too) is refused, whatever it starts with.
# Tags of five letters or more, so that the chance of finding one in an image's random
# bytes stays negligible.
_ACTIVE_MARKUP = re.compile(
    rb"<\s*(?:script|html|iframe|body|object|embed|!doctype\s+html)\b|javascript:",
    re.IGNORECASE,
)


def _check_markup(data: bytes, file_type: FileType) -> None:
    found = _ACTIVE_MARKUP.search(data)
    if found is not None:
        markup = found.group().decode("ascii", "replace")
        raise Invalid(
            f"the {file_type.label} also holds web page markup ({markup}): not accepted",
            field="file",
        )


def clean_filename(raw: str, file_type: FileType) -> str:
    """The name to keep and to offer on download: no folders (browsers may send a full
    path), no control or formatting characters, at most 255 characters."""
    name = re.split(r"[/\\]", raw)[-1]
    name = "".join(c for c in name if unicodedata.category(c)[0] != "C").strip(" .")
    if not name:
        name = f"document.{file_type.extensions[0]}"
    if len(name) > _FILENAME_MAX:
        stem, dot, extension = name.rpartition(".")
        if dot and len(extension) < 16:
            name = stem[: _FILENAME_MAX - len(extension) - 1] + "." + extension
        else:
            name = name[:_FILENAME_MAX]
    return name


def _check_file(data: bytes, content_type: str, max_bytes: int) -> FileType:
    if not data:
        raise Invalid("the file is empty", field="file")
    if len(data) > max_bytes:
        raise TooLarge(f"the file is larger than the limit of {max_bytes} bytes", field="file")
    accepted = ", ".join(t.label for t in FILE_TYPES)
    declared = content_type.split(";", 1)[0].strip().lower()
    if declared not in _UNDECLARED and declared not in ALLOWED_CONTENT_TYPES:
        raise Invalid(f"the file must be one of: {accepted}", field="file")
    actual = sniff(data)
    if actual is None:
        raise Invalid(f"the file must be one of: {accepted}", field="file")
    if declared not in _UNDECLARED and declared != actual.content_type:
        raise Invalid(f"the file is a {actual.label}, not {declared}", field="file")
    _check_markup(data, actual)
    return actual


def _check_extension(filename: str, file_type: FileType) -> None:
    # A misleading extension would make the download open in the wrong program.
    _, dot, extension = filename.rpartition(".")
    if dot and extension.lower() not in file_type.extensions:
        raise Invalid(
            f"the file is a {file_type.label}, but its name ends in .{extension}",
            field="file",
        )


def _check_credential(session: Session, owner: Owner, credential_id: uuid.UUID) -> None:
    if owner.kind != "provider":
        raise Invalid("only a provider's documents link to a credential", field="credential_id")
    credential = session.get(Credential, credential_id)
    # Invisible, missing and someone else's answer alike: nothing to learn from it.
    if credential is None or credential.user_id != owner.user_id:
        raise Invalid("credential not found", field="credential_id")


def upload(
    session: Session,
    context: TenantContext,
    store: DocumentStore,
    *,
    owner: Owner,
    document_type: str,
    filename: str,
    content_type: str,
    data: bytes,
    credential_id: uuid.UUID | None = None,
    expiry_date: date | None = None,
    max_bytes: int,
) -> Document:
    """Check and store a file, and record it (flushed, with its server defaults)."""
    if document_type not in DOCUMENT_TYPES[owner.kind]:
        allowed = ", ".join(sorted(DOCUMENT_TYPES[owner.kind]))
        raise Invalid(
            f"a document of {owner.kind}s must be one of: {allowed}",
            field="document_type",
        )
    file_type = _check_file(data, content_type, max_bytes)
    name = clean_filename(filename, file_type)
    _check_extension(name, file_type)
    if credential_id is not None:
        _check_credential(session, owner, credential_id)

    key = new_key()
    document = Document(
        organization_id=owner.organization_id,
        user_id=owner.user_id,
        owner_organization_ids=(
            members.organizations_of(session, owner.user_id) if owner.user_id else []
        ),
        credential_id=credential_id,
        document_type=document_type,
        filename=name,
        content_type=file_type.content_type,
        size_bytes=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        storage_key=key,
        expiry_date=expiry_date,
        uploaded_by_id=context.user_id,
    )
    # Bytes first: a row must never point at nothing.
    store.put(key, data)
    _pending(session, _STORED).append((store, key))
    try:
        session.add(document)
        session.flush()
    except BaseException:
        # The row was refused (policy, read-only organization, constraint): the file
        # goes at once, not only when the caller gets round to rolling back.
        _pending(session, _STORED).remove((store, key))
        _remove_quietly(store, key)
        raise
    onboarding.mark_started(session, document.organization_id)
    step = onboarding.DOCUMENT_STEPS.get(DocumentType(document_type))
    if document.organization_id is not None and step is not None:
        organization = session.get_one(Organization, document.organization_id)
        onboarding.announce_step(session, organization, step)
    session.refresh(document)
    return document


def list_for_organization(organization_id: uuid.UUID) -> Select[Document]:
    return _newest_first(select(Document).where(Document.organization_id == organization_id))


def list_for_provider(user_id: uuid.UUID) -> Select[Document]:
    return _newest_first(select(Document).where(Document.user_id == user_id))


def _newest_first(query: Select[Document]) -> Select[Document]:
    # The id breaks ties between uploads of one transaction (same created_at).
    return query.order_by(Document.created_at.desc(), Document.id.desc())


def get_document(session: Session, document_id: uuid.UUID) -> Document | None:
    """None when it does not exist or the policies hide it (the same to the caller)."""
    return session.get(Document, document_id)


class StoredFileCorrupt(RuntimeError):
    """The stored file does not decrypt, or its bytes no longer hash to what was recorded
    at upload."""


def read_content(store: DocumentStore, document: Document) -> bytes:
    """The document's bytes, decrypted and verified against the hash recorded at upload."""
    try:
        data = store.get(document.storage_key)
    except DecryptionFailed as exc:
        # Tampered with, moved from another document's key, or under a master key no
        # longer configured: for the caller, as corrupt as bytes that hash wrong.
        raise StoredFileCorrupt(f"document {document.id}: {exc}") from exc
    if hashlib.sha256(data).hexdigest() != document.sha256:
        raise StoredFileCorrupt(f"document {document.id}: stored bytes do not match sha256")
    return data


def may_delete(context: TenantContext, document: Document) -> bool:
    """Mirrors the delete policy, so a refusal is a clear 403 rather than a silent no-op:
    the organization's admins for its documents, the provider for their own."""
    if context.is_msc_admin:
        return True
    if document.organization_id is not None:
        return context.role == Role.ORGANIZATION_ADMIN and context.reaches(document.organization_id)
    return document.user_id is not None and document.user_id == context.user_id


def delete(
    session: Session, context: TenantContext, store: DocumentStore, document: Document
) -> None:
    """Delete the row now and the file once the deletion is committed."""
    if not may_delete(context, document):
        raise Forbidden("only the document's owner may delete it")
    document_id, key = document.id, document.storage_key
    session.delete(document)
    session.flush()
    # A policy that refuses a DELETE filters the row out instead of failing; never let
    # that remove the bytes of a row that is still there.
    if session.scalar(select(Document.id).where(Document.id == document_id)) is not None:
        raise NotFound("document not found")
    _pending(session, _DOOMED).append((store, key))


# --- keeping files and rows together across the transaction ---------------------------
#
# Files stored by a transaction are removed if it does not commit; files of rows it
# deleted are removed only once it has. Tracked per session, settled when the
# outermost transaction ends (savepoints neither commit nor discard anything yet).

_STORED = "documents.stored"
_DOOMED = "documents.doomed"
_COMMITTED = "documents.committed"

Pending = list[tuple[DocumentStore, str]]


def _pending(session: Session, name: str) -> Pending:
    pending: Pending = session.info.setdefault(name, [])
    return pending


def _remove_quietly(store: DocumentStore, key: str) -> None:
    try:
        store.delete(key)
    except Exception:
        # The request's outcome stands; an orphan file is harmless and can be swept.
        log.exception("could not remove stored document %s", key)


def note_commit(session: Session) -> None:
    """Session listener (see app/database.py): the outermost transaction committed."""
    if not session.in_nested_transaction():
        session.info[_COMMITTED] = True


def settle_files(session: Session, transaction: SessionTransaction) -> None:
    """Session listener (see app/database.py): once the outermost transaction ends,
    remove the bytes its outcome orphaned."""
    if transaction.parent is not None:
        return
    committed = session.info.pop(_COMMITTED, False)
    stored: Pending = session.info.pop(_STORED, [])
    doomed: Pending = session.info.pop(_DOOMED, [])
    for store, key in doomed if committed else stored:
        _remove_quietly(store, key)
