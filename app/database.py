"""Engines and the session events every session of the process shares. No Flask here:
the web application, the workers and the migrations all connect through this module."""

from __future__ import annotations

import select
from typing import Any

import psycopg
from psycopg.abc import RV, PQGen
from sqlalchemy import Engine, create_engine, event, exc
from sqlalchemy.engine import URL, make_url
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from app.config import Settings
from app.domain import documents
from app.tenancy import context, read_only

# libpq's TCP keepalives: an idle connection to a server whose host or network is gone
# fails within about 25 s, instead of when the kernel gives up (hours).
KEEPALIVES = {
    "keepalives": 1,
    "keepalives_idle": 10,
    "keepalives_interval": 5,
    "keepalives_count": 3,
}
# How much longer than the statement timeout the service waits for any answer before it
# gives a connection up: a server that runs cancels the statement itself well within it.
ANSWER_MARGIN_SECONDS = 1.0
# A readiness probe's connection: libpq's shortest connect timeout, and one second for
# the answer.
PROBE_CONNECT_TIMEOUT_SECONDS = 2
PROBE_ANSWER_SECONDS = 1.0


def sqlalchemy_url(url: str) -> URL:
    """Accept plain postgresql:// URLs and pin the psycopg 3 driver."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def make_engine(url: str, **options: Any) -> Engine:
    # An error's text leaves out the values bound to its statement: they carry emails,
    # names and numbers, and the text reaches logs and traces.
    engine = create_engine(sqlalchemy_url(url), hide_parameters=True, **options)
    event.listen(engine, "checkout", _refuse_closed_by_server)
    return engine


def _refuse_closed_by_server(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
    """Pool listener, on every checkout: a connection the server has closed (terminated,
    restarted, or a proxy in between gone) is replaced before the request uses it.

    Instead of a ping, which costs every request a round trip: an idle connection's
    socket has nothing to read unless the server has said goodbye (its FATAL message,
    or the end of the stream), as this service never LISTENs. Raising
    DisconnectionError makes the pool discard the connection and open another. A
    connection lost silently (its host gone, no end of stream) fails on its first
    statement, as it would have failed a ping (within the answer timeout, or sooner by
    the keepalives); the pool then discards it and every connection pooled before it,
    and that one request is answered 503 (see `unavailable`)."""
    connection: psycopg.Connection[Any] = dbapi_connection
    pgconn = connection.pgconn
    if pgconn.status != psycopg.pq.ConnStatus.OK:
        raise exc.DisconnectionError("connection already lost")
    poller = select.poll()
    poller.register(pgconn.socket, select.POLLIN)
    if poller.poll(0):
        raise exc.DisconnectionError("connection closed by the server while pooled")


# Listeners on the Session class reach every session of the process, whoever made it:
# no code path can begin a transaction without its tenant context, write to a read-only
# organization, or leave a document's bytes behind after a rollback.
SESSION_LISTENERS: tuple[tuple[str, Any], ...] = (
    ("after_begin", context.apply_on_begin),
    ("before_flush", read_only.refuse_writes_to_read_only),
    ("after_commit", documents.note_commit),
    ("after_transaction_end", documents.settle_files),
)


def register_session_listeners() -> None:
    """Install the listeners above, once per process (repeated calls change nothing)."""
    for name, listener in SESSION_LISTENERS:
        if not event.contains(Session, name, listener):
            event.listen(Session, name, listener)


class BoundedConnection(psycopg.Connection[Any]):
    """A connection that waits at most `answer_timeout` seconds for each answer.

    The server's statement timeout bounds a statement only while the server runs: one
    that is frozen (stopped, or stuck on its storage) still accepts bytes and never
    answers. On expiry the connection is closed, which tells the pool to discard it."""

    answer_timeout: float | None = None

    def wait(self, gen: PQGen[RV], interval: float = 0.1, timeout: float | None = None) -> RV:
        if timeout is not None or self.answer_timeout is None:
            return super().wait(gen, interval, timeout)
        try:
            return super().wait(gen, interval, self.answer_timeout)
        except psycopg.errors._WaitTimeout:  # what `wait` raises when its timeout expires
            self.pgconn.finish()
            raise psycopg.OperationalError(
                f"no answer from the database within {self.answer_timeout:g} s"
            ) from None


def bounded_engine(
    url: str,
    *,
    connect_timeout: int,
    answer_timeout: float,
    prepared_statements: bool = True,
    **options: Any,
) -> Engine:
    """An engine none of whose waits is endless: connecting, each answer, a dead peer.
    Without `prepared_statements`, psycopg never prepares a statement on the server."""
    connect_args: dict[str, Any] = {"connect_timeout": connect_timeout, **KEEPALIVES}
    if not prepared_statements:
        connect_args["prepare_threshold"] = None
    engine = make_engine(url, connect_args=connect_args, **options)

    def connect(_dialect: Any, _record: Any, cargs: Any, cparams: Any) -> BoundedConnection:
        connection = BoundedConnection.connect(*cargs, **cparams)
        connection.answer_timeout = answer_timeout
        return connection

    event.listen(engine, "do_connect", connect)
    return engine


def application_engine(settings: Settings) -> Engine:
    """The engine of a process of the service (the API's request sessions, a worker's
    jobs), on the settings' timeouts. The statement, lock and idle-in-transaction
    timeouts are the application role's own (app/tenancy/roles.py), so they hold
    whatever sits between the service and PostgreSQL."""
    assert settings.database_url
    return bounded_engine(
        settings.database_url,
        connect_timeout=settings.database_connect_timeout_seconds,
        answer_timeout=settings.database_statement_timeout_seconds + ANSWER_MARGIN_SECONDS,
        prepared_statements=settings.database_prepared_statements,
        pool_size=settings.database_pool_size,
        max_overflow=0,
        pool_timeout=settings.database_pool_timeout_seconds,
    )


def probe_engine(url: str) -> Engine:
    """For readiness probes: a fresh connection each time, so a probe neither waits for
    the request pool nor trusts a connection that pool holds."""
    return bounded_engine(
        url,
        connect_timeout=PROBE_CONNECT_TIMEOUT_SECONDS,
        answer_timeout=PROBE_ANSWER_SECONDS,
        poolclass=NullPool,
    )


# SQLSTATEs saying the database cannot serve a request now but may on a retry: whole
# classes (a lost connection, a transaction that lost to a concurrent one, resources
# exhausted, a statement cancelled or the server shutting down), and a lock timeout, an
# idle transaction ended, an I/O error. Not the whole of DB-API's OperationalError, which
# also holds faults that no retry cures (a trigger or routine misbehaving, a value past
# an index's limits).
_RETRYABLE_CLASSES = ("08", "40", "53", "57")
_RETRYABLE_STATES = ("55P03", "25P03", "58030")


def unavailable(error: BaseException) -> bool:
    """Whether `error` means the database cannot serve the request now: retry later."""
    if isinstance(error, exc.TimeoutError):  # no pooled connection came free in time
        return True
    if isinstance(error, exc.DBAPIError):
        if error.connection_invalidated:
            return True
        if error.orig is not None:
            error = error.orig
    if isinstance(error, psycopg.InterfaceError):
        return True
    if isinstance(error, psycopg.Error):
        state = error.sqlstate
        if state is None:  # raised by the client: connecting, or the connection lost
            return isinstance(error, psycopg.OperationalError)
        return state[:2] in _RETRYABLE_CLASSES or state in _RETRYABLE_STATES
    return False
