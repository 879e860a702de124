"""How long the largest tenant's compliance figures take to compute, by the number of days
asked about: today's scores (the dashboard's) and the analytics' trend.

    .venv/bin/python bench/generate.py --scale large --database msc_bench_large
    .venv/bin/python bench/compliance_trend.py msc_bench_large [--runs 3] [--manifest F]

For the largest tenant of the database's manifest (by default the one bench/generate.py
wrote under the local data folder; all the tenant's organizations), prints the
median seconds of `runs` runs of:
- today: `compliance.load_facts` of its providers, then `compliance.evaluate` of each;
- `compliance.score_sums` over the day of the data, 13 weekly days (a quarter by week),
  and 90, 365 and 1,098 consecutive days (the longest daily range the analytics take).
As the database's superuser, whom row-level security does not filter: the computation
alone (bench/growth.py measures the requests, policies and all).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import time
import uuid
from collections.abc import Callable
from functools import partial
from pathlib import Path

import harness
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from app.config import Settings
from app.domain import compliance, queries


def _seconds(run: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("database")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--manifest", type=Path)
    args = parser.parse_args()
    bench = harness.target(args.database)
    path = args.manifest or Settings.from_env().local_data_dir / "bench" / f"{args.database}.json"
    manifest = json.loads(path.read_text())
    scope = [uuid.UUID(i) for i in manifest["largest"]["organization_ids"]]
    today = dt.date.fromisoformat(manifest["today"])
    engine = create_engine(bench.urls.admin)
    with Session(engine) as session:
        providers = queries.provider_ids(session, scope)
        print(f"{args.database}: {len(providers)} providers in {len(scope)} organizations")

        def scores_today() -> None:
            facts = compliance.load_facts(session, providers, today, scope)
            for f in facts.values():
                compliance.evaluate(f, today)

        print(f"  {'today (dashboard)':<22} {_seconds(scores_today, args.runs):7.3f} s")
        for label, step, count in (
            ("1 day", 1, 1),
            ("13 weeks", 7, 13),
            ("90 days", 1, 90),
            ("365 days", 1, 365),
            ("1,098 days", 1, 1098),
        ):
            days = [today - dt.timedelta(days=step * n) for n in reversed(range(count))]
            seconds = _seconds(partial(compliance.score_sums, session, scope, days), args.runs)
            print(f"  {'trend, ' + label:<22} {seconds:7.3f} s")
        session.rollback()


if __name__ == "__main__":
    main()
