"""Passwords: change one's own, and reset a forgotten one by email.

Setting a password ends login sessions: changing it, every other session of the user's
(this one goes on); resetting it, all of them, since whoever forgot their password is
signed in nowhere they know of. Sessions live in Redis, so they are ended before the
request's transaction commits: should Redis fail, the request answers 503 and the
password stays as it was, never changed with the old sessions still open.

Asking for a reset link must not tell whether an account has the email, by its answer or
by how long the answer takes: issuing a link (locking the account, revoking its earlier
links, writing the link and its email, their audit rows) takes several times as long as
finding no account. So the request only queues a job carrying the email, the same work
whatever the email, and a worker looks the account up and issues the link
(`workers.jobs.issue_password_reset`). Should Redis be down, every request answers 503
alike.
"""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_jwt_extended import get_jwt
from rq import Queue

from app import tracing
from app.auth import throttle
from app.auth.throttle import (
    LINKS_BY_CLIENT,
    RESET_REQUESTS,
    SIGN_IN_BY_CLIENT,
    body_field,
    limited,
    link_token,
    sign_in_by_account,
    signed_in_user,
)
from app.auth.tokens import end_all_sessions, end_other_sessions
from app.domain import passwords
from app.domain.errors import WrongSecret
from app.domain.passwords import ISSUE_PASSWORD_RESET
from app.extensions import current_settings, db, redis_connection
from app.models import User
from app.permissions import authenticated
from app.request_body import Blueprint
from app.schemas.passwords import (
    PasswordChangeSchema,
    PasswordResetRequestedSchema,
    PasswordResetRequestSchema,
    PasswordResetSchema,
)
from app.schemas.sessions import EndedSessionsSchema
from app.tenancy.request import current_context, request_id

blp = Blueprint(
    "passwords",
    __name__,
    url_prefix="/api/v1/auth",
    description="Passwords: change your own; reset a forgotten one with a link sent by email.",
)

# The answer to every reset request, whether or not an account has the email.
RESET_REQUESTED = (
    "If an active account has this email, a link to choose a new password has been sent to it."
)


# Finding the account and issuing its link take milliseconds; the relay that follows
# (the email leaves at once) takes longer only with a backlog, which the periodic relay
# also works off. A job still running after this is stuck.
ISSUE_PASSWORD_RESET_TIMEOUT_SECONDS = 60


def send_reset_link(email: str) -> None:
    """Queue the job that emails a reset link to the active account with this email, if
    any (also the "forgotten password" page's). Only queued, never done here: the
    request takes as long whether or not an account has the email (see above). The
    job carries the request's id, which the link's audit rows keep."""
    settings = current_settings()
    Queue(settings.queue_name, connection=redis_connection.client).enqueue(
        ISSUE_PASSWORD_RESET,
        email,
        request_id(),
        job_timeout=ISSUE_PASSWORD_RESET_TIMEOUT_SECONDS,
        # It returns nothing, and its argument is someone's email address: nothing of it
        # is kept once it has run, and a failed one (its person asks again) only a day.
        result_ttl=0,
        failure_ttl=24 * 3600,
        meta=tracing.job_meta(),
    )


def reset_with_link(token: str, new_password: str) -> User:
    """Set a new password with a reset link and end all the user's login sessions (also
    the reset page's); the user."""
    user = passwords.reset_password(db.session, token, new_password, request_id())
    end_all_sessions(user.id)
    return user


@blp.route("/password")
class ChangePassword(MethodView):
    @limited(blp, SIGN_IN_BY_CLIENT)
    @authenticated()
    @limited(blp, sign_in_by_account(signed_in_user))
    @blp.arguments(PasswordChangeSchema)
    @blp.response(200, EndedSessionsSchema)
    def post(self, data: dict[str, Any]) -> dict[str, Any]:
        """Change the caller's password, giving the current one (a wrong one answers 422
        naming `current_password`; a new one the policy refuses, 422 naming
        `new_password` with the reason). Every other login session of the caller ends
        at once, and their open password reset links stop working; this session goes
        on. Answers how many sessions were ended."""
        context = current_context()
        caller = db.session.get(User, context.user_id)
        assert caller is not None, "an authenticated context names a visible user"
        # Guessing the current password with a stolen token is guessing a sign-in.
        with throttle.guessing(caller.email, WrongSecret):
            user = passwords.change_password(
                db.session, context, data["current_password"], data["new_password"]
            )
        return {"ended": end_other_sessions(user.id, get_jwt()["sid"])}


@blp.route("/password-reset")
class RequestPasswordReset(MethodView):
    @limited(blp, *RESET_REQUESTS)
    @blp.doc(security=[])
    @blp.arguments(PasswordResetRequestSchema)
    @blp.response(202, PasswordResetRequestedSchema)
    def post(self, data: dict[str, Any]) -> dict[str, Any]:
        """Ask for a password reset link by email. When an active account has this
        email, a single-use link to the reset page goes to it (expiring after
        `PASSWORD_RESET_TTL_MINUTES`), and the account's earlier links stop working. The
        answer, and the time it takes, are the same whether or not an account has the
        email: the link is issued afterwards, apart from the request."""
        send_reset_link(data["email"])
        return {"message": RESET_REQUESTED}


@blp.route("/password-reset/confirm")
class ConfirmPasswordReset(MethodView):
    @limited(blp, LINKS_BY_CLIENT, link_token(body_field("token")))
    @blp.doc(security=[])
    @blp.arguments(PasswordResetSchema)
    @blp.response(204)
    @blp.alt_response(404, description="no link has this token")
    @blp.alt_response(410, description="the link was used, replaced, or has expired")
    def post(self, data: dict[str, Any]) -> None:
        """Choose a new password with the token of a reset link. The link works once;
        every login session of the account ends. A link used, replaced by a newer one or
        expired answers 410 saying which, and changes nothing."""
        reset_with_link(data["token"], data["new_password"])
