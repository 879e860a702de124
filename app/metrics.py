"""The service's Prometheus metrics: their definitions, the database engine's
instrumentation, and the endpoint that serves them (README, "Metrics").

Every process counts in prometheus_client's multiprocess mode: each value lives in a
file of PROMETHEUS_MULTIPROC_DIR named after the process that wrote it, and a scrape adds
up the files of the whole process tree. That is how the API's gunicorn workers are
scraped as one (from the master, gunicorn.conf.py), and how a worker's forked work horses
(the reminder scan) keep what they counted after they exit. When no directory is named,
importing this module makes a fresh one for the process and its children, removed when
the process that made it exits; gunicorn.conf.py makes one per start of the server.

This module imports no Flask. The request hooks are in app/request_metrics.py, the
worker's scrape-time readings in workers/metrics.py.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextvars import ContextVar, Token
from typing import Any

MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"


def _make_multiprocess_dir() -> None:
    """A new directory for this process tree's metric files, named in the environment
    (the children inherit it) and removed when this process exits."""
    path = tempfile.mkdtemp(prefix="msc-metrics-")
    os.environ[MULTIPROCESS_DIR] = path
    owner = os.getpid()

    def remove() -> None:
        # A forked child runs its parent's exit handlers too (a gunicorn worker does).
        if os.getpid() == owner:
            shutil.rmtree(path, ignore_errors=True)

    atexit.register(remove)


# prometheus_client picks the multiprocess values when first imported, if the directory is
# named by then: so before the import.
if not os.environ.get(MULTIPROCESS_DIR):
    _make_multiprocess_dir()
# The directory this process counts in, kept: gunicorn runs its configuration again on a
# reload (SIGHUP), after which the environment is named from here (gunicorn.conf.py).
DIRECTORY = os.environ[MULTIPROCESS_DIR]

from prometheus_client import (  # noqa: E402
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    multiprocess,
    start_http_server,
    values,
)
from prometheus_client.core import GaugeMetricFamily  # noqa: E402
from prometheus_client.registry import Collector  # noqa: E402
from sqlalchemy import Engine, event  # noqa: E402

# The worker whose work horse this process is (rq forks one for each job, four times a
# minute for the outbox relay alone), if it is one.
_horse_of: int | None = None


def horses_of(worker_pid: int) -> str:
    """The name every work horse of a worker counts under: one set of files for all of
    them, which run one after another, where a name per horse would leave a set per job
    in the directory (read by every scrape) for the life of the pod."""
    return f"{worker_pid}-horses"


def _process_name() -> str:
    return horses_of(_horse_of) if _horse_of is not None else str(os.getpid())


def count_as_horse_of(worker_pid: int) -> None:
    """This process is a work horse of `worker_pid`: it counts on from where the worker's
    last horse stopped."""
    global _horse_of
    _horse_of = worker_pid


values.ValueClass = values.MultiProcessValue(_process_name)  # type: ignore[no-untyped-call]

# Something imported prometheus_client before the directory was named: its values would
# stay in this process, and no scrape would see them.
if not getattr(values.ValueClass, "_multiprocess", False):
    raise RuntimeError("prometheus_client was imported before app.metrics set its directory")

# The label of a request no URL rule matched (a 404, a 405): one value whatever the path,
# so a scan of random URLs cannot make a series each.
UNMATCHED_ROUTE = "<unmatched>"

# The API's requests (app/request_metrics.py).
HTTP_REQUESTS = Counter(
    "msc_http_requests_total",
    "API requests answered, by method, URL rule and status.",
    ["method", "route", "status"],
)
HTTP_REQUEST_DURATION = Histogram(
    "msc_http_request_duration_seconds",
    "Time from the request's first hook to its answer, by method, URL rule and status.",
    ["method", "route", "status"],
)
HTTP_REQUESTS_IN_FLIGHT = Gauge(
    "msc_http_requests_in_flight",
    "API requests being handled now.",
    multiprocess_mode="livesum",
)

# The application engine's pool, in every process that has one (instrument_engine).
DB_POOL_CHECKED_OUT = Gauge(
    "msc_db_pool_checked_out",
    "Database connections taken from the pool and not yet returned.",
    multiprocess_mode="livesum",
)
DB_POOL_WAITING = Gauge(
    "msc_db_pool_waiting",
    "Threads getting a database connection: waiting for a free one, or for a new one to open.",
    multiprocess_mode="livesum",
)
DB_STATEMENTS_PER_REQUEST = Histogram(
    "msc_db_statements_per_request",
    "SQL statements an API request ran.",
    buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500, 1000),
)

# Background work.
REMINDERS_WRITTEN = Counter(
    "msc_reminders_written_total", "Renewal reminders the reminder scan wrote to the outbox."
)
EMAILS_SENT = Counter("msc_emails_sent_total", "Outbox emails the SMTP server accepted.")
EMAILS_FAILED = Counter(
    "msc_emails_failed_total",
    "Outbox email attempts that failed (each then retried, or given up after the last).",
)

# Webhook delivery (workers/jobs.py): each attempt by how it ended (delivered: a 2xx;
# failed: any other answer or none; refused: an address that may not be reached;
# unsigned: the endpoint's secret does not open with this OUTBOX_SECRET_KEY).
WEBHOOK_ATTEMPTS = Counter(
    "msc_webhook_attempts_total",
    "Webhook delivery attempts, by outcome (delivered, failed, refused, unsigned).",
    ["outcome"],
)

# The exclusion lists' scheduled import (workers/jobs.py).
EXCLUSION_FETCH_FAILURES = Counter(
    "msc_exclusion_fetch_failures_total",
    "Scheduled exclusion list fetches that failed (the version in force stays), by source.",
    ["source"],
)

# Sign-in protection (app/auth/throttle.py).
LOGIN_FAILURES = Counter(
    "msc_login_failures_total", "Failed sign-in checks: a wrong password or second factor."
)
RATE_LIMIT_REJECTIONS = Counter(
    "msc_rate_limit_rejections_total",
    "Requests refused with 429: a request limit reached, or an account's sign-in delay.",
)


class StatementCount:
    """The statements run so far by the request being counted."""

    count = 0


_counting: ContextVar[StatementCount | None] = ContextVar("msc_statements", default=None)


def start_counting_statements() -> Token[StatementCount | None]:
    """Count the statements the application engine runs from now on, in this context."""
    return _counting.set(StatementCount())


def stop_counting_statements(token: Token[StatementCount | None]) -> int:
    """Stop counting; how many statements ran since `start_counting_statements`."""
    counted = _counting.get()
    _counting.reset(token)
    return counted.count if counted is not None else 0


def _count_statement(*_: Any) -> None:
    counted = _counting.get()
    if counted is not None:
        counted.count += 1


def instrument_engine(engine: Engine) -> None:
    """Report the engine's pool (checked out, waiting) and count its statements.

    Waiting is counted around Engine.raw_connection, through which every connection of
    the engine is taken from its pool: the pool has no event for a checkout that has
    begun but not ended. Wrapping the engine rather than its pool keeps the count
    across `dispose()`, which replaces the pool (its event listeners go along)."""
    event.listen(engine.pool, "checkout", lambda *_: DB_POOL_CHECKED_OUT.inc())
    event.listen(engine.pool, "checkin", lambda *_: DB_POOL_CHECKED_OUT.dec())
    event.listen(engine, "before_cursor_execute", _count_statement)
    take: Callable[[], Any] = engine.raw_connection

    def raw_connection() -> Any:
        DB_POOL_WAITING.inc()
        try:
            return take()
        finally:
            DB_POOL_WAITING.dec()

    engine.raw_connection = raw_connection  # type: ignore[method-assign]


def registry(*collectors: Collector) -> CollectorRegistry:
    """What a scrape reads: the metrics of every process of this tree, and `collectors`
    (readings taken at scrape time)."""
    found = CollectorRegistry()
    # prometheus_client's multiprocess functions carry no type hints.
    multiprocess.MultiProcessCollector(found)  # type: ignore[no-untyped-call]
    for collector in collectors:
        found.register(collector)
    return found


def serve(port: int, *collectors: Collector) -> None:
    """Serve `registry(*collectors)` over HTTP on `port` (all interfaces), from a daemon
    thread of this process; nothing when `port` is 0."""
    if port:
        start_http_server(port, registry=registry(*collectors))


def forget_process(name: int | str) -> None:
    """A child of this process exited (a pid, or `horses_of` a worker): its gauges no
    longer count (its counters do)."""
    multiprocess.mark_process_dead(name, DIRECTORY)  # type: ignore[no-untyped-call]


class SchedulerHeartbeat(Collector):
    """When the scheduler last came round its loop, served by the scheduler alone: a gauge
    of the shared kind would be served by every process as 0 until set, and an alert on
    its absence could never fire."""

    def __init__(self) -> None:
        self.last: float | None = None

    def beat(self) -> None:
        self.last = time.time()

    def collect(self) -> Iterator[GaugeMetricFamily]:
        if self.last is not None:
            yield GaugeMetricFamily(
                "msc_scheduler_heartbeat_timestamp_seconds",
                "When the scheduler last came round its loop (Unix time).",
                value=self.last,
            )
