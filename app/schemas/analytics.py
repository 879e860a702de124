from __future__ import annotations

import datetime as dt
from typing import Any

from marshmallow import ValidationError, fields, validate, validates_schema

from app import clock
from app.domain.analytics import INTERVALS
from app.schemas.base import Schema
from app.schemas.fields import Money
from app.schemas.onboarding import OnboardingSchema
from app.schemas.scope import ScopeQuerySchema

MAX_DAYS = 3 * 366
# Reports cover the years the product exists in; far dates would overflow date math.
DATES = validate.Range(min=dt.date(2000, 1, 1), max=dt.date(2999, 12, 31))


class AnalyticsQuerySchema(ScopeQuerySchema):
    start = fields.Date(
        data_key="from",
        load_default=None,
        validate=DATES,
        metadata={"description": "default: 30 days before `to`"},
    )
    end = fields.Date(
        data_key="to", load_default=None, validate=DATES, metadata={"description": "default: today"}
    )
    interval = fields.String(load_default="week", validate=validate.OneOf(INTERVALS))
    format = fields.String(
        load_default="json",
        validate=validate.OneOf(["json", "csv"]),
        metadata={"description": "csv also with `Accept: text/csv`"},
    )

    @validates_schema
    def _range(self, data: dict[str, Any], **_kwargs: Any) -> None:
        end = data.get("end") or clock.today()
        start = data.get("start") or end - dt.timedelta(days=30)
        if start > end:
            raise ValidationError("must not be after `to`", "from")
        if (end - start).days > MAX_DAYS:
            raise ValidationError(f"at most {MAX_DAYS} days", "from")


class PeriodSchema(Schema):
    start = fields.Date()
    orders = fields.Integer()
    revenue = Money()
    ordering_providers = fields.Integer()
    active_providers = fields.Integer()
    provider_activity_rate = fields.Float(allow_none=True)
    compliance_score = fields.Integer(allow_none=True)
    order_growth = fields.Float(allow_none=True, metadata={"description": "% vs previous period"})
    revenue_growth = fields.Float(allow_none=True)


class FacilityUseSchema(Schema):
    facility_id = fields.UUID()
    name = fields.String()
    orders = fields.Integer()
    share = fields.Float()


class AnalyticsSchema(Schema):
    start = fields.Date()
    end = fields.Date()
    interval = fields.String(metadata={"enum": list(INTERVALS)})
    total_orders = fields.Integer()
    total_revenue = Money()
    periods = fields.List(fields.Nested(PeriodSchema))
    facilities = fields.List(fields.Nested(FacilityUseSchema))


class OrganizationBreakdownSchema(Schema):
    organization_id = fields.UUID()
    name = fields.String()
    orders = fields.Integer()
    revenue = Money()
    ordering_providers = fields.Integer()
    active_providers = fields.Integer()
    provider_activity_rate = fields.Float(allow_none=True)


class FacilityCardSchema(Schema):
    id = fields.UUID()
    name = fields.String()
    organization_id = fields.UUID()
    active = fields.Boolean()
    providers = fields.Integer()
    active_orders = fields.Integer()
    compliance_score = fields.Integer(allow_none=True)


class ActivitySchema(Schema):
    occurred_at = fields.DateTime()
    actor_name = fields.String()
    summary = fields.String()
    table_name = fields.String()
    action = fields.String()
    row_id = fields.UUID()


class OverviewSchema(Schema):
    total_facilities = fields.Integer()
    total_providers = fields.Integer()
    active_orders = fields.Integer()
    compliance_score = fields.Integer(
        allow_none=True,
        metadata={"description": "as /admin/compliance gives `score` for the same scope"},
    )
    document_compliance_score = fields.Integer(
        allow_none=True,
        metadata={"description": "as /admin/compliance gives `document_score` for the same scope"},
    )
    excluded_providers = fields.Integer(
        metadata={
            "description": "providers who stand excluded (a match confirmed, or found by NPI)"
            " in the organizations in scope; their compliance score is 0"
        }
    )
    open_exclusion_candidates = fields.Integer(
        metadata={
            "description": "candidate matches waiting for an admin's decision in the"
            " organizations in scope (/admin/exclusion-matches)"
        }
    )


class DashboardSchema(Schema):
    organization_id = fields.UUID()
    overview = fields.Nested(OverviewSchema)
    facilities = fields.List(fields.Nested(FacilityCardSchema))
    recent_activity = fields.List(fields.Nested(ActivitySchema))
    onboarding_progress = fields.Nested(OnboardingSchema)
