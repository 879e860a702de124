"""Documents: the multipart upload form and the metadata shown back.

The storage key is deliberately absent: where the bytes live is not the client's
business, and the content is fetched through the API, under the policies.
"""

from __future__ import annotations

from typing import Any, ClassVar

from flask_smorest.fields import Upload
from marshmallow import ValidationError, fields, validate
from werkzeug.datastructures import FileStorage

from app.domain.documents import ALLOWED_CONTENT_TYPES, DOCUMENT_TYPES
from app.models.enums import DocumentType, values
from app.schemas.base import Schema

# A file to upload, as the examples show it: the smallest PDF, an empty document.
PDF = (
    "%PDF-1.7 1 0 obj <</Type/Catalog/Pages 2 0 R>> endobj"
    " 2 0 obj <</Type/Pages/Kids[]/Count 0>> endobj trailer <</Root 1 0 R>> %%EOF"
)


def _is_file(value: Any) -> None:
    # A plain form field may carry the name `file` too; only a file part will do.
    if not isinstance(value, FileStorage):
        raise ValidationError("must be a file")


class _UploadSchema(Schema):
    """A multipart upload: the file and the fields describing it."""

    file = Upload(
        required=True,
        validate=_is_file,
        metadata={
            "description": f"the file: {', '.join(ALLOWED_CONTENT_TYPES)}, its bytes "
            "matching its type"
        },
    )
    expiry_date = fields.Date(
        metadata={"description": "when the document must be renewed (ISO date)"}
    )


class OrganizationUploadSchema(_UploadSchema):
    EXAMPLE: ClassVar[dict[str, Any]] = {"file": PDF, "document_type": "tax_form"}

    document_type = fields.String(
        required=True, validate=validate.OneOf(sorted(DOCUMENT_TYPES["organization"]))
    )


class ProviderUploadSchema(_UploadSchema):
    EXAMPLE: ClassVar[dict[str, Any]] = {
        "file": PDF,
        "document_type": "license_copy",
        "expiry_date": "2027-08-31",
    }

    document_type = fields.String(
        required=True, validate=validate.OneOf(sorted(DOCUMENT_TYPES["provider"]))
    )
    credential_id = fields.UUID(
        metadata={"description": "one of your credentials that this document supports"}
    )


class DocumentSchema(Schema):
    id = fields.UUID()
    organization_id = fields.UUID(
        allow_none=True, metadata={"description": "set for an organization's documents"}
    )
    user_id = fields.UUID(
        allow_none=True, metadata={"description": "set for a provider's documents"}
    )
    credential_id = fields.UUID(allow_none=True)
    document_type = fields.String(metadata={"enum": values(DocumentType)})
    filename = fields.String()
    content_type = fields.String(validate=validate.OneOf(ALLOWED_CONTENT_TYPES))
    size_bytes = fields.Integer()
    sha256 = fields.String(metadata={"description": "SHA-256 of the content, hex"})
    expiry_date = fields.Date(allow_none=True)
    uploaded_by_id = fields.UUID(allow_none=True)
    created_at = fields.DateTime()
    updated_at = fields.DateTime()
