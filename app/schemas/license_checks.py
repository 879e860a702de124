from __future__ import annotations

from typing import Any, ClassVar

from marshmallow import fields, validate

from app.models.license_check import DECISIONS, OUTCOMES, REVIEW_STATUSES
from app.schemas.base import Schema
from app.schemas.fields import Text


class RegistryLicenseSchema(Schema):
    """One taxonomy of the registry's record, as it answered."""

    code = fields.String(allow_none=True, metadata={"example": "207Q00000X"})
    desc = fields.String(allow_none=True, metadata={"example": "Family Medicine"})
    license = fields.String(allow_none=True, metadata={"example": "Q1234"})
    state = fields.String(allow_none=True, metadata={"example": "TX"})
    primary = fields.Boolean(allow_none=True)


class LicenseCheckSchema(Schema):
    """A medical license checked against the NPPES registry's record of the provider's
    NPI, for one organization: the evidence, and the review of a mismatch."""

    id = fields.UUID()
    organization_id = fields.UUID()
    credential_id = fields.UUID()
    user_id = fields.UUID(metadata={"description": "the provider"})
    checked_at = fields.DateTime()
    npi = fields.String(allow_none=True, metadata={"example": "1234567893"})
    state = fields.String(metadata={"description": "the license's state as checked"})
    outcome = fields.String(
        metadata={
            "enum": OUTCOMES,
            "description": "match: the registry lists the number in the state;"
            " number_not_listed: it lists no such number; state_not_listed: it lists the"
            " number in other states only; pending: no verified NPI or no registry answer"
            " yet (checked again when it comes). Numbers compare without case, spaces,"
            " punctuation and leading zeros.",
        }
    )
    detail = fields.String(allow_none=True, metadata={"description": "why, in words"})
    registry_fetched_at = fields.DateTime(
        allow_none=True, metadata={"description": "the date of the registry answer checked"}
    )
    registry_licenses = fields.List(
        fields.Nested(RegistryLicenseSchema),
        metadata={"description": "what that answer listed, per taxonomy"},
    )
    review_status = fields.String(
        allow_none=True,
        metadata={
            "enum": REVIEW_STATUSES,
            "description": "set on a mismatch only: open until an admin accepts it or"
            " rejects the credential; superseded by a later check of the credential",
        },
    )
    decided_at = fields.DateTime(allow_none=True)
    decided_by_id = fields.UUID(allow_none=True)
    decision_reason = fields.String(allow_none=True)


class LicenseCheckQuerySchema(Schema):
    review_status = fields.String(
        load_default="open",
        validate=validate.OneOf(REVIEW_STATUSES),
        metadata={"description": "default: open (the queue)"},
    )


class LicenseCheckDecisionSchema(Schema):
    EXAMPLE: ClassVar[dict[str, Any]] = {
        "decision": "accepted",
        "reason": "The Texas board lists the license as active; the registry has not caught"
        " up with the renewal.",
    }

    decision = fields.String(
        required=True,
        validate=validate.OneOf(DECISIONS),
        metadata={
            "description": "accepted: the license stands; rejected: the credential is"
            " rejected with the reason, as the organization's verification decision"
        },
    )
    reason = Text(required=True, validate=validate.Length(min=3, max=2000))
