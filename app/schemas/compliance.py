from __future__ import annotations

from marshmallow import fields, validate

from app.domain.compliance import WEIGHTS
from app.schemas.base import Schema

# The items a provider's compliance is scored on.
ITEMS = sorted(WEIGHTS)


def _items() -> fields.List[str]:
    return fields.List(fields.String(metadata={"enum": ITEMS}))


class ComplianceItemSchema(Schema):
    item = fields.String(metadata={"enum": ITEMS})
    weight = fields.Integer()
    share = fields.Float(metadata={"description": "the part of the weight earned, 0 to 1"})
    state = fields.String()
    expiry_date = fields.Date(allow_none=True)
    days_left = fields.Integer(allow_none=True)
    expiring_within = fields.Integer(
        allow_none=True, metadata={"description": "30, 60 or 90 when expiring that soon"}
    )


class ProviderComplianceSchema(Schema):
    user_id = fields.UUID()
    name = fields.String()
    score = fields.Integer()
    missing = _items()
    expired = _items()
    expiring = _items()
    unverified = _items()
    items = fields.List(fields.Nested(ComplianceItemSchema))


class OrganizationComplianceSchema(Schema):
    organization_id = fields.UUID()
    score = fields.Integer(allow_none=True)
    training_completion_rate = fields.Float(allow_none=True)
    providers = fields.List(fields.Nested(ProviderComplianceSchema))


def _organization_id() -> fields.UUID:
    return fields.UUID(
        metadata={
            "description": "defaults to the active organization; required of MSC admins, who"
            " act for no one organization (422 naming it without)"
        }
    )


class ComplianceQuerySchema(Schema):
    organization_id = _organization_id()
    expiring_within_days = fields.Integer(validate=validate.Range(min=0, max=3650))
    missing = fields.String(validate=validate.OneOf(ITEMS))
    facility_id = fields.UUID()


class ExpirationQuerySchema(Schema):
    organization_id = _organization_id()
    within_days = fields.Integer(load_default=90, validate=validate.Range(min=0, max=3650))


class ExpirationSchema(Schema):
    kind = fields.String()
    owner_id = fields.UUID()
    owner_name = fields.String()
    record_id = fields.UUID()
    expiry_date = fields.Date()
    days_left = fields.Integer(metadata={"description": "negative once expired"})
