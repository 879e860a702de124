"""A real PgBouncer (Debian's /usr/sbin/pgbouncer) in transaction pooling mode, in front
of the test database's server: the way production deployments connect.

Its pool is small (two server connections by default) so that clients take turns on the
same server connections, as they do in production under load: whatever one transaction
leaves on a server connection, the next client's transaction meets.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from sqlalchemy.engine import make_url

BINARY = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
READY_SECONDS = 10.0


def available() -> bool:
    return os.access(BINARY, os.X_OK)


def server_pids(url: str) -> list[int]:
    """The backend pids of the server connections held by the PgBouncer that `url`
    goes through (its statistics console, SHOW SERVERS, admits the URL's user)."""
    console = make_url(url).set(database="pgbouncer").render_as_string(hide_password=False)
    with psycopg.connect(console, autocommit=True) as connection:
        cursor = connection.cursor()
        cursor.execute("SHOW SERVERS", prepare=False)
        columns = [c.name for c in cursor.description or ()]
        return [int(row[columns.index("remote_pid")]) for row in cursor.fetchall()]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _config(server_url: str, port: int, user: str, folder: Path, pool_size: int) -> str:
    server = make_url(server_url)
    # An embedded server listens on a unix socket, named by the URL's `host` query.
    host = server.query.get("host") or server.host or "127.0.0.1"
    return f"""\
[databases]
* = host={host} port={server.port or 5432}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir =
auth_type = trust
auth_file = {folder / "users.txt"}
stats_users = {user}
pool_mode = transaction
default_pool_size = {pool_size}
min_pool_size = 0
reserve_pool_size = 0
max_db_connections = {pool_size}
max_client_conn = 200
"""


@contextmanager
def running(app_url: str, *, pool_size: int = 2) -> Iterator[str]:
    """PgBouncer in front of the server of `app_url`; yields `app_url` through it (same
    user, password and database)."""
    url = make_url(app_url)
    user, password = url.username or "", url.password or ""
    # Not under pytest's tmp_path: PgBouncer refuses to run as root and switches to an
    # unprivileged user, who must read its files.
    folder = Path(tempfile.mkdtemp(prefix="pgbouncer-"))
    folder.chmod(0o755)
    port = _free_port()
    (folder / "pgbouncer.ini").write_text(_config(app_url, port, user, folder, pool_size))
    (folder / "users.txt").write_text(f'"{user}" "{password}"\n')
    for name in ("pgbouncer.ini", "users.txt"):
        (folder / name).chmod(0o644)
    as_user = ["-u", "nobody"] if os.geteuid() == 0 else []
    log = (folder / "pgbouncer.log").open("wb")
    process = subprocess.Popen(
        [BINARY, *as_user, str(folder / "pgbouncer.ini")], stdout=log, stderr=subprocess.STDOUT
    )
    try:
        _wait_ready(port, process, folder)
        yield url.set(host="127.0.0.1", port=port, query={}).render_as_string(hide_password=False)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
        shutil.rmtree(folder, ignore_errors=True)


def _wait_ready(port: int, process: subprocess.Popen[bytes], folder: Path) -> None:
    deadline = time.monotonic() + READY_SECONDS
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"pgbouncer exited: {(folder / 'pgbouncer.log').read_text()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"pgbouncer did not listen on port {port}") from None
            time.sleep(0.05)
