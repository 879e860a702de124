"""How the main endpoints grow with the data: latency and statements per request at
several scales.

    DATABASE_ADMIN_URL=... REDIS_URL=... python bench/growth.py DATABASE [DATABASE ...]
        [--requests 30]

Each DATABASE is a benchmark database (bench/generate.py), typically the `tenth`,
`third` and `large` scales. For each, every endpoint kind is sent through the application
in process (the test client: no HTTP server, one request at a time) as the admin of the
largest tenant, whose tenant grows with the scale; the list also as other tenants'
admins. A listener on the engine counts the statements each request sends (and the
pool checkouts, each a liveness ping while the pool pre-pings). Prints a table, says
whether any kind's statement count changes between scales, and writes the figures to
bench/results/growth_<date>.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import time
from typing import Any

import harness

from app.extensions import db
from app.factory import create_app

WARM = 3


def measure(database: str, requests: int) -> dict[str, Any]:
    bench = harness.target(database)
    app = create_app(harness.settings_for(bench, harness.new_jwt_secret()))
    cast = harness.cast(bench, tenants=50)
    tokens = harness.mint_tokens(app, [cast.largest, *cast.others])
    by_kind = harness.calls(cast, tokens, dt.date.today())
    big = tokens[cast.largest]
    kinds = {
        "list (largest tenant)": [c for c in by_kind["list"] if c.token == big],
        "list (other tenants)": [c for c in by_kind["list"] if c.token != big],
        **{
            kind: [c for c in by_kind[kind] if c.token == big]
            for kind in ("detail", "hierarchy", "dashboard", "analytics", "write")
        },
    }
    client = app.test_client()
    figures: dict[str, Any] = {}
    with app.app_context():
        engine = db.engine
    # Writes number their values from here, so none repeats what an earlier run wrote.
    base = time.time_ns() // 1000
    for kind, calls in kinds.items():
        for i in range(WARM):
            harness.send(client, calls[i % len(calls)], base + requests + i)
        times, statements, checkouts = [], set(), set()
        for i in range(requests):
            with harness.counting(engine) as count:
                started = time.perf_counter()
                harness.send(client, calls[i % len(calls)], base + i)
                times.append((time.perf_counter() - started) * 1000)
            statements.add(count.statements)
            checkouts.add(count.checkouts)
        times.sort()
        figures[kind] = {
            "median_ms": statistics.median(times),
            "p95_ms": times[min(len(times) - 1, round(0.95 * (len(times) - 1)))],
            "statements": sorted(statements),
            "checkouts": sorted(checkouts),
        }
    return {
        "database": database,
        "largest_tenant_facilities": cast.largest_facility_count,
        "requests_per_kind": requests,
        "kinds": figures,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("databases", nargs="+")
    parser.add_argument("--requests", type=int, default=30, help="per kind and scale")
    parser.add_argument("--out")
    args = parser.parse_args()

    scales = [measure(database, args.requests) for database in args.databases]
    kinds = list(scales[0]["kinds"])
    header = f"{'endpoint':<24}" + "".join(
        f"  {s['database'][:14]:>14} ({s['largest_tenant_facilities']:>5} fac.)" for s in scales
    )
    print(header)
    print(f"{'':<24}" + "".join(f"  {'median ms / statements':>28}" for _ in scales))
    grows = []
    for kind in kinds:
        cells = []
        for s in scales:
            k = s["kinds"][kind]
            count = "/".join(str(n) for n in k["statements"])
            cells.append(f"  {k['median_ms']:>16.1f} ms / {count:>5}")
        print(f"{kind:<24}" + "".join(cells))
        counts = {tuple(s["kinds"][kind]["statements"]) for s in scales}
        if len(counts) > 1:
            grows.append(kind)
    checkouts = sorted({n for s in scales for k in s["kinds"].values() for n in k["checkouts"]})
    print(f"pool checkouts per request: {checkouts}")
    verdict = (
        f"statements change with the scale for: {', '.join(grows)}"
        if grows
        else "statements per request are the same at every scale"
    )
    print(verdict)
    report = {
        "date": dt.datetime.now().isoformat(timespec="seconds"),
        "scales": scales,
        "statements_grow": grows,
    }
    out = args.out or harness.RESULTS / f"growth_{dt.date.today()}.json"
    harness.RESULTS.mkdir(parents=True, exist_ok=True)
    with open(out, "w") as f:
        f.write(json.dumps(report, indent=2) + "\n")
    print(f"written to {out}")


if __name__ == "__main__":
    main()
