"""The facility list with nothing but its essentials: the peer the full endpoint is
measured against (bench/load.py serves both with the same gunicorn and compares).

    gunicorn --pythonpath bench bare:app   (DATABASE_URL, REDIS_URL, JWT_SECRET_KEY,
                                            TENANT_CONTEXT_KEY)

`GET /api/v1/admin/facilities?page=P&page_size=N` answers what the application's answers
for an organization member: the same rows (the same policies, as the same role, with the
same settings), the same JSON fields and the same X-Pagination header. Per request:
  1. decode the access token (PyJWT: same secret, same algorithm);
  2. check its login session is not revoked (one Redis EXISTS);
  3. one round trip for the context: the transaction begins and tenancy.enter, asked
     with the service's ticket (the database takes no context it did not sign: see
     app/tenancy/signing.py), checks the membership (user active, member of the token's
     organization) and sets the role, the organization and, for an organization admin,
     the descendants as the scope;
  4. one round trip for the page and its total (count(*) OVER (), so a page past the
     end reports no total);
  5. json.dumps; then COMMIT, which ends the transaction and its settings.
Only GET of that one path; anything else is 404, a bad or revoked token 401.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import threading
import uuid
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qs

import jwt
import psycopg
import redis
from psycopg import sql

from app.config import DEV_TENANT_CONTEXT_KEY
from app.tenancy import signing

PATH = "/api/v1/admin/facilities"
MAX_PAGE_SIZE = 100
_REVOKED_PREFIX = "revoked-session:"  # app/auth/tokens.py

COLUMNS = (
    "id",
    "organization_id",
    "name",
    "npi",
    "ptan",
    "facility_type",
    "address",
    "city",
    "state",
    "zip_code",
    "phone",
    "email",
    "office_manager_id",
    "mac_jurisdiction",
    "place_of_service",
    "active",
    "created_at",
    "updated_at",
)

# The transaction and the context in one round trip (a pipeline: both are sent before
# either answer is read); no row means not an active member of the token's organization.
_ENTER = (
    "SELECT organization_ids"
    " FROM tenancy.enter(%(user_id)s, %(organization_id)s, %(request_id)s, '{}', %(ticket)s)"
)

_PAGE = sql.SQL(
    "SELECT {columns}, count(*) OVER () FROM facilities"
    " WHERE organization_id = ANY(%(scope)s::uuid[])"
    " ORDER BY name, id LIMIT %(limit)s OFFSET %(offset)s"
).format(columns=sql.SQL(", ").join(sql.Identifier(c) for c in COLUMNS))

SECRET = os.environ["JWT_SECRET_KEY"]
signing.use_key(os.environ.get("TENANT_CONTEXT_KEY", DEV_TENANT_CONTEXT_KEY))
DATABASE_URL = os.environ["DATABASE_URL"].replace("postgresql+psycopg://", "postgresql://")
REDIS = redis.Redis.from_url(os.environ["REDIS_URL"])
_local = threading.local()

StartResponse = Callable[[str, list[tuple[str, str]]], Any]


def _connection() -> psycopg.Connection[Any]:
    """This thread's connection (a sync worker has one thread, a gthread worker several)."""
    conn: psycopg.Connection[Any] | None = getattr(_local, "connection", None)
    if conn is None or conn.closed:
        conn = psycopg.connect(DATABASE_URL, autocommit=True)
        _local.connection = conn
    return conn


def _plain(value: Any) -> Any:
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, dt.datetime):
        return value.isoformat()
    return value


def _answer(
    start_response: StartResponse, status: str, body: Any, headers: Iterable[tuple[str, str]] = ()
) -> list[bytes]:
    data = json.dumps(body).encode()
    start_response(
        status,
        [("Content-Type", "application/json"), ("Content-Length", str(len(data))), *headers],
    )
    return [data]


def _unauthorized(start_response: StartResponse, message: str) -> list[bytes]:
    body = {"code": 401, "status": "Unauthorized", "message": message}
    return _answer(start_response, "401 UNAUTHORIZED", body)


def app(environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
    if environ["REQUEST_METHOD"] != "GET" or environ["PATH_INFO"] != PATH:
        return _answer(start_response, "404 NOT FOUND", {"code": 404, "status": "Not Found"})
    scheme, _, token = environ.get("HTTP_AUTHORIZATION", "").partition(" ")
    if scheme != "Bearer" or not token:
        return _unauthorized(start_response, "Missing Authorization Header")
    try:
        claims = jwt.decode(token, SECRET, algorithms=["HS256"])
        if claims.get("type") != "access":
            raise jwt.InvalidTokenError("not an access token")
        user_id = uuid.UUID(claims["sub"])
        organization_id = uuid.UUID(claims["org"])
    except (jwt.InvalidTokenError, KeyError, TypeError, ValueError) as exc:
        return _unauthorized(start_response, f"invalid token: {exc}")
    if REDIS.exists(_REVOKED_PREFIX + str(claims.get("sid"))):
        return _unauthorized(start_response, "token has been revoked")

    query = parse_qs(environ.get("QUERY_STRING", ""))
    page = max(1, int(query.get("page", ["1"])[0]))
    page_size = min(MAX_PAGE_SIZE, max(1, int(query.get("page_size", ["10"])[0])))

    conn = _connection()
    try:
        with conn.cursor() as cur:
            request_id = environ.get("HTTP_X_REQUEST_ID") or None
            with conn.pipeline():
                cur.execute("BEGIN")
                cur.execute(
                    _ENTER,
                    {
                        "user_id": user_id,
                        "organization_id": organization_id,
                        "request_id": request_id,
                        "ticket": signing.enter_ticket(user_id, organization_id, request_id, ()),
                    },
                )
            scope_row = cur.fetchone()
            if scope_row is None:  # not an active member of the token's organization
                conn.execute("ROLLBACK")
                return _unauthorized(start_response, "unknown or inactive user")
            scope = scope_row[0]
            cur.execute(
                _PAGE,
                {"scope": scope, "limit": page_size, "offset": (page - 1) * page_size},
                prepare=True,
            )
            rows = cur.fetchall()
        conn.execute("COMMIT")
    except BaseException:
        if not conn.closed:
            conn.execute("ROLLBACK")
        raise
    total = rows[0][-1] if rows else 0
    items = [{c: _plain(v) for c, v in zip(COLUMNS, row, strict=False)} for row in rows]
    pages = -(-total // page_size)
    # flask-smorest's header
    pagination = {"total": total, "total_pages": pages, "first_page": 1, "last_page": pages}
    if pages:
        pagination["page"] = page
        if page > 1:
            pagination["previous_page"] = page - 1
        if page < pages:
            pagination["next_page"] = page + 1
    return _answer(start_response, "200 OK", items, [("X-Pagination", json.dumps(pagination))])
