from __future__ import annotations

from marshmallow import fields, validate

from app.domain.compliance import DOCUMENT_WEIGHTS, WEIGHTS
from app.schemas.base import Schema
from app.schemas.scope import ScopeQuerySchema

# The items a provider's compliance is scored on.
ITEMS = sorted(WEIGHTS)


def _items() -> fields.List[str]:
    return fields.List(fields.String(metadata={"enum": ITEMS}))


class ComplianceItemSchema(Schema):
    # A provider's item, or an organization's document.
    item = fields.String(metadata={"enum": sorted({*ITEMS, *DOCUMENT_WEIGHTS})})
    weight = fields.Integer()
    share = fields.Float(metadata={"description": "the part of the weight earned, 0 to 1"})
    state = fields.String()
    expiry_date = fields.Date(allow_none=True)
    days_left = fields.Integer(allow_none=True)
    expiring_within = fields.Integer(
        allow_none=True, metadata={"description": "30, 60 or 90 when expiring that soon"}
    )
    required_states = fields.List(
        fields.String(),
        metadata={
            "description": "licenses and DEA registrations: the states of the facilities"
            " of the provider's assignments in force in the organizations in scope (empty"
            " when there are none: any state counts)"
        },
    )
    missing_states = fields.List(
        fields.String(),
        metadata={
            "description": "required states without a credential of the kind that is"
            " neither rejected nor expired"
        },
    )


class ProviderComplianceSchema(Schema):
    user_id = fields.UUID()
    name = fields.String()
    score = fields.Integer()
    missing = _items()
    expired = _items()
    expiring = _items()
    unverified = _items()
    excluded = fields.Boolean(
        metadata={
            "description": "excluded (a confirmed exclusion match) in an organization in"
            " scope: the score is 0 whatever the items earn"
        }
    )
    items = fields.List(fields.Nested(ComplianceItemSchema))


class DocumentComplianceSchema(Schema):
    organization_id = fields.UUID()
    name = fields.String()
    score = fields.Integer()
    items = fields.List(fields.Nested(ComplianceItemSchema))


class OrganizationComplianceSchema(Schema):
    organization_id = fields.UUID()
    organization_ids = fields.List(
        fields.UUID(), metadata={"description": "the organizations the figures cover"}
    )
    score = fields.Integer(
        allow_none=True,
        metadata={"description": "the mean of the providers' scores; null without providers"},
    )
    training_completion_rate = fields.Float(allow_none=True)
    document_score = fields.Integer(
        allow_none=True,
        metadata={
            "description": "the mean of the organizations' document scores: tax form 50,"
            " banking letter 50, each earning 1 on file, 0.75 within 30 days of expiry, 0"
            " missing or expired"
        },
    )
    documents = fields.List(fields.Nested(DocumentComplianceSchema))
    providers = fields.List(fields.Nested(ProviderComplianceSchema))


def _organization_id() -> fields.UUID:
    return fields.UUID(
        metadata={
            "description": "defaults to the active organization; required of MSC admins, who"
            " act for no one organization (422 naming it without)"
        }
    )


class ComplianceQuerySchema(ScopeQuerySchema):
    organization_id = _organization_id()
    expiring_within_days = fields.Integer(validate=validate.Range(min=0, max=3650))
    missing = fields.String(validate=validate.OneOf(ITEMS))
    facility_id = fields.UUID()


class ExpirationQuerySchema(ScopeQuerySchema):
    organization_id = _organization_id()
    within_days = fields.Integer(load_default=90, validate=validate.Range(min=0, max=3650))


class ExpirationSchema(Schema):
    kind = fields.String()
    owner_id = fields.UUID()
    owner_name = fields.String()
    record_id = fields.UUID()
    expiry_date = fields.Date()
    days_left = fields.Integer(metadata={"description": "negative once expired"})
