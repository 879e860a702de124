from __future__ import annotations

from marshmallow import fields

from app.schemas.base import Schema


class PlaceOfServiceSchema(Schema):
    code = fields.String(metadata={"description": "CMS place-of-service code", "example": "11"})
    name = fields.String(metadata={"description": "its name, as CMS gives it", "example": "Office"})
