"""JWT issuance, login sessions in Redis, and the answers to bad tokens.

Every token belongs to a login session (`sid`). Each session has a Redis record (a hash:
user, created, last used, user agent, IP, and the id of its one valid refresh token)
listed in a per-user set, both living as long as a refresh token. Refreshing rotates the
refresh token; presenting one already rotated away means it was copied, so the whole
session is revoked. Ending a session (logout, or from the session list) writes the
revocation marker that every request checks, so its access and refresh tokens stop
together; that check stays one Redis round trip. Every bad token answers 401 (a problem,
app/problems.py), and if Redis cannot be read the request is refused with 503 rather than
let through.

Tokens also say how their login proved the user (`amr`, RFC 8176): a password alone, or a
password and a second factor; a refresh or a switch of organization keeps what the login
proved. Between a login's password and its second factor stands an MFA challenge: an
opaque, single-use token kept in Redis for a few minutes, which is no JWT and so is never
accepted where an access or refresh token is.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from enum import Enum, StrEnum
from typing import Any, cast

from flask import Flask, Response, current_app, g
from flask_jwt_extended import create_access_token, create_refresh_token
from redis.typing import EncodableT, FieldT
from sqlalchemy.orm import Session

from app.auth.refresh_cookie import REFRESH_COOKIE, REFRESH_COOKIE_PATH
from app.domain import accounts
from app.extensions import current_settings, db, jwt, redis_connection
from app.problems import problem
from app.tenancy import TenantContext, resolve_context
from app.tenancy.request import request_id

ALGORITHM = "HS256"
_REVOKED_PREFIX = "revoked-session:"
_SESSION_PREFIX = "session:"
_USER_SESSIONS_PREFIX = "user-sessions:"
_CHALLENGE_PREFIX = "mfa-challenge:"
# What a client sends is kept for display only; a cap keeps a hostile header from
# inflating every session record.
USER_AGENT_MAX = 512


# How a login proved who the user is (RFC 8176 `amr` values).
PASSWORD = ("pwd",)
PASSWORD_AND_SECOND_FACTOR = ("pwd", "mfa")
SECOND_FACTOR = "mfa"


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    organization_id: uuid.UUID | None


@dataclass(frozen=True)
class Client:
    """Where a login comes from, as the request says: shown in the session list."""

    user_agent: str | None = None
    ip: str | None = None


@dataclass(frozen=True)
class LoginSession:
    id: str
    created_at: float
    last_used_at: float
    user_agent: str | None
    ip: str | None


class Rotation(Enum):
    ROTATED = 1
    REVOKED = 0  # the session was ended: the marker the request check reads
    UNKNOWN = -1  # no record: expired, or issued before sessions were recorded
    REUSED = -2  # an already rotated refresh token: the session is now revoked


def _session_key(session_id: str) -> str:
    return _SESSION_PREFIX + session_id


def _user_key(user_id: uuid.UUID) -> str:
    return _USER_SESSIONS_PREFIX + str(user_id)


def _refresh_lifetime() -> int:
    lifetime: timedelta = current_app.config["JWT_REFRESH_TOKEN_EXPIRES"]
    return int(lifetime.total_seconds())


def _claims(
    organization_id: uuid.UUID | None, session_id: str, amr: tuple[str, ...]
) -> dict[str, Any]:
    """What every token carries besides its user: the active organization, the login, and
    how the login proved the user."""
    return {
        "org": str(organization_id) if organization_id else None,
        "sid": session_id,
        "amr": list(amr),
    }


def proven_by(claims: dict[str, Any]) -> tuple[str, ...]:
    """How the login of a token's claims proved the user; a token issued before logins
    said so was proven by a password alone."""
    return tuple(claims.get("amr") or PASSWORD)


def _issue(
    user_id: uuid.UUID,
    organization_id: uuid.UUID | None,
    session_id: str,
    refresh_id: str,
    amr: tuple[str, ...],
) -> TokenPair:
    claims = _claims(organization_id, session_id, amr)
    identity = str(user_id)
    return TokenPair(
        access_token=create_access_token(identity=identity, additional_claims=claims),
        refresh_token=create_refresh_token(
            identity=identity, additional_claims={**claims, "jti": refresh_id}
        ),
        organization_id=organization_id,
    )


def _start_session(user_id: uuid.UUID, session_id: str, refresh_id: str, client: Client) -> None:
    now = repr(time.time())
    ttl = _refresh_lifetime()
    record: dict[FieldT, EncodableT] = {
        "user": str(user_id),
        "created": now,
        "last_used": now,
        "user_agent": (client.user_agent or "")[:USER_AGENT_MAX],
        "ip": client.ip or "",
        "refresh": refresh_id,
    }
    pipe = redis_connection.client.pipeline(transaction=True)
    pipe.hset(_session_key(session_id), mapping=record)
    pipe.expire(_session_key(session_id), ttl)
    pipe.sadd(_user_key(user_id), session_id)
    pipe.expire(_user_key(user_id), ttl)
    pipe.execute()


def sign_in(
    session: Session,
    user_id: uuid.UUID,
    organization_id: uuid.UUID | None,
    client: Client | None = None,
    amr: tuple[str, ...] = PASSWORD,
) -> TokenPair:
    """A new login session for a user already identified (as `amr` says) and acting as
    themselves in `session`: tokens for `organization_id`, or for the user's first
    organization when none is asked for. Forbidden when the user is not a member of the
    one asked for."""
    organization_id = accounts.login_organization(session, user_id, organization_id)
    return open_session(user_id, organization_id, client or Client(), amr)


def open_session(
    user_id: uuid.UUID,
    organization_id: uuid.UUID | None,
    client: Client,
    amr: tuple[str, ...] = PASSWORD,
) -> TokenPair:
    """A new login session and its first tokens, for a user whose membership the caller
    has checked (sign_in; a password login, which chose the organization first; the
    benchmarks' logins)."""
    session_id, refresh_id = uuid.uuid4().hex, uuid.uuid4().hex
    _start_session(user_id, session_id, refresh_id, client)
    return _issue(user_id, organization_id, session_id, refresh_id, amr)


# Checks and moves a session's refresh token in one step, so that of two requests
# presenting the same refresh token at once only one can rotate it; the other sees a
# token already rotated away and revokes the session.
# KEYS: revocation marker, session record, user's session set.
# ARGV: presented refresh id (empty: rotate whatever is current), new refresh id, now,
# lifetime in seconds, session id.
_ROTATE = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local current = redis.call('HGET', KEYS[2], 'refresh')
if not current then return -1 end
if ARGV[1] ~= '' and current ~= ARGV[1] then
  redis.call('SET', KEYS[1], '1', 'EX', ARGV[4])
  redis.call('DEL', KEYS[2])
  redis.call('SREM', KEYS[3], ARGV[5])
  return -2
end
redis.call('HSET', KEYS[2], 'refresh', ARGV[2], 'last_used', ARGV[3])
redis.call('EXPIRE', KEYS[2], ARGV[4])
redis.call('EXPIRE', KEYS[3], ARGV[4])
return 1
"""


def rotate(
    user_id: uuid.UUID,
    organization_id: uuid.UUID | None,
    session_id: str,
    presented_refresh_id: str | None,
    amr: tuple[str, ...],
) -> TokenPair | Rotation:
    """New tokens for the session, replacing its refresh token: the one presented must be
    the current one (None: any, for a caller proven by an access token). `amr`: how the
    session's login proved the user, as the presented token says."""
    refresh_id = uuid.uuid4().hex
    script = redis_connection.client.register_script(_ROTATE)
    keys = [_REVOKED_PREFIX + session_id, _session_key(session_id), _user_key(user_id)]
    args: list[EncodableT] = [
        presented_refresh_id or "",
        refresh_id,
        repr(time.time()),
        _refresh_lifetime(),
        session_id,
    ]
    outcome = Rotation(int(script(keys=keys, args=args)))
    if outcome is not Rotation.ROTATED:
        return outcome
    return _issue(user_id, organization_id, session_id, refresh_id, amr)


# redis-py types each reply as that of its synchronous or its asyncio client; this
# service uses only the synchronous one, whose replies the casts below name.


def _text(value: bytes | str | None) -> str:
    """A Redis reply as text (the client answers bytes)."""
    if isinstance(value, bytes):
        return value.decode()
    return value or ""


def list_sessions(user_id: uuid.UUID) -> list[LoginSession]:
    """The user's live sessions, newest first; ids whose record expired are dropped."""
    client = redis_connection.client
    members = cast(set[bytes], client.smembers(_user_key(user_id)))
    ids = sorted(_text(member) for member in members)
    if not ids:
        return []
    pipe = client.pipeline(transaction=False)
    for session_id in ids:
        pipe.hgetall(_session_key(session_id))
    records: list[dict[bytes, bytes]] = pipe.execute()
    found, gone = [], []
    for session_id, record in zip(ids, records, strict=True):
        if _text(record.get(b"user")) != str(user_id):
            gone.append(session_id)
            continue
        found.append(
            LoginSession(
                id=session_id,
                created_at=float(record[b"created"]),
                last_used_at=float(record[b"last_used"]),
                user_agent=_text(record.get(b"user_agent")) or None,
                ip=_text(record.get(b"ip")) or None,
            )
        )
    if gone:
        client.srem(_user_key(user_id), *gone)
    return sorted(found, key=lambda s: s.created_at, reverse=True)


def end_session(user_id: uuid.UUID, session_id: str) -> bool:
    """End one of the user's sessions: its tokens stop at once. False when the user has
    no such session (another user's is reported the same way)."""
    owner = cast(bytes | None, redis_connection.client.hget(_session_key(session_id), "user"))
    if _text(owner) != str(user_id):
        return False
    revoke_sessions(user_id, [session_id])
    return True


def end_other_sessions(user_id: uuid.UUID, keep: str) -> int:
    """End every session of the user but `keep`; how many were ended."""
    others = [s.id for s in list_sessions(user_id) if s.id != keep]
    revoke_sessions(user_id, others)
    return len(others)


def end_all_sessions(user_id: uuid.UUID) -> None:
    """End every session of the user (a password reset; a second factor turned on)."""
    revoke_sessions(user_id, [s.id for s in list_sessions(user_id)])


def revoke_sessions(user_id: uuid.UUID, session_ids: list[str]) -> None:
    """Revoke sessions: the marker stops their tokens, the records leave the list."""
    if not session_ids:
        return
    pipe = redis_connection.client.pipeline(transaction=True)
    for session_id in session_ids:
        pipe.set(_REVOKED_PREFIX + session_id, "1", ex=_refresh_lifetime())
        pipe.delete(_session_key(session_id))
    pipe.srem(_user_key(user_id), *session_ids)
    pipe.execute()


class ChallengeStep(StrEnum):
    """What an MFA challenge lets its holder do next."""

    VERIFY = "verify"  # the user has a second factor: prove it
    ENROLL = "enroll"  # the user must have one and has none yet: set it up


@dataclass(frozen=True)
class MfaChallenge:
    """A login whose password checked out, waiting for its second factor."""

    user_id: uuid.UUID
    organization_id: uuid.UUID | None
    step: ChallengeStep
    # The user's password as the sign-in found it (app/auth/passwords.password_stamp).
    password_stamp: str


def _challenge_key(token: str) -> str:
    # Redis holds the token's hash, so a copy of its keys signs nobody in.
    return _CHALLENGE_PREFIX + hashlib.sha256(token.encode()).hexdigest()


def issue_challenge(challenge: MfaChallenge) -> str:
    """A new challenge token for `challenge`, usable for MFA_CHALLENGE_SECONDS."""
    token = secrets.token_urlsafe(32)
    record = {
        "user": str(challenge.user_id),
        "org": str(challenge.organization_id) if challenge.organization_id else "",
        "step": challenge.step.value,
        "password": challenge.password_stamp,
    }
    redis_connection.client.set(
        _challenge_key(token), json.dumps(record), ex=current_settings().mfa_challenge_seconds
    )
    return token


def read_challenge(token: str) -> MfaChallenge | None:
    """The challenge of `token`; None when it expired, was used, or never was."""
    raw = cast(bytes | None, redis_connection.client.get(_challenge_key(token)))
    if raw is None:
        return None
    record = json.loads(raw)
    return MfaChallenge(
        user_id=uuid.UUID(record["user"]),
        organization_id=uuid.UUID(record["org"]) if record["org"] else None,
        step=ChallengeStep(record["step"]),
        password_stamp=record["password"],
    )


def consume_challenge(token: str) -> bool:
    """Spend the challenge of `token`; False when it was already spent (or expired) in the
    meantime, so that of two requests completing one challenge only one signs in."""
    return bool(redis_connection.client.delete(_challenge_key(token)))


def _refused(message: str) -> Response:
    """A bad token's answer: 401."""
    return problem(401, message)


def init_tokens(app: Flask) -> None:
    app.config.update(
        JWT_ALGORITHM=ALGORITHM,
        JWT_DECODE_ALGORITHMS=[ALGORITHM],
        JWT_TOKEN_LOCATION=["headers"],
        # Read only by the views that take the browser's refresh cookie, and only when the
        # request carries the delivery header, which is what guards it against forged
        # cross-site requests (app/auth/refresh_cookie.py): no double-submit token.
        JWT_REFRESH_COOKIE_NAME=REFRESH_COOKIE,
        JWT_REFRESH_COOKIE_PATH=REFRESH_COOKIE_PATH,
        JWT_COOKIE_CSRF_PROTECT=False,
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

    jwt.expired_token_loader(lambda _h, _p: _refused("token has expired"))
    jwt.invalid_token_loader(lambda reason: _refused(f"invalid token: {reason}"))
    jwt.unauthorized_loader(lambda reason: _refused(reason))
    jwt.revoked_token_loader(lambda _h, _p: _refused("token has been revoked"))
    jwt.user_lookup_error_loader(lambda _h, _p: _refused("unknown or inactive user"))
    jwt.needs_fresh_token_loader(lambda _h, _p: _refused("fresh token required"))
    jwt.token_verification_failed_loader(lambda _h, _p: _refused("token verification failed"))
