"""One transaction per request: commit on success, roll back on any error.

The session is opened lazily by the first query; the tenant context is applied as
its transaction begins. Whatever happens, the transaction ends with the request, and
with it every transaction-local tenant setting.
"""

from __future__ import annotations

import re
import uuid

from flask import Flask, Response, g, has_request_context, request

from app.tenancy.context import TenantContext

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def request_id() -> str | None:
    if not has_request_context():
        return None
    if "request_id" not in g:
        given = request.headers.get("X-Request-ID", "")
        g.request_id = given if _REQUEST_ID.match(given) else uuid.uuid4().hex
    value: str = g.request_id
    return value


def current_context() -> TenantContext:
    """The authenticated request's context (set while verifying its token)."""
    context: TenantContext | None = g.get("tenant_context")
    if context is None:
        raise RuntimeError("no tenant context: the view is missing authentication")
    return context


def init_request_transactions(app: Flask) -> None:
    @app.after_request
    def _finish_transaction(response: Response) -> Response:
        session = g.get("db_session")
        if session is not None:
            if response.status_code < 400:
                session.commit()
            else:
                session.rollback()
        rid = g.get("request_id")
        if rid:
            response.headers["X-Request-ID"] = rid
        return response
