"""List requests through PgBouncer (transaction pooling) beside direct connections.

    DATABASE_ADMIN_URL=... REDIS_URL=... .venv/bin/python bench/pgbouncer_throughput.py \\
        [--database msc_bench] [--threads 4] [--seconds 10] [--rounds 3] [--out FILE]

Serves `GET /api/v1/admin/facilities?page_size=50` in process (the test client, from
`--threads` threads at once), rotating over the largest tenant's admin and other tenants'
admins (bench/harness.py), through three applications over the same database:

- direct: straight to PostgreSQL, with psycopg's server-side prepared statements (the
  default);
- direct, unprepared: straight to PostgreSQL, DATABASE_PREPARED_STATEMENTS=false;
- pgbouncer: through a real PgBouncer in transaction mode (tests/pgbouncer.py, with as
  many server connections as threads), DATABASE_PREPARED_STATEMENTS=false, as PgBouncer
  before 1.21 requires.

The three alternate, `--seconds` each, for `--rounds` rounds; the figures are requests/s
and the median and p95 latency over all rounds. No HTTP server is involved: the
difference is what the extra hop and the unprepared statements cost a request.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import os
import statistics
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import harness
from flask import Flask

from app.config import Settings
from app.factory import create_app


@dataclasses.dataclass
class Tally:
    requests: int = 0
    seconds: float = 0.0
    latencies: list[float] = dataclasses.field(default_factory=list)


def run(app: Flask, calls: list[harness.Call], threads: int, seconds: float) -> Tally:
    """`threads` clients sending `calls` in rotation for `seconds`."""
    stop = threading.Event()
    per_thread: list[list[float]] = [[] for _ in range(threads)]
    failures: list[BaseException] = []

    def client(k: int) -> None:
        test_client = app.test_client()
        n = k
        while not stop.is_set():
            started = time.perf_counter()
            try:
                harness.send(test_client, calls[n % len(calls)], n)
            except BaseException as failure:  # a thread's SystemExit would pass unseen
                failures.append(failure)
                stop.set()
                return
            per_thread[k].append(time.perf_counter() - started)
            n += threads

    workers = [threading.Thread(target=client, args=(k,)) for k in range(threads)]
    began = time.perf_counter()
    for worker in workers:
        worker.start()
    time.sleep(seconds)
    stop.set()
    for worker in workers:
        worker.join()
    elapsed = time.perf_counter() - began
    if failures:
        raise SystemExit(f"a request failed: {failures[0]}")
    latencies = [t for times in per_thread for t in times]
    return Tally(len(latencies), elapsed, latencies)


@contextmanager
def application(settings: Settings) -> Iterator[Flask]:
    app = create_app(settings)
    try:
        yield app
    finally:
        app.extensions["services"].close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", default="msc_bench")
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path, help="also write the report to this file")
    args = parser.parse_args()

    load_before = os.getloadavg()
    bench = harness.target(args.database)
    secret = harness.new_jwt_secret()
    base = dataclasses.replace(harness.settings_for(bench, secret), database_pool_size=args.threads)
    with ExitStack() as stack:
        bounced = stack.enter_context(
            harness.pgbouncer().running(bench.urls.app, pool_size=args.threads)
        )
        apps = {
            "direct": stack.enter_context(application(base)),
            "direct, unprepared": stack.enter_context(
                application(dataclasses.replace(base, database_prepared_statements=False))
            ),
            "pgbouncer": stack.enter_context(
                application(
                    dataclasses.replace(
                        base, database_url=bounced, database_prepared_statements=False
                    )
                )
            ),
        }
        cast = harness.cast(bench, tenants=50)
        tokens = harness.mint_tokens(apps["direct"], [cast.largest, *cast.others])
        calls = harness.calls(cast, tokens, dt.date.today())["list"]
        tallies = {name: Tally() for name in apps}
        for app in apps.values():  # warm: pools, compiled statements, caches
            run(app, calls, args.threads, 1.0)
        for _ in range(args.rounds):
            for name, app in apps.items():
                tally = run(app, calls, args.threads, args.seconds)
                total = tallies[name]
                total.requests += tally.requests
                total.seconds += tally.seconds
                total.latencies += tally.latencies

    lines = [
        f"PgBouncer beside direct connections, {dt.datetime.now().isoformat(timespec='seconds')}",
        f"database {bench.database}; GET /api/v1/admin/facilities?page_size=50 in process, "
        f"{args.threads} threads, {args.rounds} rounds of {args.seconds:g} s each, alternating",
        "load average (1, 5, 15 min) before: {:.2f} {:.2f} {:.2f}, after: {:.2f} {:.2f} "
        "{:.2f}".format(*load_before, *os.getloadavg()),
        "",
        "| path | requests/s | p50 ms | p95 ms | vs direct |",
        "|---|---|---|---|---|",
    ]
    direct_rate = tallies["direct"].requests / tallies["direct"].seconds
    for name, tally in tallies.items():
        rate = tally.requests / tally.seconds
        cuts = statistics.quantiles(tally.latencies, n=100, method="inclusive")
        lines.append(
            f"| {name} | {rate:.1f} | {statistics.median(tally.latencies) * 1000:.1f} "
            f"| {cuts[94] * 1000:.1f} | {rate / direct_rate:.2f} |"
        )
    report = "\n".join(lines) + "\n"
    print(report)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(report)


if __name__ == "__main__":
    main()
