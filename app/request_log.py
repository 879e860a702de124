"""One log line for each request, at its end: its id, method, route, status and duration,
and who made it (the user and organization of its tenant context, when it has one).

The route is the template the request matched (`/organizations/<uuid:organization_id>`),
never the path as sent, whose query string may carry anything; a request that matched no
route has none. Every line logged while the request runs carries its id too (see
app/logs.py), the same id the audit trail records and the response's X-Request-ID gives
back.
"""

from __future__ import annotations

import logging
import time

from flask import Flask, Response, g, request

from app import logs
from app.tenancy.context import TenantContext
from app.tenancy.request import request_id

log = logging.getLogger("app.requests")


def _since(started: float | None) -> float | None:
    """Milliseconds since `started`; None when a hook before it failed to start the clock."""
    return None if started is None else round((time.perf_counter() - started) * 1000, 1)


def init_request_log(app: Flask) -> None:
    """Registered before any other hook: its request hook runs first (and always, even
    when a later one answers the request itself) and its response hook last, when the
    status is final."""

    @app.before_request
    def _start() -> None:
        g.log_fields = logs.bind(request_id=request_id())
        g.started = time.perf_counter()

    @app.after_request
    def _log_request(response: Response) -> Response:
        context: TenantContext | None = g.get("tenant_context")
        log.info(
            "request",
            extra={
                "method": request.method,
                "route": request.url_rule.rule if request.url_rule else None,
                "status": response.status_code,
                "duration_ms": _since(g.get("started")),
                "user_id": context.user_id if context else None,
                "organization_id": context.organization_id if context else None,
            },
        )
        return response

    @app.teardown_request
    def _forget(_exc: BaseException | None) -> None:
        if "log_fields" in g:
            logs.unbind(g.log_fields)
