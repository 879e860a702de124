"""Databases on a Citus cluster (a coordinator and its workers), for local servers and
tests (see scripts/citus_cluster.py).

A Citus database is one database of the same name on every node, each with the
extension, whose coordinator lists the nodes. CREATE and DROP DATABASE on the
coordinator reach only the coordinator, so the workers' side is done here: each worker
is reached at the host and port the coordinator records for it, as the same user
without a password (a local cluster trusts its users).

On a plain PostgreSQL server there are no workers and nothing here does anything.
"""

from __future__ import annotations

import contextlib
import re
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import TupleRow
from sqlalchemy.engine import make_url

# the module, not its names: app.tenancy.roles asks this module whether a database is a
# cluster's, and each may be imported first
from app.tenancy import roles

Node = tuple[str, int]

# What makes a Citus coordinator pass the transaction's SET LOCAL commands on to its
# workers (tenancy.adopt runs it before the context's own).
PROPAGATE_TO_WORKERS = "SET LOCAL citus.propagate_set_commands = 'local'"

# `<name>_<shard id>`: what Citus calls a table's shard, and the shard's constraints and
# triggers. No name of ours ends in digits (tenancy.unsharded says the same in SQL).
_SHARD_SUFFIX = re.compile(r"_[0-9]+$")


def unsharded(name: str) -> str:
    """A table's, constraint's or trigger's name as the application knows it, where a
    Citus cluster names its shard's copy in an error."""
    return _SHARD_SUFFIX.sub("", name)


def cluster_workers(admin_url: str) -> list[Node]:
    """The primary workers (host, port) of the Citus cluster whose coordinator serves
    `admin_url`, as its database records them; [] when that database has no Citus."""
    return cluster_nodes(admin_url)[1]


def create_database_on_cluster(admin_url: str, database: str) -> None:
    """Make `database` on the coordinator of `admin_url` and on each of its workers,
    with the extension everywhere and the coordinator's copy listing the same nodes as
    the coordinator's database of `admin_url` does.

    The database must not exist on the coordinator. A copy of it on a worker can then
    only be left over from a database dropped on the coordinator alone: it is replaced,
    as its shard tables would clash with the new ones'. If any step fails, what was
    made is dropped again."""
    name = sql.Identifier(database)
    drop = drop_statement(database)
    with psycopg.connect(roles.libpq_url(admin_url), autocommit=True) as conn:
        coordinator = _coordinator(conn)
        workers = _workers(conn)
        created_here = False
        try:
            for host, port in workers:
                with _connect_node(admin_url, host, port) as worker:
                    worker.execute(drop)
                    worker.execute(sql.SQL("CREATE DATABASE {}").format(name))
                with _connect_node(admin_url, host, port, database) as worker:
                    worker.execute("CREATE EXTENSION IF NOT EXISTS citus")
            conn.execute(sql.SQL("CREATE DATABASE {}").format(name))
            created_here = True
            join_cluster(admin_url, database, coordinator, workers)
        except BaseException:
            # Undone on the nodes that still answer, so that the error seen is the first;
            # the coordinator's copy only if this call made it (a concurrent one may have).
            if created_here:
                with contextlib.suppress(psycopg.Error):
                    conn.execute(drop)
            for host, port in workers:
                with (
                    contextlib.suppress(psycopg.Error),
                    _connect_node(admin_url, host, port) as worker,
                ):
                    worker.execute(drop)
            raise


def join_cluster(
    admin_url: str, database: str, coordinator: Node | None, workers: list[Node]
) -> None:
    """Make the coordinator's `database` one of the cluster's: the extension, the
    coordinator's own address and its workers (whose copies of the database must exist,
    with the extension), and the roles recorded as the cluster's. What an operator runs
    on a database restored from one server (docs/deployment.md, "Moving a region")."""
    with psycopg.connect(roles.libpq_url(admin_url, database=database), autocommit=True) as new:
        new.execute("CREATE EXTENSION IF NOT EXISTS citus")
        if coordinator is not None:
            new.execute("SELECT citus_set_coordinator_host(%s, %s)", coordinator)
        for worker_node in workers:
            new.execute("SELECT citus_add_node(%s, %s)", worker_node)
        _distribute_existing_roles(new)


def cluster_nodes(admin_url: str) -> tuple[Node | None, list[Node]]:
    """The coordinator and the workers as the database of `admin_url` records them."""
    with psycopg.connect(roles.libpq_url(admin_url), autocommit=True) as conn:
        return _coordinator(conn), _workers(conn)


def drop_database_on_cluster(admin_url: str, database: str) -> None:
    """Drop `database` on the workers of the coordinator of `admin_url` (the
    coordinator's own copy is its server's to drop)."""
    for host, port in cluster_workers(admin_url):
        with _connect_node(admin_url, host, port) as worker:
            worker.execute(drop_statement(database))


def drop_statement(database: str) -> sql.Composed:
    """DROP DATABASE `database`, ending its sessions, as every node runs it."""
    return sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database))


def _distribute_existing_roles(conn: psycopg.Connection[TupleRow]) -> None:
    """Have Citus record the roles that already exist as distributed in this database.

    Roles belong to the whole server, so those an earlier database made (the
    application's) are distributed objects of that database only. Here Citus would
    create them on the workers again the first time it propagates an object one of them
    owns, over that role's own connection, and a role that is not a superuser may not
    (its CREATE OR ALTER names NOSUPERUSER). Done once by the superuser instead: giving
    each role a throwaway function is what makes Citus propagate and record it."""
    roles = conn.execute(
        "SELECT rolname FROM pg_roles r WHERE rolname !~ '^pg_' AND NOT EXISTS ("
        " SELECT 1 FROM pg_catalog.pg_dist_object o"
        " WHERE o.classid = 'pg_authid'::regclass AND o.objid = r.oid)"
    ).fetchall()
    if not roles:
        return
    function = sql.SQL("public.citus_role_marker()")
    conn.execute(sql.SQL("CREATE FUNCTION {} RETURNS void LANGUAGE sql AS ''").format(function))
    try:
        for (role,) in roles:
            conn.execute(
                sql.SQL("ALTER FUNCTION {} OWNER TO {}").format(function, sql.Identifier(role))
            )
    finally:
        conn.execute(sql.SQL("DROP FUNCTION {}").format(function))


def has_citus(conn: psycopg.Connection[Any]) -> bool:
    """Whether the database of `conn` has the Citus extension."""
    found = conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'citus'").fetchone()
    return found is not None


def _workers(conn: psycopg.Connection[TupleRow]) -> list[Node]:
    if not has_citus(conn):
        return []
    rows = conn.execute(
        "SELECT nodename, nodeport FROM pg_dist_node"
        " WHERE noderole = 'primary' AND groupid <> 0 AND isactive ORDER BY nodeid"
    ).fetchall()
    return [(str(host), int(port)) for host, port in rows]


def _coordinator(conn: psycopg.Connection[TupleRow]) -> Node | None:
    """The coordinator's own host and port as the cluster knows them (None when it was
    never recorded, as on a cluster whose coordinator holds no data)."""
    if not has_citus(conn):
        return None
    row = conn.execute(
        "SELECT nodename, nodeport FROM pg_dist_node"
        " WHERE noderole = 'primary' AND groupid = 0 LIMIT 1"
    ).fetchone()
    return None if row is None else (str(row[0]), int(row[1]))


def _connect_node(
    admin_url: str, host: str, port: int, database: str | None = None
) -> psycopg.Connection[TupleRow]:
    """A connection to a node as `admin_url`'s user, without its password, to
    `database` or else to `admin_url`'s (maintenance) database."""
    url = (
        make_url(roles.libpq_url(admin_url, database=database))
        .set(host=host, port=port, password=None)
        .difference_update_query(["host", "port", "hostaddr"])
    )
    return psycopg.connect(url.render_as_string(hide_password=False), autocommit=True)
