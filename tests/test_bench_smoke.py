"""The benchmarks (bench/) in their smoke versions, at the tiny scale, so they never rot;
their figures are not checked here. The data generator first: the command runs, the data
obeys the schema's and the application's rules, the same inputs give the same rows, and
the application role sees the largest tenant through the policies. Most of the others
run against the database it filled."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from click.testing import CliRunner
from sqlalchemy import func, select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from app.config import child_environment
from app.database import make_engine
from app.local import DatabaseUrls, drop_database, urls_for
from app.models import Facility
from app.models.enums import Role
from app.tenancy.context import TenantContext, use_context
from app.tenancy.roles import libpq_url
from bench import generate
from tests import pgbouncer

pytestmark = pytest.mark.slow

SCALE = generate.SCALES["tiny"]
TODAY = dt.date(2026, 6, 15)


@pytest.fixture(scope="module")
def generated(
    server_admin_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[DatabaseUrls, dict[str, Any]]]:
    """A database of its own, filled by the command, dropped afterwards."""
    database = f"msc_bench_smoke_{os.getpid()}"
    manifest_path = tmp_path_factory.mktemp("bench") / "manifest.json"
    try:
        arguments = ["--scale", "tiny", "--database", database, "--today", TODAY.isoformat()]
        result = CliRunner().invoke(
            generate.main,
            [*arguments, "--manifest", str(manifest_path)],
            env={"DATABASE_ADMIN_URL": server_admin_url},
        )
        assert result.exit_code == 0, result.output + repr(result.exception)
        yield urls_for(server_admin_url, database), json.loads(manifest_path.read_text())
    finally:
        drop_database(server_admin_url, database)


def _count(conn: psycopg.Connection[Any], query: str) -> int:
    row = conn.execute(query).fetchone()
    assert row is not None
    return int(row[0])


def test_counts_match_the_scale(generated: tuple[DatabaseUrls, dict[str, Any]]) -> None:
    urls, manifest = generated
    with psycopg.connect(libpq_url(urls.admin)) as conn:
        assert _count(conn, "SELECT count(*) FROM organizations") == SCALE.organizations
        assert _count(conn, "SELECT count(*) FROM facilities") == SCALE.facilities
        providers = "SELECT count(DISTINCT user_id) FROM memberships WHERE role = 'provider'"
        assert _count(conn, providers) == SCALE.providers
        assert _count(conn, "SELECT count(*) FROM credentials") == SCALE.credentials
        assert _count(conn, "SELECT count(*) FROM orders") == SCALE.orders
        # some providers work for two organizations
        assert _count(conn, "SELECT count(*) FROM memberships WHERE role = 'provider'") > (
            SCALE.providers
        )
        for table, rows in manifest["counts"].items():
            assert _count(conn, f"SELECT count(*) FROM {table}") == rows, table
    largest = manifest["largest"]
    assert (largest["facilities"], largest["providers"]) == (
        SCALE.largest_facilities,
        SCALE.largest_providers,
    )
    assert len(largest["organization_ids"]) > 1  # a hierarchy


def test_the_data_obeys_the_rules(generated: tuple[DatabaseUrls, dict[str, Any]]) -> None:
    urls, _ = generated
    with psycopg.connect(libpq_url(urls.admin)) as conn:
        conn.execute("SET TimeZone = 'UTC'")
        broken = generate.violations(conn, TODAY, pytest.fail)
        assert "providers without a primary assignment" in broken
        assert "assignments without a membership" in broken
        assert broken == dict.fromkeys(broken, 0)
        # the load disabled the tables' triggers for itself only
        assert _count(conn, "SELECT count(*) FROM pg_trigger WHERE tgenabled = 'D'") == 0


def test_the_checks_see_a_broken_rule(generated: tuple[DatabaseUrls, dict[str, Any]]) -> None:
    """The checks are not vacuous: each breakage below is counted (and rolled back)."""
    urls, _ = generated
    # rule: (table, change, which rows may take it: the first of them does)
    breakages = {
        "facilities whose MAC jurisdiction is not their state's": (
            "facilities",
            "mac_jurisdiction = 'J0'",
            "true",
        ),
        "organizations whose ancestor_ids are not their parent's plus themselves": (
            "organizations",
            "ancestor_ids = '{}'",
            "true",
        ),
        "orders whose stamps do not follow their status": (
            "orders",
            "shipped_at = NULL",
            "status = 'delivered'",
        ),
        "credentials missing what their kind requires": (
            "credentials",
            "number = NULL",
            "credential_type = 'medical_license'",
        ),
        "users whose organization_ids are not the organizations of their memberships": (
            "users",
            "organization_ids = '{}'",
            "NOT is_msc_admin",
        ),
    }
    with psycopg.connect(libpq_url(urls.admin)) as conn:
        conn.execute("SET TimeZone = 'UTC'")
        with conn.transaction(force_rollback=True):
            # past the triggers, which would re-derive or refuse what is broken here
            conn.execute("SET LOCAL session_replication_role = replica")
            for table, change, where in breakages.values():
                conn.execute(
                    f"UPDATE {table} SET {change} WHERE id ="
                    f" (SELECT id FROM {table} WHERE {where} ORDER BY id LIMIT 1)"
                )
            broken = generate.violations(conn, TODAY, pytest.fail)
    assert {rule: broken[rule] for rule in breakages} == dict.fromkeys(breakages, 1)


@pytest.mark.parametrize(
    ("rule", "change"),
    [
        (
            "primary assignments pointing at no active assignment",
            "UPDATE primary_assignments SET facility_id = gen_random_uuid()",
        ),
        ("providers without a primary assignment", "DELETE FROM primary_assignments"),
    ],
)
def test_the_checks_see_a_broken_primary(
    generated: tuple[DatabaseUrls, dict[str, Any]], rule: str, change: str
) -> None:
    """A provider's primary_assignments row pointing away from their assignments, or
    gone, breaks that rule alone (rolled back)."""
    urls, _ = generated
    with psycopg.connect(libpq_url(urls.admin)) as conn:
        conn.execute("SET TimeZone = 'UTC'")
        with conn.transaction(force_rollback=True):
            conn.execute(
                f"{change} WHERE user_id ="
                " (SELECT user_id FROM primary_assignments ORDER BY user_id LIMIT 1)"
            )
            broken = generate.violations(conn, TODAY, pytest.fail)
    assert broken == {**dict.fromkeys(broken, 0), rule: 1}


def test_the_application_role_sees_the_largest_tenant_through_the_policies(
    generated: tuple[DatabaseUrls, dict[str, Any]],
) -> None:
    urls, manifest = generated
    largest, other = manifest["largest"], manifest["tenants"][0]
    engine = make_engine(urls.app)
    try:
        with Session(engine) as session:
            use_context(
                session,
                TenantContext(
                    user_id=uuid.UUID(largest["admin_user_id"]),
                    organization_id=uuid.UUID(largest["organization_id"]),
                    role=Role.ORGANIZATION_ADMIN,
                    organization_ids=tuple(map(uuid.UUID, largest["organization_ids"])),
                ),
            )
            seen = session.scalar(select(func.count()).select_from(Facility))
            assert seen == largest["facilities"]
            session.rollback()
            use_context(
                session,
                TenantContext(
                    user_id=uuid.UUID(other["admin_user_id"]),
                    organization_id=uuid.UUID(other["organization_id"]),
                    role=Role.ORGANIZATION_ADMIN,
                    organization_ids=(uuid.UUID(other["organization_id"]),),
                ),
            )
            theirs = session.scalars(select(Facility.organization_id)).all()
            assert len(theirs) == other["facilities"]
            assert set(map(str, theirs)) == {other["organization_id"]}
    finally:
        engine.dispose()


def _digest(plan: generate.Plan) -> str:
    digest = hashlib.sha256()
    for table in generate.TABLES:
        for row in table.rows(plan):
            digest.update(repr(row).encode())
    return digest.hexdigest()


def test_the_same_inputs_give_the_same_rows(generated: tuple[DatabaseUrls, dict[str, Any]]) -> None:
    urls, _ = generated
    with psycopg.connect(libpq_url(urls.admin)) as conn:
        rows = conn.execute("SELECT code, mac_jurisdiction FROM us_states").fetchall()
    states: dict[str, str | None] = dict(rows)

    def plan(seed: int) -> generate.Plan:
        return generate.Plan(SCALE, seed, TODAY, states)

    first = _digest(plan(7))
    assert _digest(plan(7)) == first
    assert _digest(plan(8)) != first


@pytest.mark.process
def test_the_load_test_runs_without_errors(
    generated: tuple[DatabaseUrls, dict[str, Any]],
    server_admin_url: str,
    redis_url: str,
    tmp_path: Path,
) -> None:
    """bench/load.py in its smoke mode against the tiny data: both servers start, every
    endpoint kind answers 2xx under wrk, the bare peer answers what the application
    answers. It writes (facility phones), so it runs after the checks of the data."""
    if shutil.which("wrk") is None:
        pytest.skip("wrk is not installed")
    urls, _ = generated
    report = tmp_path / "load.json"
    # Through PgBouncer too, where it is installed.
    bouncer = ["--pgbouncer"] if pgbouncer.available() else []
    database = str(make_url(urls.admin).database)
    result = _run(
        "load.py", server_admin_url, redis_url, database, "--smoke", *bouncer,
        "--out", str(report),
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    figures = json.loads(report.read_text())
    assert figures["errors"] == 0
    if bouncer:
        assert figures["pgbouncer"]["pgbouncer"] and figures["pgbouncer"]["direct"]
    assert set(figures["endpoints"]) == {
        "list",
        "detail",
        "hierarchy",
        "dashboard",
        "analytics",
        "write",
    }


def _bench(
    script: str, database: str, server_admin_url: str, redis_url: str, *arguments: str
) -> subprocess.CompletedProcess[str]:
    return _run(script, server_admin_url, redis_url, "--database", database, *arguments)


def _run(
    script: str, server_admin_url: str, redis_url: str, *arguments: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, f"bench/{script}", *arguments],
        cwd=Path(__file__).resolve().parents[1],
        env=child_environment(DATABASE_ADMIN_URL=server_admin_url, REDIS_URL=redis_url),
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_rls_tax_runs(
    generated: tuple[DatabaseUrls, dict[str, Any]],
    server_admin_url: str,
    redis_url: str,
    tmp_path: Path,
) -> None:
    """bench/rls_tax.py captures each list's statements from a real request and replays
    them under the policies and past them; every list has its figures and plans."""
    urls, _ = generated
    database = str(make_url(urls.admin).database)
    result = _bench(
        "rls_tax.py", database, server_admin_url, redis_url, "--iterations", "5",
        "--results", str(tmp_path),
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    summary = (tmp_path / "rls_tax.md").read_text()
    for name in ("facilities", "providers", "orders"):
        assert f"| {name} | prepared |" in summary
        assert f"| {name} | unprepared |" in summary
        assert sorted(tmp_path.glob(f"rls_tax_{name}_*.txt"))


@pytest.mark.process
def test_the_pgbouncer_throughput_runs(
    generated: tuple[DatabaseUrls, dict[str, Any]],
    server_admin_url: str,
    redis_url: str,
) -> None:
    """bench/pgbouncer_throughput.py: list requests through PgBouncer and directly."""
    if not pgbouncer.available():
        pytest.skip("pgbouncer is not installed")
    urls, _ = generated
    database = str(make_url(urls.admin).database)
    result = _bench(
        "pgbouncer_throughput.py", database, server_admin_url, redis_url,
        "--threads", "2", "--seconds", "0.5", "--rounds", "1",
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    for path in ("| direct |", "| direct, unprepared |", "| pgbouncer |"):
        assert path in result.stdout


def test_the_reminder_scan_runs(
    generated: tuple[DatabaseUrls, dict[str, Any]], server_admin_url: str, redis_url: str
) -> None:
    """bench/scan.py: the first scan writes reminders, the same day again writes none, the
    next day runs; the database is left without the reminders it wrote."""
    urls, _ = generated
    database = str(make_url(urls.admin).database)
    result = _bench("scan.py", database, server_admin_url, redis_url, "--today", str(TODAY))
    assert result.returncode == 0, result.stdout + result.stderr
    runs = {line.split()[1]: line for line in result.stdout.splitlines() if line.startswith("scan")}
    assert set(runs) == {"first", "again", "next"}
    assert "wrote 0 messages" not in runs["first"]
    assert "wrote 0 messages" in runs["again"]
    with psycopg.connect(libpq_url(urls.admin)) as conn:
        reminders = "SELECT count(*) FROM outbox_messages WHERE kind LIKE '%reminder'"
        assert _count(conn, reminders) == 0


def test_the_screening_benchmark_runs(
    generated: tuple[DatabaseUrls, dict[str, Any]], server_admin_url: str, redis_url: str
) -> None:
    """bench/screening.py: the first pass finds the planted matches (5 by NPI, 5 by name
    and date of birth, 5 by name and state; the near misses none), the second nothing
    new; the database is left without the list, the screenings or the dates of birth."""
    urls, _ = generated
    database = str(make_url(urls.admin).database)
    result = _bench(
        "screening.py", database, server_admin_url, redis_url, "--entries", "2000",
        "--per-kind", "5",
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    runs = {
        line.split()[1]: line for line in result.stdout.splitlines() if line.startswith("screening")
    }
    assert set(runs) == {"first", "again"}
    assert f"{SCALE.providers} providers" in runs["first"]
    assert " 15 new matches" in runs["first"]
    assert " 0 new matches" in runs["again"]
    with psycopg.connect(libpq_url(urls.admin)) as conn:
        assert _count(conn, "SELECT count(*) FROM provider_screenings") == 0
        assert _count(conn, "SELECT count(*) FROM exclusion_entries") == 0
        assert _count(conn, "SELECT count(*) FROM users WHERE date_of_birth IS NOT NULL") == 0


def test_the_compliance_trend_measurement_runs(
    generated: tuple[DatabaseUrls, dict[str, Any]],
    server_admin_url: str,
    redis_url: str,
    tmp_path: Path,
) -> None:
    """bench/compliance_trend.py: today's scores and every trend length have a time."""
    urls, manifest = generated
    database = str(make_url(urls.admin).database)
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    result = _run(
        "compliance_trend.py", server_admin_url, redis_url, database, "--runs", "1",
        "--manifest", str(tmp_path / "manifest.json"),
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    organizations = len(manifest["largest"]["organization_ids"])
    assert f"providers in {organizations} organizations" in result.stdout
    timed = [line for line in result.stdout.splitlines() if line.endswith(" s")]
    assert len(timed) == 6, result.stdout


def test_the_exclusion_import_benchmark_runs(server_admin_url: str, redis_url: str) -> None:
    """bench/exclusion_import.py on a small file: the three imports, each timed, the
    third a no-op."""
    database = f"msc_bench_exclusion_smoke_{os.getpid()}"
    result = _run(
        "exclusion_import.py", server_admin_url, redis_url, "--rows", "200",
        "--database", database,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("LEIE full file: 200 rows, ")
    assert "(200 new, 0 known)" in lines[1]
    assert "(4 new, 196 known), 0 reinstated, 4 withdrawn" in lines[2]
    assert "already imported" in lines[3]


@pytest.mark.process
def test_the_delivery_benchmark_runs(server_admin_url: str, redis_url: str) -> None:
    """bench/delivery.py with two worker processes: every message arrives once, every row
    is sent (the script checks both and fails otherwise)."""
    result = _run("delivery.py", server_admin_url, redis_url, "--messages", "4", "--workers", "2")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 worker(s): queued 4, delivered 4" in result.stdout


@pytest.mark.process
def test_the_webhook_benchmark_runs(server_admin_url: str, redis_url: str) -> None:
    """bench/webhooks.py with two worker processes: every event arrives once, signed, and
    every delivery is delivered at the first attempt (the script checks and fails
    otherwise)."""
    result = _run("webhooks.py", server_admin_url, redis_url, "--events", "6", "--workers", "2")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 worker(s): queued 6, delivered 6" in result.stdout


def test_the_growth_measurement_runs(
    generated: tuple[DatabaseUrls, dict[str, Any]],
    server_admin_url: str,
    redis_url: str,
    tmp_path: Path,
) -> None:
    """bench/growth.py at one scale: every endpoint kind has a latency and a statement
    count; it writes (facility phones) as the load test does."""
    urls, _ = generated
    database = str(make_url(urls.admin).database)
    report = tmp_path / "growth.json"
    result = _run(
        "growth.py", server_admin_url, redis_url, database, "--requests", "2",
        "--out", str(report),
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    (scale,) = json.loads(report.read_text())["scales"]
    assert set(scale["kinds"]) == {
        "list (largest tenant)", "list (other tenants)", "detail", "hierarchy",
        "dashboard", "analytics", "write",
    }  # fmt: skip
    for figures in scale["kinds"].values():
        assert figures["statements"] and figures["median_ms"] > 0


def test_the_list_profile_runs(
    generated: tuple[DatabaseUrls, dict[str, Any]],
    server_admin_url: str,
    redis_url: str,
    tmp_path: Path,
) -> None:
    """bench/profile_list.py: a profile of a few list requests, with its call tree."""
    urls, _ = generated
    database = str(make_url(urls.admin).database)
    result = _run(
        "profile_list.py", server_admin_url, redis_url, database, "--requests", "3",
        "--out", str(tmp_path / "profile.txt"),
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "facilities" in (tmp_path / "profile.txt").read_text()
