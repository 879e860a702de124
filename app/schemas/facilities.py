from __future__ import annotations

from marshmallow import fields, validate

from app.domain.facilities import SORTS
from app.models.enums import FacilityType, values
from app.schemas.base import Schema
from app.schemas.fields import EmailAddress, Npi, Phone, StateCode, ZipCode, place_of_service

_NAME = validate.Length(min=1, max=255)


class FacilitySchema(Schema):
    id = fields.UUID(dump_only=True)
    organization_id = fields.UUID(dump_only=True)
    name = fields.String(required=True, validate=_NAME)
    npi = Npi(allow_none=True)
    ptan = fields.String(
        allow_none=True,
        validate=validate.Length(max=255),
        metadata={"description": "Provider Transaction Access Number (free-form)"},
    )
    facility_type = fields.String(required=True, validate=validate.OneOf(values(FacilityType)))
    address = fields.String(allow_none=True, validate=validate.Length(max=255))
    city = fields.String(allow_none=True, validate=validate.Length(max=100))
    state = StateCode(required=True)
    zip_code = ZipCode(allow_none=True)
    phone = Phone(allow_none=True)
    email = EmailAddress(allow_none=True)
    office_manager_id = fields.UUID(allow_none=True)
    mac_jurisdiction = fields.String(
        allow_none=True,
        validate=validate.Regexp(r"^J[0-9A-Z]{1,2}$"),
        metadata={"description": "Medicare A/B MAC; derived from the state when not given"},
    )
    place_of_service = place_of_service(load_default="11")
    active = fields.Boolean(load_default=True)
    created_at = fields.DateTime(dump_only=True)
    updated_at = fields.DateTime(dump_only=True)


class FacilityUpdateSchema(FacilitySchema):
    """Partial update: only the fields sent change."""

    name = fields.String(validate=_NAME)
    facility_type = fields.String(validate=validate.OneOf(values(FacilityType)))
    state = StateCode()
    place_of_service = place_of_service()
    active = fields.Boolean()


class FacilityQuerySchema(Schema):
    organization_id = fields.UUID()
    facility_type = fields.String(validate=validate.OneOf(values(FacilityType)))
    state = StateCode()
    active = fields.Boolean()
    name = fields.String(
        validate=validate.Length(min=1, max=255),
        metadata={"description": "case-insensitive substring of the name"},
    )
    sort = fields.String(
        load_default="name",
        validate=validate.OneOf(list(SORTS)),
    )
