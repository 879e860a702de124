"""Sign in, refresh, sign out, and switch the active organization."""

from __future__ import annotations

import uuid
from typing import Any

from flask import current_app, request
from flask.views import MethodView
from flask_jwt_extended import get_jwt

from app.auth.tokens import Client, Rotation, TokenPair, revoke_sessions, rotate, sign_in
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
        client = Client(user_agent=request.headers.get("User-Agent"), ip=request.remote_addr)
        pair = sign_in(session, user.id, data["organization_id"], client)
        if pair is None:
            abort(403, message="not a member of this organization")
        return _token_body(pair)


# Why a rotation failed, as the client is told (401).
_ROTATION_REFUSED = {
    Rotation.REVOKED: "token has been revoked",
    Rotation.UNKNOWN: "login session not found or expired; sign in again",
    Rotation.REUSED: "refresh token already used; the login session has been revoked, "
    "sign in again",
}


def _rotated(organization_id: uuid.UUID | None, presented_refresh_id: str | None) -> TokenPair:
    context = current_context()
    assert context.user_id is not None
    outcome = rotate(context.user_id, organization_id, get_jwt()["sid"], presented_refresh_id)
    if isinstance(outcome, Rotation):
        abort(401, message=_ROTATION_REFUSED[outcome])
    return outcome


@blp.route("/refresh")
class Refresh(MethodView):
    @authenticated(token="refresh")
    @blp.response(200, TokenSchema)
    @blp.alt_response(401, description="refresh token expired, revoked or already used")
    def post(self) -> dict[str, Any]:
        """New access and refresh tokens for the refresh token's user and organization.

        The refresh token is single-use: each refresh returns a new one and the one
        presented stops working. Presenting a refresh token that was already used
        revokes the whole login session (every token issued with it) and answers 401.
        A refresh also updates the session's "last used" time (plain requests do not,
        to keep their cost to one revocation check)."""
        return _token_body(_rotated(current_context().organization_id, get_jwt()["jti"]))


@blp.route("/logout")
class Logout(MethodView):
    @authenticated(token="either")
    @blp.response(204)
    def post(self) -> None:
        """Revoke this login: its access and refresh tokens stop working."""
        context = current_context()
        assert context.user_id is not None
        revoke_sessions(context.user_id, [get_jwt()["sid"]])


@blp.route("/switch-organization")
class SwitchOrganization(MethodView):
    @authenticated()
    @blp.arguments(SwitchOrganizationSchema)
    @blp.response(200, TokenSchema)
    def post(self, data: dict[str, Any]) -> dict[str, Any]:
        """New tokens acting for another organization the user belongs to, in the same
        login session: the session's previous refresh token stops working."""
        context = current_context()
        assert context.user_id is not None
        organization_id: uuid.UUID = data["organization_id"]
        if not accounts.is_member(db.session, context.user_id, organization_id):
            abort(404, message="organization not found")
        return _token_body(_rotated(organization_id, None))
