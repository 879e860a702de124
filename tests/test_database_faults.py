"""Database and Redis faults: every refused request answers 503 with Retry-After, logged
as one line without a traceback; nothing it wrote stays; the next request after the
service returns succeeds without restarting anything; no wait is endless.

Connections terminated by the server run against the shared PostgreSQL. A PostgreSQL
stopped, frozen (SIGSTOP) or held up by locks, and a Redis stopped, are servers these
tests own (tests/owned_servers.py).
"""

from __future__ import annotations

import logging
import signal
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, event, text
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from app.config import Settings
from app.database import make_engine
from app.extensions import db
from app.factory import create_app
from app.local import provision
from app.tenancy.roles import ensure_roles
from tests.api_helpers import problem_of
from tests.conftest import TwoTenants, bearer, build_two_tenants, token_for
from tests.factories import PASSWORD
from tests.owned_servers import OwnedPostgres, OwnedRedis

ORGANIZATIONS = "/api/v1/admin/organizations"
ME = "/api/v1/me"
TERMINATE_APPLICATION_CONNECTIONS = text(
    "SELECT count(pg_terminate_backend(pid, 5000)) FROM pg_stat_activity"
    " WHERE usename = 'msc_app' AND datname = current_database() AND pid <> pg_backend_pid()"
)


def timed(call: Callable[[], TestResponse]) -> tuple[TestResponse, float]:
    started = time.monotonic()
    response = call()
    return response, time.monotonic() - started


def assert_retry_later(response: TestResponse) -> None:
    body = problem_of(response, 503)
    assert response.headers["Retry-After"].isdigit()
    assert body["detail"] == "a required service is unavailable, retry later"
    assert "errors" not in body


def refusals_logged(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    """The one line each refused request logs, and nothing else: no traceback, no other
    warning."""
    assert [r.getMessage() for r in caplog.records if r.exc_info] == []
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    refusals = [r for r in warnings if r.name == "app.errors" and "unavailable" in r.message]
    assert refusals == warnings
    return refusals


def contact_name(admin_engine: Engine, organization_id: uuid.UUID) -> str | None:
    with admin_engine.connect() as connection:
        value: str | None = connection.execute(
            text("SELECT primary_contact_name FROM organizations WHERE id = :id"),
            {"id": organization_id},
        ).scalar_one()
    return value


# --- the shared PostgreSQL: connections terminated, the pool exhausted ---------------


def test_the_application_role_carries_the_timeouts(app_engine: Engine) -> None:
    with app_engine.connect() as connection:
        shown = {
            name: connection.execute(text(f"SHOW {name}")).scalar()
            for name in ("statement_timeout", "lock_timeout", "idle_in_transaction_session_timeout")
        }
    assert shown == {
        "statement_timeout": "15s",
        "lock_timeout": "5s",
        "idle_in_transaction_session_timeout": "30s",
    }


def test_connections_terminated_between_requests_are_replaced(
    settings: Settings,
    seeded: TwoTenants,
    admin_engine: Engine,
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = create_app(replace(settings, database_pool_size=3))
    client = app.test_client()
    headers = bearer(token_for(client, seeded.a.admin))
    for _ in range(6):
        assert client.get(ORGANIZATIONS, headers=headers).status_code == 200
    statuses = []
    for _ in range(4):
        with admin_engine.begin() as admin:
            terminated = admin.execute(TERMINATE_APPLICATION_CONNECTIONS).scalar()
        assert terminated
        for _ in range(5):
            response = client.get(ORGANIZATIONS, headers=headers)
            if response.status_code == 503:
                assert_retry_later(response)
            statuses.append(response.status_code)
    print(f"\nterminated between requests: {len(statuses)} requests, statuses {set(statuses)}")
    assert set(statuses) <= {200, 503} and statuses.count(503) <= 1
    assert len(refusals_logged(caplog)) == statuses.count(503)


def test_a_commit_that_fails_answers_503_and_writes_nothing(
    settings: Settings,
    seeded: TwoTenants,
    admin_engine: Engine,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The connection is terminated between the request's UPDATE and its COMMIT. The
    pool's only connection: the next request succeeding shows the pool replaced it."""
    app = create_app(replace(settings, database_pool_size=1))
    client = app.test_client()
    headers = bearer(token_for(client, seeded.a.admin))
    url = f"{ORGANIZATIONS}/{seeded.a.organization.id}"
    before = contact_name(admin_engine, seeded.a.organization.id)

    def terminate_before_commit(connection: Any) -> None:
        pid = connection.connection.dbapi_connection.info.backend_pid
        with admin_engine.begin() as admin:
            # the cast: Citus adds a bigint overload (its cluster-wide process ids)
            admin.execute(
                text("SELECT pg_terminate_backend(CAST(:pid AS integer), 5000)"), {"pid": pid}
            )

    with app.app_context():
        engine = db.engine
    event.listen(engine, "commit", terminate_before_commit)
    try:
        refused = client.put(
            url,
            json={"primary_contact_name": "Lost Update"},
            headers={**headers, "X-Request-ID": "commit-fails"},
        )
    finally:
        event.remove(engine, "commit", terminate_before_commit)
    assert_retry_later(refused)
    assert refused.headers["X-Request-ID"] == "commit-fails"
    assert contact_name(admin_engine, seeded.a.organization.id) == before
    (logged,) = refusals_logged(caplog)
    assert logged.levelno == logging.WARNING and "PUT" in logged.message

    again = client.put(url, json={"primary_contact_name": "Kept Update"}, headers=headers)
    assert again.status_code == 200
    assert contact_name(admin_engine, seeded.a.organization.id) == "Kept Update"


# What the server answers, by SQLSTATE, when a transaction loses to another or runs out
# of time: raised by the server itself, as it raises them.
REFUSALS = {
    "40001": "SerializationFailure",
    "40P01": "DeadlockDetected",
    "57014": "QueryCanceled",
    "55P03": "LockNotAvailable",
}
# Operational errors too (by DB-API's classes), but faults that no retry cures.
BUGS = {"54000": "ProgramLimitExceeded", "39P01": "TriggerProtocolViolated"}


@pytest.fixture(scope="module")
def refusing_app(settings: Settings) -> Flask:
    app = create_app(settings)

    def refuse(sqlstate: str) -> str:
        assert sqlstate in REFUSALS or sqlstate in BUGS
        db.session.execute(
            text(f"DO $$ BEGIN RAISE EXCEPTION 'refused' USING ERRCODE = '{sqlstate}'; END $$")
        )
        return "not reached"

    app.add_url_rule("/refuse/<sqlstate>", view_func=refuse)
    return app


@pytest.mark.parametrize("sqlstate", REFUSALS)
def test_conflicts_and_timeouts_answer_503(
    refusing_app: Flask, sqlstate: str, caplog: pytest.LogCaptureFixture
) -> None:
    response = refusing_app.test_client().get(f"/refuse/{sqlstate}")
    assert_retry_later(response)
    (logged,) = refusals_logged(caplog)
    assert f"{REFUSALS[sqlstate]}: refused" in logged.message


@pytest.mark.parametrize("sqlstate", BUGS)
def test_faults_that_a_retry_cannot_cure_stay_500(refusing_app: Flask, sqlstate: str) -> None:
    response = refusing_app.test_client().get(f"/refuse/{sqlstate}")
    assert problem_of(response, 500)["detail"] == "internal error"
    assert "Retry-After" not in response.headers


def test_no_pooled_connection_in_time_answers_503(
    settings: Settings, seeded: TwoTenants, caplog: pytest.LogCaptureFixture
) -> None:
    app = create_app(replace(settings, database_pool_size=1, database_pool_timeout_seconds=0.3))
    client = app.test_client()
    headers = bearer(token_for(client, seeded.a.admin))
    with app.app_context():
        engine = db.engine
    with engine.connect():  # the pool's only connection, held
        response, elapsed = timed(lambda: client.get(ORGANIZATIONS, headers=headers))
    assert_retry_later(response)
    assert elapsed < 2
    (logged,) = refusals_logged(caplog)
    assert "TimeoutError" in logged.message
    assert client.get(ORGANIZATIONS, headers=headers).status_code == 200


# --- a PostgreSQL of our own: stopped, frozen, held up by locks ----------------------


@pytest.fixture(scope="module")
def owned_postgres() -> Iterator[OwnedPostgres]:
    server = OwnedPostgres()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture(scope="module")
def owned_settings(owned_postgres: OwnedPostgres, settings: Settings) -> Settings:
    """Short waits, so the faults show within seconds; the shared Redis."""
    urls = provision(owned_postgres.admin_url, "msc", "test")
    owned = replace(
        settings,
        database_url=urls.app,
        database_owner_url=urls.owner,
        database_admin_url=urls.admin,
        database_pool_size=2,
        database_connect_timeout_seconds=2,
        database_pool_timeout_seconds=1,
        database_statement_timeout_seconds=1,
        database_lock_timeout_seconds=0.5,
    )
    ensure_roles(urls.admin, urls.owner, urls.app, owned)
    return owned


@pytest.fixture(scope="module")
def owned_admin(owned_settings: Settings) -> Iterator[Engine]:
    assert owned_settings.database_admin_url
    engine = make_engine(owned_settings.database_admin_url)
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def owned_tenants(owned_admin: Engine) -> TwoTenants:
    with Session(owned_admin, expire_on_commit=False) as session:
        built = build_two_tenants(session)
        session.commit()
    return built


def _signed_in(app: Flask, tenants: TwoTenants) -> tuple[FlaskClient, dict[str, str]]:
    client = app.test_client()
    headers = bearer(token_for(client, tenants.a.admin))
    for _ in range(3):  # the pool holds connections when the fault begins
        assert client.get(ORGANIZATIONS, headers=headers).status_code == 200
    return client, headers


def _login(client: FlaskClient, tenants: TwoTenants) -> TestResponse:
    return client.post(
        "/api/v1/auth/login", json={"email": tenants.a.admin.email, "password": PASSWORD}
    )


@pytest.mark.slow
@pytest.mark.process
def test_a_stopped_database_answers_503_at_once_and_recovery_needs_no_restart(
    owned_postgres: OwnedPostgres,
    owned_settings: Settings,
    owned_tenants: TwoTenants,
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = create_app(owned_settings)
    client, headers = _signed_in(app, owned_tenants)
    owned_postgres.stop()
    timings = []
    try:
        for i in range(20):
            if i % 4 == 3:
                response, elapsed = timed(lambda: _login(client, owned_tenants))
            else:
                response, elapsed = timed(lambda: client.get(ORGANIZATIONS, headers=headers))
            assert_retry_later(response)
            timings.append(elapsed)
        ready = client.get("/readyz")
        assert ready.status_code == 503 and ready.get_json()["checks"]["database"] != "ok"
        assert client.get("/healthz").status_code == 200
    finally:
        owned_postgres.start()
    assert len(refusals_logged(caplog)) == len(timings)
    restarted = time.monotonic()
    assert client.get(ORGANIZATIONS, headers=headers).status_code == 200
    recovered = time.monotonic() - restarted
    assert _login(client, owned_tenants).status_code == 200
    assert client.get("/readyz").status_code == 200
    print(
        f"\nstopped: {len(timings)} requests, all 503, slowest {max(timings):.3f} s;"
        f" first request after the restart 200 in {recovered:.3f} s"
    )
    assert max(timings) < 1


@pytest.mark.slow
@pytest.mark.process
def test_a_frozen_database_answers_503_within_the_timeouts(
    owned_postgres: OwnedPostgres,
    owned_settings: Settings,
    owned_tenants: TwoTenants,
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = create_app(owned_settings)
    client, headers = _signed_in(app, owned_tenants)
    # The longest a refusal may take: a pooled connection's answer (the statement
    # timeout and its margin), then a new connection's connect timeout; and slack.
    bound = owned_settings.database_statement_timeout_seconds + 1
    bound += owned_settings.database_connect_timeout_seconds + 2
    timings = []
    owned_postgres.signal_all(signal.SIGSTOP)
    try:
        alive, alive_seconds = timed(lambda: client.get("/healthz"))
        assert alive.status_code == 200 and alive_seconds < 0.5
        ready, ready_seconds = timed(lambda: client.get("/readyz"))
        assert ready.status_code == 503
        assert ready.get_json()["checks"] == {"database": "no answer", "redis": "ok"}
        assert ready_seconds < 3
        for i in range(4):
            if i == 3:
                response, elapsed = timed(lambda: _login(client, owned_tenants))
            else:
                response, elapsed = timed(lambda: client.get(ORGANIZATIONS, headers=headers))
            assert_retry_later(response)
            timings.append(elapsed)
    finally:
        owned_postgres.signal_all(signal.SIGCONT)
    assert len(refusals_logged(caplog)) == len(timings)
    thawed = time.monotonic()
    assert client.get(ORGANIZATIONS, headers=headers).status_code == 200
    recovered = time.monotonic() - thawed
    assert client.get("/readyz").status_code == 200
    print(
        f"\nfrozen: /healthz {alive_seconds:.3f} s, /readyz 503 in {ready_seconds:.3f} s;"
        f" {len(timings)} requests, all 503, in {', '.join(f'{t:.2f}' for t in timings)} s;"
        f" first request after SIGCONT 200 in {recovered:.3f} s"
    )
    assert max(timings) < bound


@pytest.mark.slow
@pytest.mark.process
@pytest.mark.parametrize(
    ("limit", "refusal"), [("lock", "LockNotAvailable"), ("statement", "QueryCanceled")]
)
def test_a_write_held_up_by_a_lock_answers_503_and_writes_nothing(
    limit: str,
    refusal: str,
    owned_settings: Settings,
    owned_tenants: TwoTenants,
    owned_admin: Engine,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Another transaction holds the row: the lock timeout ends the wait, or, with a
    lock timeout longer than the statement timeout, the statement timeout does."""
    assert owned_settings.database_url and owned_settings.database_admin_url
    assert owned_settings.database_owner_url
    urls = (
        owned_settings.database_admin_url,
        owned_settings.database_owner_url,
        owned_settings.database_url,
    )
    if limit == "statement":
        ensure_roles(*urls, replace(owned_settings, database_lock_timeout_seconds=5))
    try:
        app = create_app(owned_settings)
        client = app.test_client()
        headers = bearer(token_for(client, owned_tenants.a.admin))
        organization_id = owned_tenants.a.organization.id
        before = contact_name(owned_admin, organization_id)
        with owned_admin.connect() as holder:
            holder.execute(
                text("SELECT 1 FROM organizations WHERE id = :id FOR UPDATE"),
                {"id": organization_id},
            )
            response, elapsed = timed(
                lambda: client.put(
                    f"{ORGANIZATIONS}/{organization_id}",
                    json={"primary_contact_name": "Held Up"},
                    headers=headers,
                )
            )
            holder.rollback()
        assert_retry_later(response)
        assert contact_name(owned_admin, organization_id) == before
        (logged,) = refusals_logged(caplog)
        assert refusal in logged.message
        print(f"\n{limit} timeout: 503 after {elapsed:.3f} s, nothing written")
        assert elapsed < 3
        retried = client.put(
            f"{ORGANIZATIONS}/{organization_id}",
            json={"primary_contact_name": f"After the {limit} timeout"},
            headers=headers,
        )
        assert retried.status_code == 200
    finally:
        ensure_roles(*urls, owned_settings)


# --- a Redis of our own, stopped ---------------------------------------------------


@pytest.fixture
def owned_redis() -> Iterator[OwnedRedis]:
    server = OwnedRedis()
    try:
        yield server
    finally:
        server.close()


@pytest.mark.slow
@pytest.mark.process
def test_a_stopped_redis_answers_503_and_recovery_needs_no_restart(
    owned_redis: OwnedRedis,
    settings: Settings,
    seeded: TwoTenants,
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = create_app(replace(settings, redis_url=owned_redis.url))
    client = app.test_client()
    headers = bearer(token_for(client, seeded.a.admin))
    assert client.get(ME, headers=headers).status_code == 200
    owned_redis.stop()
    timings = []
    try:
        for _ in range(10):
            response, elapsed = timed(lambda: client.get(ME, headers=headers))
            assert_retry_later(response)
            timings.append(elapsed)
        ready = client.get("/readyz")
        assert ready.status_code == 503
        assert ready.get_json()["checks"] == {"database": "ok", "redis": "unreachable"}
    finally:
        owned_redis.start()
    assert len(refusals_logged(caplog)) == len(timings)
    restarted = time.monotonic()
    assert client.get(ME, headers=headers).status_code == 200
    recovered = time.monotonic() - restarted
    print(
        f"\nredis stopped: {len(timings)} requests, all 503, slowest {max(timings):.3f} s;"
        f" first request after the restart 200 in {recovered:.3f} s"
    )
    assert max(timings) < 1
