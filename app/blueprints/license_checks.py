"""The license cross-check's evidence and review queue: each medical license checked
against the NPPES registry's record of the provider's NPI (app/domain/license_checks.py),
per organization."""

from __future__ import annotations

import uuid
from typing import Any

from flask.views import MethodView
from sqlalchemy import Select

from app import clock
from app.blueprints.lookups import organization_or_404, provider_or_404
from app.domain import license_checks as rules
from app.domain.errors import NotFound
from app.extensions import db
from app.models import Credential, LicenseCheck
from app.pagination import SelectPage
from app.permissions import VET_PROVIDERS, authenticated, requires
from app.request_body import Blueprint
from app.schemas.license_checks import (
    LicenseCheckDecisionSchema,
    LicenseCheckQuerySchema,
    LicenseCheckSchema,
)
from app.tenancy.request import current_context

blp = Blueprint(
    "license_checks",
    __name__,
    url_prefix="/api/v1/admin",
    description="License cross-check: each medical license a provider enters, against "
    "the licenses and states the NPPES registry lists for their NPI. A match is kept as "
    "dated evidence; a number or state the registry does not show waits in the "
    "organization's review queue for an admin's decision.",
)


@blp.route("/organizations/<uuid:organization_id>/license-checks")
class OrganizationLicenseChecks(MethodView):
    @authenticated()
    @requires(*VET_PROVIDERS)
    @blp.arguments(LicenseCheckQuerySchema, location="query")
    @blp.response(200, LicenseCheckSchema(many=True))
    @blp.paginate(SelectPage)
    def get(self, filters: dict[str, Any], organization_id: uuid.UUID) -> Select[LicenseCheck]:
        """The organization's review queue: the mismatches awaiting a decision, oldest
        first (paginated; `review_status` lists the decided or superseded ones)."""
        organization = organization_or_404(organization_id, in_scope=True)
        return rules.queue(organization.id, filters["review_status"])


@blp.route("/providers/<uuid:provider_id>/credentials/<uuid:credential_id>/license-checks")
class CredentialLicenseChecks(MethodView):
    @authenticated()
    @requires(*VET_PROVIDERS)
    @blp.response(200, LicenseCheckSchema(many=True))
    @blp.paginate(SelectPage)
    def get(self, provider_id: uuid.UUID, credential_id: uuid.UUID) -> Select[LicenseCheck]:
        """A license's checks for the organizations you act for, newest first: the
        evidence, with the date of each registry answer."""
        provider = provider_or_404(provider_id)
        credential = db.session.get(Credential, credential_id)
        if credential is None or credential.user_id != provider.id:
            raise NotFound("credential not found")
        return rules.checks_of(current_context(), credential.id)


@blp.route("/license-checks/<uuid:check_id>/decision")
class LicenseCheckDecision(MethodView):
    @authenticated()
    @requires(*VET_PROVIDERS)
    @blp.arguments(LicenseCheckDecisionSchema)
    @blp.response(200, LicenseCheckSchema)
    @blp.alt_response(409, description="the check is not an open review item")
    def post(self, data: dict[str, Any], check_id: uuid.UUID) -> LicenseCheck:
        """Decide an open mismatch: accept it with the reason (the registry is out of
        date, say), or reject the credential with it (the organization's verification
        decision, which the provider sees). Recorded in the organization's audit trail."""
        context = current_context()
        check = rules.get_check(db.session, context, check_id)
        return rules.decide(
            db.session, context, check, data["decision"], data["reason"], clock.now()
        )
