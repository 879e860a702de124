"""Members of organizations (memberships), and the accounts behind them."""

from __future__ import annotations

import uuid
from typing import Any

from flask.views import MethodView

from app.blueprints.lookups import account_or_404, organization_or_404
from app.domain import access, members, queries
from app.domain.errors import NotFound
from app.domain.queries import Rows
from app.extensions import db
from app.models import Membership, User
from app.pagination import SelectPage
from app.permissions import Permission, authenticated, require_msc_admin, requires
from app.request_body import Blueprint
from app.schemas.members import (
    AccountSchema,
    MemberQuerySchema,
    MemberSchema,
    MemberUpdateSchema,
)
from app.tenancy.request import current_context

blp = Blueprint(
    "members",
    __name__,
    url_prefix="/api/v1/admin",
    description="Members of an organization: their roles, deactivation and reactivation "
    "(organization admins, for their organization and its descendants; MSC admins, "
    "everywhere), and deactivating an account everywhere (MSC admins). A change takes "
    "effect on the member's next request. An organization keeps at least one active "
    "organization admin.",
)


def _membership_or_404(membership_id: uuid.UUID) -> Membership:
    membership = queries.in_reach(db.session, Membership, membership_id, current_context())
    if membership is None:
        raise NotFound("member not found")
    return membership


def _member(membership: Membership) -> dict[str, Any]:
    found = members.member(db.session, membership.id)
    assert found is not None, "a membership just changed is in sight"
    return found


@blp.route("/organizations/<uuid:organization_id>/members")
class OrganizationMembers(MethodView):
    @authenticated()
    @requires(Permission.MANAGE_MEMBERS)
    @blp.arguments(MemberQuerySchema, location="query")
    @blp.response(200, MemberSchema(many=True))
    @blp.paginate(SelectPage)
    def get(self, filters: dict[str, Any], organization_id: uuid.UUID) -> Rows:
        """The organization's members (not its child organizations'), with their roles
        and status, by name (paginated; filter by role, status)."""
        organization = organization_or_404(organization_id, in_scope=True)
        return members.list_members(organization.id, filters)


@blp.route("/members/<uuid:membership_id>")
class MemberById(MethodView):
    @authenticated()
    @requires(Permission.MANAGE_MEMBERS)
    @blp.response(200, MemberSchema)
    def get(self, membership_id: uuid.UUID) -> dict[str, Any]:
        """Get one member. Read from outside the member's organization (by MSC staff or
        an admin of a parent organization), recorded in its audit trail."""
        context = current_context()
        found = members.member(db.session, membership_id)
        if found is None or not context.reaches(found["organization_id"]):
            raise NotFound("member not found")
        access.record(
            db.session, access.member_read(context, membership_id, found["organization_id"])
        )
        return found

    @authenticated()
    @requires(Permission.MANAGE_MEMBERS)
    @blp.arguments(MemberUpdateSchema)
    @blp.response(200, MemberSchema)
    @blp.alt_response(409, description="the last active organization admin stays one")
    def put(self, data: dict[str, Any], membership_id: uuid.UUID) -> dict[str, Any]:
        """Change a member's role."""
        membership = _membership_or_404(membership_id)
        return _member(members.change_role(db.session, membership, data["role"]))


@blp.route("/members/<uuid:membership_id>/deactivate")
class DeactivateMember(MethodView):
    @authenticated()
    @requires(Permission.MANAGE_MEMBERS)
    @blp.response(200, MemberSchema)
    @blp.alt_response(409, description="the last active organization admin stays active")
    def post(self, membership_id: uuid.UUID) -> dict[str, Any]:
        """Deactivate a membership: the member can no longer act in this organization (their
        tokens for it stop working at once); the membership, its role and history stay."""
        membership = _membership_or_404(membership_id)
        return _member(members.deactivate(db.session, membership))


@blp.route("/members/<uuid:membership_id>/reactivate")
class ReactivateMember(MethodView):
    @authenticated()
    @requires(Permission.MANAGE_MEMBERS)
    @blp.response(200, MemberSchema)
    def post(self, membership_id: uuid.UUID) -> dict[str, Any]:
        """Reactivate a membership, with the role it had."""
        membership = _membership_or_404(membership_id)
        return _member(members.reactivate(db.session, membership))


@blp.route("/users/<uuid:user_id>/deactivate")
class DeactivateAccount(MethodView):
    @authenticated()
    @require_msc_admin
    @blp.response(200, AccountSchema)
    @blp.alt_response(409, description="the last active organization admin stays active")
    def post(self, user_id: uuid.UUID) -> User:
        """Deactivate an account everywhere: every token of the user stops working at
        once, and signing in is refused; memberships keep their own status."""
        user = account_or_404(user_id)
        return members.deactivate_account(db.session, current_context(), user)


@blp.route("/users/<uuid:user_id>/reactivate")
class ReactivateAccount(MethodView):
    @authenticated()
    @require_msc_admin
    @blp.response(200, AccountSchema)
    def post(self, user_id: uuid.UUID) -> User:
        """Reactivate an account; its memberships are as they were."""
        return members.reactivate_account(db.session, account_or_404(user_id))
