"""JSON answers for errors that are not HTTP errors raised on purpose.

flask-smorest already answers HTTP errors (and 422 validation errors naming each
field) as JSON. This adds: database constraint violations as 409/422 naming the field,
an unreachable Redis as 503, and anything unexpected as a JSON 500 (logged, and the
transaction rolled back by the request hook).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import NoReturn, cast

import flask_smorest
import psycopg.errors
from flask import Flask, jsonify
from flask.typing import ResponseReturnValue
from redis.exceptions import RedisError
from sqlalchemy.exc import DBAPIError, IntegrityError

from app.domain.errors import DomainError

log = logging.getLogger(__name__)

# flask_smorest.abort (JSON body with `message`), typed as the raise it is.
abort = cast(Callable[..., NoReturn], flask_smorest.abort)

# Constraint -> (API field, message). Unlisted constraints fall back to the column
# PostgreSQL reports, or to the constraint name.
CONSTRAINT_FIELDS: dict[str, tuple[str, str]] = {
    "uq_users_email": ("email", "an account with this email already exists"),
    "uq_users_npi": ("npi", "this NPI is already registered"),
    "uq_memberships_organization_id_user_id": ("user_id", "already a member"),
    "fk_organizations_parent_organization_id": ("parent_organization_id", "organization not found"),
    "fk_organizations_msc_representative_id": ("msc_representative_id", "user not found"),
    "ck_organizations_not_own_parent": (
        "parent_organization_id",
        "an organization cannot be its own parent",
    ),
}


def _body(status: int, message: str, field: str | None) -> ResponseReturnValue:
    errors = {"json": {field: [message]}} if field else None
    payload = {"code": status, "status": "Error", "message": message}
    if errors:
        payload["errors"] = errors
    return jsonify(payload), status


def integrity_error(exc: IntegrityError) -> ResponseReturnValue:
    diag = getattr(exc.orig, "diag", None)
    constraint = getattr(diag, "constraint_name", None) or ""
    column = getattr(diag, "column_name", None)
    field, message = CONSTRAINT_FIELDS.get(constraint, (column or constraint, "invalid value"))
    status = 409 if isinstance(exc.orig, psycopg.errors.UniqueViolation) else 422
    if status == 409 and constraint not in CONSTRAINT_FIELDS:
        message = "conflicts with an existing record"
    return _body(status, message, field)


def init_error_handlers(app: Flask) -> None:
    app.register_error_handler(IntegrityError, integrity_error)

    @app.errorhandler(DomainError)
    def _domain_error(exc: DomainError) -> ResponseReturnValue:
        return _body(exc.status, exc.message, exc.field)

    @app.errorhandler(DBAPIError)
    def _database_error(exc: DBAPIError) -> ResponseReturnValue:
        if isinstance(exc.orig, psycopg.errors.InsufficientPrivilege):
            # A write the policies refused: the row is outside the caller's reach.
            return _body(403, "not permitted for this organization", None)
        if isinstance(exc.orig, psycopg.errors.CheckViolation | psycopg.errors.RaiseException):
            return _body(422, str(exc.orig.diag.message_primary), exc.orig.diag.column_name)
        log.exception("database error")
        return _body(500, "internal error", None)

    @app.errorhandler(RedisError)
    def _redis_down(_exc: RedisError) -> ResponseReturnValue:
        log.exception("redis unavailable")
        return _body(503, "a required service is unavailable, retry later", None)

    @app.errorhandler(Exception)
    def _unexpected(_exc: Exception) -> ResponseReturnValue:
        # HTTP errors never get here: flask-smorest's more specific handler takes them.
        log.exception("unhandled error")
        return _body(500, "internal error", None)
