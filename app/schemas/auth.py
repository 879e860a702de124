from __future__ import annotations

from typing import Any, ClassVar

from marshmallow import fields, validate

from app.models.enums import Role, values
from app.schemas.base import Schema
from app.schemas.mfa import CodeSchema, ProofSchema, recovery_codes_field
from app.schemas.passwords import EXAMPLE_PASSWORD
from app.schemas.representatives import RepresentedOrganizationSchema

# An MFA token for the examples: made up, no login's (bandit B105).
_EXAMPLE_MFA_TOKEN = "MTvDBcxCzCJG7-bZK1o26LpX2iv349J6AFxEWthjI6A"  # nosec B105


class LoginSchema(Schema):
    EXAMPLE: ClassVar[dict[str, Any]] = {
        "email": "ada.lovelace@lakeside-health.example.com",
        "password": EXAMPLE_PASSWORD,
    }

    email = fields.String(required=True, validate=validate.Length(min=3, max=320))
    password = fields.String(
        required=True, load_only=True, validate=validate.Length(min=1, max=1024)
    )
    organization_id = fields.UUID(
        load_default=None,
        metadata={"description": "organization to act for; defaults to the first membership"},
    )


class SwitchOrganizationSchema(Schema):
    EXAMPLE: ClassVar[dict[str, Any]] = {"organization_id": "8fd2c214-77b6-4be9-b91b-1a0c045bc7a5"}

    organization_id = fields.UUID(required=True)


class TokenSchema(Schema):
    access_token = fields.String(required=True)
    refresh_token = fields.String(
        metadata={
            "description": "absent when the request asked for `X-Token-Delivery: cookie`: "
            "then it is set as the HttpOnly refresh cookie instead"
        }
    )
    token_type = fields.Constant("Bearer", metadata={"type": "string", "enum": ["Bearer"]})
    expires_in = fields.Integer(metadata={"description": "access token lifetime, seconds"})
    organization_id = fields.UUID(allow_none=True)


class MfaChallengeSchema(Schema):
    """A login whose password checked out and that needs a second factor: no tokens yet,
    an MFA token for the next step instead."""

    mfa_required = fields.Boolean(
        metadata={
            "description": "present (true) when the user has multi-factor sign-in on: send "
            "the MFA token with a code to /api/v1/auth/login/mfa"
        }
    )
    mfa_enrollment_required = fields.Boolean(
        metadata={
            "description": "present (true) when a rule requires a second factor the user "
            "has not set up: enrol with the MFA token at /api/v1/auth/login/mfa/enrollment, "
            "then confirm at .../enrollment/confirm, which signs in"
        }
    )
    mfa_requirement = fields.String(
        metadata={"description": "with mfa_enrollment_required: the rule that requires it"}
    )
    mfa_token = fields.String(
        required=True,
        metadata={
            "description": "for the login's next steps only, until they sign in or it "
            "expires; it is no access token"
        },
    )
    expires_in = fields.Integer(metadata={"description": "MFA token lifetime, seconds"})


class MfaTokenSchema(Schema):
    EXAMPLE: ClassVar[dict[str, Any]] = {"mfa_token": _EXAMPLE_MFA_TOKEN}

    mfa_token = fields.String(
        required=True,
        validate=validate.Length(min=1, max=128),
        metadata={"description": "the MFA token the login answered"},
    )


class MfaLoginSchema(MfaTokenSchema, ProofSchema):
    """The second step of a login: its MFA token and the second factor."""

    EXAMPLE: ClassVar[dict[str, Any]] = {
        "mfa_token": _EXAMPLE_MFA_TOKEN,
        "code": "492039",
    }


class MfaEnrollmentConfirmSchema(MfaTokenSchema, CodeSchema):
    """The end of a login that had to set up its second factor first."""

    EXAMPLE: ClassVar[dict[str, Any]] = {
        "mfa_token": _EXAMPLE_MFA_TOKEN,
        "code": "492039",
    }


class EnrolledTokenSchema(TokenSchema):
    recovery_codes = recovery_codes_field()


class MembershipSchema(Schema):
    organization_id = fields.UUID()
    organization_name = fields.String()
    role = fields.String(metadata={"enum": values(Role)})


class MeSchema(Schema):
    id = fields.UUID()
    email = fields.String()
    name = fields.String()
    phone = fields.String(allow_none=True)
    npi = fields.String(allow_none=True)
    date_of_birth = fields.Date(allow_none=True)
    is_msc_admin = fields.Boolean()
    organization_id = fields.UUID(allow_none=True, metadata={"description": "active organization"})
    role = fields.String(
        allow_none=True, metadata={"description": "role in the active organization"}
    )
    permissions = fields.List(fields.String())
    memberships = fields.List(fields.Nested(MembershipSchema))
    represented_organizations = fields.List(
        fields.Nested(RepresentedOrganizationSchema),
        metadata={
            "description": "for an MSC representative: the organizations they represent, by"
            " name (they may also act for these organizations' descendants)"
        },
    )
