from __future__ import annotations

from typing import Any, ClassVar

from marshmallow import fields, validate

from app.models.enums import InvitationRole, InvitationStatus, values
from app.schemas.base import Schema
from app.schemas.fields import EmailAddress
from app.schemas.passwords import EXAMPLE_NEW_PASSWORD, new_password


class InviteSchema(Schema):
    EXAMPLE: ClassVar[dict[str, Any]] = {
        "email": "jordan.lee@lakeside-health.example.com",
        "name": "Dr. Jordan Lee",
        "role": "provider",
        "organization_id": "8fd2c214-77b6-4be9-b91b-1a0c045bc7a5",
        "facility_ids": [
            "20f8ad29-396f-4f7b-8a68-e592ee83261e",
            "f6cdd216-0a28-4338-b720-72d9ede09b5a",
        ],
        "primary_facility_id": "20f8ad29-396f-4f7b-8a68-e592ee83261e",
    }

    email = EmailAddress(required=True)
    name = fields.String(required=True, validate=validate.Length(min=1, max=255))
    role = fields.String(required=True, validate=validate.OneOf(values(InvitationRole)))
    organization_id = fields.UUID(required=True)
    facility_ids = fields.List(fields.UUID(), load_default=list, validate=validate.Length(max=100))
    primary_facility_id = fields.UUID(load_default=None)


class InvitationSchema(Schema):
    id = fields.UUID()
    organization_id = fields.UUID()
    email = fields.String()
    name = fields.String()
    role = fields.String(metadata={"enum": values(InvitationRole)})
    facility_ids = fields.List(fields.UUID())
    primary_facility_id = fields.UUID(allow_none=True)
    status = fields.String(metadata={"enum": values(InvitationStatus)})
    expires_at = fields.DateTime()
    accepted_at = fields.DateTime(allow_none=True)
    revoked_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime()


class InvitationQuerySchema(Schema):
    organization_id = fields.UUID()
    email = fields.String(validate=validate.Length(min=1, max=320))


class InvitationPreviewSchema(Schema):
    organization_name = fields.String()
    email = fields.String()
    name = fields.String()
    role = fields.String(metadata={"enum": values(InvitationRole)})
    expires_at = fields.DateTime()
    account_exists = fields.Boolean(
        metadata={"description": "whether accepting links an existing account"}
    )


class AcceptSchema(Schema):
    EXAMPLE: ClassVar[dict[str, Any]] = {
        "password": EXAMPLE_NEW_PASSWORD,
        "name": "Dr. Jordan Lee",
    }

    password = new_password(
        "required when no account exists for the invited email", load_default=None
    )
    name = fields.String(load_default=None, validate=validate.Length(min=1, max=255))


class AcceptedSchema(Schema):
    user_id = fields.UUID()
    organization_id = fields.UUID()
    role = fields.String(metadata={"enum": values(InvitationRole)})
