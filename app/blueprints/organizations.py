"""Organizations: the tenants themselves."""

from __future__ import annotations

import uuid
from typing import Any

from flask import Response, jsonify
from flask.views import MethodView
from sqlalchemy import Select

from app.blueprints.invitations import send_invitation
from app.blueprints.lookups import organization_or_404
from app.domain import organizations as rules
from app.domain.hierarchy import hierarchy
from app.extensions import db
from app.models import Organization
from app.models.enums import Role
from app.pagination import SelectPage
from app.permissions import (
    FOLLOW_ORGANIZATION,
    Permission,
    authenticated,
    require_msc_admin,
    requires,
)
from app.request_body import Blueprint
from app.schemas.hierarchy import HierarchyNodeSchema, HierarchyQuerySchema
from app.schemas.organizations import (
    OrganizationCreateSchema,
    OrganizationInListSchema,
    OrganizationQuerySchema,
    OrganizationSchema,
    OrganizationUpdateSchema,
)
from app.tenancy.request import current_context

blp = Blueprint(
    "organizations",
    __name__,
    url_prefix="/api/v1/admin/organizations",
    description="Customer organizations (tenants). Each caller sees only the "
    "organizations in their reach; MSC admins see all.",
)


@blp.route("")
class Organizations(MethodView):
    @authenticated()
    @blp.arguments(OrganizationQuerySchema, location="query")
    @blp.response(200, OrganizationInListSchema(many=True))
    @blp.paginate(SelectPage)
    def get(self, filters: dict[str, Any]) -> Select[Organization]:
        """List organizations (paginated; filter by status, type, name), each with its
        onboarding progress in percent."""
        return rules.list_organizations(current_context(), filters)

    @authenticated()
    @require_msc_admin
    @blp.arguments(OrganizationCreateSchema)
    @blp.response(201, OrganizationSchema)
    def post(self, data: dict[str, Any]) -> Organization:
        """Create an organization (MSC admins), optionally with the invitation of its first
        organization admin (`first_admin`), in one transaction."""
        first_admin = data.pop("first_admin")
        organization = rules.create_organization(db.session, data)
        if first_admin is not None:
            send_invitation(organization, {**first_admin, "role": Role.ORGANIZATION_ADMIN})
        return organization


@blp.route("/<uuid:organization_id>")
class OrganizationById(MethodView):
    @authenticated()
    @blp.response(200, OrganizationSchema)
    def get(self, organization_id: uuid.UUID) -> Organization:
        """Get one organization."""
        return organization_or_404(organization_id)

    @authenticated()
    @requires(Permission.EDIT_ORGANIZATION)
    @blp.arguments(OrganizationUpdateSchema)
    @blp.response(200, OrganizationSchema)
    @blp.alt_response(409, description="the status cannot change to the one asked for")
    def put(self, changes: dict[str, Any], organization_id: uuid.UUID) -> Organization:
        """Update an organization: its admins edit its details; MSC admins also its
        status (pending, active, suspended, inactive), type, parent and representative."""
        organization = organization_or_404(organization_id)
        return rules.update_organization(db.session, current_context(), organization, changes)


@blp.route("/<uuid:organization_id>/hierarchy")
class OrganizationHierarchy(MethodView):
    @authenticated()
    @requires(*FOLLOW_ORGANIZATION)
    @blp.arguments(HierarchyQuerySchema, location="query")
    @blp.response(200, HierarchyNodeSchema)
    def get(self, query: dict[str, Any], organization_id: uuid.UUID) -> Response:
        """The organization, its child organizations, their facilities and each facility's
        providers (with primary flags), in a constant number of queries."""
        organization = organization_or_404(organization_id, in_scope=True)
        tree = hierarchy(
            db.session,
            organization,
            depth=query["depth"],
            include_inactive=query["include_inactive"],
        )
        # Already the schema's JSON values (app/domain/hierarchy.py): sent as they are, the
        # schema only documents them.
        return jsonify(tree)
