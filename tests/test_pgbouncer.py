"""The tenant isolation through a real PgBouncer in transaction pooling mode (the
`pgbouncer_url` fixture: two server connections shared by every client).

Each request is one transaction whose tenant settings are transaction-local, so the
server connection it leaves behind carries nothing into the next client's transaction.
The application prepares no statement (DATABASE_PREPARED_STATEMENTS=false): PgBouncer
before 1.21 cannot keep a prepared statement for the next transaction.
"""

from __future__ import annotations

import dataclasses
import re
import subprocess
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import psycopg
import pytest
from flask import Flask
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from app.config import Settings
from app.factory import create_app
from app.models import Facility, Organization
from app.tenancy.context import ADOPT, signed_context
from app.tenancy.roles import libpq_url
from tests import pgbouncer
from tests.api_helpers import committed_facility
from tests.conftest import Tenant, TwoTenants, bearer, token_for

pytestmark = pytest.mark.process

THREADS = 8
REQUESTS_PER_THREAD = 24
API = "/api/v1/admin"


@pytest.fixture(scope="module")
def bounced_app(settings: Settings, pgbouncer_url: str) -> Iterator[Flask]:
    """The application connecting through PgBouncer, with more pooled client connections
    than PgBouncer has server connections."""
    app = create_app(
        dataclasses.replace(
            settings,
            database_url=pgbouncer_url,
            database_prepared_statements=False,
            database_pool_size=THREADS,
        )
    )
    yield app
    app.extensions["services"].close()


@dataclasses.dataclass(frozen=True)
class Reach:
    token: str
    organization: Organization
    facility_ids: frozenset[uuid.UUID]


def _reach(app: Flask, admin_engine: Engine, tenant: Tenant, extra: int = 3) -> Reach:
    for _ in range(extra):
        committed_facility(admin_engine, tenant.organization)
    with Session(admin_engine) as session:
        ids = session.scalars(
            select(Facility.id).where(Facility.organization_id == tenant.organization.id)
        ).all()
    token = token_for(app.test_client(), tenant.admin, tenant.organization)
    return Reach(token, tenant.organization, frozenset(ids))


def _listed(response: Any) -> set[uuid.UUID]:
    return {uuid.UUID(row["id"]) for row in response.get_json()}


def test_concurrent_tenants_never_see_each_other(
    bounced_app: Flask, admin_engine: Engine, seeded: TwoTenants, pgbouncer_url: str
) -> None:
    a = _reach(bounced_app, admin_engine, seeded.a)
    b = _reach(bounced_app, admin_engine, seeded.b)

    def work(worker: int) -> Counter[str]:
        client = bounced_app.test_client()
        seen: Counter[str] = Counter()
        for n in range(REQUESTS_PER_THREAD):
            mine, theirs = (a, b) if (worker + n) % 2 == 0 else (b, a)
            listed = client.get(f"{API}/facilities?page_size=100", headers=bearer(mine.token))
            seen[f"list {listed.status_code}"] += 1
            if listed.status_code == 200 and _listed(listed) != mine.facility_ids:
                seen["list shows another tenant's rows or misses own"] += 1
            other = next(iter(theirs.facility_ids))
            detail = client.get(f"{API}/facilities/{other}", headers=bearer(mine.token))
            seen[f"other's facility {detail.status_code}"] += 1
        return seen

    with ThreadPoolExecutor(THREADS) as pool:
        totals = sum(pool.map(work, range(THREADS)), Counter[str]())
    sent = THREADS * REQUESTS_PER_THREAD
    assert totals == {"list 200": sent, "other's facility 404": sent}
    # Sixteen clients' transactions went through at most two server connections.
    assert 1 <= len(pgbouncer.server_pids(pgbouncer_url)) <= 2


def _client(url: str) -> psycopg.Connection[Any]:
    return psycopg.connect(libpq_url(url), prepare_threshold=None)


def test_tenant_settings_do_not_survive_their_transaction(
    seeded: TwoTenants, pgbouncer_url: str
) -> None:
    a = seeded.a
    # as the service sets it: SET LOCAL, which a Citus cluster passes on to its workers
    scope = signed_context(a.context())
    count = "SELECT count(*), current_setting('tenancy.context', true),"
    count += " pg_backend_pid() FROM facilities"
    shared = 0
    with _client(pgbouncer_url) as with_context, _client(pgbouncer_url) as without:
        for _ in range(20):
            with_context.execute(ADOPT, (scope,))
            row = with_context.execute(count).fetchone()
            with_context.commit()
            assert row is not None and row[0] == 1
            first = row[2]
            row = without.execute(count).fetchone()
            without.commit()
            assert row is not None
            nothing, setting, second = row
            assert (nothing, setting or "") == (0, "")
            shared += first == second
    assert shared, "the two clients never met on one server connection"


def test_a_session_setting_would_reach_the_next_client(pgbouncer_url: str) -> None:
    """Why the context is transaction-local: what a session keeps, PgBouncer hands on."""
    with _client(pgbouncer_url) as first, _client(pgbouncer_url) as second:
        first.autocommit = second.autocommit = True
        for _ in range(20):
            (pid,) = first.execute(
                "SELECT pg_backend_pid() FROM set_config('msc_test.marker', 'left', false)"
            ).fetchone() or (0,)
            found, other = second.execute(
                "SELECT current_setting('msc_test.marker', true), pg_backend_pid()"
            ).fetchone() or ("", 0)
            second.execute("RESET msc_test.marker")
            if pid == other:
                assert found == "left"
                return
    pytest.fail("the two clients never met on one server connection")


def test_isolation_checks_hold_through_pgbouncer(
    bounced_app: Flask, admin_engine: Engine, seeded: TwoTenants
) -> None:
    """A sample of the API isolation checks, each repeated past psycopg's prepare
    threshold (5) and spread over the shared server connections."""
    client = bounced_app.test_client()
    a, b = seeded.a, seeded.b
    token = token_for(client, a.admin, a.organization)
    statuses: Counter[tuple[str, int]] = Counter()
    for _ in range(8):
        for name, response in (
            (
                "B's facility",
                client.get(f"{API}/facilities/{b.facility.id}", headers=bearer(token)),
            ),
            (
                "B's facility updated",
                client.put(
                    f"{API}/facilities/{b.facility.id}",
                    json={"phone": "5125550100"},
                    headers=bearer(token),
                ),
            ),
            ("B", client.get(f"{API}/organizations/{b.organization.id}", headers=bearer(token))),
            ("own", client.get(f"{API}/organizations/{a.organization.id}", headers=bearer(token))),
        ):
            statuses[(name, response.status_code)] += 1
    assert statuses == {
        ("B's facility", 404): 8,
        ("B's facility updated", 404): 8,
        ("B", 404): 8,
        ("own", 200): 8,
    }
    with Session(admin_engine) as session:
        assert session.scalar(select(Facility.phone).where(Facility.id == b.facility.id)) is None
    # A transaction without a context right after those with one sees no tenant at all.
    sessions = bounced_app.extensions["services"].sessions
    with sessions() as bare:
        assert bare.scalar(select(func.count()).select_from(Facility)) == 0


def _pgbouncer_version() -> tuple[int, ...]:
    printed = subprocess.run([pgbouncer.BINARY, "--version"], capture_output=True, text=True)
    found = re.search(r"PgBouncer (\d+)\.(\d+)", printed.stdout)
    return tuple(int(part) for part in found.groups()) if found else (0,)


@pytest.mark.skipif(
    not pgbouncer.available() or _pgbouncer_version() >= (1, 21),
    reason="PgBouncer 1.21 and later can keep prepared statements in transaction mode",
)
def test_prepared_statements_break_without_pgbouncer_support(pgbouncer_url: str) -> None:
    """Why DATABASE_PREPARED_STATEMENTS=false behind this PgBouncer: a statement prepared
    in one transaction is missing from the server connection the next one gets."""
    query = "SELECT count(*) FROM us_states"
    with (
        psycopg.connect(libpq_url(pgbouncer_url), prepare_threshold=0) as preparing,
        _client(pgbouncer_url) as other,
    ):
        preparing.execute(query).fetchone()
        preparing.commit()
        other.execute("SELECT 1").fetchone()  # holds that server connection: no commit
        with pytest.raises(psycopg.errors.InvalidSqlStatementName):
            preparing.execute(query).fetchone()
        other.rollback()
