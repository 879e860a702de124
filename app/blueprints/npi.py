"""NPI verification against the NPPES NPI Registry, and NPI lookups for staff.

The registry is optional: when it cannot be reached, verification answers 200 with
`pending` (a worker asks again later) and a lookup answers `unavailable`.
"""

from __future__ import annotations

import uuid
from typing import Any

from flask.views import MethodView

from app import clock
from app.blueprints.lookups import provider_or_404
from app.domain import npi as npi_domain
from app.domain.errors import Invalid
from app.domain.reference import is_valid_npi
from app.extensions import current_settings, db
from app.integrations.nppes import Found, NppesClient
from app.models import User
from app.permissions import SEE_PROVIDERS, authenticated, requires
from app.request_body import Blueprint
from app.schemas.npi import NpiLookupSchema, NpiVerificationSchema
from app.tenancy.request import current_context

blp = Blueprint(
    "npi",
    __name__,
    url_prefix="/api/v1",
    description="NPI verification against the NPPES NPI Registry (cached; never required "
    "to be reachable).",
)


def _verify(user: User) -> dict[str, Any]:
    settings = current_settings()
    verification = npi_domain.verify_user_npi(
        db.session,
        user,
        client=NppesClient.from_settings(settings),
        now=clock.now(),
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
    @authenticated()
    @blp.response(200, NpiVerificationSchema)
    @blp.alt_response(409, description="no NPI on the profile to verify")
    def post(self) -> dict[str, Any]:
        """Verify your NPI against the NPI Registry (409 naming `npi` when you have none).

        `pending` means the registry could not be asked; it is asked again later."""
        user = db.session.get(User, current_context().user_id)
        assert user is not None  # the token's user reaches their own row
        return _verify(user)


@blp.route("/admin/providers/<uuid:provider_id>/npi/verify")
class VerifyProviderNpi(MethodView):
    @authenticated()
    @requires(*SEE_PROVIDERS)
    @blp.response(200, NpiVerificationSchema)
    @blp.alt_response(409, description="no NPI on the provider's profile to verify")
    def post(self, provider_id: uuid.UUID) -> dict[str, Any]:
        """Verify a provider's NPI against the NPI Registry."""
        return _verify(provider_or_404(provider_id))


@blp.route("/npi/<string:npi>")
class NpiLookup(MethodView):
    @authenticated()
    @requires(*SEE_PROVIDERS)
    @blp.response(200, NpiLookupSchema)
    def get(self, npi: str) -> dict[str, Any]:
        """Check an NPI: the offline check digit, then what the registry (or its cached
        answer) says. 422 when the number fails the offline check."""
        if not is_valid_npi(npi):
            raise Invalid(
                "not a valid NPI (10 digits, first 1 or 2, with a valid check digit)",
                field="npi",
            )
        settings = current_settings()
        result = npi_domain.lookup_npi(
            db.session,
            npi,
            client=NppesClient.from_settings(settings),
            now=clock.now(),
            cache_hours=settings.npi_registry_cache_hours,
        )
        return {
            "npi": npi,
            "valid": True,
            "registry_result": result.kind,
            "registry": result.record if isinstance(result, Found) else None,
        }
