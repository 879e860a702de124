"""The signed-in user."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView

from app.domain import accounts, assignments, providers, representatives
from app.domain.errors import Invalid
from app.domain.queries import Rows
from app.extensions import db
from app.models import User
from app.models.enums import AssignmentStatus
from app.pagination import SelectPage
from app.permissions import Permission, authenticated, permissions_of, requires
from app.request_body import Blueprint
from app.schemas.auth import MeSchema
from app.schemas.providers import AssignmentSchema, PrimaryFacilitySchema, ProfileSchema
from app.tenancy.request import current_context

blp = Blueprint("me", __name__, url_prefix="/api/v1/me", description="The signed-in user.")


@blp.route("")
class Me(MethodView):
    @authenticated()
    @blp.response(200, MeSchema)
    def get(self) -> dict[str, Any]:
        """Profile, active organization and role, permissions, every membership, and the
        organizations an MSC representative represents."""
        context = current_context()
        user = db.session.get(User, context.user_id)
        assert user is not None
        return {
            "id": user.id,
            "email": user.email,
            "name": user.name,
            "phone": user.phone,
            "npi": user.npi,
            "date_of_birth": user.date_of_birth,
            "is_msc_admin": user.is_msc_admin,
            "organization_id": context.organization_id,
            "role": context.role,
            "permissions": sorted(permissions_of(context)),
            "memberships": accounts.memberships_of(db.session, user.id),
            "represented_organizations": representatives.represented_organizations(
                db.session, user.id
            ),
        }

    @authenticated()
    @blp.arguments(ProfileSchema)
    @blp.response(200, ProfileSchema)
    @blp.alt_response(409, description="another account has this NPI")
    def put(self, changes: dict[str, Any]) -> User:
        """Update your own profile: name, phone, NPI, date of birth (the sign-in email is
        MSC's to change). A new name, NPI or date of birth is screened against the
        exclusion lists at once."""
        return accounts.update_profile(db.session, current_context(), changes)


@blp.route("/facilities")
class MyFacilities(MethodView):
    @authenticated()
    @blp.response(200, AssignmentSchema(many=True))
    @blp.paginate(SelectPage)
    def get(self) -> Rows:
        """Your facility assignments at every organization you work for."""
        context = current_context()
        assert context.user_id is not None
        return providers.assignments_of(context.user_id, None)


@blp.route("/primary-facility")
class MyPrimaryFacility(MethodView):
    @authenticated()
    @requires(Permission.SELECT_FACILITIES)
    @blp.arguments(PrimaryFacilitySchema)
    @blp.response(200, AssignmentSchema)
    @blp.alt_response(
        409, description="the assignment is not active, or the primary one changed meanwhile"
    )
    def post(self, data: dict[str, Any]) -> Any:
        """Choose your primary facility among your active assignments (any organization)."""
        context = current_context()
        assignment = providers.own_assignment(db.session, context, data["assignment_id"])
        if assignment is None:
            raise Invalid("assignment not found", field="assignment_id")
        if assignment.status != AssignmentStatus.ACTIVE:
            raise Invalid("choose among your active assignments", field="assignment_id")
        assignments.make_primary(db.session, assignment)
        return providers.assignment_view(db.session, assignment)
