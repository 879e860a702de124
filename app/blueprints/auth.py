"""Sign in, refresh, sign out, and switch the active organization."""

from __future__ import annotations

import uuid
from typing import Any

from flask import current_app
from flask.views import MethodView
from flask_jwt_extended import get_jwt

from app.auth.tokens import (
    TokenPair,
    issue_access_token,
    issue_tokens,
    revoke_session,
    sign_in,
)
from app.domain import accounts
from app.errors import abort
from app.extensions import db
from app.permissions import authenticated
from app.request_body import Blueprint
from app.schemas.auth import LoginSchema, SwitchOrganizationSchema, TokenSchema
from app.tenancy.request import current_context, request_id

blp = Blueprint("auth", __name__, url_prefix="/api/v1/auth", description="Tokens: sign in and out.")


def _token_body(pair: TokenPair) -> dict[str, Any]:
    lifetime = current_app.config["JWT_ACCESS_TOKEN_EXPIRES"]
    return {
        "access_token": pair.access_token,
        "refresh_token": pair.refresh_token,
        "expires_in": int(lifetime.total_seconds()),
        "organization_id": pair.organization_id,
    }


@blp.route("/login")
class Login(MethodView):
    @blp.doc(security=[])
    @blp.arguments(LoginSchema)
    @blp.response(200, TokenSchema)
    @blp.alt_response(401, description="wrong email or password")
    def post(self, data: dict[str, Any]) -> dict[str, Any]:
        """Sign in with email and password; the token acts for one organization."""
        session = db.session
        user = accounts.authenticate(session, data["email"], data["password"], request_id())
        if user is None:
            abort(401, message="wrong email or password")
        pair = sign_in(session, user.id, data["organization_id"])
        if pair is None:
            abort(403, message="not a member of this organization")
        return _token_body(pair)


@blp.route("/refresh")
class Refresh(MethodView):
    @authenticated(token="refresh")
    @blp.response(200, TokenSchema)
    def post(self) -> dict[str, Any]:
        """A new access token for the refresh token's user and organization."""
        context = current_context()
        assert context.user_id is not None
        lifetime = current_app.config["JWT_ACCESS_TOKEN_EXPIRES"]
        return {
            "access_token": issue_access_token(
                context.user_id, context.organization_id, get_jwt()["sid"]
            ),
            "expires_in": int(lifetime.total_seconds()),
            "organization_id": context.organization_id,
        }


@blp.route("/logout")
class Logout(MethodView):
    @authenticated(token="either")
    @blp.response(204)
    def post(self) -> None:
        """Revoke this login: its access and refresh tokens stop working."""
        revoke_session(get_jwt()["sid"], current_app.config["JWT_REFRESH_TOKEN_EXPIRES"])


@blp.route("/switch-organization")
class SwitchOrganization(MethodView):
    @authenticated()
    @blp.arguments(SwitchOrganizationSchema)
    @blp.response(200, TokenSchema)
    def post(self, data: dict[str, Any]) -> dict[str, Any]:
        """New tokens acting for another organization the user belongs to."""
        context = current_context()
        assert context.user_id is not None
        organization_id: uuid.UUID = data["organization_id"]
        if not accounts.is_member(db.session, context.user_id, organization_id):
            abort(404, message="organization not found")
        return _token_body(issue_tokens(context.user_id, organization_id, get_jwt()["sid"]))
