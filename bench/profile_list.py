"""Where the time of a list request goes: pyinstrument over N in-process requests.

    DATABASE_ADMIN_URL=... REDIS_URL=... python bench/profile_list.py DATABASE [--requests N]
        [--label before|after]

Sends `GET /api/v1/admin/facilities?page_size=50` through the test client (no HTTP
server: the application's own cost), rotating over the largest tenant's admin and other
tenants' admins, and writes the head of the call tree and the functions with the most
time of their own to bench/results/profile_list_<date>_<label>.txt.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import subprocess
import sys
import time
from pathlib import Path

import harness
from pyinstrument import Profiler
from pyinstrument.frame import Frame
from pyinstrument.renderers import ConsoleRenderer

from app.extensions import db
from app.factory import create_app

TREE_LINES = 90
FLAT_LINES = 40
# The phases of a list request, each the first frame (outermost) of a function whose
# qualified name ends so; the rest is Flask, werkzeug and the test client.
PHASES = (
    ("token: JWT decode", "_decode_jwt_from_config"),
    ("token: revocation check (Redis)", "_is_revoked"),
    ("context (resolve_context)", "resolve_context"),
    ("query arguments (webargs)", "Parser.parse"),
    ("page and total (one query)", "SelectPage.__init__"),
    ("serialization (schema dump)", "Schema.dump"),
    ("commit", "_finish_transaction"),
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("database")
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--label", default="now")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()

    bench = harness.target(args.database)
    secret = harness.new_jwt_secret()
    app = create_app(harness.settings_for(bench, secret))
    cast = harness.cast(bench, tenants=50)
    tokens = harness.mint_tokens(app, [cast.largest, *cast.others])
    calls = harness.calls(cast, tokens, dt.date.today())["list"]
    client = app.test_client()

    def send(i: int) -> None:
        harness.send(client, calls[i % len(calls)])

    for i in range(30):  # warm: pools, caches of compiled statements
        send(i)
    with app.app_context(), harness.counting(db.engine) as count:
        pre_ping = bool(getattr(db.engine.pool, "_pre_ping", False))
        times = []
        for i in range(args.requests):
            started = time.perf_counter()
            send(i)
            times.append(time.perf_counter() - started)
    profiler = Profiler(interval=0.001)
    profiler.start()
    for i in range(args.requests):
        send(i)
    profiler.stop()

    session = profiler.last_session
    assert session is not None
    root = session.root_frame()
    assert root is not None
    spent = phases(root)
    tree = ConsoleRenderer(unicode=False, color=False, short_mode=True).render(session)
    flat = ConsoleRenderer(unicode=False, color=False, flat=True).render(session)
    revision = subprocess.run(
        ["git", "-C", str(harness.ROOT), "log", "-1", "--format=%h %s"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    header = [
        f"profile of GET /api/v1/admin/facilities?page_size=50 ({args.label})",
        f"date: {dt.datetime.now().isoformat(timespec='seconds')}",
        f"tree: {revision} (plus uncommitted changes, if any)",
        f"database: {bench.database}, largest tenant: {cast.largest_facility_count} facilities",
        f"requests: {args.requests} in process (test client), rotating over "
        f"{len(calls)} list requests",
        f"per request: median {statistics.median(times) * 1000:.2f} ms, "
        f"mean {statistics.fmean(times) * 1000:.2f} ms (unprofiled run)",
        f"statements per request: {count.statements / args.requests:.2f}, "
        f"pool checkouts per request: {count.checkouts / args.requests:.2f} "
        f"(pre-ping: {pre_ping})",
        "",
    ]
    share = [
        f"  {name:<34} {seconds / args.requests * 1000:6.2f} ms  {seconds / root.time:6.1%}"
        for name, seconds in spent.items()
    ]
    text = "\n".join(
        [
            *header,
            "== per request, by phase (profiled run; pyinstrument adds its own cost) ==",
            *share,
            "",
            "== call tree (head) ==",
            *tree.splitlines()[:TREE_LINES],
            "",
            "== functions by own time (head) ==",
            *flat.splitlines()[:FLAT_LINES],
            "",
        ]
    )
    out = args.out or harness.RESULTS / f"profile_list_{dt.date.today()}_{args.label}.txt"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    print(text)
    print(f"written to {out}", file=sys.stderr)


def phases(root: Frame) -> dict[str, float]:
    """Seconds spent in each of PHASES, and in the rest."""
    spent = dict.fromkeys((name for name, _ in PHASES), 0.0)

    def visit(frame: Frame) -> None:
        qualified = f"{frame.class_name}.{frame.function}" if frame.class_name else frame.function
        for name, suffix in PHASES:
            if qualified.endswith(suffix):
                spent[name] += frame.time
                return
        for child in frame.children:
            visit(child)

    visit(root)
    spent["rest (Flask, werkzeug, test client)"] = root.time - sum(spent.values())
    return spent


if __name__ == "__main__":
    main()
