from __future__ import annotations

from marshmallow import fields, validate

from app.models.enums import InvitationRole, InvitationStatus, values
from app.schemas.base import Schema
from app.schemas.fields import EmailAddress
from app.schemas.passwords import new_password


class InviteSchema(Schema):
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
    password = new_password(
        "required when no account exists for the invited email", load_default=None
    )
    name = fields.String(load_default=None, validate=validate.Length(min=1, max=255))


class AcceptedSchema(Schema):
    user_id = fields.UUID()
    organization_id = fields.UUID()
    role = fields.String(metadata={"enum": values(InvitationRole)})
