from __future__ import annotations

from marshmallow import fields, validate

from app.models.enums import AssignmentStatus, values
from app.schemas.base import Schema
from app.schemas.facilities import FacilitySchema
from app.schemas.organizations import OrganizationSchema


class HierarchyQuerySchema(Schema):
    depth = fields.Integer(
        load_default=None,
        validate=validate.Range(min=0, max=20),
        metadata={"description": "levels of child organizations to include (default: all)"},
    )
    include_inactive = fields.Boolean(
        load_default=False,
        metadata={"description": "also inactive facilities and ended assignments"},
    )


class HierarchyProviderSchema(Schema):
    id = fields.UUID()
    name = fields.String()
    npi = fields.String(allow_none=True)
    assignment_id = fields.UUID()
    is_primary = fields.Boolean()
    status = fields.String(metadata={"enum": values(AssignmentStatus)})


class HierarchyFacilitySchema(Schema):
    facility = fields.Nested(FacilitySchema)
    providers = fields.List(fields.Nested(HierarchyProviderSchema))


class HierarchyNodeSchema(Schema):
    organization = fields.Nested(OrganizationSchema)
    facilities = fields.List(fields.Nested(HierarchyFacilitySchema))
    children = fields.List(fields.Nested(lambda: HierarchyNodeSchema()))
