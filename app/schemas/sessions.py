from __future__ import annotations

from marshmallow import fields

from app.schemas.base import Schema


class LoginSessionSchema(Schema):
    id = fields.String(metadata={"description": "the session id (`sid` in its tokens)"})
    created_at = fields.DateTime(metadata={"description": "when the user signed in"})
    last_used_at = fields.DateTime(
        metadata={"description": "the last sign-in or token refresh (not every request)"}
    )
    user_agent = fields.String(allow_none=True, metadata={"description": "at sign-in"})
    ip = fields.String(allow_none=True, metadata={"description": "client address at sign-in"})
    current = fields.Boolean(metadata={"description": "the session of the calling token"})


class EndedSessionsSchema(Schema):
    ended = fields.Integer(metadata={"description": "how many sessions were ended"})
