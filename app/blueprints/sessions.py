"""The signed-in user's login sessions: list them, end one, end all but this one."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from typing import Any

from flask.views import MethodView
from flask_jwt_extended import get_jwt

from app.auth.tokens import end_other_sessions, end_session, list_sessions
from app.errors import abort
from app.permissions import authenticated
from app.request_body import Blueprint
from app.schemas.sessions import EndedSessionsSchema, LoginSessionSchema
from app.tenancy.request import current_context

blp = Blueprint(
    "sessions",
    __name__,
    url_prefix="/api/v1/auth/sessions",
    description="The signed-in user's login sessions.",
)

# Session ids are issued as 32 hex digits; anything else cannot name one. (The route
# takes only 32 characters, so that `/end-others` is never taken for a session's id.)
_SESSION_ID = re.compile(r"[0-9a-f]{32}")


def _when(timestamp: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(timestamp, dt.UTC)


def _user_id() -> uuid.UUID:
    context = current_context()
    assert context.user_id is not None
    return context.user_id


@blp.route("")
class Sessions(MethodView):
    @authenticated()
    @blp.response(200, LoginSessionSchema(many=True))
    def get(self) -> list[dict[str, Any]]:
        """The caller's active login sessions, newest first; `current` marks the one the
        calling token belongs to. "Last used" is the sign-in or the latest token refresh:
        plain requests do not update it, so that each costs one Redis check only."""
        current = get_jwt()["sid"]
        return [
            {
                "id": s.id,
                "created_at": _when(s.created_at),
                "last_used_at": _when(s.last_used_at),
                "user_agent": s.user_agent,
                "ip": s.ip,
                "current": s.id == current,
            }
            for s in list_sessions(_user_id())
        ]


@blp.route("/<string(length=32):session_id>")
class SessionById(MethodView):
    @authenticated()
    @blp.response(204)
    @blp.alt_response(404, description="no such session of the caller's")
    def delete(self, session_id: str) -> None:
        """End one of the caller's sessions (the current one too): its access and refresh
        tokens stop working at once."""
        if not _SESSION_ID.fullmatch(session_id) or not end_session(_user_id(), session_id):
            abort(404, message="session_id: no such session")


@blp.route("/end-others")
class EndOthers(MethodView):
    @authenticated()
    @blp.response(200, EndedSessionsSchema)
    def post(self) -> dict[str, Any]:
        """End every session of the caller's except the current one."""
        return {"ended": end_other_sessions(_user_id(), get_jwt()["sid"])}
