"""NPI verification against the NPPES NPI Registry, and NPI lookups for staff.

The registry is optional: when it cannot be reached, verification answers 200 with
`pending` (a worker asks again later) and a lookup answers `unavailable`.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from flask.views import MethodView
from flask_jwt_extended import jwt_required
from flask_smorest import Blueprint
from marshmallow import fields

from app.blueprints.lookups import provider_or_404
from app.config import current_settings
from app.domain import npi as npi_domain
from app.domain.errors import DomainError
from app.domain.reference import is_valid_npi
from app.extensions import db
from app.integrations.nppes import Found, NppesClient
from app.models import User
from app.models.enums import NpiVerification, values
from app.permissions import requires
from app.schemas.base import Schema
from app.tenancy.request import current_context

blp = Blueprint(
    "npi",
    __name__,
    url_prefix="/api/v1",
    description="NPI verification against the NPPES NPI Registry (cached; never required "
    "to be reachable).",
)

# Staff: whoever may see an organization's providers.
STAFF = ("manage-providers", "invite-providers", "manage-facilities")


class RegistryRecordSchema(Schema):
    enumeration_type = fields.String(
        metadata={"description": "NPI-1 individual, NPI-2 organization"}
    )
    name = fields.String(metadata={"description": "as the registry spells it"})
    status = fields.String(allow_none=True, metadata={"description": "A = active"})


class NpiVerificationSchema(Schema):
    npi = fields.String()
    npi_verification = fields.String(metadata={"enum": values(NpiVerification)})
    npi_verified_at = fields.DateTime(allow_none=True)
    registry = fields.Nested(
        RegistryRecordSchema,
        allow_none=True,
        metadata={
            "description": "the registry's record for the number; null when it has "
            "none or could not be asked"
        },
    )
    reason = fields.String(
        allow_none=True, metadata={"description": "why the number is not verified"}
    )


class NpiLookupSchema(Schema):
    npi = fields.String()
    valid = fields.Boolean(metadata={"description": "passes the offline check digit"})
    registry_result = fields.String(metadata={"enum": ["found", "not_found", "unavailable"]})
    registry = fields.Nested(RegistryRecordSchema, allow_none=True)


def _verify(user: User) -> dict[str, Any]:
    settings = current_settings()
    verification = npi_domain.verify_user_npi(
        db.session,
        user,
        client=NppesClient.from_settings(settings),
        now=datetime.now(UTC),
        cache_hours=settings.npi_registry_cache_hours,
    )
    return {
        "npi": verification.npi,
        "npi_verification": verification.npi_verification,
        "npi_verified_at": verification.npi_verified_at,
        "registry": verification.registry,
        "reason": verification.check.reason,
    }


@blp.route("/me/npi/verify")
class VerifyMyNpi(MethodView):
    @jwt_required()
    @blp.response(200, NpiVerificationSchema)
    def post(self) -> dict[str, Any]:
        """Verify your NPI against the NPI Registry (422 naming `npi` when you have none).

        `pending` means the registry could not be asked; it is asked again later."""
        user = db.session.get(User, current_context().user_id)
        assert user is not None  # the token's user reaches their own row
        return _verify(user)


@blp.route("/admin/providers/<uuid:provider_id>/npi/verify")
class VerifyProviderNpi(MethodView):
    @jwt_required()
    @requires(*STAFF)
    @blp.response(200, NpiVerificationSchema)
    def post(self, provider_id: uuid.UUID) -> dict[str, Any]:
        """Verify a provider's NPI against the NPI Registry."""
        return _verify(provider_or_404(provider_id))


@blp.route("/npi/<string:npi>")
class NpiLookup(MethodView):
    @jwt_required()
    @requires(*STAFF)
    @blp.response(200, NpiLookupSchema)
    def get(self, npi: str) -> dict[str, Any]:
        """Check an NPI: the offline check digit, then what the registry (or its cached
        answer) says. 422 when the number fails the offline check."""
        if not is_valid_npi(npi):
            raise DomainError(
                "not a valid NPI (10 digits, first 1 or 2, with a valid check digit)",
                status=422,
                field="npi",
            )
        settings = current_settings()
        result = npi_domain.lookup_npi(
            db.session,
            npi,
            client=NppesClient.from_settings(settings),
            now=datetime.now(UTC),
            cache_hours=settings.npi_registry_cache_hours,
        )
        return {
            "npi": npi,
            "valid": True,
            "registry_result": result.kind,
            "registry": result.record if isinstance(result, Found) else None,
        }
