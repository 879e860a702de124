from __future__ import annotations

from marshmallow import fields

from app.schemas.base import Schema


class RepresentedOrganizationSchema(Schema):
    """An organization naming a user as its MSC representative."""

    organization_id = fields.UUID()
    organization_name = fields.String()


class RepresentativeSchema(Schema):
    """An MSC representative, as MSC admins manage them."""

    id = fields.UUID(metadata={"description": "the user's id"})
    email = fields.String()
    name = fields.String()
    is_active = fields.Boolean()
    organizations = fields.List(
        fields.Nested(RepresentedOrganizationSchema),
        metadata={
            "description": "the organizations naming them as representative, by name; they"
            " read these and their descendants"
        },
    )
