from __future__ import annotations

from typing import Any, ClassVar

from marshmallow import fields, validate

from app.domain import onboarding
from app.domain.organizations import SORTS
from app.models.enums import OnboardingStatus, OrganizationStatus, OrganizationType, values
from app.schemas.base import Schema
from app.schemas.fields import EmailAddress, Phone, StrictBoolean, TaxId

_NAME = validate.Length(min=1, max=255)


class OrganizationSchema(Schema):
    id = fields.UUID(dump_only=True)
    name = fields.String(required=True, validate=_NAME)
    tax_id = TaxId(allow_none=True)
    organization_type = fields.String(
        required=True, validate=validate.OneOf(values(OrganizationType))
    )
    primary_contact_name = fields.String(allow_none=True, validate=_NAME)
    primary_contact_email = EmailAddress(allow_none=True)
    primary_contact_phone = Phone(allow_none=True)
    status = fields.String(dump_only=True, metadata={"enum": values(OrganizationStatus)})
    onboarding_status = fields.String(dump_only=True, metadata={"enum": values(OnboardingStatus)})
    msc_representative_id = fields.UUID(allow_none=True)
    parent_organization_id = fields.UUID(allow_none=True)
    require_admin_mfa = StrictBoolean(
        metadata={
            "description": "its organization admins, and those of its child organizations, "
            "must sign in with a second factor (set by its admins or MSC admins)"
        }
    )
    created_at = fields.DateTime(dump_only=True)
    updated_at = fields.DateTime(dump_only=True)
    activated_at = fields.DateTime(dump_only=True, allow_none=True)


class OrganizationInListSchema(OrganizationSchema):
    onboarding_percent_complete = fields.Function(
        lambda organization: onboarding.percent_complete(organization.onboarding_steps_completed),
        dump_only=True,
        metadata={
            "type": "integer",
            "description": "its onboarding steps complete, in whole percent: the"
            " `percent_complete` of its onboarding (and dashboard)",
        },
    )


class OrganizationUpdateSchema(OrganizationSchema):
    """Partial update: only the fields sent change. `status` is for MSC admins."""

    EXAMPLE: ClassVar[dict[str, Any]] = {
        "primary_contact_phone": "+1 512 555 0147",
        "require_admin_mfa": True,
    }

    name = fields.String(validate=_NAME)
    organization_type = fields.String(validate=validate.OneOf(values(OrganizationType)))
    status = fields.String(validate=validate.OneOf(values(OrganizationStatus)))


class OrganizationQuerySchema(Schema):
    status = fields.String(validate=validate.OneOf(values(OrganizationStatus)))
    organization_type = fields.String(validate=validate.OneOf(values(OrganizationType)))
    onboarding_status = fields.String(validate=validate.OneOf(values(OnboardingStatus)))
    parent_organization_id = fields.UUID()
    name = fields.String(
        validate=validate.Length(min=1, max=255),
        metadata={"description": "case-insensitive substring of the name"},
    )
    sort = fields.String(
        load_default="name",
        validate=validate.OneOf(list(SORTS)),
    )


class FirstAdminSchema(Schema):
    email = EmailAddress(required=True)
    name = fields.String(required=True, validate=_NAME)


class OrganizationCreateSchema(OrganizationSchema):
    EXAMPLE: ClassVar[dict[str, Any]] = {
        "name": "Lakeside Health Partners",
        "organization_type": "group_practice",
        "tax_id": "12-3456789",
        "primary_contact_name": "Ada Lovelace",
        "primary_contact_email": "ada.lovelace@lakeside-health.example.com",
        "primary_contact_phone": "+15125550147",
        "first_admin": {
            "email": "grace.hopper@lakeside-health.example.com",
            "name": "Grace Hopper",
        },
    }

    first_admin = fields.Nested(
        FirstAdminSchema,
        load_only=True,
        load_default=None,
        metadata={
            "description": "invite the organization's first admin in the same request: the"
            " invitation email goes out through the outbox, as for any invitation (listed"
            " under /api/v1/admin/invitations)"
        },
    )
