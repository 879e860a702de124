from __future__ import annotations

from marshmallow import fields, validate

from app.schemas.base import Schema


class LoginSchema(Schema):
    email = fields.String(required=True, validate=validate.Length(min=3, max=320))
    password = fields.String(
        required=True, load_only=True, validate=validate.Length(min=1, max=1024)
    )
    organization_id = fields.UUID(
        load_default=None,
        metadata={"description": "organization to act for; defaults to the first membership"},
    )


class SwitchOrganizationSchema(Schema):
    organization_id = fields.UUID(required=True)


class TokenSchema(Schema):
    access_token = fields.String(required=True)
    refresh_token = fields.String()
    token_type = fields.Constant("Bearer")
    expires_in = fields.Integer(metadata={"description": "access token lifetime, seconds"})
    organization_id = fields.UUID(allow_none=True)


class MembershipSchema(Schema):
    organization_id = fields.UUID()
    organization_name = fields.String()
    role = fields.String()


class MeSchema(Schema):
    id = fields.UUID()
    email = fields.String()
    name = fields.String()
    phone = fields.String(allow_none=True)
    npi = fields.String(allow_none=True)
    is_msc_admin = fields.Boolean()
    organization_id = fields.UUID(allow_none=True, metadata={"description": "active organization"})
    role = fields.String(
        allow_none=True, metadata={"description": "role in the active organization"}
    )
    permissions = fields.List(fields.String())
    memberships = fields.List(fields.Nested(MembershipSchema))
