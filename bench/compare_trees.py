"""The list endpoint's throughput, this tree against an earlier one, measured in turns.

    DATABASE_ADMIN_URL=... REDIS_URL=... .venv/bin/python bench/compare_trees.py \\
        --before-tree ../before --before-database msc_bench_before \\
        --database msc_bench_after [--clients 32] [--duration 15] [--rounds 8]

What a change costs the list (bench/load.py's `list` kind, every tenant's admin in turn)
when the spread between two measurements of the same tree is wider than the cost: one
gunicorn per tree (2 sync workers each, as load.py), the earlier one run from its own
checkout (`git worktree add ../before <commit>`, sharing this virtualenv) on its own
database, each database generated from the same seed (bench/generate.py), so both hold
the same rows and ids. The two are driven by wrk in turns, `--rounds` times, each for
`--duration` seconds, the idle one waiting: whatever the machine does meanwhile weighs on
both alike. Prints each measurement, the median requests/s of each tree, and this tree's
throughput as a share of the earlier one's, the median of the rounds' own ratios beside
it; writes them to bench/results/compare_trees_<date>_<database>.json (or `--out`).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

import harness
import load

from app.factory import create_app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before-tree", type=Path, required=True)
    parser.add_argument("--before-database", required=True)
    parser.add_argument("--database", required=True, help="this tree's database")
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--duration", type=int, default=15, help="seconds per measurement")
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--tenants", type=int, default=200, help="other tenants' admins")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()

    after, before = harness.target(args.database), harness.target(args.before_database)
    secret = harness.new_jwt_secret()
    app = create_app(harness.settings_for(after, secret))
    cast = harness.cast(after, tenants=args.tenants)
    tokens = harness.mint_tokens(app, [cast.largest, *cast.others])
    calls = harness.calls(cast, tokens, dt.date.today())["list"]
    model = load.Model("sync", 2, 1)
    trees = {
        "before": (args.before_tree.resolve(), before),
        "after": (harness.ROOT, after),
    }
    print(
        f"list, {args.clients} clients, {args.rounds} rounds of {args.duration} s in turns;"
        f" before: {args.before_tree} on {before.database}; after: this tree on"
        f" {after.database}; load average {os.getloadavg()[0]:.2f}"
    )
    rounds: dict[str, list[dict[str, Any]]] = {name: [] for name in trees}
    with tempfile.TemporaryDirectory(prefix="msc-compare-") as scratch:
        folder = Path(scratch)
        requests = load.write_calls(folder / "list.tsv", calls)
        with contextlib.ExitStack() as running:
            servers = {}
            for name, (root, bench) in trees.items():
                env = {
                    **os.environ,
                    **harness.server_environment(bench, secret),
                    "DATABASE_POOL_SIZE": load.pool_size(model),
                    "PYTHONPATH": str(root),
                }
                servers[name] = running.enter_context(
                    load.serving(name, "wsgi:app", model, env, folder, bench, calls[0], root)
                )
            load.check_same_answer(servers["before"].url, servers["after"].url, calls[:6])
            for server in servers.values():
                server.drive(requests, args.clients, 2)  # warm up
            errors = load.alternate(servers, rounds, requests, args.clients, args)
    medians = {name: statistics.median(r["rps"] for r in rounds[name]) for name in trees}
    paired = statistics.median(
        a["rps"] / b["rps"] for a, b in zip(rounds["after"], rounds["before"], strict=True)
    )
    ratio = medians["after"] / medians["before"]
    print(
        f"median requests/s: before {medians['before']:.1f}, after {medians['after']:.1f};"
        f" after/before {ratio:.3f} (median of the rounds' ratios {paired:.3f}); errors {errors}"
    )
    report = {
        "date": dt.datetime.now().isoformat(timespec="seconds"),
        "before": {"tree": str(args.before_tree), "database": before.database},
        "after": {"tree": str(harness.ROOT), "database": after.database},
        "clients": args.clients,
        "duration_s": args.duration,
        "rounds": rounds,
        "median_rps": medians,
        "after_over_before": ratio,
        "median_round_ratio": paired,
        "errors": errors,
    }
    out = args.out or harness.RESULTS / f"compare_trees_{dt.date.today()}_{after.database}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"written to {out}")
    sys.exit(1 if errors else 0)


if __name__ == "__main__":
    main()
