"""What applying the tenant context costs a request, on plain PostgreSQL or on a Citus
coordinator.

    DATABASE_ADMIN_URL=... .venv/bin/python bench/context_cost.py \\
        [--database msc_bench] [--transactions 2000]

The database must hold data (bench/generate.py; its manifest names the largest tenant's
admin). As the application role, each figure is a transaction of one statement and its
commit, repeated, interleaved with the others:

  enter        `tenancy.enter` for the admin in their organization, with the service's
               ticket: the request's first round trip, which resolves the context and
               applies it signed (`tenancy.put`);
  apply        the application's own apply of the resolved context, signed
               (app/tenancy/context.py: `tenancy.adopt` with the context as a bind
               parameter), as a job or a `system_context` block sends it;
  check100     apply, then a hundred checks of the context's signature in one statement
               (`tenancy.fields()`, what each reader a policy calls does once per
               statement): less `apply`, a hundred checks' cost;
  empty        a transaction with no statement but `SELECT 1`, the floor.

Prints the median and p95 of each, in ms.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
import uuid
from collections.abc import Callable
from dataclasses import replace
from typing import cast

import harness
import psycopg

from app.config import Settings
from app.tenancy.context import ADOPT, TenantContext, signed_context
from app.tenancy.read_only import READ_ONLY
from app.tenancy.roles import libpq_url
from app.tenancy.signing import enter_ticket

Step = Callable[[psycopg.Connection[tuple[object, ...]]], None]


def _context_steps(admin_id: uuid.UUID, organization_id: uuid.UUID) -> dict[str, Step]:
    statuses = sorted(READ_ONLY)
    context = TenantContext(
        user_id=admin_id, organization_id=organization_id, role="organization_admin"
    )
    resolved: list[TenantContext] = []

    def enter(conn: psycopg.Connection[tuple[object, ...]]) -> None:
        row = conn.execute(
            "SELECT role, organization_ids FROM tenancy.enter(%s, %s, 'bench', %s, %s)",
            (
                admin_id,
                organization_id,
                statuses,
                enter_ticket(admin_id, organization_id, "bench", statuses),
            ),
        ).fetchone()
        assert row is not None and row[0] == "organization_admin", row
        if not resolved:
            resolved.append(replace(context, organization_ids=tuple(cast(list[uuid.UUID], row[1]))))

    def apply(conn: psycopg.Connection[tuple[object, ...]]) -> None:
        conn.execute(ADOPT, (signed_context(resolved[0]),))

    def check100(conn: psycopg.Connection[tuple[object, ...]]) -> None:
        apply(conn)
        row = conn.execute("SELECT count(tenancy.fields()) FROM generate_series(1, 100)")
        assert row.fetchone() == (100,)

    def empty(conn: psycopg.Connection[tuple[object, ...]]) -> None:
        conn.execute("SELECT 1")

    return {"enter": enter, "apply": apply, "check100": check100, "empty": empty}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", default="msc_bench", help="a generated database")
    parser.add_argument("--transactions", type=int, default=2000)
    args = parser.parse_args()
    manifest_path = Settings.from_env().local_data_dir / "bench" / f"{args.database}.json"
    manifest = json.loads(manifest_path.read_text())
    admin_id = uuid.UUID(manifest["largest"]["admin_user_id"])
    organization_id = uuid.UUID(manifest["largest"]["organization_id"])
    urls = harness.target(args.database).urls
    steps = _context_steps(admin_id, organization_id)
    timings: dict[str, list[float]] = {name: [] for name in steps}
    with psycopg.connect(libpq_url(urls.app)) as conn:
        steps["enter"](conn)  # resolves the context the others apply
        conn.commit()
        for _ in range(args.transactions):
            for name, step in steps.items():
                started = time.perf_counter()
                step(conn)
                conn.commit()
                timings[name].append((time.perf_counter() - started) * 1000)
        citus = conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'citus'").fetchone()
    engine = "Citus coordinator" if citus else "PostgreSQL"
    print(f"{engine}, database {args.database}, {args.transactions} transactions each")
    print("| step | median ms | p95 ms |")
    print("|---|---:|---:|")
    for name, values in timings.items():
        p95 = statistics.quantiles(values, n=20)[-1]
        print(f"| {name} | {statistics.median(values):.3f} | {p95:.3f} |")


if __name__ == "__main__":
    main()
