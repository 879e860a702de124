"""The answers, as problems (app/problems.py), to errors that are not HTTP errors raised
on purpose.

flask-smorest's HTTP errors (its 422 validation errors naming each field, `abort`, 404 for
an unknown URL, 405 with Allow) are answered by app/openapi.py's `Api`. This adds: the
domain's refusals, each kind with its status (STATUS, the one place they become status
codes), naming the field; database constraint violations as 409/422 naming the field; a
write the policies refuse as 404, or as 403 to an MSC representative (see
`_refused_write`); a document's stored file missing or corrupt as a 500 that says so; a
body over its limit as a 413 naming the limit; a database or Redis that cannot serve the
request now as 503 with Retry-After (see `_retry_later`); and anything unexpected as a 500
(logged, and the transaction rolled back by the request hook).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import NoReturn, cast

import flask_smorest
import psycopg.errors
from flask import Flask, Response, g, request
from redis.exceptions import RedisError
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.exceptions import RequestEntityTooLarge

from app.citus import unsharded
from app.database import unavailable
from app.domain.documents import StoredFileCorrupt
from app.domain.errors import (
    Conflict,
    DomainError,
    Forbidden,
    Gone,
    Invalid,
    NotFound,
    TooLarge,
    Unavailable,
)
from app.integrations.storage import StoredFileMissing
from app.models.enums import MSC_REPRESENTATIVE
from app.problems import field_errors, problem

log = logging.getLogger(__name__)

# flask_smorest.abort (its `message` the problem's detail), typed as the raise it is.
abort = cast(Callable[..., NoReturn], flask_smorest.abort)

# Exception class -> status. An exception takes the entry of the nearest class in its MRO.
STATUS: dict[type[Exception], int] = {
    NotFound: 404,
    Invalid: 422,
    Conflict: 409,
    Forbidden: 403,
    Gone: 410,
    TooLarge: 413,
    Unavailable: 503,
    # The row is there but its bytes are not (or no longer match their hash): a fault
    # on our side that the client cannot fix and that retrying will not cure, so neither
    # 410 (the document itself is not gone) nor 503.
    StoredFileMissing: 500,
    StoredFileCorrupt: 500,
}

# What the client is told of a storage fault; the log gets the key or document id.
STORAGE_FAULTS: dict[type[Exception], str] = {
    StoredFileMissing: "the stored file is missing",
    StoredFileCorrupt: "the stored file is corrupt",
}


def status_of(exc: Exception) -> int:
    """The status answering `exc`: STATUS's entry for its nearest class, else 500."""
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 500


# Constraint -> (API field, message). Unlisted constraints fall back to the column
# PostgreSQL reports (the triggers name one) and its own message.
CONSTRAINT_FIELDS: dict[str, tuple[str, str]] = {
    "uq_users_email": ("email", "an account with this email already exists"),
    "uq_users_npi": ("npi", "this NPI is already registered"),
    "uq_memberships_organization_id_user_id": ("user_id", "already a member"),
    "uq_provider_facilities_current": ("facility_id", "already assigned to this facility"),
    "uq_invitations_open": ("email", "an open invitation exists for this email"),
    "fk_organizations_msc_representative_id": ("msc_representative_id", "user not found"),
    "fk_facilities_office_manager": (
        "office_manager_id",
        "not a member of this facility's organization",
    ),
    "ck_users_npi_format": ("npi", "an NPI is 10 digits starting with 1 or 2"),
    "ck_facilities_npi_format": ("npi", "an NPI is 10 digits starting with 1 or 2"),
    "ck_credentials_dates_ordered": ("expiry_date", "the expiry date is before the effective date"),
    "fk_credentials_state": ("state", "not a US state or territory code"),
    "fk_facilities_state": ("state", "not a US state or territory code"),
    "fk_documents_credential_id": ("credential_id", "credential not found"),
    "fk_orders_membership": (
        "facility_id",
        "the provider is not a member of this facility's organization",
    ),
    "fk_provider_facilities_membership": (
        "facility_id",
        "the provider is not a member of this facility's organization",
    ),
}


def _refusal(status: int, message: str, field: str | None = None) -> Response:
    """A problem saying `message`, naming `field` as at fault when there is one."""
    return problem(status, message, field_errors(field, message) if field else None)


# How long a client is asked to wait before retrying a request refused by an outage.
RETRY_AFTER_SECONDS = 5


def _retry_later(service: str, exc: BaseException) -> Response:
    """503 with Retry-After, logged as one line: an outage refuses every request, and a
    traceback each would bury the log in copies of the same one."""
    cause = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    first_line = next(iter(str(cause).strip().splitlines()), "")
    log.warning(
        "%s unavailable (%s %s): %s: %s",
        service,
        request.method,
        request.path,
        type(cause).__name__,
        first_line,
    )
    return problem(
        503,
        "a required service is unavailable, retry later",
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


# Where PostgreSQL's own messages name the constraint violated, and where ours name the
# column at fault (tenancy.raise_for_column): a Citus cluster passes on an error raised on
# a worker's shard without its constraint and column fields, but with its message and
# detail.
_CONSTRAINT_IN_MESSAGE = re.compile(r'constraint "([^"]+)"')
_COLUMN_IN_DETAIL = re.compile(r"column (\w+)")


def _constraint(diag: psycopg.errors.Diagnostic | None) -> str:
    """The constraint an error names (as the application knows it, not a shard's copy)."""
    if diag is None:
        return ""
    found = diag.constraint_name or next(
        iter(_CONSTRAINT_IN_MESSAGE.findall(diag.message_primary or "")), ""
    )
    return unsharded(found)


def _column(diag: psycopg.errors.Diagnostic | None) -> str | None:
    """The column one of our triggers named as at fault, if any."""
    if diag is None:
        return None
    if diag.column_name:
        return diag.column_name
    found = _COLUMN_IN_DETAIL.fullmatch(diag.message_detail or "")
    return found.group(1) if found else None


def integrity_error(exc: IntegrityError) -> Response:
    diag = getattr(exc.orig, "diag", None)
    constraint = _constraint(diag)
    column = _column(diag)
    unique = isinstance(exc.orig, psycopg.errors.UniqueViolation)
    field: str | None
    if constraint in CONSTRAINT_FIELDS:
        field, message = CONSTRAINT_FIELDS[constraint]
    else:
        field = column or constraint or None
        message = "conflicts with an existing record" if unique else "invalid value"
        if column and diag is not None:  # raised by one of our triggers: say why
            message = diag.message_primary or message
    return _refusal(409 if unique else 422, message, field)


def _refused_write() -> Response:
    """A write the policies refused: its target lies outside the caller's reach, so it is
    not found. But an MSC representative reads what they may not write (the tenant
    tables refuse every write of theirs, `tenancy.may_write_tenant_data`): to them the
    refusal is a 403, which tells nothing of the target, being the same for any."""
    context = g.get("tenant_context")
    if context is not None and context.role == MSC_REPRESENTATIVE:
        return _refusal(403, "an MSC representative's access is read-only")
    return _refusal(404, "not found")


def init_error_handlers(app: Flask) -> None:
    app.register_error_handler(IntegrityError, integrity_error)

    @app.errorhandler(DomainError)
    def _domain_error(exc: DomainError) -> Response:
        return _refusal(status_of(exc), exc.message, exc.field)

    def _storage_fault(exc: Exception) -> Response:
        message = next(m for cls, m in STORAGE_FAULTS.items() if isinstance(exc, cls))
        log.error("%s (%s %s): %s", message, request.method, request.path, exc)
        return _refusal(status_of(exc), message)

    for fault in STORAGE_FAULTS:
        app.register_error_handler(fault, _storage_fault)

    @app.errorhandler(RequestEntityTooLarge)
    def _body_too_large(_exc: RequestEntityTooLarge) -> Response:
        # The limit depends on the kind of body (app/request_body.py): say which applied.
        limit = request.max_content_length
        return _refusal(413, f"the request body is larger than the {limit} bytes accepted")

    @app.errorhandler(StaleDataError)
    def _vanished(_exc: StaleDataError) -> Response:
        # The row was visible but the policies refused to change it (none changed).
        return _refused_write()

    @app.errorhandler(DBAPIError)
    def _database_error(exc: DBAPIError) -> Response:
        if unavailable(exc):
            return _retry_later("database", exc)
        if isinstance(exc.orig, psycopg.errors.NumericValueOutOfRange | psycopg.errors.DataError):
            # Values past what a column holds (a number too large, a date out of range).
            return _refusal(422, "a value is out of range", _column(exc.orig.diag))
        if isinstance(exc.orig, psycopg.errors.InsufficientPrivilege):
            column = _column(exc.orig.diag)
            if column:  # a column guard: the row is reachable, the column is not the caller's
                return _refusal(403, str(exc.orig.diag.message_primary), column)
            # a policy's WITH CHECK ("new row violates row-level security policy")
            return _refused_write()
        log.exception("database error")
        return _refusal(500, "internal error")

    @app.errorhandler(PoolTimeout)
    def _no_connection(exc: PoolTimeout) -> Response:
        return _retry_later("database", exc)

    @app.errorhandler(RedisError)
    def _redis_down(exc: RedisError) -> Response:
        return _retry_later("redis", exc)

    @app.errorhandler(Exception)
    def _unexpected(_exc: Exception) -> Response:
        # HTTP errors never get here: the Api's more specific handler takes them.
        log.exception("unhandled error")
        return _refusal(500, "internal error")
