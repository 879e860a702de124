"""Documents: an organization's (tax forms, banking letters) and a provider's (license
copies, insurance and training certificates), uploaded as multipart forms.

Who sees a document is the policies' decision: an organization's admins see its
documents; a provider and the staff of every organization they work for see the
provider's. Anything else answers 404. An MSC representative, whose reports read the
documents' types and dates, is handed no document (403).
"""

from __future__ import annotations

import uuid
from io import BytesIO
from typing import Any, ClassVar

from flask import Request, Response, send_file
from flask.views import MethodView
from marshmallow import Schema
from sqlalchemy import Select
from werkzeug.datastructures import CombinedMultiDict, FileStorage

from app.blueprints.lookups import organization_or_404, provider_or_404
from app.domain import access
from app.domain import documents as rules
from app.domain.errors import NotFound
from app.extensions import current_settings, db, document_store
from app.models import Document
from app.pagination import SelectPage
from app.permissions import (
    DELETE_DOCUMENTS,
    OPEN_DOCUMENTS,
    SEE_OWN_DOCUMENTS,
    SEE_PROVIDERS,
    Permission,
    authenticated,
    requires,
)
from app.request_body import Blueprint, RequestParser
from app.schemas.documents import (
    DocumentSchema,
    OrganizationUploadSchema,
    ProviderUploadSchema,
)
from app.tenancy.request import current_context


class _MultipartParser(RequestParser):
    """Reads an upload's form fields and files as one location, `multipart`.

    webargs keeps `form` and `files` apart, and flask-smorest documents only one of two
    body arguments (the other comes out as OpenAPI 2 `formData` parameters, invalid in
    OpenAPI 3). One schema read from both documents the whole multipart body."""

    def __init__(self) -> None:
        super().__init__()
        # Per instance: webargs' own location_loader() would change every parser's map.
        self.__location_map__ = {**self.__location_map__, "multipart": "load_multipart"}

    def load_multipart(self, req: Request, schema: Schema) -> Any:
        return self._makeproxy(CombinedMultiDict([req.form, req.files]), schema)


class _Blueprint(Blueprint):
    ARGUMENTS_PARSER = _MultipartParser()
    DEFAULT_LOCATION_CONTENT_TYPE_MAPPING: ClassVar[dict[str, str]] = {
        **Blueprint.DEFAULT_LOCATION_CONTENT_TYPE_MAPPING,
        "multipart": "multipart/form-data",
    }


blp = _Blueprint(
    "documents",
    __name__,
    url_prefix="/api/v1",
    description="Uploaded documents (PDF, PNG, JPEG): an organization's tax forms and "
    "banking letters, a provider's license copies and certificates.",
)


# The types a file part may declare (or none, or application/octet-stream: its bytes
# then decide); an upload of any other is refused.
_UPLOAD_DOC = {
    "requestBody": {
        "content": {
            "multipart/form-data": {
                "encoding": {"file": {"contentType": ", ".join(rules.ALLOWED_CONTENT_TYPES)}}
            }
        }
    }
}
_BINARY = {"schema": {"type": "string", "format": "binary"}}
_CONTENT_DOC = {
    "responses": {
        "200": {
            "description": "The file, as an attachment; `ETag` and `X-Content-SHA256` carry "
            "its SHA-256.",
            "content": {content_type: _BINARY for content_type in rules.ALLOWED_CONTENT_TYPES},
        }
    }
}


def _document_or_404(document_id: uuid.UUID) -> Document:
    document = rules.get_document(db.session, document_id)
    if document is None:
        raise NotFound("document not found")
    return document


def _upload(owner: rules.Owner, form: dict[str, Any]) -> Document:
    settings = current_settings()
    upload: FileStorage = form["file"]
    # One byte past the limit is enough to know it is too large.
    data = upload.stream.read(settings.document_max_bytes + 1)
    return rules.upload(
        db.session,
        current_context(),
        document_store(),
        owner=owner,
        document_type=form["document_type"],
        filename=upload.filename or "",
        content_type=upload.mimetype,
        data=data,
        credential_id=form.get("credential_id"),
        expiry_date=form.get("expiry_date"),
        max_bytes=settings.document_max_bytes,
    )


@blp.route("/admin/organizations/<uuid:organization_id>/documents")
class OrganizationDocuments(MethodView):
    @authenticated()
    @requires(Permission.MANAGE_BILLING)
    @blp.arguments(OrganizationUploadSchema, location="multipart")
    @blp.doc(**_UPLOAD_DOC)
    @blp.response(201, DocumentSchema)
    @blp.alt_response(413, description="the file is larger than DOCUMENT_MAX_BYTES")
    def post(self, form: dict[str, Any], organization_id: uuid.UUID) -> Document:
        """Upload one of the organization's documents (a tax form or banking letter).

        Multipart form: `file` (PDF, PNG or JPEG, its bytes matching its type),
        `document_type`, optional `expiry_date`."""
        organization = organization_or_404(organization_id, in_scope=True)
        return _upload(rules.Owner.organization(organization.id), form)

    @authenticated()
    @requires(Permission.MANAGE_BILLING)
    @blp.response(200, DocumentSchema(many=True))
    @blp.paginate(SelectPage)
    def get(self, organization_id: uuid.UUID) -> Select[Document]:
        """The organization's documents, newest first (paginated)."""
        organization = organization_or_404(organization_id, in_scope=True)
        return rules.list_for_organization(organization.id)


@blp.route("/me/documents")
class MyDocuments(MethodView):
    @authenticated()
    @requires(Permission.UPDATE_CREDENTIALS)
    @blp.arguments(ProviderUploadSchema, location="multipart")
    @blp.doc(**_UPLOAD_DOC)
    @blp.response(201, DocumentSchema)
    @blp.alt_response(413, description="the file is larger than DOCUMENT_MAX_BYTES")
    def post(self, form: dict[str, Any]) -> Document:
        """Upload one of your documents (a license copy, insurance or training
        certificate), optionally linked to one of your credentials.

        Multipart form: `file` (PDF, PNG or JPEG, its bytes matching its type),
        `document_type`, optional `credential_id` and `expiry_date`. Every organization
        you work for can see it."""
        user_id = current_context().user_id
        assert user_id is not None
        return _upload(rules.Owner.provider(user_id), form)

    @authenticated()
    @requires(*SEE_OWN_DOCUMENTS)
    @blp.response(200, DocumentSchema(many=True))
    @blp.paginate(SelectPage)
    def get(self) -> Select[Document]:
        """Your documents, newest first (paginated)."""
        user_id = current_context().user_id
        assert user_id is not None
        return rules.list_for_provider(user_id)


@blp.route("/admin/providers/<uuid:provider_id>/documents")
class ProviderDocuments(MethodView):
    @authenticated()
    @requires(*SEE_PROVIDERS)
    @blp.response(200, DocumentSchema(many=True))
    @blp.paginate(SelectPage)
    def get(self, provider_id: uuid.UUID) -> Select[Document]:
        """A provider's documents, newest first (paginated)."""
        provider = provider_or_404(provider_id)
        return rules.list_for_provider(provider.id)


@blp.route("/documents/<uuid:document_id>")
class DocumentById(MethodView):
    @authenticated()
    @requires(*OPEN_DOCUMENTS)
    @blp.response(200, DocumentSchema)
    def get(self, document_id: uuid.UUID) -> Document:
        """A document's metadata, for whoever may see the document."""
        return _document_or_404(document_id)

    @authenticated()
    @requires(*DELETE_DOCUMENTS)
    @blp.response(204)
    def delete(self, document_id: uuid.UUID) -> None:
        """Delete a document and its file: an organization's admins delete its
        documents, a provider their own."""
        document = _document_or_404(document_id)
        rules.delete(db.session, current_context(), document_store(), document)


@blp.route("/documents/<uuid:document_id>/content")
class DocumentContent(MethodView):
    @authenticated()
    @requires(*OPEN_DOCUMENTS)
    @blp.doc(**_CONTENT_DOC)
    def get(self, document_id: uuid.UUID) -> Response:
        """Download a document's file, for whoever may see the document. Every download
        is recorded in the audit trail (of the document's organization; for a provider's
        document, of the organization through which the caller reaches the provider)."""
        document = _document_or_404(document_id)
        data = rules.read_content(document_store(), document)
        access.record(db.session, [access.document_download(current_context(), document)])
        response = send_file(
            BytesIO(data),
            mimetype=document.content_type,
            as_attachment=True,
            download_name=document.filename,
            etag=document.sha256,
            last_modified=document.created_at,
            max_age=None,
        )
        response.headers["X-Content-SHA256"] = document.sha256
        # Never rendered by guessing its type, never kept on a shared clinic computer.
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Cache-Control"] = "private, no-store"
        return response
