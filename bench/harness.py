"""What the load, growth and profile benchmarks share: the database they measure, the
application's settings for it, the people who ask (read from the data itself) and the
requests each endpoint kind sends.

A benchmark database is one `bench/generate.py` filled (or any provisioned database with
organizations, facilities and admins), on the server of DATABASE_ADMIN_URL (an embedded
one when unset), with Redis at REDIS_URL (embedded when unset).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import resource
import secrets
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import psycopg
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, event
from werkzeug.test import TestResponse

from app.auth.tokens import Client, open_session
from app.config import Settings
from app.local import DatabaseUrls, embedded_postgres, embedded_redis, urls_for
from app.tenancy.roles import libpq_url

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"


def pgbouncer() -> ModuleType:
    """tests/pgbouncer.py, which starts the PgBouncer the tests use: the benchmarks run
    the same one."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from tests import pgbouncer as module

    return module


API = "/api/v1/admin"
# The endpoint kinds the load test drives, in the order reports list them.
KINDS = ("list", "detail", "hierarchy", "dashboard", "analytics", "write")
# Tokens outlive any run; the server checks only the signature, expiry and revocation.
TOKEN_LIFETIME = timedelta(hours=12)


@dataclass(frozen=True)
class Target:
    """The database measured, and the Redis beside it."""

    database: str
    urls: DatabaseUrls
    redis_url: str
    region: str


def target(database: str) -> Target:
    configured = Settings.from_env()
    admin = configured.database_admin_url or embedded_postgres(configured.local_data_dir)
    redis_url = configured.redis_url or embedded_redis(configured.local_data_dir)
    urls = urls_for(admin, database)
    with psycopg.connect(libpq_url(urls.admin)) as conn:
        row = conn.execute("SELECT region FROM deployment_region").fetchone()
    if row is None:
        raise SystemExit(f"{database} is not a provisioned database (no region claimed)")
    return Target(database, urls, redis_url, row[0])


def settings_for(bench: Target, jwt_secret: str) -> Settings:
    return dataclasses.replace(
        Settings.from_env(),
        region=bench.region,
        database_url=bench.urls.app,
        database_owner_url=bench.urls.owner,
        database_admin_url=bench.urls.admin,
        redis_url=bench.redis_url,
        jwt_secret_key=jwt_secret,
        access_token_lifetime=TOKEN_LIFETIME,
        log_level="WARNING",
    )


def new_jwt_secret() -> str:
    return secrets.token_urlsafe(48)


def server_environment(bench: Target, jwt_secret: str) -> dict[str, str]:
    """The environment of a server process (gunicorn) for `bench`."""
    return {
        "REGION": bench.region,
        "DATABASE_URL": bench.urls.app,
        "REDIS_URL": bench.redis_url,
        "JWT_SECRET_KEY": jwt_secret,
        "LOG_LEVEL": "WARNING",
    }


@dataclass(frozen=True)
class Admin:
    user_id: uuid.UUID
    organization_id: uuid.UUID


@dataclass(frozen=True)
class Cast:
    """Who asks: the admin of the largest tenant (the top-level organization with the most
    facilities in its tree) and admins of many other tenants, with facilities of each."""

    largest: Admin
    others: tuple[Admin, ...]
    # Facilities each admin reaches, a few per admin (for detail and write requests).
    facilities: dict[uuid.UUID, tuple[uuid.UUID, ...]]
    largest_facility_count: int


_LARGEST = """
SELECT top.id, count(f.id) AS facilities
  FROM organizations top
  JOIN organizations o ON o.ancestor_ids @> ARRAY[top.id]
  JOIN facilities f ON f.organization_id = o.id
 WHERE top.parent_organization_id IS NULL AND top.status = 'active'
 GROUP BY top.id
 ORDER BY facilities DESC, top.id
 LIMIT 1
"""

_ADMINS = """
SELECT DISTINCT ON (o.id) m.user_id, o.id
  FROM organizations o
  JOIN memberships m ON m.organization_id = o.id AND m.role = 'organization_admin'
  JOIN users u ON u.id = m.user_id AND u.is_active
 WHERE o.parent_organization_id IS NULL AND o.status = 'active'
   AND EXISTS (SELECT 1 FROM facilities f WHERE f.organization_id = o.id)
 ORDER BY o.id, m.user_id
"""

_FACILITIES = """
SELECT id FROM facilities f
 WHERE f.organization_id IN (SELECT o.id FROM organizations o WHERE o.ancestor_ids @> ARRAY[%s])
 ORDER BY id LIMIT %s
"""


def cast(bench: Target, tenants: int, facilities_each: int = 4) -> Cast:
    """The largest tenant's admin and up to `tenants` other tenants' admins, spread over
    the id space (read as the superuser, outside the policies)."""
    with psycopg.connect(libpq_url(bench.urls.admin)) as conn:
        largest_row = conn.execute(_LARGEST).fetchone()
        if largest_row is None:
            raise SystemExit(f"{bench.database} holds no active organization with facilities")
        largest_id, count = largest_row
        admins = [Admin(user_id, org_id) for user_id, org_id in conn.execute(_ADMINS).fetchall()]
        largest = next((a for a in admins if a.organization_id == largest_id), None)
        if largest is None:
            raise SystemExit(f"the largest organization {largest_id} has no active admin")
        rest = [a for a in admins if a.organization_id != largest_id]
        step = max(1, len(rest) // max(1, tenants))
        others = tuple(rest[::step][:tenants])
        facilities = {
            a.organization_id: tuple(
                r[0]
                for r in conn.execute(
                    _FACILITIES,
                    (a.organization_id, facilities_each * (10 if a is largest else 1)),
                )
            )
            for a in (largest, *others)
        }
    return Cast(largest, others, facilities, int(count))


def mint_tokens(app: Flask, admins: Sequence[Admin]) -> dict[Admin, str]:
    """An access token per admin, as a login issues it (a login session of its own, whose
    revocation the server checks in Redis on every request)."""
    with app.app_context():
        return {
            a: open_session(a.user_id, a.organization_id, Client()).access_token for a in admins
        }


# In a body, replaced by a 4-digit counter per request (bench/wrk/rotate.lua does the
# same), so that a write always changes its row.
COUNTER = "{n}"


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    token: str
    body: str = ""

    def numbered(self, n: int) -> str:
        return self.body.replace(COUNTER, f"{n % 10000:04d}")


def _interleave(*lists: Sequence[Call]) -> list[Call]:
    longest = max((len(x) for x in lists), default=0)
    return [x[i % len(x)] for i in range(longest) for x in lists if x]


def calls(c: Cast, tokens: dict[Admin, str], today: dt.date) -> dict[str, list[Call]]:
    """The requests of each endpoint kind, to be sent in rotation: half by the largest
    tenant's admin, half spread over the other tenants' admins (where the kind makes sense
    for any tenant)."""
    big = c.largest
    big_token = tokens[big]
    pages = max(1, min(10, c.largest_facility_count // 50))
    window = f"from={today - timedelta(days=90)}&to={today}&interval=week"

    def per_tenant(make: Any) -> list[Call]:
        return [call for a in c.others for call in make(a)]

    def detail(a: Admin) -> Iterator[Call]:
        for f in c.facilities[a.organization_id]:
            yield Call("GET", f"{API}/facilities/{f}", tokens[a])

    def write(a: Admin) -> Iterator[Call]:
        for f in c.facilities[a.organization_id]:
            yield Call(
                "PUT", f"{API}/facilities/{f}", tokens[a], f'{{"phone": "+1512867{COUNTER}"}}'
            )

    def report(name: str, query: str = "") -> Any:
        def make(a: Admin) -> Iterator[Call]:
            yield Call("GET", f"{API}/organizations/{a.organization_id}/{name}{query}", tokens[a])

        return make

    return {
        "list": _interleave(
            [
                Call("GET", f"{API}/facilities?page_size=50&page={p}", big_token)
                for p in range(1, pages + 1)
            ],
            per_tenant(lambda a: [Call("GET", f"{API}/facilities?page_size=50", tokens[a])]),
        ),
        "detail": _interleave(list(detail(big)), per_tenant(detail)),
        "hierarchy": [
            Call("GET", f"{API}/organizations/{big.organization_id}/hierarchy", big_token)
        ],
        "dashboard": _interleave(list(report("dashboard")(big)), per_tenant(report("dashboard"))),
        "analytics": _interleave(
            list(report("analytics", f"?{window}")(big)),
            per_tenant(report("analytics", f"?{window}")),
        ),
        "write": _interleave(list(write(big)), per_tenant(write)),
    }


@dataclass
class StatementCount:
    statements: int = 0
    checkouts: int = 0


@contextmanager
def counting(engine: Engine) -> Iterator[StatementCount]:
    """Count the statements sent through `engine` (and the pool checkouts, each of which
    costs a liveness ping when the pool pre-pings) while the block runs."""
    count = StatementCount()

    def on_execute(*_args: Any) -> None:
        count.statements += 1

    def on_checkout(*_args: Any) -> None:
        count.checkouts += 1

    event.listen(engine, "before_cursor_execute", on_execute)
    event.listen(engine, "checkout", on_checkout)
    try:
        yield count
    finally:
        event.remove(engine, "before_cursor_execute", on_execute)
        event.remove(engine, "checkout", on_checkout)


def send(client: FlaskClient, call: Call, n: int = 0) -> TestResponse:
    """`call` (the `n`th sent) through the application in process; anything but 2xx stops
    the benchmark."""
    response = client.open(
        call.path,
        method=call.method,
        headers={"Authorization": f"Bearer {call.token}"},
        data=call.numbered(n) or None,
        content_type="application/json" if call.body else None,
    )
    if not 200 <= response.status_code < 300:
        raise SystemExit(
            f"{call.method} {call.path}: {response.status_code} {response.data[:300]!r}"
        )
    return response


def run_workers(settings: Settings, workers: int, **env: str) -> tuple[float, float]:
    """Run `workers` real `rq worker --burst` processes (the deployment's worker class) on
    the settings' queue until it is empty; returns the seconds taken and the workers' CPU
    seconds (start-up included). `env`: more settings for them (SMTP_PORT, say)."""
    assert settings.database_url and settings.redis_url
    environment = {
        **os.environ,
        "DATABASE_URL": settings.database_url,
        "DATABASE_OWNER_URL": settings.database_owner_url or "",
        "DATABASE_ADMIN_URL": settings.database_admin_url or "",
        "REDIS_URL": settings.redis_url,
        "REGION": settings.region,
        "QUEUE_NAME": settings.queue_name,
        "LOG_LEVEL": "WARNING",
        # Several workers on one machine would all ask for the same metrics port.
        "METRICS_PORT": "0",
        "PYTHONPATH": str(ROOT),
        **env,
    }
    rq = str(Path(sys.executable).parent / "rq")
    command = [rq, "worker", "--burst", "--quiet", "--url", settings.redis_url]
    command += ["--worker-class", "workers.worker.Worker", settings.queue_name]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    processes = [subprocess.Popen(command, env=environment, cwd=ROOT) for _ in range(workers)]
    try:
        for process in processes:
            if process.wait(timeout=3600) != 0:
                raise SystemExit(f"a worker exited with {process.returncode}")
    finally:
        # one that failed leaves the others working on a database about to be dropped
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
    elapsed = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return elapsed, cpu
