"""The scope of an organization's figures, one parameter wherever they are shown."""

from __future__ import annotations

from marshmallow import fields

from app.schemas.base import Schema


class ScopeQuerySchema(Schema):
    include_descendants = fields.Boolean(
        load_default=True,
        metadata={
            "description": "also the organization's child organizations, at every depth"
            " (default true). The dashboard, compliance, expirations and analytics take"
            " the same scope, so the same question gets the same number on each"
        },
    )
