"""Documents end to end: uploads checked for type and size, bytes kept in step with
rows and encrypted at rest, and each document seen only by those the policies let see
it."""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Iterator
from dataclasses import replace
from io import BytesIO
from pathlib import Path
from typing import Any

import psycopg.errors
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from app.config import MasterKey, Settings
from app.domain import documents as rules
from app.domain import members
from app.domain.errors import DomainError
from app.errors import status_of
from app.factory import create_app
from app.integrations.document_crypto import Envelope, Keyring, is_sealed
from app.integrations.storage import EncryptedDocumentStore, LocalDocumentStore, StoredFileMissing
from app.models import Credential
from app.models.enums import Role
from app.tenancy.context import use_context
from tests import factories
from tests.conftest import TwoTenants, bearer, token_for

PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << >>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(range(64))
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(64)) + b"\xff\xd9"


def _org_documents(organization_id: object) -> str:
    return f"/api/v1/admin/organizations/{organization_id}/documents"


MY_DOCUMENTS = "/api/v1/me/documents"


def _document(document_id: object) -> str:
    return f"/api/v1/documents/{document_id}"


def _upload(
    client: FlaskClient,
    url: str,
    token: str,
    data: bytes,
    filename: str = "w9.pdf",
    content_type: str = "application/pdf",
    **fields: str,
) -> TestResponse:
    form: dict[str, Any] = {"file": (BytesIO(data), filename, content_type), **fields}
    return client.post(url, data=form, headers=bearer(token), content_type="multipart/form-data")


def _error_fields(response: TestResponse) -> set[str]:
    """The fields an error names, wherever it was found (schema or domain rules)."""
    errors: dict[str, dict[str, Any]] = response.get_json().get("errors", {})
    return {field for location in errors.values() for field in location}


def _files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def _documents_app(settings: Settings, root: Path, **changes: Any) -> Flask:
    app = create_app(replace(settings, document_storage_path=root, **changes))
    # Until the blueprint is registered with the others, the tests register it here.
    return app


def _dispose(app: Flask) -> None:
    app.extensions["services"].close()


@pytest.fixture
def storage_root(tmp_path: Path) -> Path:
    return tmp_path / "documents"


@pytest.fixture
def docs(settings: Settings, storage_root: Path, clean_database: None) -> Iterator[FlaskClient]:
    app = _documents_app(settings, storage_root)
    yield app.test_client()
    _dispose(app)


@pytest.fixture
def small_docs(
    settings: Settings, storage_root: Path, clean_database: None
) -> Iterator[FlaskClient]:
    """An application accepting files of at most 64 bytes."""
    app = _documents_app(settings, storage_root, document_max_bytes=64)
    yield app.test_client()
    _dispose(app)


def _credential_of(admin_engine: Engine, user_id: uuid.UUID) -> uuid.UUID:
    with Session(admin_engine) as session:
        credential = Credential(
            user_id=user_id,
            owner_organization_ids=members.organizations_of(session, user_id),
            credential_type="medical_license",
            number="ME-12345",
        )
        session.add(credential)
        session.commit()
        return credential.id


def _third_tenant_admin(admin_engine: Engine) -> Any:
    with Session(admin_engine, expire_on_commit=False) as session:
        organization = factories.make_organization(session, name="Tenant C")
        admin = factories.make_user(session)
        factories.make_membership(session, admin, organization, Role.ORGANIZATION_ADMIN)
        session.commit()
    return admin


def _storage_key(admin_engine: Engine, document_id: str) -> str:
    with admin_engine.connect() as connection:
        key: str = connection.execute(
            text("SELECT storage_key FROM documents WHERE id = :i"), {"i": document_id}
        ).scalar_one()
    return key


# --- uploads and downloads ---------------------------------------------------------


def test_upload_and_download_round_trip(
    docs: FlaskClient, seeded: TwoTenants, admin_engine: Engine, storage_root: Path
) -> None:
    a = seeded.a
    admin = token_for(docs, a.admin)
    url = _org_documents(a.organization.id)

    created = _upload(
        docs, url, admin, PDF, "W-9 2026.pdf", expiry_date="2027-01-31", document_type="tax_form"
    )
    assert created.status_code == 201, created.get_json()
    body = created.get_json()
    digest = hashlib.sha256(PDF).hexdigest()
    assert "storage_key" not in body
    assert body["organization_id"] == str(a.organization.id) and body["user_id"] is None
    assert (body["document_type"], body["filename"], body["content_type"]) == (
        "tax_form",
        "W-9 2026.pdf",
        "application/pdf",
    )
    assert (body["size_bytes"], body["sha256"], body["expiry_date"]) == (
        len(PDF),
        digest,
        "2027-01-31",
    )
    assert body["uploaded_by_id"] == str(a.admin.id)

    # One file, under the store's root, encrypted: nothing of the upload shows on the volume.
    stored = LocalDocumentStore(storage_root).path_of(_storage_key(admin_engine, body["id"]))
    assert _files(storage_root) == [stored]
    on_disk = stored.read_bytes()
    assert is_sealed(on_disk)
    assert b"%PDF" not in on_disk and b"Catalog" not in on_disk
    assert hashlib.sha256(on_disk).hexdigest() != digest

    content = docs.get(f"{_document(body['id'])}/content", headers=bearer(admin))
    assert content.status_code == 200
    assert content.data == PDF
    assert content.mimetype == "application/pdf"
    assert content.headers["Content-Disposition"] == 'attachment; filename="W-9 2026.pdf"'
    assert content.headers["ETag"] == f'"{digest}"'
    assert content.headers["X-Content-SHA256"] == digest
    assert content.headers["X-Content-Type-Options"] == "nosniff"
    assert "no-store" in content.headers["Cache-Control"]
    unchanged = docs.get(
        f"{_document(body['id'])}/content",
        headers={**bearer(admin), "If-None-Match": f'"{digest}"'},
    )
    assert unchanged.status_code == 304

    metadata = docs.get(_document(body["id"]), headers=bearer(admin))
    assert metadata.status_code == 200 and metadata.get_json() == body

    # Listed newest first, with the pagination header.
    second = _upload(docs, url, admin, PNG, "bank.png", "image/png", document_type="banking_letter")
    assert second.status_code == 201, second.get_json()
    listed = docs.get(url, headers=bearer(admin))
    assert listed.status_code == 200 and "X-Pagination" in listed.headers
    assert [d["id"] for d in listed.get_json()] == [second.get_json()["id"], body["id"]]
    assert all("storage_key" not in d for d in listed.get_json())


def test_download_name_is_safely_quoted(
    docs: FlaskClient, seeded: TwoTenants, admin_engine: Engine
) -> None:
    admin = token_for(docs, seeded.a.admin)
    created = _upload(
        docs,
        _org_documents(seeded.a.organization.id),
        admin,
        JPEG,
        "C:/scans/Zoë; bank, 2026.jpg",
        "image/jpeg",
        document_type="banking_letter",
    )
    assert created.status_code == 201, created.get_json()
    document_id = created.get_json()["id"]
    assert created.get_json()["filename"] == "Zoë; bank, 2026.jpg"  # no folders
    content = docs.get(f"{_document(document_id)}/content", headers=bearer(admin))
    disposition = content.headers["Content-Disposition"]
    assert disposition == (
        'attachment; filename="Zoe; bank, 2026.jpg"; '
        "filename*=UTF-8''Zo%C3%AB%3B%20bank%2C%202026.jpg"
    )

    # Whatever name a row holds, quotes and backslashes cannot break out of the header.
    with admin_engine.begin() as connection:
        connection.execute(
            text("UPDATE documents SET filename = :f WHERE id = :i"),
            {"f": 'a"; filename=evil.html\\.jpg', "i": document_id},
        )
    content = docs.get(f"{_document(document_id)}/content", headers=bearer(admin))
    assert content.headers["Content-Disposition"] == (
        'attachment; filename="a\\"; filename=evil.html\\\\.jpg"'
    )


def test_a_missing_or_corrupt_stored_file_is_a_clear_500(
    docs: FlaskClient,
    seeded: TwoTenants,
    admin_engine: Engine,
    storage_root: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    admin = token_for(docs, seeded.a.admin)
    created = _upload(
        docs, _org_documents(seeded.a.organization.id), admin, PDF, document_type="tax_form"
    )
    assert created.status_code == 201, created.get_json()
    document_id = created.get_json()["id"]
    url = f"{_document(document_id)}/content"
    store = LocalDocumentStore(storage_root)
    key = _storage_key(admin_engine, document_id)

    # Changed, and in the clear as files stored before encryption are: the hash refuses it.
    store.put(key, PDF + b"tampered")
    corrupt = docs.get(url, headers=bearer(admin))
    assert corrupt.status_code == 500
    assert corrupt.get_json()["detail"] == "the stored file is corrupt"

    store.delete(key)
    caplog.clear()
    missing = docs.get(url, headers=bearer(admin))
    assert missing.status_code == 500
    assert missing.get_json()["detail"] == "the stored file is missing"
    errors = [r for r in caplog.records if r.levelname == "ERROR"]
    assert len(errors) == 1 and document_id in errors[0].getMessage()

    # The row itself is still there: only its bytes are lost.
    assert docs.get(_document(document_id), headers=bearer(admin)).status_code == 200


def test_an_encrypted_file_that_does_not_open_or_does_not_match_is_corrupt(
    docs: FlaskClient,
    seeded: TwoTenants,
    admin_engine: Engine,
    storage_root: Path,
    settings: Settings,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A tampered file, another document's file put in its place, or a file that decrypts
    to other bytes: each answers the clear 500 of a corrupt file, never the bytes."""
    admin = token_for(docs, seeded.a.admin)
    url = _org_documents(seeded.a.organization.id)
    first = _upload(docs, url, admin, PDF, document_type="tax_form").get_json()["id"]
    second = _upload(docs, url, admin, PNG, "bank.png", "image/png", document_type="tax_form")
    content = f"{_document(first)}/content"
    raw = LocalDocumentStore(storage_root)
    key, other_key = (
        _storage_key(admin_engine, first),
        _storage_key(admin_engine, second.get_json()["id"]),
    )
    original = raw.get(key)

    def refused(reason: str) -> None:
        caplog.clear()
        answer = docs.get(content, headers=bearer(admin))
        assert answer.status_code == 500
        assert answer.get_json()["detail"] == "the stored file is corrupt"
        (error,) = [r for r in caplog.records if r.levelname == "ERROR"]
        assert first in error.getMessage() and reason in error.getMessage()

    tampered = bytearray(original)
    tampered[-20] ^= 0x01
    raw.put(key, bytes(tampered))
    refused("does not verify")

    # Another document's file, intact, moved under this one's key: bound to its own key.
    raw.put(key, raw.get(other_key))
    refused("another storage key")

    # Encrypted properly, under this key, but other bytes: the recorded SHA-256 refuses it.
    keyring = Keyring(settings.document_encryption_keys)
    EncryptedDocumentStore(raw, keyring).put(key, PDF.replace(b"Catalog", b"Catalof"))
    refused("do not match sha256")

    # Under a master key the settings do not hold.
    raw.put(key, Keyring([MasterKey("gone", os.urandom(32))]).seal(PDF, key))
    refused("'gone', which DOCUMENT_ENCRYPTION_KEYS does not hold")

    raw.put(key, original)
    restored = docs.get(content, headers=bearer(admin))
    assert restored.status_code == 200 and restored.data == PDF


def _run(app: Flask, *arguments: str) -> Any:
    """`flask --app wsgi <arguments>` against `app` (whose context `flask` pushes)."""
    with app.app_context():
        return app.test_cli_runner().invoke(args=list(arguments))


def test_files_stored_before_encryption_are_served_until_encrypted_in_place(
    settings: Settings,
    storage_root: Path,
    seeded: TwoTenants,
    admin_engine: Engine,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A file stored in the clear (before documents were encrypted) is served while its
    SHA-256 matches, and `flask documents encrypt-stored` encrypts it where it lies; run
    again, the command changes nothing."""
    app = _documents_app(settings, storage_root)
    try:
        docs = app.test_client()
        admin = token_for(docs, seeded.a.admin)
        url = _org_documents(seeded.a.organization.id)
        uploads = {PDF: ("w9.pdf", "application/pdf"), PNG: ("bank.png", "image/png")}
        ids = {
            data: _upload(docs, url, admin, data, *named, document_type="tax_form").get_json()["id"]
            for data, named in uploads.items()
        }
        raw = LocalDocumentStore(storage_root)
        keys = {data: _storage_key(admin_engine, ids[data]) for data in uploads}
        for data, key in keys.items():
            raw.put(key, data)  # as it was stored before encryption

        caplog.clear()
        served = docs.get(f"{_document(ids[PDF])}/content", headers=bearer(admin))
        assert served.status_code == 200 and served.data == PDF
        assert any(keys[PDF] in r.getMessage() for r in caplog.records if r.levelname == "WARNING")

        result = _run(app, "documents", "encrypt-stored")
        assert result.exit_code == 0, result.output
        assert "encrypted: 2, rewrapped under 'dev-only': 0, already under 'dev-only': 0" in (
            result.output
        )
        for data, key in keys.items():
            on_disk = raw.get(key)
            assert is_sealed(on_disk) and data not in on_disk
            content = docs.get(f"{_document(ids[data])}/content", headers=bearer(admin))
            assert content.status_code == 200 and content.data == data

        before = {key: raw.get(key) for key in keys.values()}
        again = _run(app, "documents", "encrypt-stored")
        assert again.exit_code == 0, again.output
        assert "encrypted: 0, rewrapped under 'dev-only': 0, already under 'dev-only': 2" in (
            again.output
        )
        assert {key: raw.get(key) for key in keys.values()} == before
    finally:
        _dispose(app)


def test_rotating_the_master_key(
    settings: Settings, storage_root: Path, seeded: TwoTenants, admin_engine: Engine
) -> None:
    """A new master key put first encrypts new files while the old one still opens its
    own; `encrypt-stored` rewraps the old files' keys (their content untouched), after
    which the old key can go. A file no key opens makes the command fail, naming it."""
    old, new = MasterKey("2026-01", os.urandom(32)), MasterKey("2026-07", os.urandom(32))
    raw = LocalDocumentStore(storage_root)

    def content(app: Flask, document_id: str) -> TestResponse:
        client = app.test_client()
        return client.get(
            f"{_document(document_id)}/content", headers=bearer(token_for(client, seeded.a.admin))
        )

    before = _documents_app(settings, storage_root, document_encryption_keys=(old,))
    rotating = _documents_app(settings, storage_root, document_encryption_keys=(new, old))
    after = _documents_app(settings, storage_root, document_encryption_keys=(new,))
    lost = _documents_app(
        settings, storage_root, document_encryption_keys=(MasterKey("other", os.urandom(32)),)
    )
    try:
        url = _org_documents(seeded.a.organization.id)
        client = before.test_client()
        earlier = _upload(
            client, url, token_for(client, seeded.a.admin), PDF, document_type="tax_form"
        ).get_json()["id"]
        client = rotating.test_client()
        later = _upload(
            client,
            url,
            token_for(client, seeded.a.admin),
            PNG,
            "bank.png",
            "image/png",
            document_type="tax_form",
        ).get_json()["id"]
        earlier_key, later_key = (_storage_key(admin_engine, i) for i in (earlier, later))
        assert Envelope.parse(raw.get(earlier_key)).key_id == "2026-01"
        assert Envelope.parse(raw.get(later_key)).key_id == "2026-07"
        assert content(rotating, earlier).data == PDF
        # Without the old key, before the rewrap: the earlier file does not open.
        assert content(after, earlier).status_code == 500

        sealed_before = Envelope.parse(raw.get(earlier_key))
        result = _run(rotating, "documents", "encrypt-stored")
        assert result.exit_code == 0, result.output
        assert "encrypted: 0, rewrapped under '2026-07': 1, already under '2026-07': 1" in (
            result.output
        )
        sealed_after = Envelope.parse(raw.get(earlier_key))
        assert sealed_after.key_id == "2026-07"
        assert (sealed_after.nonce, sealed_after.ciphertext) == (
            sealed_before.nonce,
            sealed_before.ciphertext,
        )
        for document_id, data in ((earlier, PDF), (later, PNG)):
            answer = content(after, document_id)
            assert answer.status_code == 200 and answer.data == data

        failed = _run(lost, "documents", "encrypt-stored")
        assert failed.exit_code != 0
        assert "unreadable: 2" in failed.output
        for key in (earlier_key, later_key):
            assert f"{key}: sealed under master key '2026-07'" in failed.output
        # Left as they were.
        assert Envelope.parse(raw.get(earlier_key)) == sealed_after
    finally:
        for app in (before, rotating, after, lost):
            _dispose(app)


# --- what is accepted --------------------------------------------------------------


def test_only_pdf_png_and_jpeg_whose_bytes_match(docs: FlaskClient, seeded: TwoTenants) -> None:
    a = seeded.a
    admin = token_for(docs, a.admin)
    url = _org_documents(a.organization.id)

    text_file = _upload(
        docs, url, admin, b"just some text\n", "notes.txt", "text/plain", document_type="tax_form"
    )
    assert text_file.status_code == 422 and _error_fields(text_file) == {"file"}
    text_as_pdf = _upload(
        docs, url, admin, b"just some text\n", "w9.pdf", "application/pdf", document_type="tax_form"
    )
    assert text_as_pdf.status_code == 422 and _error_fields(text_as_pdf) == {"file"}
    png_as_pdf = _upload(
        docs, url, admin, PNG, "w9.pdf", "application/pdf", document_type="tax_form"
    )
    assert png_as_pdf.status_code == 422 and _error_fields(png_as_pdf) == {"file"}
    # Bytes and declared type agree, but the name says otherwise.
    png_named_pdf = _upload(docs, url, admin, PNG, "w9.pdf", "image/png", document_type="tax_form")
    assert png_named_pdf.status_code == 422 and _error_fields(png_named_pdf) == {"file"}

    # A client that does not know the type lets the bytes decide.
    undeclared = _upload(
        docs, url, admin, JPEG, "scan.jpeg", "application/octet-stream", document_type="tax_form"
    )
    assert undeclared.status_code == 201, undeclared.get_json()
    assert undeclared.get_json()["content_type"] == "image/jpeg"

    missing_file = docs.post(
        url,
        data={"document_type": "tax_form"},
        headers=bearer(admin),
        content_type="multipart/form-data",
    )
    assert missing_file.status_code == 422 and _error_fields(missing_file) == {"file"}
    not_a_file = docs.post(
        url,
        data={"document_type": "tax_form", "file": "%PDF-1.7"},
        headers=bearer(admin),
        content_type="multipart/form-data",
    )
    assert not_a_file.status_code == 422 and _error_fields(not_a_file) == {"file"}


def test_a_file_that_is_also_a_web_page_is_refused(docs: FlaskClient, seeded: TwoTenants) -> None:
    """A PDF (or an image) whose bytes also hold markup a browser would run, wherever in
    the file, is refused naming the file: led to read it as a page, a browser would run
    it. The same PDF without it is accepted."""
    a = seeded.a
    admin = token_for(docs, a.admin)
    url = _org_documents(a.organization.id)
    body = PDF.replace(b"trailer", b"%<html><script>fetch('/api/v1/me')</script>\ntrailer")
    for polyglot, name, content_type in (
        (body, "w9.pdf", "application/pdf"),
        (PDF + b"\n%<!DOCTYPE html>\n", "w9.pdf", "application/pdf"),
        (PNG + b"<IFRAME src=x>", "scan.png", "image/png"),
    ):
        refused = _upload(docs, url, admin, polyglot, name, content_type, document_type="tax_form")
        assert refused.status_code == 422 and _error_fields(refused) == {"file"}, polyglot
        assert "markup" in refused.get_json()["detail"]
    plain = _upload(docs, url, admin, PDF, "w9.pdf", document_type="tax_form")
    assert plain.status_code == 201, plain.get_json()


def test_document_types_follow_the_owner(
    docs: FlaskClient, seeded: TwoTenants, tmp_path: Path
) -> None:
    admin = token_for(docs, seeded.a.admin)
    provider = token_for(docs, seeded.shared_provider)

    for_provider = _upload(
        docs, _org_documents(seeded.a.organization.id), admin, PDF, document_type="license_copy"
    )
    assert for_provider.status_code == 422
    assert _error_fields(for_provider) == {"document_type"}
    for_organization = _upload(docs, MY_DOCUMENTS, provider, PDF, document_type="tax_form")
    assert for_organization.status_code == 422
    assert _error_fields(for_organization) == {"document_type"}

    # The rule holds for callers other than the API too.
    with pytest.raises(DomainError) as refused:
        rules.upload(
            None,  # type: ignore[arg-type]  # refused before any query
            seeded.a.context(),
            LocalDocumentStore(tmp_path),
            owner=rules.Owner.provider(seeded.shared_provider.id),
            document_type="banking_letter",
            filename="letter.pdf",
            content_type="application/pdf",
            data=PDF,
            max_bytes=1024,
        )
    assert (status_of(refused.value), refused.value.field) == (422, "document_type")
    assert _files(tmp_path) == []


def test_size_limits(small_docs: FlaskClient, seeded: TwoTenants, storage_root: Path) -> None:
    admin = token_for(small_docs, seeded.a.admin)
    url = _org_documents(seeded.a.organization.id)
    largest = PDF[:64].ljust(64, b" ")

    too_large = _upload(small_docs, url, admin, largest + b" ", document_type="tax_form")
    assert too_large.status_code == 413, too_large.get_json()
    assert _error_fields(too_large) == {"file"}
    empty = _upload(small_docs, url, admin, b"", document_type="tax_form")
    assert empty.status_code == 422 and _error_fields(empty) == {"file"}
    assert _files(storage_root) == []

    just_fits = _upload(small_docs, url, admin, largest, document_type="tax_form")
    assert just_fits.status_code == 201, just_fits.get_json()
    assert just_fits.get_json()["size_bytes"] == 64


# --- who sees and changes what -----------------------------------------------------


def test_another_tenants_document_is_not_found(
    docs: FlaskClient, seeded: TwoTenants, storage_root: Path
) -> None:
    a_admin, b_admin = token_for(docs, seeded.a.admin), token_for(docs, seeded.b.admin)
    created = _upload(
        docs, _org_documents(seeded.a.organization.id), a_admin, PDF, document_type="tax_form"
    )
    document = _document(created.get_json()["id"])

    assert docs.get(document, headers=bearer(b_admin)).status_code == 404
    assert docs.get(f"{document}/content", headers=bearer(b_admin)).status_code == 404
    assert docs.delete(document, headers=bearer(b_admin)).status_code == 404
    # B cannot list or add to A's documents either.
    assert (
        docs.get(_org_documents(seeded.a.organization.id), headers=bearer(b_admin)).status_code
        == 404
    )
    assert (
        _upload(
            docs, _org_documents(seeded.a.organization.id), b_admin, PDF, document_type="tax_form"
        ).status_code
        == 404
    )

    unknown = _document(uuid.uuid4())
    assert docs.get(unknown, headers=bearer(a_admin)).status_code == 404
    assert docs.get(f"{unknown}/content", headers=bearer(a_admin)).status_code == 404
    assert docs.delete(unknown, headers=bearer(a_admin)).status_code == 404

    # Still there, bytes included.
    assert docs.get(f"{document}/content", headers=bearer(a_admin)).data == PDF
    assert len(_files(storage_root)) == 1


def test_provider_document_is_seen_by_each_organization_of_the_provider(
    docs: FlaskClient, seeded: TwoTenants, admin_engine: Engine
) -> None:
    provider_id = seeded.shared_provider.id
    provider = token_for(docs, seeded.shared_provider)
    created = _upload(
        docs,
        MY_DOCUMENTS,
        provider,
        PNG,
        "license.png",
        "image/png",
        document_type="license_copy",
        expiry_date="2028-06-30",
    )
    assert created.status_code == 201, created.get_json()
    body = created.get_json()
    assert body["user_id"] == str(provider_id) and body["organization_id"] is None
    mine = docs.get(MY_DOCUMENTS, headers=bearer(provider))
    assert [d["id"] for d in mine.get_json()] == [body["id"]]

    for tenant in (seeded.a, seeded.b):
        admin = token_for(docs, tenant.admin)
        assert docs.get(_document(body["id"]), headers=bearer(admin)).status_code == 200
        content = docs.get(f"{_document(body['id'])}/content", headers=bearer(admin))
        assert content.status_code == 200 and content.data == PNG
        listed = docs.get(f"/api/v1/admin/providers/{provider_id}/documents", headers=bearer(admin))
        assert listed.status_code == 200
        assert [d["id"] for d in listed.get_json()] == [body["id"]]

    stranger = token_for(docs, _third_tenant_admin(admin_engine))
    assert docs.get(_document(body["id"]), headers=bearer(stranger)).status_code == 404
    assert docs.get(f"{_document(body['id'])}/content", headers=bearer(stranger)).status_code == 404
    assert (
        docs.get(
            f"/api/v1/admin/providers/{provider_id}/documents", headers=bearer(stranger)
        ).status_code
        == 404
    )


def test_office_manager_cannot_manage_organization_documents(
    docs: FlaskClient, seeded: TwoTenants, storage_root: Path
) -> None:
    a = seeded.a
    url = _org_documents(a.organization.id)
    manager, admin = token_for(docs, a.office_manager), token_for(docs, a.admin)

    assert _upload(docs, url, manager, PDF, document_type="tax_form").status_code == 403
    assert docs.get(url, headers=bearer(manager)).status_code == 403
    created = _upload(docs, url, admin, PDF, document_type="tax_form")
    assert created.status_code == 201
    document = _document(created.get_json()["id"])
    assert docs.get(document, headers=bearer(manager)).status_code == 404  # policies hide it
    assert docs.delete(document, headers=bearer(manager)).status_code == 403
    assert len(_files(storage_root)) == 1

    assert docs.delete(document, headers=bearer(admin)).status_code == 204
    assert docs.get(document, headers=bearer(admin)).status_code == 404
    assert _files(storage_root) == []


def test_only_the_provider_deletes_their_document(
    docs: FlaskClient, seeded: TwoTenants, storage_root: Path
) -> None:
    provider = token_for(docs, seeded.shared_provider)
    created = _upload(
        docs, MY_DOCUMENTS, provider, PDF, "cme.pdf", document_type="training_certificate"
    )
    document = _document(created.get_json()["id"])

    admin = token_for(docs, seeded.a.admin)
    assert docs.get(document, headers=bearer(admin)).status_code == 200
    assert docs.delete(document, headers=bearer(admin)).status_code == 403
    assert docs.delete(document, headers=bearer(provider)).status_code == 204
    assert docs.get(document, headers=bearer(provider)).status_code == 404
    assert _files(storage_root) == []


# --- bytes and rows stay together ---------------------------------------------------


def test_a_refused_upload_leaves_no_file(
    docs: FlaskClient, seeded: TwoTenants, admin_engine: Engine, storage_root: Path
) -> None:
    provider = token_for(docs, seeded.shared_provider)
    someone_elses = _credential_of(admin_engine, seeded.a.admin.id)
    for credential_id in (uuid.uuid4(), someone_elses):
        refused = _upload(
            docs,
            MY_DOCUMENTS,
            provider,
            PDF,
            document_type="license_copy",
            credential_id=str(credential_id),
        )
        assert refused.status_code == 422 and _error_fields(refused) == {"credential_id"}
    assert _files(storage_root) == []

    own = _credential_of(admin_engine, seeded.shared_provider.id)
    linked = _upload(
        docs, MY_DOCUMENTS, provider, PDF, document_type="license_copy", credential_id=str(own)
    )
    assert linked.status_code == 201 and linked.get_json()["credential_id"] == str(own)
    assert len(_files(storage_root)) == 1

    # A suspended organization refuses the row at flush time, after the file was stored.
    suspended = docs.put(
        f"/api/v1/admin/organizations/{seeded.a.organization.id}",
        json={"status": "suspended"},
        headers=bearer(token_for(docs, seeded.msc_admin)),
    )
    assert suspended.status_code == 200, suspended.get_json()
    admin = token_for(docs, seeded.a.admin)
    refused = _upload(
        docs, _org_documents(seeded.a.organization.id), admin, PDF, document_type="tax_form"
    )
    assert refused.status_code == 403, refused.get_json()
    assert len(_files(storage_root)) == 1
    with admin_engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM documents")).scalar_one() == 1


def test_failed_flush_and_rollback_remove_the_file(
    db: Session, tenants: TwoTenants, tmp_path: Path
) -> None:
    store = LocalDocumentStore(tmp_path)
    a = tenants.a
    admin = a.context()
    manager = a.context(a.office_manager, Role.OFFICE_MANAGER)
    arguments: dict[str, Any] = {
        "owner": rules.Owner.organization(a.organization.id),
        "document_type": "tax_form",
        "filename": "w9.pdf",
        "content_type": "application/pdf",
        "data": PDF,
        "max_bytes": 1024,
    }

    db.commit()  # keeps the tenants through the rollbacks below (the outer one still ends)

    # An office manager's row is refused by the insert policy when flushed.
    use_context(db, manager)
    with pytest.raises(DBAPIError) as refused:
        rules.upload(db, manager, store, **arguments)
    assert isinstance(refused.value.orig, psycopg.errors.InsufficientPrivilege)
    assert _files(tmp_path) == []
    db.rollback()

    # Flushed, then the transaction fails later: the file goes with it.
    use_context(db, admin)
    rules.upload(db, admin, store, **arguments)
    assert len(_files(tmp_path)) == 1
    db.rollback()
    assert _files(tmp_path) == []

    # A deleted document's file stays until the deletion is committed.
    document = rules.upload(db, admin, store, **arguments)
    db.commit()
    rules.delete(db, admin, store, document)
    assert len(_files(tmp_path)) == 1
    db.commit()
    assert _files(tmp_path) == []


def test_upload_is_audited(docs: FlaskClient, seeded: TwoTenants, admin_engine: Engine) -> None:
    admin = token_for(docs, seeded.a.admin)
    created = _upload(
        docs, _org_documents(seeded.a.organization.id), admin, PDF, document_type="tax_form"
    ).get_json()
    msc = token_for(docs, seeded.msc_admin)
    by_msc = _upload(
        docs, _org_documents(seeded.b.organization.id), msc, PDF, document_type="banking_letter"
    ).get_json()

    with admin_engine.connect() as connection:
        events = connection.execute(
            text(
                "SELECT row_id, organization_id, actor_user_id, cross_tenant, changes"
                " FROM audit_events WHERE table_name = 'documents' AND action = 'insert'"
            )
        ).all()
    by_row = {str(e.row_id): e for e in events}
    assert set(by_row) == {created["id"], by_msc["id"]}
    own = by_row[created["id"]]
    assert (own.organization_id, own.actor_user_id, own.cross_tenant) == (
        seeded.a.organization.id,
        seeded.a.admin.id,
        False,
    )
    assert own.changes["sha256"]["new"] == hashlib.sha256(PDF).hexdigest()
    foreign = by_row[by_msc["id"]]
    assert (foreign.organization_id, foreign.actor_user_id, foreign.cross_tenant) == (
        seeded.b.organization.id,
        seeded.msc_admin.id,
        True,
    )


# --- the store ------------------------------------------------------------------------


def test_local_store_keeps_keys_inside_its_root(tmp_path: Path) -> None:
    store = LocalDocumentStore(tmp_path / "store")
    for bad in ("", "..", "../../etc/passwd", "ab/cd", "ab\\cd", "abcd.pdf", "/abs", "x"):
        with pytest.raises(ValueError):
            store.put(bad, b"data")
    assert not (tmp_path / "store").exists()

    key = "0123456789abcdef"
    store.put(key, b"first")
    store.put(key, b"second")  # replaced whole
    assert store.path_of(key) == (tmp_path / "store" / "01" / "23" / key).resolve()
    assert store.get(key) == b"second"
    assert _files(tmp_path) == [store.path_of(key)]  # no temporary file left behind
    # Listed: only files where the store puts them, not a temporary one nor a stray.
    (store.path_of(key).parent / ".upload-abc123").write_bytes(b"partial")
    (store.path_of(key).parent / "fedcba9876543210").write_bytes(b"misplaced")
    assert list(store.keys()) == [key]

    store.delete(key)
    store.delete(key)  # already gone: fine
    with pytest.raises(StoredFileMissing):
        store.get(key)


def test_clean_filename() -> None:
    pdf = rules.FILE_TYPES[0]
    assert rules.clean_filename("../../etc/passwd.pdf", pdf) == "passwd.pdf"
    assert rules.clean_filename("C:\\Users\\me\\w9.pdf", pdf) == "w9.pdf"
    assert rules.clean_filename("a\x00b\u202e.pdf", pdf) == "ab.pdf"
    assert rules.clean_filename(" ..", pdf) == "document.pdf"
    long = rules.clean_filename("x" * 400 + ".pdf", pdf)
    assert len(long) == 255 and long.endswith(".pdf")


def test_expiry_is_optional_and_dated(docs: FlaskClient, seeded: TwoTenants) -> None:
    """Left out, there is none; sent, it is a date: an empty one is no date (as the
    document says), not taken for none."""
    admin = token_for(docs, seeded.a.admin)
    url = _org_documents(seeded.a.organization.id)
    left_out = _upload(docs, url, admin, PDF, document_type="tax_form")
    assert left_out.status_code == 201 and left_out.get_json()["expiry_date"] is None
    for bad_date in ("soon", ""):
        bad = _upload(docs, url, admin, PDF, document_type="tax_form", expiry_date=bad_date)
        assert bad.status_code == 422 and _error_fields(bad) == {"expiry_date"}


def test_an_organizations_first_document_starts_its_onboarding(
    docs: FlaskClient, seeded: TwoTenants, admin_engine: Engine
) -> None:
    """An organization's document does; a provider's own, which belongs to no
    organization, leaves every organization as it was."""
    with Session(admin_engine, expire_on_commit=False) as setup:
        organization = factories.make_organization(setup)
        org_admin = factories.make_user(setup)
        factories.make_membership(setup, org_admin, organization, Role.ORGANIZATION_ADMIN)
        factories.make_membership(setup, seeded.shared_provider, organization, Role.PROVIDER)
        setup.commit()

    def onboarding_status() -> str:
        with admin_engine.connect() as conn:
            return str(
                conn.scalar(
                    text("SELECT onboarding_status FROM organizations WHERE id = :o"),
                    {"o": organization.id},
                )
            )

    assert onboarding_status() == "initiated"
    provider = token_for(docs, seeded.shared_provider, organization)
    own = _upload(docs, MY_DOCUMENTS, provider, PDF, document_type="training_certificate")
    assert own.status_code == 201, own.get_json()
    assert onboarding_status() == "initiated"

    admin = token_for(docs, org_admin, organization)
    url = _org_documents(organization.id)
    created = _upload(docs, url, admin, PDF, document_type="tax_form")
    assert created.status_code == 201, created.get_json()
    assert onboarding_status() == "in_progress"
