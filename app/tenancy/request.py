"""The request's side of the tenancy: its id (for the audit trail and the logs) and the
context its token resolved to. The transaction itself is ended by the request session
(app/extensions.py), and with it every transaction-local tenant setting.
"""

from __future__ import annotations

import re
import uuid

from flask import Flask, Response, g, has_request_context, request

from app.models.audit_event import REQUEST_ID_LENGTH
from app.tenancy.context import TenantContext

# A request id the client chose (X-Request-ID) is kept apart from those the service makes
# (a request's own, a job's `job:...`, a seed's): prefixed wherever the service records
# it (the audit trail, the logs, the jobs it queues), so that none is taken for another.
# The client is answered with the id as it sent it.
CLIENT_PREFIX = "client:"
_CLIENT_REQUEST_ID = re.compile(rf"^[A-Za-z0-9._-]{{1,{REQUEST_ID_LENGTH - len(CLIENT_PREFIX)}}}$")


def request_id() -> str | None:
    if not has_request_context():
        return None
    if "request_id" not in g:
        given = request.headers.get("X-Request-ID", "")
        if _CLIENT_REQUEST_ID.match(given):
            g.client_request_id = given
            g.request_id = CLIENT_PREFIX + given
        else:
            g.request_id = uuid.uuid4().hex
    value: str = g.request_id
    return value


def answered_request_id() -> str:
    """The request's id as the client is answered with it (X-Request-ID, error bodies):
    a client's own id as it sent it, without the prefix the service records it under.
    Only in a request."""
    request_id()
    answered: str = g.get("client_request_id") or g.request_id
    return answered


def current_context() -> TenantContext:
    """The authenticated request's context (set while verifying its token)."""
    context: TenantContext | None = g.get("tenant_context")
    if context is None:
        raise RuntimeError("no tenant context: the view is missing authentication")
    return context


def init_request_ids(app: Flask) -> None:
    @app.after_request
    def _echo_request_id(response: Response) -> Response:
        # Every request has one from its start (its log line's, app/request_log.py).
        response.headers["X-Request-ID"] = answered_request_id()
        return response
