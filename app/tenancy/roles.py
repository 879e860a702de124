"""Database roles: who owns the schema, who the application connects as.

The owner role runs migrations and owns every table. The application's login role
owns nothing, is no superuser and has no BYPASSRLS; it gets its table privileges
through the NOLOGIN group role `msc_application`, which the files in policies/ grant to.
Role names and passwords come from the owner and application URLs themselves.
"""

from __future__ import annotations

import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url

# the module, not its names: app.citus uses this module's (libpq_url)
from app import citus
from app.config import Settings

APPLICATION_GROUP = "msc_application"

_SAFE_ATTRIBUTES = "NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE NOREPLICATION"


def libpq_url(url: str, *, database: str | None = None) -> str:
    parsed = make_url(url).set(drivername="postgresql")
    if database is not None:
        parsed = parsed.set(database=database)
    return parsed.render_as_string(hide_password=False)


def _ensure_role(conn: psycopg.Connection, name: str, *, login: bool, password: str | None) -> None:
    exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (name,)).fetchone()
    verb = "ALTER" if exists else "CREATE"
    attributes = f"{'LOGIN' if login else 'NOLOGIN'} {_SAFE_ATTRIBUTES}"
    statement = sql.SQL(f"{verb} ROLE {{}} WITH {attributes}").format(sql.Identifier(name))
    if password:
        statement = sql.SQL("{} PASSWORD {}").format(statement, sql.Literal(password))
    conn.execute(statement)


# On a Citus cluster, what the application role's sessions need.
CITUS_APPLICATION_SETTINGS = {
    # A request may read several shards (tenancy.enter reads the caller's assignments in
    # each of their organizations) and then write a reference table (a credential); Citus
    # allows that in one transaction only when it reads the shards one connection per
    # worker. A tenant's own queries go to one shard either way.
    "citus.multi_shard_modify_mode": "sequential",
}


def application_role_limits(settings: Settings) -> dict[str, int]:
    """How long, in milliseconds, a session of the application role may run a statement,
    wait for a lock, and leave its transaction idle between two statements."""
    seconds = {
        "statement_timeout": settings.database_statement_timeout_seconds,
        "lock_timeout": settings.database_lock_timeout_seconds,
        "idle_in_transaction_session_timeout": (
            settings.database_idle_in_transaction_timeout_seconds
        ),
    }
    return {name: max(1, round(value * 1000)) for name, value in seconds.items()}


def ensure_roles(
    admin_url: str, owner_url: str, app_url: str, settings: Settings | None = None
) -> None:
    """Create or update the owner, group and application roles and their grants.

    Idempotent. `admin_url` needs CREATEROLE (or superuser) on the server; the grants
    are made in the database named by `app_url`. The application role's limits are
    those of `settings` (the defaults when None).
    """
    owner, app = make_url(owner_url), make_url(app_url)
    if not owner.username or not app.username or owner.username == app.username:
        raise ValueError("owner and application URLs must name two different users")
    if not app.database:
        raise ValueError("the application URL must name a database")
    with psycopg.connect(libpq_url(admin_url, database=app.database), autocommit=True) as conn:
        _ensure_role(conn, owner.username, login=True, password=owner.password)
        _ensure_role(conn, APPLICATION_GROUP, login=False, password=None)
        _ensure_role(conn, app.username, login=True, password=app.password)
        ident = sql.Identifier
        statements: list[sql.Composed | sql.SQL] = [
            sql.SQL("GRANT {} TO {}").format(ident(APPLICATION_GROUP), ident(app.username)),
            sql.SQL("GRANT CONNECT, TEMPORARY, CREATE ON DATABASE {} TO {}").format(
                ident(app.database), ident(owner.username)
            ),
            sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(
                ident(app.database), ident(APPLICATION_GROUP)
            ),
            # Temporary tables for the owner alone: a temporary table of the application
            # role's could stand in for one of ours in a function whose search path
            # lets it (policies/functions.sql, the audit trail's).
            sql.SQL("REVOKE TEMPORARY ON DATABASE {} FROM PUBLIC").format(ident(app.database)),
            *(
                sql.SQL("REVOKE TEMPORARY ON DATABASE {} FROM {}").format(
                    ident(app.database), ident(role)
                )
                for role in (APPLICATION_GROUP, app.username)
            ),
            sql.SQL("REVOKE CREATE ON SCHEMA public FROM PUBLIC"),
            sql.SQL("GRANT USAGE, CREATE ON SCHEMA public TO {}").format(ident(owner.username)),
            sql.SQL("GRANT USAGE ON SCHEMA public TO {}").format(ident(APPLICATION_GROUP)),
            # Dates the database derives from timestamps (`created_at::date`, date_trunc)
            # are UTC dates, like the service's clock (app/clock.py), whatever the
            # server's own time zone.
            *(
                sql.SQL("ALTER ROLE {} SET TimeZone = 'UTC'").format(ident(role))
                for role in (owner.username, app.username)
            ),
            # Set on the role, not sent by each connection: the server applies them as a
            # session starts, so they hold through a transaction-pooling PgBouncer (which
            # refuses the `options` connection parameter) and for every process and
            # console session of the role. In this database only: another database of the
            # server with a role of the same name keeps its own.
            *(
                sql.SQL("ALTER ROLE {} IN DATABASE {} SET {} = {}").format(
                    ident(app.username), ident(app.database), ident(name), sql.Literal(value)
                )
                for name, value in application_role_limits(settings or Settings()).items()
            ),
        ]
        if citus.has_citus(conn):
            statements += [
                sql.SQL("ALTER ROLE {} IN DATABASE {} SET {} = {}").format(
                    ident(app.username), ident(app.database), ident(name), sql.Literal(value)
                )
                for name, value in CITUS_APPLICATION_SETTINGS.items()
            ]
        for statement in statements:
            conn.execute(statement)
