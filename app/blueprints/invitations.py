"""Inviting people into an organization, and accepting an invitation."""

from __future__ import annotations

import uuid
from typing import Any

from flask.views import MethodView
from sqlalchemy import Select

from app.auth.throttle import INVITATION_LINKS, limited
from app.blueprints.lookups import invitation_or_404, organization_for_field
from app.domain import invitations, outbox
from app.errors import abort
from app.extensions import current_settings, db
from app.models import Invitation, Organization
from app.pagination import SelectPage
from app.permissions import INVITE, authenticated, requires
from app.request_body import Blueprint
from app.schemas.invitations import (
    AcceptedSchema,
    AcceptSchema,
    InvitationPreviewSchema,
    InvitationQuerySchema,
    InvitationSchema,
    InviteSchema,
)
from app.tenancy.request import current_context, request_id

blp = Blueprint(
    "invitations",
    __name__,
    url_prefix="/api/v1",
    description="Invitations: single-use, expiring tokens that bring a provider, office "
    "manager or organization admin into an organization. Inviting an email that already "
    "has an account links that account.",
)


def send_invitation(organization: Organization, data: dict[str, Any]) -> Invitation:
    """Invite into `organization` as the caller, the email through the outbox (also used
    when an organization is created with its first admin)."""
    settings = current_settings()
    return invitations.invite(
        db.session,
        current_context(),
        organization,
        data,
        settings.invitation_lifetime,
        settings.public_base_url,
        outbox.Sealer(settings.outbox_secret_key),
    )


@blp.route("/admin/providers/invite")
class Invite(MethodView):
    @authenticated()
    @requires(*INVITE)
    @blp.arguments(InviteSchema)
    @blp.response(201, InvitationSchema)
    @blp.alt_response(409, description="the person is already a member")
    def post(self, data: dict[str, Any]) -> Invitation:
        """Invite a provider, office manager or organization admin by email, to an
        organization and (providers) optionally to facilities, one of them primary. Office
        managers invite providers only. The single-use link goes to the invitee only, by
        email through the outbox. Inviting the same email again replaces the open
        invitation and its link."""
        return send_invitation(organization_for_field(data["organization_id"]), data)


@blp.route("/admin/invitations")
class Invitations(MethodView):
    @authenticated()
    @requires(*INVITE)
    @blp.arguments(InvitationQuerySchema, location="query")
    @blp.response(200, InvitationSchema(many=True))
    @blp.paginate(SelectPage)
    def get(self, filters: dict[str, Any]) -> Select[Invitation]:
        """List invitations, newest first (paginated)."""
        return invitations.list_invitations(current_context(), filters)


@blp.route("/admin/invitations/<uuid:invitation_id>/revoke")
class RevokeInvitation(MethodView):
    @authenticated()
    @requires(*INVITE)
    @blp.response(200, InvitationSchema)
    @blp.alt_response(409, description="the invitation has already been accepted")
    def post(self, invitation_id: uuid.UUID) -> Invitation:
        """Revoke an open invitation: its token stops working, and its email is cancelled
        unless already being sent."""
        return invitations.revoke(db.session, invitation_or_404(invitation_id))


@blp.route("/invitations/<string:token>")
class InvitationPreview(MethodView):
    @limited(blp, *INVITATION_LINKS)
    @blp.doc(security=[])
    @blp.response(200, InvitationPreviewSchema)
    def get(self, token: str) -> dict[str, Any]:
        """What an invitation offers, for the person holding its token."""
        invitation = invitations.find_by_token(db.session, token, request_id())
        if invitation is None or invitation.status != "pending":
            abort(404, message="invitation not found or no longer open")
        organization = db.session.get(Organization, invitation.organization_id)
        return {
            "organization_name": organization.name if organization else None,
            "email": invitation.email,
            "name": invitation.name,
            "role": invitation.role,
            "expires_at": invitation.expires_at,
            "account_exists": invitations.account_exists(db.session, invitation),
        }


@blp.route("/invitations/<string:token>/accept")
class AcceptInvitation(MethodView):
    @limited(blp, *INVITATION_LINKS)
    @blp.doc(security=[])
    @blp.arguments(AcceptSchema)
    @blp.response(200, AcceptedSchema)
    @blp.alt_response(409, description="the account is already a member, with another role")
    @blp.alt_response(410, description="the invitation was accepted, revoked or has expired")
    def post(self, data: dict[str, Any], token: str) -> dict[str, Any]:
        """Accept an invitation. A new account needs a password (12+ characters); an
        existing account with the invited email is linked (sign in as usual afterwards).
        Creates the membership and pending assignments. Works once."""
        invitation, user = invitations.accept(db.session, token, data, request_id())
        return {
            "user_id": user.id,
            "organization_id": invitation.organization_id,
            "role": invitation.role,
        }
