"""Where a tenant's rows lie on a Citus cluster (`make test-citus`).

The tests' two tenants are given organization ids that put their rows on different
worker nodes, so that every cross-tenant test there crosses nodes as well as tenants
(tests/test_citus.py asserts it). On plain PostgreSQL nothing is chosen.
"""

from __future__ import annotations

import uuid

from sqlalchemy import Connection, text

from app.tenancy.policies import is_citus

# A table distributed by organization, as every tenant table is (co-located).
TENANT_TABLE = "memberships"


def worker_of(conn: Connection, organization_id: uuid.UUID) -> int:
    """The port of the worker node that holds the organization's rows."""
    port: int = conn.execute(
        text(
            "SELECT nodeport FROM pg_dist_shard_placement"
            " WHERE shardid = get_shard_id_for_distribution_column(:table, :o)"
        ),
        {"table": TENANT_TABLE, "o": organization_id},
    ).scalar_one()
    return port


def workers(conn: Connection) -> list[int]:
    return list(
        conn.scalars(
            text("SELECT node_port FROM citus_get_active_worker_nodes() ORDER BY node_port")
        )
    )


def tenant_tables_distributed(conn: Connection) -> bool:
    """Whether this is a Citus cluster whose tenant tables are distributed."""
    if not is_citus(conn):
        return False
    distributed = conn.execute(
        text(
            "SELECT 1 FROM pg_dist_partition WHERE logicalrelid = CAST(:t AS regclass)"
            " AND partmethod = 'h'"
        ),
        {"t": TENANT_TABLE},
    ).first()
    return distributed is not None


def organization_id_on(conn: Connection, worker: int) -> uuid.UUID | None:
    """An organization id whose rows lie on the `worker`-th worker (by port); None where
    the tenant tables are not distributed."""
    if not tenant_tables_distributed(conn):
        return None
    port = workers(conn)[worker]
    while worker_of(conn, candidate := uuid.uuid4()) != port:
        pass
    return candidate
