#!/usr/bin/env python3
"""A local three-node Citus cluster (a coordinator and two workers) for running the
tests against distributed PostgreSQL.

    .venv/bin/python scripts/citus_cluster.py start|stop|status [--dir .local/citus]

`start` initialises the nodes under the folder on first use (installing the Citus
extension from ../shared/citus when PostgreSQL 15 lacks it), starts whichever are
stopped, and prints one shell-eval-able line on stdout:

    DATABASE_ADMIN_URL=postgresql://postgres@127.0.0.1:<coordinator port>/postgres

Everything else goes to stderr. Each node listens on 127.0.0.1 at a port picked when
the cluster is made and kept in cluster.json, with trust authentication and the
superuser `postgres`. The data is disposable: durability is traded for speed.

PostgreSQL refuses to run as root, so as root the servers run as the `postgres` user,
which is given the folder.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import psycopg
from psycopg.rows import TupleRow

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DIR = REPO_ROOT / ".local" / "citus"
# Where the Citus build for these machines lies: beside the repository, unless
# CITUS_INSTALL_SCRIPT names it (a clone elsewhere, as in CI).
INSTALL_SCRIPT = Path(
    os.environ.get("CITUS_INSTALL_SCRIPT", REPO_ROOT.parent / "shared" / "citus" / "install.sh")
)
PG_BIN = Path("/usr/lib/postgresql/15/bin")
CITUS_LIBRARY = Path("/usr/lib/postgresql/15/lib/citus.so")
SERVER_USER = "postgres"
NODES = ("coordinator", "worker1", "worker2")
STATE_FILE = "cluster.json"
# A unix socket's path is limited to 107 bytes; the server puts its socket in the folder.
SOCKET_PATH_LIMIT = 107

# Appended to each node's postgresql.conf; later lines win over initdb's defaults.
SETTINGS = """
# --- a node of a local Citus test cluster (scripts/citus_cluster.py) ---
shared_preload_libraries = 'citus'
port = {port}
listen_addresses = '127.0.0.1'
unix_socket_directories = '{socket_dir}'
max_connections = 200
# Citus commits a transaction that wrote to several nodes with two-phase commit.
max_prepared_transactions = 200
# Citus runs a maintenance daemon per database that has the extension, and every test
# run makes a database of its own.
max_worker_processes = 32
# Disposable data: nothing needs to survive a crash.
fsync = off
synchronous_commit = off
full_page_writes = off
# Distributed tables are split into 4 shards instead of 32: both workers still get
# shards, and the migrations' DDL runs on far fewer tables.
citus.shard_count = 4
"""


class ClusterError(Exception):
    pass


def log(message: str) -> None:
    print(f"citus_cluster: {message}", file=sys.stderr, flush=True)


def running_as_root() -> bool:
    return os.geteuid() == 0


def as_server_user(command: list[str]) -> list[str]:
    """`command` as run by the servers' owner: the postgres user when we are root."""
    if not running_as_root():
        return command
    if shutil.which("runuser"):
        return ["runuser", "-u", SERVER_USER, "--", *command]
    return ["su", SERVER_USER, "-c", shlex.join(command)]


def run(command: list[str], cwd: Path) -> None:
    """Run a tool quietly; its output is shown (on stderr) only when it fails."""
    completed = subprocess.run(
        as_server_user(command), cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    if completed.returncode != 0:
        sys.stderr.buffer.write(completed.stdout)
        raise ClusterError(f"{Path(command[0]).name} failed (exit status {completed.returncode})")


def pg_ctl(*args: str, cwd: Path) -> int:
    # Its output goes to stderr: stdout carries only the printed environment.
    completed = subprocess.run(
        as_server_user([str(PG_BIN / "pg_ctl"), *args]),
        stdout=sys.stderr,
        stderr=sys.stderr,
        cwd=cwd,
    )
    return completed.returncode


def is_running(data_dir: Path) -> bool:
    if not (data_dir / "PG_VERSION").is_file():
        return False
    completed = subprocess.run(
        as_server_user([str(PG_BIN / "pg_ctl"), "status", "-D", str(data_dir)]),
        capture_output=True,
        cwd=data_dir.parent,
    )
    return completed.returncode == 0


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_ports(count: int) -> list[int]:
    """`count` distinct ports nobody listens on now (all held open until all are found)."""
    probes = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(count)]
    try:
        for probe in probes:
            probe.bind(("127.0.0.1", 0))
        return [probe.getsockname()[1] for probe in probes]
    finally:
        for probe in probes:
            probe.close()


def ensure_citus_installed() -> None:
    if CITUS_LIBRARY.is_file():
        return
    if not INSTALL_SCRIPT.is_file():
        raise ClusterError(f"{CITUS_LIBRARY} is missing and there is no {INSTALL_SCRIPT}")
    if not running_as_root():
        raise ClusterError(
            f"{CITUS_LIBRARY} is missing: install the Citus extension as root first"
            f" (sudo {INSTALL_SCRIPT})"
        )
    log(f"installing the Citus extension with {INSTALL_SCRIPT}")
    subprocess.run(["bash", str(INSTALL_SCRIPT)], check=True, stdout=sys.stderr)


def read_state(root: Path) -> dict[str, int] | None:
    """The nodes' ports, recorded once the cluster was completely made; else None."""
    try:
        state = json.loads((root / STATE_FILE).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(state, dict) or any(not isinstance(state.get(name), int) for name in NODES):
        return None
    return {name: state[name] for name in NODES}


def prepare_folder(root: Path) -> None:
    if len(str(root)) + len("/.s.PGSQL.65535") > SOCKET_PATH_LIMIT:
        raise ClusterError(f"{root} is too long a path for the servers' sockets; pass --dir")
    root.mkdir(parents=True, exist_ok=True)
    if running_as_root():
        shutil.chown(root, SERVER_USER, SERVER_USER)
        reachable = subprocess.run(as_server_user(["test", "-w", str(root), "-a", "-x", str(root)]))
        if reachable.returncode != 0:
            raise ClusterError(
                f"the {SERVER_USER} user cannot reach {root}: a folder above it is closed to"
                " other users; pass --dir elsewhere"
            )


def discard_nodes(root: Path) -> None:
    """Remove what an unfinished earlier start left (its servers stopped first)."""
    for name in NODES:
        data_dir = root / name
        if is_running(data_dir):
            pg_ctl("stop", "-D", str(data_dir), "-m", "immediate", "-w", cwd=root)
        if data_dir.exists():
            log(f"removing the unfinished node {data_dir}")
            shutil.rmtree(data_dir)
        (root / f"{name}.log").unlink(missing_ok=True)


def start_node(root: Path, name: str, port: int) -> None:
    if not port_is_free(port):
        raise ClusterError(
            f"port {port} of the {name} is taken by another program; stop the cluster and"
            f" remove {root} to make it afresh"
        )
    log(f"starting the {name} on 127.0.0.1:{port}")
    status = pg_ctl(
        "start",
        "-D",
        str(root / name),
        "-l",
        str(root / f"{name}.log"),
        "-w",
        "-t",
        "60",
        cwd=root,
    )
    if status != 0:
        raise ClusterError(f"the {name} did not start; see {root / f'{name}.log'}")


def connect(port: int) -> psycopg.Connection[TupleRow]:
    return psycopg.connect(
        host="127.0.0.1", port=port, user="postgres", dbname="postgres", autocommit=True
    )


def make_cluster(root: Path) -> dict[str, int]:
    ports = dict(zip(NODES, free_ports(len(NODES)), strict=True))
    for name, port in ports.items():
        data_dir = root / name
        log(f"initialising the {name} in {data_dir}")
        run(
            [
                str(PG_BIN / "initdb"),
                "-D",
                str(data_dir),
                "-A",
                "trust",
                "-U",
                "postgres",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
                "--no-sync",
                "--no-instructions",
            ],
            cwd=root,
        )
        with (data_dir / "postgresql.conf").open("a") as conf:
            conf.write(SETTINGS.format(port=port, socket_dir=root))
        start_node(root, name, port)
        with connect(port) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS citus")
    with connect(ports["coordinator"]) as conn:
        conn.execute("SELECT citus_set_coordinator_host('127.0.0.1', %s)", (ports["coordinator"],))
        for name in NODES[1:]:
            log(f"adding the {name} to the cluster")
            conn.execute("SELECT citus_add_node('127.0.0.1', %s)", (ports[name],))
    # Written last: its presence says the cluster is complete.
    (root / STATE_FILE).write_text(json.dumps(ports, indent=2) + "\n")
    return ports


def start(root: Path) -> int:
    ensure_citus_installed()
    for tool in ("initdb", "pg_ctl"):
        if not (PG_BIN / tool).is_file():
            raise ClusterError(f"{PG_BIN / tool} is missing: install postgresql-15")
    prepare_folder(root)
    ports = read_state(root)
    if ports is None:
        discard_nodes(root)
        ports = make_cluster(root)
    else:
        stopped = [name for name in NODES if not is_running(root / name)]
        for name in stopped:
            start_node(root, name, ports[name])
        if not stopped:
            log(f"the cluster in {root} is running")
    print(f"DATABASE_ADMIN_URL=postgresql://postgres@127.0.0.1:{ports['coordinator']}/postgres")
    return 0


def stop(root: Path) -> int:
    for name in NODES:
        data_dir = root / name
        if is_running(data_dir):
            log(f"stopping the {name}")
            if pg_ctl("stop", "-D", str(data_dir), "-m", "fast", "-w", cwd=root) != 0:
                raise ClusterError(f"the {name} did not stop")
    return 0


def status(root: Path) -> int:
    """One line per node; exit status 0 when all three run, else 3 (as pg_ctl status)."""
    ports = read_state(root) or {}
    all_running = True
    for name in NODES:
        running = is_running(root / name)
        all_running = all_running and running
        where = f"127.0.0.1:{ports[name]}" if name in ports else "(not made)"
        print(f"{name} {where} {'running' if running else 'stopped'}")
    return 0 if all_running else 3


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("command", choices=("start", "stop", "status"))
    parser.add_argument(
        "--dir",
        type=Path,
        default=DEFAULT_DIR,
        help="the cluster's folder (default: .local/citus in the repository)",
    )
    args = parser.parse_args(argv)
    root = args.dir.resolve()
    commands = {"start": start, "stop": stop, "status": status}
    try:
        return commands[args.command](root)
    except (ClusterError, subprocess.CalledProcessError, psycopg.Error) as exc:
        log(f"error: {exc}")
        return 1


if __name__ == "__main__":
    sys.exit(main())
