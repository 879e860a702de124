"""On a Citus cluster (`make test-citus`): the tenant context reaches the worker nodes
that hold a tenant's rows, and the policies isolate tenants there as on one server.

The probe is a table distributed by organization_id with a policy of the tables' own
shape; its rows lie on both workers (asserted), and the context is applied the two ways
the application applies it: `apply` (app/tenancy/context.py) and `tenancy.put`, which
`tenancy.enter` uses. Skipped on plain PostgreSQL.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import Connection, Engine, text

from app.tenancy.context import TenantContext, apply
from app.tenancy.policies import is_citus
from app.tenancy.roles import APPLICATION_GROUP

TENANTS = 8  # enough for both workers to hold some, whatever the hashing
ROWS_EACH = 3


@pytest.fixture(scope="module")
def probe(admin_engine: Engine) -> Iterator[list[uuid.UUID]]:
    with admin_engine.connect() as conn:
        if not is_citus(conn):
            pytest.skip("not a Citus cluster (make test-citus)")
    organizations = [uuid.uuid4() for _ in range(TENANTS)]
    with admin_engine.begin() as conn:
        conn.execute(
            text(
                "CREATE TABLE citus_probe (organization_id uuid NOT NULL, note text NOT NULL);"
                "ALTER TABLE citus_probe ENABLE ROW LEVEL SECURITY;"
                "ALTER TABLE citus_probe FORCE ROW LEVEL SECURITY;"
                "CREATE POLICY citus_probe_select ON citus_probe FOR SELECT"
                " USING (organization_id = ANY (tenancy.organization_ids())"
                "        OR tenancy.is_msc_admin());"
                f"GRANT SELECT ON citus_probe TO {APPLICATION_GROUP};"
                "SELECT create_distributed_table('citus_probe', 'organization_id');"
            )
        )
    with admin_engine.begin() as conn:
        conn.execute(text("SET LOCAL row_security = off"))
        conn.execute(
            text(
                "INSERT INTO citus_probe SELECT o, 'row ' || n"
                " FROM unnest(:orgs) o, generate_series(1, :n) n"
            ),
            {"orgs": organizations, "n": ROWS_EACH},
        )
    yield organizations
    with admin_engine.begin() as conn:
        conn.execute(text("DROP TABLE citus_probe"))


def _placements(conn: Connection, organizations: list[uuid.UUID]) -> dict[uuid.UUID, int]:
    """The worker port that holds each organization's rows."""
    return {
        organization: conn.execute(
            text(
                "SELECT p.nodeport FROM pg_dist_shard_placement p"
                " WHERE p.shardid = get_shard_id_for_distribution_column('citus_probe', :o)"
            ),
            {"o": organization},
        ).scalar_one()
        for organization in organizations
    }


def _seen(conn: Connection) -> dict[str, int]:
    rows = conn.execute(
        text("SELECT organization_id::text, count(*) FROM citus_probe GROUP BY 1")
    ).all()
    return {organization: count for organization, count in rows}


def test_the_rows_lie_on_both_workers(admin_engine: Engine, probe: list[uuid.UUID]) -> None:
    with admin_engine.connect() as conn:
        workers = set(
            conn.scalars(text("SELECT node_port FROM citus_get_active_worker_nodes()")).all()
        )
        assert len(workers) == 2
        assert set(_placements(conn, probe).values()) == workers


def test_without_context_no_node_shows_a_row(app_engine: Engine, probe: list[uuid.UUID]) -> None:
    with app_engine.connect() as conn:
        apply(conn, TenantContext())
        assert _seen(conn) == {}
        conn.rollback()


def test_each_tenant_sees_its_rows_alone_on_every_node(
    admin_engine: Engine, app_engine: Engine, probe: list[uuid.UUID]
) -> None:
    with admin_engine.connect() as conn:
        placements = _placements(conn, probe)
    with app_engine.connect() as conn:
        for organization in probe:
            apply(
                conn, TenantContext(organization_id=organization, organization_ids=(organization,))
            )
            # a query of every shard, and one routed to the tenant's node
            assert _seen(conn) == {str(organization): ROWS_EACH}, placements[organization]
            routed = conn.execute(
                text("SELECT count(*) FROM citus_probe WHERE organization_id = :o"),
                {"o": organization},
            ).scalar_one()
            assert routed == ROWS_EACH
            conn.rollback()
        # MSC reach: every tenant, from every node
        apply(conn, TenantContext(is_msc_admin=True))
        assert _seen(conn) == {str(o): ROWS_EACH for o in probe}
        conn.rollback()


def test_the_database_applied_context_reaches_the_workers(
    app_engine: Engine, probe: list[uuid.UUID]
) -> None:
    """tenancy.enter sets the context inside the database, through tenancy.put."""
    both = sorted(probe[:2])
    with app_engine.connect() as conn:
        conn.execute(
            text("SELECT tenancy.put(jsonb_build_object('organization_ids', CAST(:ids AS text)))"),
            {"ids": ",".join(str(o) for o in both)},
        )
        assert _seen(conn) == {str(o): ROWS_EACH for o in both}
        conn.rollback()
        # and the transaction's end takes it away on every node
        assert _seen(conn) == {}
        conn.rollback()
