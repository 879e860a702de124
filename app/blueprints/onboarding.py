"""Organization onboarding steps and the provider onboarding checklist."""

from __future__ import annotations

import uuid

from flask.views import MethodView

from app import clock
from app.blueprints.lookups import organization_or_404, provider_or_404
from app.domain import checklist, onboarding
from app.errors import abort
from app.extensions import db
from app.models.enums import OnboardingStep
from app.permissions import (
    FOLLOW_ORGANIZATION,
    SEE_PROVIDERS,
    Permission,
    authenticated,
    requires,
)
from app.request_body import Blueprint
from app.schemas.onboarding import ChecklistSchema, OnboardingSchema
from app.tenancy.request import current_context

blp = Blueprint(
    "onboarding",
    __name__,
    url_prefix="/api/v1",
    description="Onboarding: the nine organization steps from registration to go-live, and "
    "each provider's eight-item checklist, derived from their data.",
)


def _step(name: str) -> OnboardingStep:
    try:
        return OnboardingStep(name)
    except ValueError:
        abort(404, message=f"no onboarding step {name!r}")


@blp.route("/admin/organizations/<uuid:organization_id>/onboarding")
class OrganizationOnboarding(MethodView):
    @authenticated()
    @requires(*FOLLOW_ORGANIZATION)
    @blp.response(200, OnboardingSchema)
    def get(self, organization_id: uuid.UUID) -> onboarding.Progress:
        """Steps with their status, who completed each and when, percent complete and
        the next step. Data-backed steps complete themselves."""
        organization = organization_or_404(organization_id, in_scope=True)
        return onboarding.progress(db.session, organization)


@blp.route("/admin/organizations/<uuid:organization_id>/onboarding/steps/<string:step>/complete")
class CompleteStep(MethodView):
    @authenticated()
    @requires(Permission.MANAGE_FACILITIES)
    @blp.response(200, OnboardingSchema)
    @blp.alt_response(409, description="out of order, already complete, or data-backed")
    def post(self, organization_id: uuid.UUID, step: str) -> onboarding.Progress:
        """Complete a manual step (training and certification, go-live) once every earlier
        step is complete; going live activates the organization."""
        organization = organization_or_404(organization_id, in_scope=True)
        return onboarding.complete(
            db.session, current_context(), organization, _step(step), clock.now()
        )


@blp.route("/admin/organizations/<uuid:organization_id>/onboarding/steps/<string:step>/reopen")
class ReopenStep(MethodView):
    @authenticated()
    @requires(Permission.MANAGE_FACILITIES)
    @blp.response(200, OnboardingSchema)
    @blp.alt_response(409, description="not complete, data-backed, or the organization is live")
    def post(self, organization_id: uuid.UUID, step: str) -> onboarding.Progress:
        """Reopen a manual step (not after go-live)."""
        organization = organization_or_404(organization_id, in_scope=True)
        return onboarding.reopen(db.session, current_context(), organization, _step(step))


@blp.route("/me/onboarding")
class MyChecklist(MethodView):
    @authenticated()
    @blp.response(200, ChecklistSchema)
    def get(self) -> checklist.Checklist:
        """Your provider onboarding checklist, with your primary facility as its ninth
        item: choose one (`POST /api/v1/me/primary-facility`) when you work at several
        facilities and none is primary."""
        user_id = current_context().user_id
        assert user_id is not None
        return checklist.checklist(db.session, user_id, clock.today(), own=True)


@blp.route("/admin/providers/<uuid:provider_id>/onboarding")
class ProviderChecklist(MethodView):
    @authenticated()
    @requires(*SEE_PROVIDERS)
    @blp.response(200, ChecklistSchema)
    def get(self, provider_id: uuid.UUID) -> checklist.Checklist:
        """A provider's onboarding checklist (assignments as this organization sees them)."""
        provider = provider_or_404(provider_id)
        return checklist.checklist(db.session, provider.id, clock.today())
