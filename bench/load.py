"""Load test of the API under gunicorn, driven by wrk, with the bare peer in the same run.

    DATABASE_ADMIN_URL=... REDIS_URL=... python bench/load.py DATABASE
        [--clients 8,32] [--duration 20] [--workers 2] [--worker-class sync|gthread]
        [--threads 4] [--kinds list,detail,...] [--rounds 2] [--sweep] [--pgbouncer]
        [--smoke]

DATABASE is a benchmark database on the server of DATABASE_ADMIN_URL (bench/generate.py).
The run:
  1. starts the application (`wsgi:app`) and the bare peer (`bench/bare.py`) under
     gunicorn with the repository's gunicorn.conf.py, each on a free local port, with
     the given worker count and class;
  2. mints access tokens as a login issues them for the admin of the largest tenant and
     of many others (each with a login session of its own, checked in Redis on every
     request), and checks the two servers answer a list request identically;
  3. per endpoint kind (list, detail, hierarchy, dashboard, analytics, write) and client
     count, runs wrk with bench/wrk/rotate.lua over that kind's requests: requests/s,
     p50/p95/p99, and every answer that is not 2xx;
  4. the list endpoint, full and bare, alternately (`--rounds` each) at the largest
     client count: the ratios of requests/s and of p99;
  5. one client: the hierarchy and the dashboard of the largest tenant;
  6. with `--sweep`: the list endpoint at the largest client count under several worker
     classes and counts;
  7. with `--pgbouncer`: the list endpoint at the largest client count, the application
     straight to PostgreSQL and through a real PgBouncer in transaction mode (as many
     server connections as the workers hold; no prepared statements), alternately
     (`--rounds` each).
Prints the figures and writes them to bench/results/load_<date>_<database>.json. Exits
with status 1 if any answer was not 2xx or a socket error occurred.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import harness
import psycopg

from app.factory import create_app
from app.tenancy.roles import libpq_url

LUA = harness.ROOT / "bench" / "wrk" / "rotate.lua"
GUNICORN = Path(sys.executable).with_name("gunicorn")
BOOT_SECONDS = 60.0
FETCH_TIMEOUT_SECONDS = 300
# One client, the largest tenant: the targets (analytics has none).
SINGLE_TARGETS_MS: dict[str, int | None] = {"hierarchy": 150, "dashboard": 200, "analytics": None}
# How long a server may take to finish what a measurement left it (see Server.drive).
IDLE_WAIT_SECONDS = 600.0
# The worker models the sweep compares (class, workers, threads per worker).
SWEEP = (
    ("sync", 2, 1),
    ("sync", 4, 1),
    ("sync", 6, 1),
    ("sync", 8, 1),
    ("gthread", 2, 4),
    ("gthread", 4, 2),
    ("gthread", 4, 4),
)


@dataclass(frozen=True)
class Model:
    worker_class: str
    workers: int
    threads: int

    def __str__(self) -> str:
        threads = f" x {self.threads} threads" if self.worker_class == "gthread" else ""
        return f"{self.worker_class}, {self.workers} workers{threads}"


class Server:
    """A gunicorn serving `app_spec` of the tree at `root` (this one unless told) on a free
    local port, stopped when done."""

    def __init__(
        self,
        name: str,
        app_spec: str,
        model: Model,
        env: dict[str, str],
        logs: Path,
        bench: harness.Target,
        root: Path = harness.ROOT,
    ) -> None:
        self.name = name
        self.bench = bench
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        command = [
            str(GUNICORN),
            "--config",
            str(root / "gunicorn.conf.py"),
            "--bind",
            f"127.0.0.1:{self.port}",
            "--workers",
            str(model.workers),
            "--no-control-socket",
            "--pythonpath",
            str(root / "bench"),
        ]
        if model.worker_class == "gthread":  # else the configuration's sync worker
            command += ["--worker-class", "gthread", "--threads", str(model.threads)]
        self.log = logs / f"{name}-{self.port}.log"
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                [*command, app_spec],
                cwd=root,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def wait_ready(self, probe: harness.Call) -> None:
        deadline = time.monotonic() + BOOT_SECONDS
        while True:
            if self.process.poll() is not None:
                raise SystemExit(f"{self.name} server exited; see {self.log}")
            try:
                status, _body, _headers = fetch(self.url, probe)
                if status == 200:
                    # One worker answers; the others may still be importing the app.
                    self.wait_idle()
                    return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit(f"{self.name} server not ready in {BOOT_SECONDS}s: {self.log}")
            time.sleep(0.2)

    def drive(self, requests: Path, clients: int, seconds: int) -> dict[str, Any]:
        """wrk against this server; then wait until the server has finished the requests
        wrk left unanswered when it stopped, so they weigh on no later measurement."""
        figures = wrk(self.url, requests, clients, seconds)
        self.wait_idle()
        return figures

    def wait_idle(self) -> None:
        """Until neither the workers use CPU nor the database runs a statement for them,
        twice in a row."""
        quiet = 0
        before = self._cpu_ticks()
        deadline = time.monotonic() + IDLE_WAIT_SECONDS
        while quiet < 2 and time.monotonic() < deadline:
            time.sleep(0.25)
            now = self._cpu_ticks()
            idle = now - before <= 2 and not self._database_busy()
            quiet = quiet + 1 if idle else 0
            before = now

    def _cpu_ticks(self) -> int:
        root = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        ticks = 0
        with contextlib.suppress(OSError):
            for pid in root.read_text().split():
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                ticks += int(fields[11]) + int(fields[12])  # utime, stime
        return ticks

    def _database_busy(self) -> bool:
        with psycopg.connect(libpq_url(self.bench.urls.admin), autocommit=True) as conn:
            row = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                " AND state <> 'idle' AND pid <> pg_backend_pid()"
            ).fetchone()
        return bool(row and row[0])

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def pool_size(model: Model) -> str:
    """Enough pooled connections for every thread of a worker (the default, 5, else)."""
    return str(max(5, model.threads if model.worker_class == "gthread" else 1))


def fetch(base: str, call: harness.Call) -> tuple[int, bytes, dict[str, str]]:
    request = urllib.request.Request(
        base + call.path,
        method=call.method,
        data=call.body.encode() if call.body else None,
        headers={"Authorization": f"Bearer {call.token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=FETCH_TIMEOUT_SECONDS) as response:
            return response.status, response.read(), dict(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, error.read(), dict(error.headers)


def write_calls(path: Path, calls: Sequence[harness.Call]) -> Path:
    path.write_text("".join(f"{c.method}\t{c.path}\t{c.token}\t{c.body}\n" for c in calls))
    return path


def wrk(url: str, requests: Path, clients: int, seconds: int) -> dict[str, Any]:
    threads = min(2, clients)
    result = subprocess.run(
        [
            shutil.which("wrk") or "wrk",
            f"-t{threads}",
            f"-c{clients}",
            f"-d{seconds}s",
            "--timeout",
            "30s",
            "-s",
            str(LUA),
            url,
            "--",
            str(requests),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    for line in result.stdout.splitlines():
        if line.startswith("BENCH_JSON "):
            figures: dict[str, Any] = json.loads(line.removeprefix("BENCH_JSON "))
            figures["errors"] = figures["non_2xx"] + sum(figures["socket_errors"].values())
            return figures
    raise SystemExit(f"wrk printed no figures:\n{result.stdout}\n{result.stderr}")


def one_client(base: str, calls: Sequence[harness.Call], count: int) -> dict[str, Any]:
    """`count` requests one after the other, each timed from send to the last byte (a
    measurement by duration would cut off the slow ones)."""
    times, errors = [], 0
    for i in range(count):
        started = time.perf_counter()
        try:
            status, _body, _headers = fetch(base, calls[i % len(calls)])
        except OSError:  # the connection reset, say by the worker's timeout
            status = 0
        times.append((time.perf_counter() - started) * 1000)
        errors += not 200 <= status < 300
    times.sort()
    return {
        "requests": count,
        "p50_ms": statistics.median(times),
        "mean_ms": statistics.fmean(times),
        "max_ms": times[-1],
        "errors": errors,
    }


def line(label: str, f: dict[str, Any]) -> str:
    errors = f"errors {f['errors']}"
    if f["errors"]:
        errors += f" (statuses {f['statuses']}, sockets {f['socket_errors']})"
    return (
        f"  {label:<28} {f['rps']:8.1f} req/s   p50 {f['p50_ms']:7.1f}   p95 {f['p95_ms']:7.1f}"
        f"   p99 {f['p99_ms']:7.1f} ms   {f['requests']:6d} requests   {errors}"
    )


@contextlib.contextmanager
def serving(
    name: str,
    spec: str,
    model: Model,
    env: dict[str, str],
    logs: Path,
    bench: harness.Target,
    probe: harness.Call,
    root: Path = harness.ROOT,
) -> Iterator[Server]:
    server = Server(name, spec, model, env, logs, bench, root)
    try:
        server.wait_ready(probe)
        yield server
    finally:
        server.stop()


def machine() -> dict[str, Any]:
    def run(*command: str) -> str:
        try:
            out = subprocess.run(command, capture_output=True, text=True, check=False)
        except OSError:
            return ""
        return (out.stdout or out.stderr).strip()

    return {
        "cores": os.cpu_count(),
        "memory": run("free", "-g").splitlines()[1] if run("free", "-g") else "",
        "load_average": os.getloadavg(),
        "python": sys.version.split()[0],
        "gunicorn": run(str(GUNICORN), "--version"),
        "wrk": run("wrk", "-v").splitlines()[0] if run("wrk", "-v") else "",
    }


def server_version(bench: harness.Target) -> str:
    with psycopg.connect(libpq_url(bench.urls.admin)) as conn:
        row = conn.execute("SHOW server_version").fetchone()
    return str(row[0]) if row else ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("database")
    parser.add_argument("--clients", default="8,32", help="comma-separated client counts")
    parser.add_argument("--duration", type=int, default=20, help="seconds per measurement")
    # gunicorn.conf.py's default (WEB_CONCURRENCY unset): what a pod runs.
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--worker-class", choices=("sync", "gthread"), default="sync")
    parser.add_argument("--threads", type=int, default=4, help="per gthread worker")
    parser.add_argument("--kinds", default=",".join(harness.KINDS))
    parser.add_argument("--tenants", type=int, default=200, help="other tenants' admins")
    parser.add_argument("--rounds", type=int, default=2, help="full/bare alternations")
    parser.add_argument("--single", type=int, default=10, help="one-client requests (0: none)")
    parser.add_argument("--sweep", action="store_true", help="compare worker models")
    parser.add_argument("--pgbouncer", action="store_true", help="the list through PgBouncer")
    parser.add_argument(
        "--smoke", action="store_true", help="that it runs: 1 worker, 2 clients, 1 s, 1 round"
    )
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    if args.smoke:
        args.workers, args.clients, args.duration, args.rounds, args.single = 1, "2", 1, 1, 2
    client_counts = [int(c) for c in args.clients.split(",")]
    kinds = [k for k in args.kinds.split(",") if k]
    model = Model(args.worker_class, args.workers, args.threads)

    bench = harness.target(args.database)
    secret = harness.new_jwt_secret()
    app = create_app(harness.settings_for(bench, secret))
    cast = harness.cast(bench, tenants=args.tenants)
    tokens = harness.mint_tokens(app, [cast.largest, *cast.others])
    calls = harness.calls(cast, tokens, dt.date.today())
    big = cast.largest.organization_id
    single_calls = {
        kind: [c for c in calls[kind] if str(big) in c.path] for kind in SINGLE_TARGETS_MS
    }
    env = {
        **os.environ,
        **harness.server_environment(bench, secret),
        "DATABASE_POOL_SIZE": pool_size(model),
    }
    report: dict[str, Any] = {
        "date": dt.datetime.now().isoformat(timespec="seconds"),
        "database": bench.database,
        "largest_tenant_facilities": cast.largest_facility_count,
        "tenants": 1 + len(cast.others),
        "model": str(model),
        "duration_s": args.duration,
        "machine": {**machine(), "postgresql": server_version(bench)},
        "endpoints": {},
        "single_client": {},
        "full_vs_bare": {},
        "sweep": [],
        "pgbouncer": {},
    }
    print(
        f"{bench.database}: largest tenant {cast.largest_facility_count} facilities, "
        f"{1 + len(cast.others)} tenants' admins; gunicorn {model}; "
        f"{args.duration:g} s per measurement; load average {os.getloadavg()[0]:.2f}"
    )
    errors = 0
    with tempfile.TemporaryDirectory(prefix="msc-load-") as scratch:
        folder = Path(scratch)
        files = {k: write_calls(folder / f"{k}.tsv", calls[k]) for k in kinds}
        probe = calls["list"][0]
        with contextlib.ExitStack() as running:
            full = running.enter_context(
                serving("full", "wsgi:app", model, env, folder, bench, probe)
            )
            # No bare peer with no rounds (--rounds 0): as on a Citus cluster, where its
            # set_config context would stay on the coordinator.
            bare = None
            if args.rounds:
                bare = running.enter_context(
                    serving("bare", "bare:app", model, env, folder, bench, probe)
                )
                check_same_answer(full.url, bare.url, calls["list"][:6])
            for clients in client_counts:
                print(f"\n{clients} clients")
                for kind in kinds:
                    if clients == client_counts[0] and not args.smoke:
                        full.drive(files[kind], clients, 2)  # warm up
                    figures = full.drive(files[kind], clients, args.duration)
                    errors += figures["errors"]
                    report["endpoints"].setdefault(kind, {})[str(clients)] = figures
                    print(line(kind, figures))

            if bare is not None:
                clients = client_counts[-1]
                print(f"\nlist, full vs bare, {clients} clients, {args.rounds} rounds alternating")
                rounds: dict[str, list[dict[str, Any]]] = {"full": [], "bare": []}
                lists = files.get("list") or write_calls(folder / "list.tsv", calls["list"])
                if not args.smoke:
                    bare.drive(lists, clients, 2)
                errors += alternate({"full": full, "bare": bare}, rounds, lists, clients, args)
                comparison = compare(rounds)
                report["full_vs_bare"] = {"clients": clients, **rounds, **comparison}
                print(
                    f"  full/bare requests/s {comparison['rps_ratio']:.2f}x (target >= 0.8x), "
                    f"p99 {comparison['p99_ratio']:.2f}x (target <= 1.3x)"
                )

            if args.single:
                print(f"\none client, the largest tenant, {args.single} requests each")
                for kind, target_ms in SINGLE_TARGETS_MS.items():
                    figures = one_client(full.url, single_calls[kind], args.single)
                    errors += figures["errors"]
                    report["single_client"][kind] = {**figures, "target_ms": target_ms}
                    target = f"   target <= {target_ms} ms" if target_ms else ""
                    print(
                        f"  {kind:<28} p50 {figures['p50_ms']:7.1f}"
                        f"   max {figures['max_ms']:7.1f} ms   errors {figures['errors']}{target}"
                    )

        if args.sweep:
            clients = client_counts[-1]
            lists = files.get("list") or write_calls(folder / "list.tsv", calls["list"])
            print(f"\nworker models, list, {clients} clients")
            for worker_class, workers, threads in SWEEP:
                candidate = Model(worker_class, workers, threads)
                sweep_env = {**env, "DATABASE_POOL_SIZE": pool_size(candidate)}
                with serving(
                    "sweep", "wsgi:app", candidate, sweep_env, folder, bench, probe
                ) as server:
                    server.drive(lists, clients, 2)
                    figures = server.drive(lists, clients, args.duration)
                errors += figures["errors"]
                report["sweep"].append({"model": str(candidate), **figures})
                print(line(str(candidate), figures))

        if args.pgbouncer:
            clients = client_counts[-1]
            lists = files.get("list") or write_calls(folder / "list.tsv", calls["list"])
            print(f"\nlist, direct and through PgBouncer, {clients} clients, {args.rounds} rounds")
            connections = model.workers * int(pool_size(model))
            paths: dict[str, list[dict[str, Any]]] = {"direct": [], "pgbouncer": []}
            with harness.pgbouncer().running(bench.urls.app, pool_size=connections) as bounced:
                through = {
                    **env,
                    "DATABASE_URL": bounced,
                    # PgBouncer 1.18 carries no prepared statement between transactions.
                    "DATABASE_PREPARED_STATEMENTS": "false",
                }
                with (
                    serving("direct", "wsgi:app", model, env, folder, bench, probe) as direct,
                    serving(
                        "pgbouncer", "wsgi:app", model, through, folder, bench, probe
                    ) as bouncer,
                ):
                    bouncer.drive(lists, clients, 2)
                    servers = {"direct": direct, "pgbouncer": bouncer}
                    errors += alternate(servers, paths, lists, clients, args)
            ratio = statistics.median(f["rps"] for f in paths["pgbouncer"]) / statistics.median(
                f["rps"] for f in paths["direct"]
            )
            report["pgbouncer"] = {"clients": clients, **paths, "rps_ratio": ratio}
            print(f"  pgbouncer/direct requests/s {ratio:.2f}x")

    report["errors"] = errors
    out = args.out or harness.RESULTS / f"load_{dt.date.today()}_{bench.database}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nerrors: {errors}\nwritten to {out}")
    sys.exit(1 if errors else 0)


def alternate(
    servers: dict[str, Server],
    rounds: dict[str, list[dict[str, Any]]],
    requests: Path,
    clients: int,
    args: argparse.Namespace,
) -> int:
    """`args.rounds` rounds of the servers in turn, each for `args.duration` seconds: the
    figures go to `rounds` by server name; returns the errors seen."""
    errors = 0
    for n in range(args.rounds):
        for name, server in servers.items():
            figures = server.drive(requests, clients, args.duration)
            errors += figures["errors"]
            rounds[name].append(figures)
            print(line(f"{name} (round {n + 1})", figures))
    return errors


def check_same_answer(full: str, bare: str, calls: Sequence[harness.Call]) -> None:
    """The peer must answer what the application answers, or the comparison means
    nothing."""
    for call in calls:
        a, b = fetch(full, call), fetch(bare, call)
        if a[0] != 200 or b[0] != 200 or json.loads(a[1]) != json.loads(b[1]):
            raise SystemExit(f"full and bare answer {call.path} differently: {a[0]} vs {b[0]}")
        if json.loads(a[2]["X-Pagination"]) != json.loads(b[2]["X-Pagination"]):
            raise SystemExit(f"full and bare paginate {call.path} differently")


def compare(rounds: dict[str, list[dict[str, Any]]]) -> dict[str, float]:
    def median(name: str, key: str) -> float:
        return statistics.median(float(r[key]) for r in rounds[name])

    return {
        "full_rps": median("full", "rps"),
        "bare_rps": median("bare", "rps"),
        "full_p99_ms": median("full", "p99_ms"),
        "bare_p99_ms": median("bare", "p99_ms"),
        "rps_ratio": median("full", "rps") / median("bare", "rps"),
        "p99_ratio": median("full", "p99_ms") / median("bare", "p99_ms"),
    }


if __name__ == "__main__":
    main()
