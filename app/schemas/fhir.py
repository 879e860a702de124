from __future__ import annotations

from marshmallow import fields

from app.schemas.base import Schema


class FhirQuerySchema(Schema):
    include_inactive = fields.Boolean(
        load_default=False,
        metadata={"description": "also inactive facilities and ended assignments"},
    )
