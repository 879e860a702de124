from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any, ClassVar

from marshmallow import fields, validate

from app import clock
from app.domain import credentials
from app.models import Credential
from app.models.enums import CredentialType, VerificationStatus, values
from app.schemas.base import Schema
from app.schemas.fields import DeaNumber, Money, StateCode, Text

DEA_SCHEDULES = ["2", "2N", "3", "3N", "4", "5"]
# What the column holds: NUMERIC(14, 2).


class CredentialSchema(Schema):
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
    coverage_per_claim = Money(allow_none=True, column=Credential.__table__.c.coverage_per_claim)
    coverage_aggregate = Money(allow_none=True, column=Credential.__table__.c.coverage_aggregate)
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
    days_left = fields.Method(
        "remaining_days",
        dump_only=True,
        metadata={
            "type": "integer",
            "nullable": True,
            "description": "days until the expiry date, negative once past; null without one",
        },
    )
    verified_by_id = fields.UUID(dump_only=True, allow_none=True)
    verified_at = fields.DateTime(dump_only=True, allow_none=True)
    rejection_reason = Text(dump_only=True, allow_none=True)
    created_at = fields.DateTime(dump_only=True)
    updated_at = fields.DateTime(dump_only=True)

    def current_status(self, credential: Credential) -> str:
        return credentials.status_at(credential, clock.today())

    def remaining_days(self, credential: Credential) -> int | None:
        return credentials.days_left(credential, clock.today())


# A credential of each kind as a provider adds it (its credential_type aside).
EXAMPLES: dict[CredentialType, dict[str, Any]] = {
    CredentialType.MEDICAL_LICENSE: {
        "state": "TX",
        "number": "Q4821",
        "issuer": "Texas Medical Board",
        "expiry_date": "2027-08-31",
    },
    CredentialType.DEA_REGISTRATION: {
        "state": "TX",
        "number": "AP5836727",
        "dea_schedules": ["2", "2N", "3", "3N", "4", "5"],
        "expiry_date": "2028-03-31",
    },
    CredentialType.MALPRACTICE_INSURANCE: {
        "issuer": "The Doctors Company",
        "number": "TDC-2291-7734",
        "coverage_per_claim": "1000000.00",
        "coverage_aggregate": "3000000.00",
        "effective_date": "2026-01-01",
        "expiry_date": "2026-12-31",
    },
    CredentialType.BOARD_CERTIFICATION: {
        "issuer": "American Board of Internal Medicine",
        "specialty": "Internal Medicine",
        "number": "284511",
        "expiry_date": "2030-12-31",
    },
}

# Fields of a kind that are more than CredentialSchema's, as the domain checks them.
_OF_KIND: dict[CredentialType, dict[str, fields.Field[Any]]] = {
    CredentialType.DEA_REGISTRATION: {
        "number": DeaNumber(metadata={"description": "DEA registration number"}),
    },
}


def _variant(kind: CredentialType) -> type[Schema]:
    """A credential of one kind as the provider adds it: the fields the domain requires
    of the kind (credentials.REQUIRED, the table the API enforces) required and not
    null, and the type that one kind. For the OpenAPI document and the tests: the API
    loads every kind with CredentialSchema, then applies that table."""
    of_kind = _OF_KIND.get(kind, {})
    overrides: dict[str, fields.Field[Any]] = {
        **{name: copy.copy(field) for name, field in of_kind.items()},
        "credential_type": fields.String(required=True, validate=validate.OneOf([kind.value])),
    }
    for name in credentials.REQUIRED[kind]:
        field = copy.copy(of_kind.get(name) or CredentialSchema._declared_fields[name])
        field.required, field.allow_none = True, False
        overrides[name] = field
    title = "".join(word.capitalize() for word in kind.value.split("_"))
    variant = CredentialSchema.from_dict(overrides, name=f"{title}CredentialSchema")
    assert issubclass(variant, CredentialSchema)  # from_dict derives from the class
    variant.EXAMPLE = {"credential_type": kind.value, **EXAMPLES[kind]}
    return variant


class CredentialCreateSchema(CredentialSchema):
    """A new credential, of any kind: the document shows it as one of the kinds, each
    with the fields it requires."""

    VARIANTS: ClassVar[Mapping[str, type[Schema]]] = {
        kind.value: _variant(kind) for kind in CredentialType
    }
    DISCRIMINATOR = "credential_type"
    EXAMPLE = VARIANTS[CredentialType.MEDICAL_LICENSE].EXAMPLE


class CredentialUpdateSchema(CredentialSchema):
    """Partial update by the provider; any change voids an earlier verification."""

    EXAMPLE: ClassVar[dict[str, Any]] = {"number": "Q4821", "expiry_date": "2029-08-31"}

    credential_type = fields.String(dump_only=True)


class RejectionSchema(Schema):
    EXAMPLE: ClassVar[dict[str, Any]] = {
        "reason": "The license number does not match the state board's record."
    }

    reason = Text(required=True, validate=validate.Length(min=3, max=2000))
