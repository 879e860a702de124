"""Compliance scores, their breakdown, and what expires soon."""

from __future__ import annotations

import uuid
from typing import Any

from flask.views import MethodView

from app import clock
from app.blueprints.lookups import organization_or_404, provider_or_404
from app.domain import compliance, queries
from app.errors import abort
from app.extensions import db
from app.permissions import SEE_COMPLIANCE, authenticated, requires
from app.request_body import Blueprint
from app.schemas.compliance import (
    ComplianceQuerySchema,
    ExpirationQuerySchema,
    ExpirationSchema,
    OrganizationComplianceSchema,
    ProviderComplianceSchema,
)
from app.tenancy.request import current_context

blp = Blueprint(
    "compliance",
    __name__,
    url_prefix="/api/v1",
    description="Compliance scores (0-100) per provider and organization. "
    + (compliance.__doc__ or "").split("\n", 1)[1].strip(),
)


def _scope(query: dict[str, Any]) -> tuple[uuid.UUID, list[uuid.UUID]]:
    """The organization asked about, and the organizations its figures cover."""
    organization_id = query.get("organization_id") or current_context().organization_id
    if organization_id is None:
        abort(
            422, message="name an organization", errors={"query": {"organization_id": ["required"]}}
        )
    organization = organization_or_404(organization_id, in_scope=True)
    return organization.id, queries.scope_ids(
        db.session, organization, include_descendants=query["include_descendants"]
    )


@blp.route("/admin/compliance")
class OrganizationCompliance(MethodView):
    @authenticated()
    @requires(*SEE_COMPLIANCE)
    @blp.arguments(ComplianceQuerySchema, location="query")
    @blp.response(200, OrganizationComplianceSchema)
    def get(self, query: dict[str, Any]) -> compliance.OrganizationCompliance:
        """The organization's score and training completion rate, its providers, riskiest
        first (filter: expiring within N days, a missing item, a facility), and its
        document score: with its child organizations unless `include_descendants=false`."""
        return compliance.organization_compliance(
            db.session,
            *_scope(query),
            clock.today(),
            expiring_within_days=query.get("expiring_within_days"),
            missing_item=query.get("missing"),
            facility_id=query.get("facility_id"),
        )


@blp.route("/admin/compliance/expirations")
class Expirations(MethodView):
    @authenticated()
    @requires(*SEE_COMPLIANCE)
    @blp.arguments(ExpirationQuerySchema, location="query")
    @blp.response(200, ExpirationSchema(many=True))
    def get(self, query: dict[str, Any]) -> list[compliance.Expiration]:
        """Credentials and organization documents expiring within `within_days` (default
        90) or already expired, soonest first: with the child organizations' unless
        `include_descendants=false`."""
        _, scope = _scope(query)
        return compliance.expirations(db.session, scope, clock.today(), query["within_days"])


@blp.route("/admin/providers/<uuid:provider_id>/compliance")
class ProviderCompliance(MethodView):
    @authenticated()
    @requires(*SEE_COMPLIANCE)
    @blp.response(200, ProviderComplianceSchema)
    def get(self, provider_id: uuid.UUID) -> compliance.ProviderCompliance:
        """One provider's score and breakdown."""
        provider = provider_or_404(provider_id)
        today = clock.today()
        facts = compliance.load_facts(db.session, [provider.id], today)[provider.id]
        return compliance.evaluate(facts, today)


@blp.route("/me/compliance")
class MyCompliance(MethodView):
    @authenticated()
    @blp.response(200, ProviderComplianceSchema)
    def get(self) -> compliance.ProviderCompliance:
        """Your own score and what is missing or expiring."""
        user_id = current_context().user_id
        assert user_id is not None
        today = clock.today()
        facts = compliance.load_facts(db.session, [user_id], today)[user_id]
        return compliance.evaluate(facts, today)
