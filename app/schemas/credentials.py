from __future__ import annotations

from decimal import Decimal
from typing import Any, ClassVar

from marshmallow import fields, validate

from app import clock
from app.domain import credentials
from app.models import Credential
from app.models.enums import CredentialType, VerificationStatus, values
from app.schemas.base import Schema
from app.schemas.fields import Money, StateCode, Text

DEA_SCHEDULES = ["2", "2N", "3", "3N", "4", "5"]
# What the column holds: NUMERIC(14, 2).
COVERAGE = validate.Range(min=0, max=Decimal("999999999999.99"))


class CredentialSchema(Schema):
    EXAMPLE: ClassVar[dict[str, Any]] = {
        "credential_type": "medical_license",
        "state": "TX",
        "number": "Q4821",
        "issuer": "Texas Medical Board",
        "expiry_date": "2027-08-31",
    }

    id = fields.UUID(dump_only=True)
    user_id = fields.UUID(dump_only=True)
    credential_type = fields.String(required=True, validate=validate.OneOf(values(CredentialType)))
    number = fields.String(
        allow_none=True,
        validate=validate.Length(min=1, max=64),
        metadata={"description": "license, DEA registration, policy or certificate number"},
    )
    state = StateCode(allow_none=True)
    issuer = fields.String(
        allow_none=True,
        validate=validate.Length(min=1, max=255),
        metadata={"description": "licensing board, insurance carrier or certifying board"},
    )
    specialty = fields.String(allow_none=True, validate=validate.Length(min=1, max=255))
    dea_schedules = fields.List(
        fields.String(validate=validate.OneOf(DEA_SCHEDULES)),
        allow_none=True,
        validate=validate.Length(min=1),
    )
    coverage_per_claim = Money(allow_none=True, validate=COVERAGE)
    coverage_aggregate = Money(allow_none=True, validate=COVERAGE)
    effective_date = fields.Date(allow_none=True)
    expiry_date = fields.Date(allow_none=True)
    status = fields.Method(
        "current_status",
        dump_only=True,
        metadata={
            "type": "string",
            "enum": values(VerificationStatus),
            "description": "expired follows from the expiry date",
        },
    )
    days_left = fields.Method("remaining_days", dump_only=True)
    verified_by_id = fields.UUID(dump_only=True)
    verified_at = fields.DateTime(dump_only=True)
    rejection_reason = fields.String(dump_only=True)
    created_at = fields.DateTime(dump_only=True)
    updated_at = fields.DateTime(dump_only=True)

    def current_status(self, credential: Credential) -> str:
        return credentials.status_at(credential, clock.today())

    def remaining_days(self, credential: Credential) -> int | None:
        return credentials.days_left(credential, clock.today())


class CredentialUpdateSchema(CredentialSchema):
    """Partial update by the provider; any change voids an earlier verification."""

    EXAMPLE: ClassVar[dict[str, Any]] = {"number": "Q4821", "expiry_date": "2029-08-31"}

    credential_type = fields.String(dump_only=True)


class RejectionSchema(Schema):
    EXAMPLE: ClassVar[dict[str, Any]] = {
        "reason": "The license number does not match the state board's record."
    }

    reason = Text(required=True, validate=validate.Length(min=3, max=2000))
