"""Test fixtures over real PostgreSQL and Redis.

The schema is built once per session by the real migrations, in a database of its
own (`msc_test_<pid>`, dropped at the end), on the server named by
DATABASE_ADMIN_URL or else an embedded one.

Two kinds of tests:
- database-level tests (`db`) connect as the application role, inside an outer
  transaction that is rolled back, with a session joined to it through savepoints;
- API tests (`client`) run requests exactly as in production, each committing its own
  transaction (transaction-local tenant settings are what they check), and the
  tables are emptied after each such test.
"""

from __future__ import annotations

import ipaddress
import os
import random
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import psycopg
import pytest
from flask import Flask
from flask.testing import FlaskClient
from playwright.sync_api import Browser, Page
from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from app import extensions
from app.auth.tokens import PASSWORD, PASSWORD_AND_SECOND_FACTOR, sign_in
from app.blueprints.console import DEFAULT_BUILD as CONSOLE_DEFAULT_BUILD
from app.citus import cluster_workers
from app.config import Settings
from app.database import make_engine, register_session_listeners
from app.domain import accounts
from app.factory import create_app
from app.local import (
    DatabaseUrls,
    drop_database,
    embedded_postgres,
    embedded_redis,
    provision,
)
from app.models import Facility, Organization, User
from app.models.enums import Role
from app.tenancy.context import TenantContext, use_context
from app.tenancy.roles import CITUS_APPLICATION_SETTINGS
from tests import factories, pgbouncer
from tests.browser import chromium, console_page, live_server
from tests.placement import organization_id_on
from tests.queues import forget_queue

# Sessions made here directly (not through the app) get the same listeners as the app's.
register_session_listeners()
# The servers and workers tests start serve no metrics unless a test gives them a port:
# the default port would be taken by the first of them, or by parallel runs.
os.environ["METRICS_PORT"] = "0"

LOCAL_DATA = Path(os.environ.get("LOCAL_DATA_DIR", ".local"))
# One database per test run, so parallel runs on one server never meet.
TEST_DATABASE = f"msc_test_{os.getpid()}"
RUN_QUEUE = f"test-{TEST_DATABASE}"
# Emptied after each test that commits (clean_database): the tenants' rows, and the
# global rows tests write beside them (the NPI Registry's cache, the exclusion lists).
TENANT_TABLES = (
    "audit_events, provider_facilities, facilities, memberships, organizations, users,"
    " npi_registry_answers, exclusion_import_rows, exclusion_entries, exclusion_lists"
)


@pytest.fixture(scope="session")
def server_admin_url() -> str:
    return os.environ.get("DATABASE_ADMIN_URL") or embedded_postgres(LOCAL_DATA)


@pytest.fixture(scope="session")
def database_urls(server_admin_url: str) -> Iterator[DatabaseUrls]:
    yield provision(server_admin_url, TEST_DATABASE, "test", recreate=True)
    drop_database(server_admin_url, TEST_DATABASE)


@pytest.fixture(scope="session")
def pgbouncer_url(database_urls: DatabaseUrls) -> Iterator[str]:
    """The test database as the application role, through a real PgBouncer in
    transaction pooling mode with two server connections (tests/pgbouncer.py)."""
    if not pgbouncer.available():
        pytest.skip("pgbouncer is not installed")
    with pgbouncer.running(database_urls.app) as url:
        yield url


@pytest.fixture(scope="session")
def redis_url() -> str:
    return os.environ.get("REDIS_URL") or embedded_redis(LOCAL_DATA)


@pytest.fixture(scope="session")
def settings(database_urls: DatabaseUrls, redis_url: str) -> Iterator[Settings]:
    yield Settings(
        app_env="test",
        region="test",
        database_url=database_urls.app,
        database_owner_url=database_urls.owner,
        database_admin_url=database_urls.admin,
        redis_url=redis_url,
        jwt_secret_key="test-only-jwt-secret-" + "0123456789abcdef" * 3,
        # Request limits counted apart from any other run sharing this Redis.
        rate_limit_key_prefix=f"rate-limit-{TEST_DATABASE}",
        # Jobs queued apart too (a reset request's): a run works its own jobs only.
        queue_name=RUN_QUEUE,
        # Jobs tests run relay their emails, which then fail to connect and stay in the
        # outbox, whatever SMTP relay may listen on the default port (nothing listens on
        # port 1). Tests of delivery bring their own server (tests/test_delivery.py).
        smtp_port=1,
        # A worker run in a test's process serves no metrics (it would hold the port
        # for the rest of the run); the metrics' tests choose their ports.
        metrics_port=0,
    )
    forget_queue(redis_url, RUN_QUEUE)


@pytest.fixture(scope="session")
def app(settings: Settings) -> Flask:
    return create_app(settings)


# --- a real browser (tests/browser.py), for the pages and /docs ------------------------


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """Headless Chromium, one for the whole run; the test is skipped without it."""
    with chromium() as found:
        yield found


@pytest.fixture(scope="session")
def site(settings: Settings) -> Iterator[str]:
    """The test application served on a real port, for the browser. Every browser of the
    run comes from one address (127.0.0.1), which the request limits per client address
    would count as one person signing in all day: they are out of reach here."""
    served = create_app(replace(settings, **UNREACHABLE_LIMITS))
    with live_server(served) as url:
        yield url


@pytest.fixture
def console(browser: Browser, site: str, clean_database: None) -> Iterator[Page]:
    """The console in a fresh browser profile (tests/browser.py, console_page), closed
    before the test's rows are removed (clean_database), so no request of its own is
    still reading them."""
    page = console_page(browser, site, CONSOLE_DEFAULT_BUILD)
    yield page
    page.context.close()


@pytest.fixture
def another_console(browser: Browser, site: str, clean_database: None) -> Iterator[Page]:
    """The console in a second profile: another person at another computer."""
    page = console_page(browser, site, CONSOLE_DEFAULT_BUILD)
    yield page
    page.context.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh browser profile with JavaScript off: the pages must not need it."""
    context = browser.new_context(java_script_enabled=False)
    yield context.new_page()
    context.close()


# Request limits no test reaches, for tests that send many requests on purpose (races,
# hostile bodies); tests/test_throttle.py checks the limits themselves.
UNREACHABLE_LIMITS: dict[str, Any] = {
    "rate_limit_sign_in": "100000/minute",
    "rate_limit_sign_in_account": "100000/minute",
    "rate_limit_refresh": "100000/minute",
    "rate_limit_password_reset": "100000/minute",
    "rate_limit_password_reset_account": "100000/minute",
    "rate_limit_links": "100000/minute",
    "rate_limit_links_token": "100000/minute",
}


@pytest.fixture(scope="session")
def admin_engine(database_urls: DatabaseUrls) -> Iterator[Engine]:
    """Superuser connection: bypasses RLS. Only for test setup and cleanup. On a Citus
    cluster with the application role's cluster settings, so that set-up may write as
    the service does (a reference table after reading several shards)."""
    options = ""
    if cluster_workers(database_urls.admin):
        options = " ".join(
            f"-c {name}={value}" for name, value in CITUS_APPLICATION_SETTINGS.items()
        )
    engine = make_engine(database_urls.admin, connect_args={"options": options})
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def app_engine(database_urls: DatabaseUrls) -> Iterator[Engine]:
    """The application role, exactly as the service connects."""
    engine = make_engine(database_urls.app)
    yield engine
    engine.dispose()


# --- database-level tests ---------------------------------------------------------


@pytest.fixture
def db(app_engine: Engine) -> Iterator[Session]:
    """An application-role session inside an outer transaction, rolled back after."""
    with app_engine.connect() as connection:
        outer = connection.begin()
        session = Session(bind=connection, join_transaction_mode="create_savepoint")
        try:
            yield session
        finally:
            session.close()
            outer.rollback()


MSC_SYSTEM = TenantContext.system("test-setup")


@dataclass
class Tenant:
    organization: Organization
    admin: User
    office_manager: User
    facility: Facility

    def context(
        self, user: User | None = None, role: str = Role.ORGANIZATION_ADMIN
    ) -> TenantContext:
        return TenantContext(
            user_id=(user or self.admin).id,
            organization_id=self.organization.id,
            role=role,
            organization_ids=(self.organization.id,),
        )


@dataclass
class TwoTenants:
    a: Tenant
    b: Tenant
    shared_provider: User
    msc_admin: User


def _tenant(session: Session, name: str, worker: int) -> Tenant:
    # on a Citus cluster, the tenant's rows on the `worker`-th worker (tests/placement.py)
    placed = organization_id_on(session.connection(), worker)
    org = factories.make_organization(session, name=name, **({"id": placed} if placed else {}))
    admin = factories.make_user(session)
    manager = factories.make_user(session)
    factories.make_membership(session, admin, org, Role.ORGANIZATION_ADMIN)
    factories.make_membership(session, manager, org, Role.OFFICE_MANAGER)
    facility = factories.make_facility(session, org)
    return Tenant(org, admin, manager, facility)


def build_two_tenants(session: Session) -> TwoTenants:
    """Tenants A and B, each with an admin, an office manager and a facility, and one
    provider who works at both (primary at A). On a Citus cluster, on different
    workers."""
    a, b = _tenant(session, "Tenant A", 0), _tenant(session, "Tenant B", 1)
    provider = factories.make_user(session, npi=factories.unique_npi())
    for tenant, primary in ((a, True), (b, False)):
        factories.make_membership(session, provider, tenant.organization, Role.PROVIDER)
        factories.make_assignment(session, provider, tenant.facility, is_primary=primary)
    msc_admin = factories.make_user(session, is_msc_admin=True)
    return TwoTenants(a, b, provider, msc_admin)


@pytest.fixture
def tenants(db: Session) -> TwoTenants:
    """Two tenants created inside the rolled-back test transaction; the context is
    left empty afterwards, so each test states the context it means."""
    use_context(db, MSC_SYSTEM)
    built = build_two_tenants(db)
    use_context(db, TenantContext())
    return built


# --- API tests --------------------------------------------------------------------


@pytest.fixture
def clean_database(admin_engine: Engine) -> Iterator[None]:
    yield
    # A request the test's browser left in flight may still hold a table the truncation
    # needs: the database then gives up one of the two (a deadlock), and it is tried again.
    for attempt in range(5):
        try:
            with admin_engine.begin() as connection:
                connection.execute(text(f"TRUNCATE {TENANT_TABLES} CASCADE"))
            return
        except OperationalError as error:
            if attempt == 4 or not isinstance(error.orig, psycopg.errors.DeadlockDetected):
                raise


@pytest.fixture
def seeded(admin_engine: Engine, clean_database: None) -> TwoTenants:
    """Two committed tenants for API tests (written as the superuser)."""
    with Session(admin_engine, expire_on_commit=False) as session:
        built = build_two_tenants(session)
        session.commit()
    return built


@pytest.fixture
def client(app: Flask, clean_database: None) -> FlaskClient:
    """A client at an address of its own: the request limits per client address
    (app/auth/throttle.py) count each test apart, as they would separate people."""
    test_client = app.test_client()
    test_client.environ_base["REMOTE_ADDR"] = str(ipaddress.IPv4Address(random.getrandbits(32)))
    return test_client


def login(client: FlaskClient, user: User, organization: Organization | None = None) -> str:
    """An access token from a real login: email and password checked (argon2, slow by
    design). Tests about logging in use this; the others use `token_for`."""
    body: dict[str, Any] = {"email": user.email, "password": factories.PASSWORD}
    if organization is not None:
        body["organization_id"] = str(organization.id)
    response = client.post("/api/v1/auth/login", json=body)
    assert response.status_code == 200, response.get_json()
    token: str = response.get_json()["access_token"]
    return token


def token_for(client: FlaskClient, user: User, organization: Organization | None = None) -> str:
    """An access token issued as a login issues it once the password (and, for MSC
    staff, who cannot sign in without one, the second factor) has checked out (the same
    `sign_in`: same claims, a login session of its own, revocable by logout), without
    the checks."""
    amr = PASSWORD_AND_SECOND_FACTOR if user.is_msc_staff else PASSWORD
    with client.application.app_context():
        session = extensions.db.session
        assert accounts.resume_sign_in(session, user.id, "test-token") is not None
        pair = sign_in(session, user.id, organization.id if organization else None, amr=amr)
    assert pair is not None, f"{user.email} is not a member of {organization}"
    return pair.access_token


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
