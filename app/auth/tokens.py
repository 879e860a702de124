"""JWT issuance, the Redis revocation list, and the answers to bad tokens.

Every token belongs to a login session (`sid`); logging out revokes the session, so
the access and refresh tokens issued with it stop working together. Every bad token
answers 401 with a JSON body, and if the revocation list cannot be read the request
is refused with 503 rather than let through.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from flask import Flask, g, jsonify
from flask.typing import ResponseReturnValue
from flask_jwt_extended import create_access_token, create_refresh_token
from sqlalchemy.orm import Session

from app.domain import accounts
from app.extensions import db, jwt, redis_connection
from app.tenancy import TenantContext, resolve_context
from app.tenancy.request import request_id

ALGORITHM = "HS256"
_REVOKED_PREFIX = "revoked-session:"


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    organization_id: uuid.UUID | None


def _claims(organization_id: uuid.UUID | None, session_id: str) -> dict[str, Any]:
    """What every token carries besides its user: the active organization and the login."""
    return {"org": str(organization_id) if organization_id else None, "sid": session_id}


def issue_tokens(
    user_id: uuid.UUID, organization_id: uuid.UUID | None, session_id: str | None = None
) -> TokenPair:
    claims = _claims(organization_id, session_id or uuid.uuid4().hex)
    identity = str(user_id)
    return TokenPair(
        access_token=create_access_token(identity=identity, additional_claims=claims),
        refresh_token=create_refresh_token(identity=identity, additional_claims=claims),
        organization_id=organization_id,
    )


def sign_in(
    session: Session, user_id: uuid.UUID, organization_id: uuid.UUID | None
) -> TokenPair | None:
    """A new login session for a user already identified and acting as themselves in
    `session`: tokens for `organization_id`, or for the user's first organization when
    none is asked for; None when the user is not a member of the one asked for."""
    if organization_id is None:
        organization_id = accounts.default_organization(session, user_id)
    elif not accounts.is_member(session, user_id, organization_id):
        return None
    return issue_tokens(user_id, organization_id)


def issue_access_token(
    user_id: uuid.UUID, organization_id: uuid.UUID | None, session_id: str
) -> str:
    claims = _claims(organization_id, session_id)
    token: str = create_access_token(identity=str(user_id), additional_claims=claims)
    return token


def revoke_session(session_id: str, lifetime: timedelta) -> None:
    redis_connection.client.set(_REVOKED_PREFIX + session_id, "1", ex=lifetime)


def _error(message: str, status: int = 401) -> ResponseReturnValue:
    return jsonify(code=status, status="Unauthorized", message=message), status


def init_tokens(app: Flask) -> None:
    app.config.update(
        JWT_ALGORITHM=ALGORITHM,
        JWT_DECODE_ALGORITHMS=[ALGORITHM],
        JWT_TOKEN_LOCATION=["headers"],
    )

    @jwt.token_in_blocklist_loader
    def _is_revoked(_header: dict[str, Any], payload: dict[str, Any]) -> bool:
        # A RedisError propagates and becomes 503 (see app/errors.py).
        return bool(redis_connection.client.exists(_REVOKED_PREFIX + str(payload.get("sid"))))

    @jwt.user_lookup_loader
    def _load_context(_header: dict[str, Any], payload: dict[str, Any]) -> TenantContext | None:
        try:
            user_id = uuid.UUID(payload["sub"])
            org = payload.get("org")
            organization_id = uuid.UUID(org) if org else None
        except (KeyError, TypeError, ValueError):
            return None
        context = resolve_context(db.session, user_id, organization_id, request_id())
        g.tenant_context = context
        return context

    jwt.expired_token_loader(lambda _h, _p: _error("token has expired"))
    jwt.invalid_token_loader(lambda reason: _error(f"invalid token: {reason}"))
    jwt.unauthorized_loader(lambda reason: _error(reason))
    jwt.revoked_token_loader(lambda _h, _p: _error("token has been revoked"))
    jwt.user_lookup_error_loader(lambda _h, _p: _error("unknown or inactive user"))
    jwt.needs_fresh_token_loader(lambda _h, _p: _error("fresh token required"))
    jwt.token_verification_failed_loader(lambda _h, _p: _error("token verification failed"))
