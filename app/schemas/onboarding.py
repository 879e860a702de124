from __future__ import annotations

from marshmallow import fields

from app.models.enums import OnboardingStatus, OnboardingStep, values
from app.schemas.base import Schema


class StepSchema(Schema):
    step = fields.String(metadata={"enum": values(OnboardingStep)})
    completed = fields.Boolean()
    manual = fields.Boolean(
        metadata={"description": "completed by hand; otherwise it follows the data"}
    )
    completed_at = fields.DateTime(allow_none=True)
    completed_by_id = fields.UUID(allow_none=True)
    requirement = fields.String(
        allow_none=True, metadata={"description": "the data that completes the step"}
    )


class OnboardingSchema(Schema):
    organization_id = fields.UUID()
    onboarding_status = fields.String(metadata={"enum": values(OnboardingStatus)})
    percent_complete = fields.Integer()
    next_step = fields.String(allow_none=True)
    steps = fields.List(fields.Nested(StepSchema))


class ChecklistItemSchema(Schema):
    item = fields.String()
    complete = fields.Boolean()
    detail = fields.String(allow_none=True)


class ChecklistSchema(Schema):
    user_id = fields.UUID()
    percent_complete = fields.Integer()
    items = fields.List(fields.Nested(ChecklistItemSchema))
