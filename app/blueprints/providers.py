"""Providers of an organization and their facility assignments."""

from __future__ import annotations

import uuid
from typing import Any

from flask.views import MethodView

from app.blueprints.lookups import assignment_or_404, facility_for_field, provider_or_404
from app.domain import assignments, providers
from app.domain.errors import NotFound
from app.domain.queries import Rows
from app.extensions import db
from app.pagination import SelectPage
from app.permissions import (
    SEE_PROVIDERS,
    SUPERVISE_PROVIDERS,
    authenticated,
    requires,
    sees_personal_contact,
)
from app.request_body import Blueprint
from app.schemas.providers import (
    AssignFacilitySchema,
    AssignmentSchema,
    EndAssignmentSchema,
    ProviderQuerySchema,
    ProviderSchema,
)
from app.tenancy.request import current_context

blp = Blueprint(
    "providers",
    __name__,
    url_prefix="/api/v1/admin/providers",
    description="Providers as each organization sees them: its members and its own "
    "assignments, never those at other organizations.",
)


@blp.route("")
class Providers(MethodView):
    @authenticated()
    @requires(*SEE_PROVIDERS)
    @blp.arguments(ProviderQuerySchema, location="query")
    @blp.response(200, ProviderSchema(many=True))
    @blp.paginate(SelectPage)
    def get(self, filters: dict[str, Any]) -> Rows:
        """List providers (paginated; filter by organization, facility, status; search by
        name or NPI). MSC admins list across organizations, one row per membership."""
        context = current_context()
        return providers.list_providers(
            context, filters, with_contact=sees_personal_contact(context)
        )


@blp.route("/<uuid:provider_id>")
class Provider(MethodView):
    @authenticated()
    @requires(*SEE_PROVIDERS)
    @blp.response(200, ProviderSchema)
    def get(self, provider_id: uuid.UUID) -> Any:
        """One provider, as in the list: their membership in the caller's organization,
        or the first in the caller's scope when they are not a member of it."""
        context = current_context()
        found = providers.provider_view(
            db.session, provider_id, context, with_contact=sees_personal_contact(context)
        )
        if found is None:
            raise NotFound("provider not found")
        return found


@blp.route("/<uuid:provider_id>/facilities")
class ProviderFacilities(MethodView):
    @authenticated()
    @requires(*SEE_PROVIDERS)
    @blp.response(200, AssignmentSchema(many=True))
    @blp.paginate(SelectPage)
    def get(self, provider_id: uuid.UUID) -> Rows:
        """The provider's assignments that the caller's organization holds."""
        provider = provider_or_404(provider_id)
        return providers.assignments_of(provider.id, current_context())


@blp.route("/<uuid:provider_id>/assign-facility")
class AssignFacility(MethodView):
    @authenticated()
    @requires(*SUPERVISE_PROVIDERS)
    @blp.arguments(AssignFacilitySchema)
    @blp.response(201, AssignmentSchema)
    @blp.alt_response(
        409,
        description="already assigned to this facility, the primary assignment changed "
        "meanwhile, or the provider is excluded in the organization (an exclusion list match)",
    )
    def post(self, data: dict[str, Any], provider_id: uuid.UUID) -> Any:
        """Assign the provider to a facility (or activate their pending assignment there).

        `is_primary` makes it their one primary facility, demoting the previous one in
        the same transaction. A provider with a single active assignment has it as
        primary automatically."""
        provider = provider_or_404(provider_id)
        facility = facility_for_field(data["facility_id"])
        assignment = assignments.assign(
            db.session,
            provider.id,
            facility,
            is_primary=data["is_primary"],
            start_date=data["start_date"],
        )
        return providers.assignment_view(db.session, assignment)


@blp.route("/<uuid:provider_id>/assignments/<uuid:assignment_id>/end")
class EndAssignment(MethodView):
    @authenticated()
    @requires(*SUPERVISE_PROVIDERS)
    @blp.arguments(EndAssignmentSchema)
    @blp.response(200, AssignmentSchema)
    @blp.alt_response(409, description="the assignment has already ended")
    def post(self, data: dict[str, Any], provider_id: uuid.UUID, assignment_id: uuid.UUID) -> Any:
        """End an assignment on its end date (today by default, or a day to come; the
        assignment is in force up to, not including, that day). Ended today, it becomes
        inactive now, kept as history; a later date is kept and the assignment ends on
        that day. Ending the provider's primary assignment makes their only other active
        one primary, if they have exactly one."""
        provider = provider_or_404(provider_id)
        assignment = assignment_or_404(provider, assignment_id)
        assignments.end(db.session, assignment, data["end_date"])
        return providers.assignment_view(db.session, assignment)


@blp.route("/<uuid:provider_id>/assignments/<uuid:assignment_id>/make-primary")
class MakePrimaryAssignment(MethodView):
    @authenticated()
    @requires(*SUPERVISE_PROVIDERS)
    @blp.response(200, AssignmentSchema)
    @blp.alt_response(
        409, description="the assignment is not active, or the primary one changed meanwhile"
    )
    def post(self, provider_id: uuid.UUID, assignment_id: uuid.UUID) -> Any:
        """Make an active assignment the provider's one primary facility, in place of the
        one they had, here or at another organization (which sees only that its
        assignment is no longer primary)."""
        provider = provider_or_404(provider_id)
        assignment = assignment_or_404(provider, assignment_id)
        assignments.make_primary(db.session, assignment)
        return providers.assignment_view(db.session, assignment)
