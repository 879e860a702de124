"""The API's request metrics (app/metrics.py): each request counted and timed by its
method, URL rule and status, the requests in flight, and the statements each ran.

The hooks are registered before any other (app/factory.py), so the timing starts before
the first request hook, even one that answers on its own (a CORS preflight), and the
status is that of the response as it finally leaves.
"""

from __future__ import annotations

import time
from contextvars import Token
from dataclasses import dataclass

from flask import Flask, Response, g, request
from sqlalchemy import Engine

from app import metrics

# Methods outside this set share one label value: a client may send any method name.
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


@dataclass
class _Measure:
    started: float
    statements: Token[metrics.StatementCount | None]


def _start() -> None:
    metrics.HTTP_REQUESTS_IN_FLIGHT.inc()
    g.request_measure = _Measure(time.perf_counter(), metrics.start_counting_statements())


def _record(response: Response) -> Response:
    measure: _Measure | None = g.pop("request_measure", None)
    if measure is None:
        return response
    metrics.HTTP_REQUESTS_IN_FLIGHT.dec()
    labels = {
        "method": request.method if request.method in _METHODS else "other",
        # The rule's template, never the path: ids and tenants stay out of the labels.
        "route": request.url_rule.rule if request.url_rule else metrics.UNMATCHED_ROUTE,
        "status": str(response.status_code),
    }
    metrics.HTTP_REQUESTS.labels(**labels).inc()
    metrics.HTTP_REQUEST_DURATION.labels(**labels).observe(time.perf_counter() - measure.started)
    metrics.DB_STATEMENTS_PER_REQUEST.observe(metrics.stop_counting_statements(measure.statements))
    return response


def _abandoned(error: BaseException | None) -> None:
    """A request that ended without passing `_record` (a response hook raised): out of
    flight all the same."""
    measure: _Measure | None = g.pop("request_measure", None)
    if measure is not None:
        metrics.HTTP_REQUESTS_IN_FLIGHT.dec()
        metrics.stop_counting_statements(measure.statements)


def init_request_metrics(app: Flask, engine: Engine) -> None:
    metrics.instrument_engine(engine)
    app.before_request(_start)
    app.after_request(_record)
    app.teardown_request(_abandoned)
