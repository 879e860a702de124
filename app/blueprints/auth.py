"""Sign in (with a second factor when the user has one, or must), refresh, sign out, and
switch the active organization."""

from __future__ import annotations

import uuid
from typing import Any

from flask import Response, after_this_request, current_app, jsonify, request
from flask.views import MethodView
from flask_jwt_extended import get_jwt

from app import clock
from app.auth import throttle
from app.auth.passwords import password_stamp
from app.auth.refresh_cookie import (
    DELIVERY_PARAMETER,
    UNKNOWN_DELIVERY,
    clear_refresh_cookie,
    cookie_delivery_asked,
    refuse_unknown_delivery,
    set_refresh_cookie,
)
from app.auth.throttle import (
    REFRESH_BY_CLIENT,
    REFRESH_BY_USER,
    SIGN_IN_BY_CLIENT,
    account_key,
    body_field,
    body_value,
    limited,
    sign_in_by_account,
)
from app.auth.tokens import (
    PASSWORD_AND_SECOND_FACTOR,
    SECOND_FACTOR,
    ChallengeStep,
    Client,
    MfaChallenge,
    Rotation,
    TokenPair,
    consume_challenge,
    end_all_sessions,
    issue_challenge,
    open_session,
    proven_by,
    read_challenge,
    revoke_sessions,
    rotate,
    sign_in,
)
from app.blueprints.mfa import enrollment_body, sealer, second_factor_checked
from app.domain import accounts, mfa
from app.errors import abort
from app.extensions import current_settings, db
from app.models import User
from app.permissions import authenticated
from app.request_body import Blueprint
from app.schemas.auth import (
    EnrolledTokenSchema,
    LoginSchema,
    MfaChallengeSchema,
    MfaEnrollmentConfirmSchema,
    MfaLoginSchema,
    MfaTokenSchema,
    SwitchOrganizationSchema,
    TokenSchema,
)
from app.schemas.mfa import EnrollmentSchema
from app.tenancy.request import current_context, request_id

blp = Blueprint("auth", __name__, url_prefix="/api/v1/auth", description="Tokens: sign in and out.")
blp.before_request(refuse_unknown_delivery)


def _token_body(pair: TokenPair) -> dict[str, Any]:
    """The answer's tokens; with cookie delivery asked, the refresh token goes into the
    browser's cookie instead of the body (app/auth/refresh_cookie.py)."""
    lifetime = current_app.config["JWT_ACCESS_TOKEN_EXPIRES"]
    body = {
        "access_token": pair.access_token,
        "expires_in": int(lifetime.total_seconds()),
        "organization_id": pair.organization_id,
    }
    if not cookie_delivery_asked():
        return {**body, "refresh_token": pair.refresh_token}
    settings = current_settings()

    @after_this_request
    def _set_cookie(response: Response) -> Response:
        set_refresh_cookie(response, pair.refresh_token, settings)
        return response

    return body


def _client() -> Client:
    return Client(user_agent=request.headers.get("User-Agent"), ip=request.remote_addr)


def _challenge_body(challenge: MfaChallenge, requirement: str | None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "mfa_token": issue_challenge(challenge),
        "expires_in": current_settings().mfa_challenge_seconds,
    }
    if challenge.step is ChallengeStep.VERIFY:
        body["mfa_required"] = True
    else:
        body["mfa_enrollment_required"] = True
        body["mfa_requirement"] = requirement
    return body


def _challenge_user() -> str:
    """Whom the body's MFA token signs in (the token itself when it names nobody): the
    account a second-factor guess aims at, however many sign-ins it starts."""
    token = body_value("mfa_token")
    challenge = read_challenge(token) if isinstance(token, str) else None
    return account_key(str(challenge.user_id) if challenge is not None else token)


# Every step of a sign-in: one budget per client address, one per account.
_SIGN_IN_LIMITS = (SIGN_IN_BY_CLIENT, sign_in_by_account(body_field("email")))
_SECOND_STEP_LIMITS = (SIGN_IN_BY_CLIENT, sign_in_by_account(_challenge_user))


@blp.route("/login")
class Login(MethodView):
    @limited(blp, *_SIGN_IN_LIMITS)
    @blp.doc(security=[], parameters=[DELIVERY_PARAMETER])
    @blp.arguments(LoginSchema)
    @blp.response(
        200,
        {"oneOf": [TokenSchema, MfaChallengeSchema]},
        description="Tokens; or, when the user has multi-factor sign-in on or a rule requires "
        "it of them, no tokens but an MFA token for the second step.",
    )
    @blp.alt_response(401, description="wrong email or password")
    @blp.alt_response(403, description="not a member of the organization asked for")
    def post(self, data: dict[str, Any]) -> Response:
        """Sign in with email and password; the token acts for one organization.

        A user with multi-factor sign-in on gets no tokens yet: the answer says
        `mfa_required` and carries an MFA token, valid a few minutes, for
        `/api/v1/auth/login/mfa` with a code. A user who must sign in with a second
        factor (MSC admins; organization admins where their organization, or one above
        it, requires it) and has none set up gets `mfa_enrollment_required` and an MFA
        token to set one up with (`/api/v1/auth/login/mfa/enrollment`), which then signs
        them in."""
        session = db.session
        throttle.check_sign_in_delay(data["email"])
        user = accounts.authenticate(session, data["email"], data["password"], request_id())
        if user is None:
            throttle.record_sign_in_failure(data["email"])
            abort(401, message="wrong email or password")
        organization_id = accounts.login_organization(session, user.id, data["organization_id"])
        stamp = password_stamp(user.password_hash)
        if mfa.is_enabled(user):
            challenge = MfaChallenge(user.id, organization_id, ChallengeStep.VERIFY, stamp)
            return jsonify(MfaChallengeSchema().dump(_challenge_body(challenge, None)))
        requirement = mfa.required_for(session, user.id, user.is_msc_staff, organization_id)
        if requirement is not None:
            challenge = MfaChallenge(user.id, organization_id, ChallengeStep.ENROLL, stamp)
            return jsonify(MfaChallengeSchema().dump(_challenge_body(challenge, requirement)))
        pair = open_session(user.id, organization_id, _client())
        throttle.forget_sign_in_failures(user.email)
        return jsonify(TokenSchema().dump(_token_body(pair)))


def _challenged(token: str, step: ChallengeStep) -> tuple[MfaChallenge, User]:
    """The challenge of an MFA token meant for `step`, and its user, now acting as
    themselves; 401 for a token expired, used, unknown or meant for the other step."""
    challenge = read_challenge(token)
    if challenge is None:
        abort(401, message="the MFA token has expired or was already used: sign in again")
    if challenge.step is not step:
        other = (
            "setting up a second factor"
            if step is ChallengeStep.VERIFY
            else "signing in with a code"
        )
        abort(401, message=f"this MFA token is for {other}")
    user = accounts.resume_sign_in(db.session, challenge.user_id, request_id())
    if user is None:
        abort(401, message="unknown or inactive user")
    if challenge.password_stamp != password_stamp(user.password_hash):
        # Reset or changed since: a sign-in begun with the old password goes no further.
        abort(401, message="the password has changed since this sign-in began: sign in again")
    return challenge, user


def _signed_in(token: str, challenge: MfaChallenge, user: User) -> TokenPair:
    """Spend the MFA token and open the login session its second factor completed."""
    if not consume_challenge(token):
        abort(401, message="the MFA token has expired or was already used: sign in again")
    pair = sign_in(
        db.session,
        challenge.user_id,
        challenge.organization_id,
        _client(),
        PASSWORD_AND_SECOND_FACTOR,
    )
    # Only a whole sign-in forgets the failures: a right password alone must not reset
    # the count of wrong codes.
    throttle.forget_sign_in_failures(user.email)
    return pair


@blp.route("/login/mfa")
class LoginSecondFactor(MethodView):
    @limited(blp, *_SECOND_STEP_LIMITS)
    @blp.doc(security=[], parameters=[DELIVERY_PARAMETER])
    @blp.arguments(MfaLoginSchema)
    @blp.response(200, TokenSchema)
    @blp.alt_response(401, description="wrong or used code; MFA token expired or used")
    @blp.alt_response(409, description="multi-factor sign-in was turned off meanwhile")
    def post(self, data: dict[str, Any]) -> dict[str, Any]:
        """The second step of a login with multi-factor sign-in on: the login's MFA token
        and a code from the authenticator app (or a recovery code, which works once).

        A wrong code answers 401 and the MFA token stays usable until it expires; a code
        is accepted once only, so a code already used (or an earlier one) is refused."""
        challenge, user = _challenged(data["mfa_token"], ChallengeStep.VERIFY)
        proof = mfa.Proof(code=data.get("code"), recovery_code=data.get("recovery_code"))
        with second_factor_checked(user):
            mfa.verify(db.session, user, proof, sealer(), clock.now())
        return _token_body(_signed_in(data["mfa_token"], challenge, user))


@blp.route("/login/mfa/enrollment")
class LoginEnrollment(MethodView):
    @limited(blp, *_SECOND_STEP_LIMITS)
    @blp.doc(security=[])
    @blp.arguments(MfaTokenSchema)
    @blp.response(200, EnrollmentSchema)
    @blp.alt_response(401, description="MFA token expired or used, or not for enrolling")
    @blp.alt_response(409, description="multi-factor sign-in is already on")
    def post(self, data: dict[str, Any]) -> dict[str, Any]:
        """For a login that must set up its second factor first (`mfa_enrollment_required`):
        a new secret for an authenticator app, as at `/api/v1/auth/mfa/enrollment`. The
        MFA token stays usable for the confirmation."""
        _challenge, user = _challenged(data["mfa_token"], ChallengeStep.ENROLL)
        return enrollment_body(mfa.begin_enrollment(db.session, user, sealer()))


@blp.route("/login/mfa/enrollment/confirm")
class LoginEnrollmentConfirm(MethodView):
    @limited(blp, *_SECOND_STEP_LIMITS)
    @blp.doc(security=[], parameters=[DELIVERY_PARAMETER])
    @blp.arguments(MfaEnrollmentConfirmSchema)
    @blp.response(200, EnrolledTokenSchema)
    @blp.alt_response(401, description="wrong code; MFA token expired or used")
    @blp.alt_response(409, description="nothing to confirm, or already on")
    def post(self, data: dict[str, Any]) -> dict[str, Any]:
        """Confirm the login's enrollment with a code from the app: multi-factor sign-in
        is on, and the answer carries the tokens of the login and ten recovery codes, shown
        this once."""
        challenge, user = _challenged(data["mfa_token"], ChallengeStep.ENROLL)
        with second_factor_checked(user):
            codes = mfa.confirm_enrollment(db.session, user, data["code"], sealer(), clock.now())
        # Sessions from before signed in without the second factor now required: they end.
        end_all_sessions(user.id)
        pair = _signed_in(data["mfa_token"], challenge, user)
        return {**_token_body(pair), "recovery_codes": codes}


# Why a rotation failed, as the client is told (401).
_ROTATION_REFUSED = {
    Rotation.REVOKED: "token has been revoked",
    Rotation.UNKNOWN: "login session not found or expired; sign in again",
    Rotation.REUSED: "refresh token already used; the login session has been revoked, "
    "sign in again",
}


def _require_second_factor_if_due(organization_id: uuid.UUID | None) -> None:
    """403 naming the rule when acting for `organization_id` needs a second factor that
    the session's login did not prove (it signed in before the rule, or before the
    second factor was required of the user)."""
    if SECOND_FACTOR in proven_by(get_jwt()):
        return
    context = current_context()
    user = db.session.get(User, context.user_id)
    assert user is not None, "an authenticated context names a visible user"
    # Whether they are MSC staff is the account's, whatever role this context has.
    rule = mfa.required_for(db.session, user.id, user.is_msc_staff, organization_id)
    if rule is not None:
        abort(403, message=f"{rule}: sign in again, with the second factor")


def _rotated(organization_id: uuid.UUID | None, presented_refresh_id: str | None) -> TokenPair:
    context = current_context()
    assert context.user_id is not None
    claims = get_jwt()
    outcome = rotate(
        context.user_id, organization_id, claims["sid"], presented_refresh_id, proven_by(claims)
    )
    if isinstance(outcome, Rotation):
        abort(401, message=_ROTATION_REFUSED[outcome])
    return outcome


@blp.route("/refresh")
class Refresh(MethodView):
    @limited(blp, REFRESH_BY_CLIENT)
    # A token type, not a secret (bandit B106).
    @authenticated(token="refresh", refresh_cookie=True)  # nosec B106
    @limited(blp, REFRESH_BY_USER)
    @blp.doc(parameters=[DELIVERY_PARAMETER])
    @blp.response(200, TokenSchema)
    @blp.alt_response(401, description="refresh token expired, revoked or already used")
    @blp.alt_response(422, description=UNKNOWN_DELIVERY)
    @blp.alt_response(403, description="the organization now requires a second factor")
    def post(self) -> dict[str, Any]:
        """New access and refresh tokens for the refresh token's user and organization.

        The refresh token is single-use: each refresh returns a new one and the one
        presented stops working. Presenting a refresh token that was already used
        revokes the whole login session (every token issued with it) and answers 401.
        A refresh also updates the session's "last used" time (plain requests do not,
        to keep their cost to one revocation check). A session signed in without a
        second factor that is now required of the user answers 403.

        A browser app sends `X-Token-Delivery: cookie` and no Authorization header: the
        refresh token is read from its HttpOnly cookie, and the new one set there."""
        organization_id = current_context().organization_id
        _require_second_factor_if_due(organization_id)
        return _token_body(_rotated(organization_id, get_jwt()["jti"]))


@blp.route("/logout")
class Logout(MethodView):
    # A token type, not a secret (bandit B106).
    @authenticated(token="either")  # nosec B106
    @blp.doc(parameters=[DELIVERY_PARAMETER])
    @blp.response(204)
    @blp.alt_response(422, description=UNKNOWN_DELIVERY)
    def post(self) -> None:
        """Revoke this login: its access and refresh tokens stop working. With
        `X-Token-Delivery: cookie` the browser's refresh cookie is cleared too."""
        context = current_context()
        assert context.user_id is not None
        revoke_sessions(context.user_id, [get_jwt()["sid"]])
        if cookie_delivery_asked():
            settings = current_settings()

            @after_this_request
            def _clear_cookie(response: Response) -> Response:
                clear_refresh_cookie(response, settings)
                return response


@blp.route("/switch-organization")
class SwitchOrganization(MethodView):
    @authenticated()
    @blp.arguments(SwitchOrganizationSchema)
    @blp.doc(parameters=[DELIVERY_PARAMETER])
    @blp.response(200, TokenSchema)
    @blp.alt_response(403, description="the organization requires a second factor")
    def post(self, data: dict[str, Any]) -> dict[str, Any]:
        """New tokens acting for another organization the user belongs to (or represents,
        for an MSC representative), in the same login session: the session's previous
        refresh token stops working. Refused (403) for an organization that requires a
        second factor of the user when the session signed in without one."""
        context = current_context()
        assert context.user_id is not None
        organization_id: uuid.UUID = data["organization_id"]
        if not accounts.may_act_for(db.session, context.user_id, organization_id):
            abort(404, message="organization not found")
        _require_second_factor_if_due(organization_id)
        return _token_body(_rotated(organization_id, None))
