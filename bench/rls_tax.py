"""The RLS tax: what the row-level security policies add to the main list queries.

    DATABASE_ADMIN_URL=... REDIS_URL=... .venv/bin/python bench/rls_tax.py \\
        [--database msc_bench] [--iterations 1000] [--results bench/results]

The database must hold data (bench/generate.py). The statements are the application's
own: GET /api/v1/admin/facilities, /api/v1/admin/providers, /api/v1/orders and
/api/v1/admin/compliance/expirations (a page of 50) are served in process for an admin
of the largest tenant (the top-level organization with the most facilities in its tree,
whose scope holds its descendants; see bench/harness.py), and each statement they send
about the listed table is recorded with its parameters and the signed tenant context in
force when it ran. Each list is then replayed
through psycopg as transactions of the request's shape (the context, then the page and
the total):

  (a) as the application role, under the policies;
  (b) as the superuser, whom row-level security does not bind (the tables' owner is bound:
      FORCE), running the identical statements, whose explicit organization filter the
      application adds itself.

Iterations alternate between (a) and (b), with server-side prepared statements and
without (every statement parsed and planned). The figures are medians, p95 and the ratio
of medians (a)/(b). `EXPLAIN (ANALYZE, BUFFERS, SETTINGS)` of every statement in both
arms, and their planning times, go to the results folder.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import os
import re
import statistics
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from harness import (
    Call,
    Target,
    cast,
    mint_tokens,
    new_jwt_secret,
    send,
    settings_for,
    target,
)
from sqlalchemy import Engine, event

from app.factory import create_app
from app.tenancy.context import ADOPT
from app.tenancy.roles import libpq_url

ROOT = Path(__file__).resolve().parents[1]
WARMUP = 20
PLANNING_SAMPLES = 200


@dataclass(frozen=True)
class Endpoint:
    name: str
    path: str
    # The table whose rows the list returns: its statements are the ones measured.
    table: str


ENDPOINTS = (
    Endpoint("facilities", "/api/v1/admin/facilities?page_size=50", "facilities"),
    Endpoint("providers", "/api/v1/admin/providers?page_size=50", "users"),
    Endpoint("orders", "/api/v1/orders?page_size=50", "orders"),
    Endpoint("expirations", "/api/v1/admin/compliance/expirations?page_size=50", "credentials"),
)


@dataclass(frozen=True)
class Statement:
    sql: str
    params: Any


@dataclass(frozen=True)
class Workload:
    """One list request's statements, the signed tenant context they ran under (the value
    of `tenancy.context`) and its scope."""

    endpoint: Endpoint
    context: str
    scope: tuple[str, ...]
    statements: tuple[Statement, ...]


def context_statement(context: str) -> Statement:
    """The context made the transaction's, as the application applies it."""
    return Statement(ADOPT, [context])


# --- capture ------------------------------------------------------------------------


class Recorder:
    """Records, for the request being served, the statements about one table that run
    in a full tenant context, with the context in force."""

    def __init__(self) -> None:
        self.pattern: re.Pattern[str] | None = None
        self.context = ""
        self.scope: tuple[str, ...] = ()
        self.statements: list[Statement] = []

    def __call__(
        self,
        _conn: Any,
        cursor: Any,
        statement: str,
        parameters: Any,
        _context: Any,
        _executemany: bool,
    ) -> None:
        if self.pattern is None or not self.pattern.search(statement):
            return
        if "tenancy." in statement or "set_config" in statement:
            return  # resolving or applying the context, not the list
        context, scope = cursor.connection.execute(
            "SELECT current_setting('tenancy.context', true), tenancy.organization_ids()"
        ).fetchone()
        if not scope:
            return  # a step of resolving who is asking
        self.context, self.scope = context, tuple(str(i) for i in scope)
        self.statements.append(Statement(statement, parameters))

    @contextmanager
    def recording(self, table: str) -> Iterator[None]:
        self.pattern = re.compile(rf"\bFROM {re.escape(table)}\b")
        self.context, self.scope, self.statements = "", (), []
        try:
            yield
        finally:
            self.pattern = None


def capture(bench: Target, endpoints: Sequence[Endpoint] = ENDPOINTS) -> list[Workload]:
    """Serve each list once, in process, to the largest tenant's admin, recording it."""
    app = create_app(settings_for(bench, new_jwt_secret()))
    admin = cast(bench, tenants=0).largest
    token = mint_tokens(app, [admin])[admin]
    client = app.test_client()
    recorder = Recorder()
    workloads = []
    event.listen(Engine, "after_cursor_execute", recorder)
    try:
        for endpoint in endpoints:
            with recorder.recording(endpoint.table):
                send(client, Call("GET", endpoint.path, token))
            if not recorder.statements:
                raise SystemExit(f"{endpoint.path}: no statement about {endpoint.table}")
            workloads.append(
                Workload(endpoint, recorder.context, recorder.scope, tuple(recorder.statements))
            )
    finally:
        event.remove(Engine, "after_cursor_execute", recorder)
    return workloads


# --- replay -------------------------------------------------------------------------


@dataclass
class Arm:
    name: str
    conn: psycopg.Connection[Any]
    totals: list[int] = dataclasses.field(default_factory=list)
    per_statement: list[list[int]] = dataclasses.field(default_factory=list)


def run_transaction(
    conn: psycopg.Connection[Any], statements: Sequence[Statement], prepare: bool
) -> list[int]:
    """Nanoseconds for each statement (its rows fetched), then for the whole transaction
    including its commit."""
    times = []
    began = time.perf_counter_ns()
    for statement in statements:
        start = time.perf_counter_ns()
        conn.execute(statement.sql, statement.params, prepare=prepare).fetchall()
        times.append(time.perf_counter_ns() - start)
    conn.commit()
    times.append(time.perf_counter_ns() - began)
    return times


def measure(
    workload: Workload, arms: tuple[Arm, Arm], iterations: int, prepare: bool
) -> tuple[Arm, Arm]:
    statements = (context_statement(workload.context), *workload.statements)
    fresh = tuple(Arm(arm.name, arm.conn) for arm in arms)
    for i in range(WARMUP + iterations):
        # Alternate who goes first, so neither arm always meets a warmer cache.
        for arm in fresh if i % 2 == 0 else reversed(fresh):
            times = run_transaction(arm.conn, statements, prepare)
            if i >= WARMUP:
                arm.totals.append(times[-1])
                arm.per_statement.append(times[:-1])
    return fresh[0], fresh[1]


def quantiles(samples: list[int]) -> tuple[float, float]:
    """Median and p95, in milliseconds."""
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    return statistics.median(samples) / 1e6, cuts[94] / 1e6


def explain(
    conn: psycopg.Connection[Any], workload: Workload, statement: Statement, options: str
) -> list[Any]:
    """The rows of EXPLAIN (`options`) of the statement, under the workload's settings."""
    apply = context_statement(workload.context)
    conn.execute(apply.sql, apply.params)
    plan = conn.execute(f"EXPLAIN ({options}) {statement.sql}", statement.params).fetchall()
    conn.rollback()
    return [line for (line,) in plan]


def planning_ms(
    conn: psycopg.Connection[Any], workload: Workload, statement: Statement, times: int
) -> float:
    """Median planning time of the statement over `times` plans, from the server's own
    account."""
    samples = []
    for _ in range(times):
        (plan,) = explain(conn, workload, statement, "SUMMARY, FORMAT JSON")
        samples.append(float(plan[0]["Planning Time"]))
    return statistics.median(samples)


def describe(statement: Statement) -> str:
    return re.sub(r"\s+", " ", statement.sql)[:90]


def report(
    workloads: list[Workload],
    arms: tuple[Arm, Arm],
    iterations: int,
    results: Path | None,
) -> str:
    lines = [
        f"RLS tax, {iterations} interleaved transactions per arm and mode",
        "(a) application role under the policies, (b) superuser, identical statements;",
        "a transaction = context + the list's statements + commit. Times in ms.",
        "",
        "| list | mode | (a) median | (a) p95 | (b) median | (b) p95 | ratio of medians |",
        "|---|---|---|---|---|---|---|",
    ]
    details = []
    for workload in workloads:
        for prepare in (True, False):
            a, b = measure(workload, arms, iterations, prepare)
            (am, ap), (bm, bp) = quantiles(a.totals), quantiles(b.totals)
            mode = "prepared" if prepare else "unprepared"
            lines.append(
                f"| {workload.endpoint.name} | {mode} | {am:.3f} | {ap:.3f} | {bm:.3f} | {bp:.3f}"
                f" | {am / bm:.2f} |"
            )
            labels = ["context", *(describe(s) for s in workload.statements)]
            for index, label in enumerate(labels):
                sa = statistics.median(t[index] for t in a.per_statement) / 1e6
                sb = statistics.median(t[index] for t in b.per_statement) / 1e6
                details.append(
                    f"| {workload.endpoint.name} | {mode} | {label} | {sa:.3f} | {sb:.3f}"
                    f" | {sa / sb:.2f} |"
                )
    lines += [
        "",
        "Per statement (medians, ms):",
        "",
        "| list | mode | statement | (a) | (b) | ratio |",
        "|---|---|---|---|---|---|",
        *details,
        "",
        "Planning time (median of server-reported planning, ms):",
        "",
        "| list | statement | (a) | (b) | ratio |",
        "|---|---|---|---|---|",
    ]
    for workload in workloads:
        for index, statement in enumerate(workload.statements):
            pa, pb = (
                planning_ms(arm.conn, workload, statement, min(PLANNING_SAMPLES, iterations))
                for arm in arms
            )
            lines.append(
                f"| {workload.endpoint.name} | {describe(statement)} | {pa:.3f} | {pb:.3f}"
                f" | {pa / pb:.2f} |"
            )
            if results is not None:
                for arm in arms:
                    plan = "\n".join(
                        explain(arm.conn, workload, statement, "ANALYZE, BUFFERS, SETTINGS")
                    )
                    name = f"rls_tax_{workload.endpoint.name}_{index + 1}_{arm.name}.txt"
                    (results / name).write_text(
                        f"-- {workload.endpoint.path} as {arm.name}\n-- context: "
                        f"{json.dumps(workload.context)}\n-- params: {statement.params!r}\n"
                        f"{statement.sql}\n\n{plan}\n"
                    )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", default="msc_bench", help="a generated database")
    parser.add_argument("--iterations", type=int, default=1000)
    parser.add_argument("--results", type=Path, help="folder for the summary and plans")
    parser.add_argument(
        "--lists",
        default=",".join(e.name for e in ENDPOINTS),
        help="which lists, comma-separated",
    )
    args = parser.parse_args()

    chosen = args.lists.split(",")
    bench = target(args.database)
    workloads = capture(bench, [e for e in ENDPOINTS if e.name in chosen])
    started, load_before = dt.datetime.now(), os.getloadavg()
    with (
        psycopg.connect(libpq_url(bench.urls.app)) as app_conn,
        psycopg.connect(libpq_url(bench.urls.admin)) as admin_conn,
    ):
        arms = (Arm("application_role", app_conn), Arm("superuser", admin_conn))
        if args.results is not None:
            args.results.mkdir(parents=True, exist_ok=True)
        version = admin_conn.execute("SHOW server_version").fetchone()
        summary = report(workloads, arms, args.iterations, args.results)
    scope = workloads[0].scope
    header = [
        f"{started.isoformat(timespec='seconds')}, database {bench.database}, PostgreSQL "
        f"{version[0] if version else '?'}, {os.cpu_count()} cores; the admin's scope: "
        f"{len(scope)} organizations",
        "load average (1, 5, 15 min) before: {:.2f} {:.2f} {:.2f}, after: {:.2f} {:.2f} "
        "{:.2f}".format(*load_before, *os.getloadavg()),
        "",
    ]
    summary = "\n".join(header) + summary
    print(summary)
    if args.results is not None:
        (args.results / "rls_tax.md").write_text(summary)


if __name__ == "__main__":
    main()
