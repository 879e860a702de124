"""Facilities of an organization, and who works at them."""

from __future__ import annotations

import uuid
from typing import Any

from flask.views import MethodView

from app.blueprints.lookups import facility_or_404, organization_or_404
from app.domain import facilities as rules
from app.domain import providers
from app.domain.queries import Rows
from app.extensions import db
from app.models import Facility
from app.pagination import SelectPage
from app.permissions import (
    RUN_FACILITIES,
    SEE_FACILITIES,
    Permission,
    authenticated,
    requires,
    sees_personal_contact,
)
from app.request_body import Blueprint
from app.schemas.facilities import FacilityQuerySchema, FacilitySchema, FacilityUpdateSchema
from app.schemas.providers import FacilityProviderSchema
from app.tenancy.request import current_context

blp = Blueprint(
    "facilities",
    __name__,
    url_prefix="/api/v1/admin",
    description="Facilities (hospitals, clinics, wound centers, skilled nursing). Office "
    "managers reach only the facilities they manage.",
)


@blp.route("/organizations/<uuid:organization_id>/facilities")
class OrganizationFacilities(MethodView):
    @authenticated()
    @requires(Permission.MANAGE_FACILITIES)
    @blp.arguments(FacilitySchema)
    @blp.response(201, FacilitySchema)
    def post(self, data: dict[str, Any], organization_id: uuid.UUID) -> Facility:
        """Add a facility to an organization.

        The MAC jurisdiction follows from the state unless given; place of service
        defaults to 11 (office)."""
        organization = organization_or_404(organization_id, in_scope=True)
        return rules.create_facility(db.session, organization, data)


@blp.route("/facilities")
class Facilities(MethodView):
    @authenticated()
    @requires(*SEE_FACILITIES)
    @blp.arguments(FacilityQuerySchema, location="query")
    @blp.response(200, FacilitySchema(many=True))
    @blp.paginate(SelectPage)
    def get(self, filters: dict[str, Any]) -> Rows:
        """List facilities (paginated; filter by organization, type, state, active, name)."""
        return rules.list_facilities(current_context(), filters)


@blp.route("/facilities/<uuid:facility_id>")
class FacilityById(MethodView):
    @authenticated()
    @requires(*SEE_FACILITIES)
    @blp.response(200, FacilitySchema)
    def get(self, facility_id: uuid.UUID) -> Facility:
        """Get one facility."""
        return facility_or_404(facility_id)

    @authenticated()
    @requires(*RUN_FACILITIES)
    @blp.arguments(FacilityUpdateSchema)
    @blp.response(200, FacilitySchema)
    def put(self, changes: dict[str, Any], facility_id: uuid.UUID) -> Facility:
        """Update a facility (only the fields sent). Office managers change its contact
        details and address, not its identity, type, manager or active flag."""
        facility = facility_or_404(facility_id)
        return rules.update_facility(db.session, current_context(), facility, changes)


@blp.route("/facilities/<uuid:facility_id>/providers")
class FacilityProviders(MethodView):
    @authenticated()
    @requires(*SEE_FACILITIES)
    @blp.response(200, FacilityProviderSchema(many=True))
    @blp.paginate(SelectPage)
    def get(self, facility_id: uuid.UUID) -> Rows:
        """The providers assigned to a facility, current assignments first."""
        facility = facility_or_404(facility_id)
        return providers.providers_at(
            facility, with_contact=sees_personal_contact(current_context())
        )
