from __future__ import annotations

from typing import Any, ClassVar

from marshmallow import fields, validate

from app.models.enums import AssignmentStatus, NpiVerification, values
from app.schemas.base import Schema
from app.schemas.fields import DateOfBirth, Npi, Phone, StrictBoolean


class ProviderSchema(Schema):
    """A provider as one organization sees them."""

    id = fields.UUID()
    name = fields.String()
    email = fields.String()
    npi = fields.String(allow_none=True)
    phone = fields.String(
        allow_none=True,
        metadata={"description": "personal phone; shown to organization admins and MSC only"},
    )
    date_of_birth = fields.Date(
        allow_none=True,
        metadata={
            "description": "shown to organization admins and MSC only, who adjudicate "
            "exclusion screening's candidates by it"
        },
    )
    organization_id = fields.UUID()
    status = fields.String(
        metadata={
            "enum": values(AssignmentStatus),
            "description": "active: an active assignment; pending: only pending ones",
        }
    )
    primary_facility_id = fields.UUID(
        allow_none=True, metadata={"description": "set when the primary facility is here"}
    )


class ProviderQuerySchema(Schema):
    organization_id = fields.UUID()
    facility_id = fields.UUID()
    status = fields.String(validate=validate.OneOf(values(AssignmentStatus)))
    search = fields.String(
        validate=validate.Length(min=1, max=255),
        metadata={"description": "substring of the name, or the start of the NPI"},
    )


class AssignmentSchema(Schema):
    id = fields.UUID()
    user_id = fields.UUID()
    organization_id = fields.UUID()
    organization_name = fields.String()
    facility_id = fields.UUID()
    facility_name = fields.String()
    is_primary = fields.Boolean()
    status = fields.String(metadata={"enum": values(AssignmentStatus)})
    start_date = fields.Date()
    end_date = fields.Date(allow_none=True)


class FacilityProviderSchema(Schema):
    """Someone assigned to a facility, with that assignment."""

    id = fields.UUID()
    name = fields.String()
    email = fields.String()
    npi = fields.String(allow_none=True)
    phone = fields.String(allow_none=True)
    assignment_id = fields.UUID()
    is_primary = fields.Boolean()
    status = fields.String(metadata={"enum": values(AssignmentStatus)})
    start_date = fields.Date()
    end_date = fields.Date(allow_none=True)


class AssignFacilitySchema(Schema):
    EXAMPLE: ClassVar[dict[str, Any]] = {
        "facility_id": "20f8ad29-396f-4f7b-8a68-e592ee83261e",
        "is_primary": True,
        "start_date": "2026-02-02",
    }

    facility_id = fields.UUID(required=True)
    is_primary = StrictBoolean(load_default=False)
    start_date = fields.Date(
        load_default=None,
        metadata={"description": "defaults to today; a later date keeps it pending"},
    )


class EndAssignmentSchema(Schema):
    EXAMPLE: ClassVar[dict[str, Any]] = {"end_date": "2027-06-30"}

    end_date = fields.Date(
        load_default=None,
        metadata={
            "description": "the first day the assignment is no longer in force: today (the "
            "default: it ends now) or later (it ends on that day), not before its start date"
        },
    )


class ProfileSchema(Schema):
    EXAMPLE: ClassVar[dict[str, Any]] = {
        "name": "Dr. Jordan Lee",
        "phone": "+14155552671",
        "npi": "1234567893",
        "date_of_birth": "1980-04-17",
    }

    id = fields.UUID(dump_only=True)
    email = fields.String(dump_only=True)
    name = fields.String(validate=validate.Length(min=1, max=255))
    phone = Phone(allow_none=True)
    npi = Npi(allow_none=True)
    npi_verification = fields.String(dump_only=True, metadata={"enum": values(NpiVerification)})
    date_of_birth = DateOfBirth(
        allow_none=True,
        metadata={
            "description": "ISO 8601 date, in the past and not before 1900-01-01; tells two "
            "people of one name apart in exclusion screening"
        },
    )
    dea_not_applicable = StrictBoolean(
        metadata={"description": "no controlled substances prescribed: no DEA needed"}
    )


class PrimaryFacilitySchema(Schema):
    EXAMPLE: ClassVar[dict[str, Any]] = {"assignment_id": "aa890d4a-f177-41f5-a41a-f899b6b4ff7d"}

    assignment_id = fields.UUID(required=True)
