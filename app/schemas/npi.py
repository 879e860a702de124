from __future__ import annotations

from marshmallow import fields

from app.models.enums import NpiVerification, values
from app.schemas.base import Schema


class RegistryRecordSchema(Schema):
    enumeration_type = fields.String(
        metadata={"description": "NPI-1 individual, NPI-2 organization"}
    )
    name = fields.String(metadata={"description": "as the registry spells it"})
    status = fields.String(allow_none=True, metadata={"description": "A = active"})


class NpiVerificationSchema(Schema):
    npi = fields.String()
    npi_verification = fields.String(metadata={"enum": values(NpiVerification)})
    npi_verified_at = fields.DateTime(allow_none=True)
    registry = fields.Nested(
        RegistryRecordSchema,
        allow_none=True,
        metadata={
            "description": "the registry's record for the number; null when it has "
            "none or could not be asked"
        },
    )
    reason = fields.String(
        allow_none=True, metadata={"description": "why the number is not verified"}
    )


class NpiLookupSchema(Schema):
    npi = fields.String()
    valid = fields.Boolean(metadata={"description": "passes the offline check digit"})
    registry_result = fields.String(metadata={"enum": ["found", "not_found", "unavailable"]})
    registry = fields.Nested(RegistryRecordSchema, allow_none=True)
