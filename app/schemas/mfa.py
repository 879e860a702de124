from __future__ import annotations

from typing import Any, ClassVar

from marshmallow import fields, validate

from app.schemas.base import Schema

_CODE = validate.Regexp(r"^[0-9]{6}$", error="a code is the 6 digits the authenticator shows")


def _code(**kwargs: Any) -> fields.String:
    return fields.String(
        validate=_CODE,
        metadata={"description": "the 6-digit code the authenticator app shows now"},
        **kwargs,
    )


class CodeSchema(Schema):
    EXAMPLE: ClassVar[dict[str, Any]] = {"code": "492039"}

    code = _code(required=True)


class ProofSchema(Schema):
    """A second factor: a code from the authenticator, or one of the recovery codes."""

    EXAMPLE: ClassVar[dict[str, Any]] = {"code": "492039"}
    EXACTLY_ONE_OF = ("code", "recovery_code")

    # Neither is nullable: the one not sent is left out (EXACTLY_ONE_OF).
    code = _code()
    recovery_code = fields.String(
        validate=validate.Length(min=1, max=64),
        metadata={"description": "one of the recovery codes, instead of a code; each works once"},
    )


class MfaStatusSchema(Schema):
    enabled = fields.Boolean()
    enabled_at = fields.DateTime(allow_none=True)
    enrollment_pending = fields.Boolean(
        metadata={"description": "an enrollment waits for its confirming code"}
    )
    recovery_codes_left = fields.Integer()
    required_by = fields.String(
        allow_none=True,
        metadata={"description": "the rule that requires a second factor of the user, if any"},
    )


class EnrollmentSchema(Schema):
    otpauth_uri = fields.String(
        metadata={"description": "the otpauth:// URI an authenticator app reads (issuer MSC)"}
    )
    secret = fields.String(metadata={"description": "the secret, base32, to type in by hand"})
    qr_svg = fields.String(metadata={"description": "the URI as a QR code, an SVG document"})


def recovery_codes_field() -> fields.List[str]:
    return fields.List(
        fields.String(),
        metadata={
            "description": "one-time codes that stand in for the authenticator, shown this "
            "once: keep them somewhere safe"
        },
    )


class RecoveryCodesSchema(Schema):
    recovery_codes = recovery_codes_field()
