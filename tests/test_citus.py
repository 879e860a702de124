"""On a Citus cluster (`make test-citus`): the tenant context reaches the worker nodes
that hold a tenant's rows, and the policies isolate tenants there as on one server.

The probe is a table distributed by organization_id with a policy of the tables' own
shape; its rows lie on both workers (asserted), and the context is applied the two ways
the application applies it: `apply` (app/tenancy/context.py) and `tenancy.put`, which
`tenancy.enter` uses. Skipped on plain PostgreSQL.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Connection, Engine, text
from sqlalchemy.orm import Session

from app import clock, migrate
from app.citus import cluster_nodes, join_cluster
from app.database import make_engine
from app.local import drop_database, ensure_database, urls_for
from app.models.enums import Role
from app.tenancy.context import TenantContext, apply, use_context
from app.tenancy.layout import BY_ORGANIZATION, ORGANIZATION_COLUMN, REFERENCE
from app.tenancy.policies import is_citus
from app.tenancy.roles import APPLICATION_GROUP, ensure_roles
from app.tenancy.signing import enter_ticket
from tests import factories
from tests.api_helpers import recording_statements
from tests.conftest import Tenant, TwoTenants, bearer, token_for
from tests.placement import workers

TENANTS = 8  # half on each worker
ROWS_EACH = 3


@pytest.fixture(scope="module")
def probe(admin_engine: Engine) -> Iterator[list[uuid.UUID]]:
    with admin_engine.connect() as conn:
        if not is_citus(conn):
            pytest.skip("not a Citus cluster (make test-citus)")
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
    with admin_engine.connect() as conn:
        organizations = _spread(conn)
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


def _spread(conn: Connection) -> list[uuid.UUID]:
    """TENANTS organization ids, half of them on each of the two workers."""
    on: dict[int, list[uuid.UUID]] = {port: [] for port in workers(conn)}
    while any(len(ids) < TENANTS // len(on) for ids in on.values()):
        candidate = uuid.uuid4()
        [(_, port)] = _placements(conn, [candidate]).items()
        on[port].append(candidate)
    return [i for ids in on.values() for i in ids[: TENANTS // len(on)]]


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
    """tenancy.enter sets the context inside the database, through tenancy.put (with the
    service's ticket for a request)."""
    both = sorted(probe[:2])
    user = uuid.uuid4()
    with app_engine.connect() as conn:
        conn.execute(
            text(
                "SELECT tenancy.put(jsonb_build_object('organization_ids', CAST(:ids AS text)),"
                " :ticket, :user, NULL, NULL, '{}')"
            ),
            {
                "ids": ",".join(str(o) for o in both),
                "ticket": enter_ticket(user, None, None, ()),
                "user": user,
            },
        )
        assert _seen(conn) == {str(o): ROWS_EACH for o in both}
        conn.rollback()
        # and the transaction's end takes it away on every node
        assert _seen(conn) == {}
        conn.rollback()


# --- the tables in their places (app/tenancy/layout.py, docs/citus-layout.md) -----------

COORDINATOR = (
    "outbox_messages",
    "npi_registry_answers",
    "deployment_region",
    "alembic_version",
)
# Where each table lies: (partition method, distribution column), or None for a table
# Citus keeps on the coordinator alone.
Place = tuple[str, str | None] | None
LAYOUT: dict[str, Place] = {
    **{table: ("h", ORGANIZATION_COLUMN) for table in BY_ORGANIZATION},
    **{table: ("n", None) for table in REFERENCE},
    **{table: None for table in COORDINATOR},
}


@pytest.fixture(scope="module")
def cluster(admin_engine: Engine) -> None:
    """Skips where the tenant tables are not distributed (plain PostgreSQL)."""
    with admin_engine.connect() as conn:
        if not is_citus(conn):
            pytest.skip("not a Citus cluster (make test-citus)")


def _places(conn: Connection) -> dict[str, Place]:
    """Each public table's place as Citus records it. A Citus local table (kept in its
    metadata for the keys it holds to reference tables, partition method 'n' without
    replication to every node) lies on the coordinator alone, as a plain table does."""
    rows = conn.execute(
        text(
            "SELECT t.tablename, p.partmethod,"
            "       column_to_column_name(p.logicalrelid, p.partkey), p.repmodel"
            "  FROM pg_tables t LEFT JOIN pg_dist_partition p"
            "    ON p.logicalrelid = CAST(quote_ident(t.tablename) AS regclass)"
            " WHERE t.schemaname = 'public'"
        )
    ).all()
    return {
        table: None if method is None or (method, repmodel) == ("n", "s") else (method, column)
        for table, method, column, repmodel in rows
    }


def test_every_table_is_in_its_place(admin_engine: Engine, cluster: None) -> None:
    with admin_engine.connect() as conn:
        places = _places(conn)
    assert {table: places.get(table, "missing") for table in LAYOUT} == LAYOUT
    assert set(places) - set(LAYOUT) <= {"citus_probe"}, "a table the layout does not place"


def test_the_tenant_tables_share_one_colocation_group(admin_engine: Engine, cluster: None) -> None:
    with admin_engine.connect() as conn:
        groups = dict(
            conn.execute(
                text(
                    "SELECT logicalrelid::text, colocationid FROM pg_dist_partition"
                    " WHERE logicalrelid = ANY (CAST(:tables AS regclass[]))"
                ),
                {"tables": list(BY_ORGANIZATION)},
            ).all()
        )
    tenants = {table: groups[table] for table in BY_ORGANIZATION}
    assert set(tenants.values()) == {groups["memberships"]}, tenants


def test_every_placement_has_its_tables_policies_and_triggers(
    admin_engine: Engine, cluster: None
) -> None:
    """Policies and triggers made on the coordinator reach every placement of a table
    (distribution copies them, and the policy files applied after replace them there)."""

    def counts(table: str) -> str:
        return (
            f"SELECT (SELECT count(*) FROM pg_policy WHERE polrelid = '{table}'::regclass)"
            f" || '/' || (SELECT count(*) FROM pg_trigger"
            f"             WHERE tgrelid = '{table}'::regclass AND NOT tgisinternal)"
        )

    with admin_engine.connect() as conn:
        for table, place in LAYOUT.items():
            if place is None:
                continue
            own = conn.execute(text(counts(table))).scalar_one()
            # run_command_on_placements puts each placement's name where %1$s stands
            # (its command goes through format())
            placements = conn.execute(
                text("SELECT result FROM run_command_on_placements(:t, :command)"),
                {"t": table, "command": counts("%1$s")},
            ).scalars()
            assert set(placements) == {own}, table


# The tables the tests' tenants have rows in from the start (tests/conftest.py).
MADE_WITH = ("memberships", "facilities", "provider_facilities")


def test_the_two_tenants_rows_lie_on_different_workers(
    admin_engine: Engine, cluster: None, seeded: TwoTenants
) -> None:
    """tests/placement.py gives tenant A an organization id on the first worker, B one on
    the second: each of their tables' rows lies there, whatever shard holds them."""
    with admin_engine.connect() as conn:
        first, second = workers(conn)
        for tenant, port in ((seeded.a, first), (seeded.b, second)):
            for table in BY_ORGANIZATION:
                command = (
                    f"SELECT count(*) FROM %s WHERE organization_id = '{tenant.organization.id}'"
                )
                held = {
                    node: int(count)
                    for node, count in conn.execute(
                        text(
                            "SELECT nodeport, result FROM run_command_on_placements(:t, :command)"
                        ),
                        {"t": table, "command": command},
                    )
                    if int(count)
                }
                assert set(held) <= {port}, (table, held)
                if table in MADE_WITH:
                    assert held, table


# --- one tenant's requests go to one node -----------------------------------------------


def _plans(
    app_engine: Engine, context: TenantContext, statements: list[tuple[str, Any]]
) -> list[str]:
    """The plans the application role in `context` has for the `statements` Citus plans
    (those that read a table of its). EXPLAIN goes through a client-side cursor, which
    puts the parameters in the text: Citus routes a query to one shard only on
    constants."""
    plans = []
    with app_engine.connect() as conn:
        apply(conn, context)
        driver = conn.connection.driver_connection
        assert driver is not None
        cursor = psycopg.ClientCursor(driver)
        for statement, parameters in statements:
            if statement.lstrip().upper().startswith("SET "):
                continue
            cursor.execute(f"EXPLAIN {statement}", parameters)
            plan = "\n".join(line for (line,) in cursor.fetchall())
            if "Custom Scan (Citus" in plan:
                plans.append(plan)
        conn.rollback()
    return plans


ONE_TENANT_REQUESTS = (
    "/api/v1/admin/facilities",
    "/api/v1/admin/facilities/{facility}",
    "/api/v1/admin/facilities/{facility}/providers",
    "/api/v1/admin/providers",
    "/api/v1/admin/providers/{provider}/facilities",
    "/api/v1/orders/{order}",
    "/api/v1/orders",
    "/api/v1/admin/invitations",
    "/api/v1/admin/organizations/{organization}/dashboard",
    # the trail's export, with its access event
    "/api/v1/admin/audit-events/export?from={today}&to={today}",
)


@pytest.mark.parametrize("url", ONE_TENANT_REQUESTS)
def test_a_tenants_requests_are_routed_to_one_node(
    app: Flask,
    client: FlaskClient,
    app_engine: Engine,
    admin_engine: Engine,
    cluster: None,
    seeded: TwoTenants,
    url: str,
) -> None:
    tenant = seeded.b
    with admin_engine.begin() as conn:
        order = conn.execute(
            text(
                "INSERT INTO orders (organization_id, facility_id, provider_id, amount,"
                " line_count) VALUES (:o, :f, :p, 10, 1) RETURNING id"
            ),
            {"o": tenant.organization.id, "f": tenant.facility.id, "p": seeded.shared_provider.id},
        ).scalar_one()
    path = url.format(
        organization=tenant.organization.id,
        facility=tenant.facility.id,
        provider=seeded.shared_provider.id,
        order=order,
        today=clock.today(),
    )
    token = token_for(client, tenant.admin, tenant.organization)
    with recording_statements(app) as statements:
        response = client.get(path, headers=bearer(token), buffered=True)
    plans = _plans(app_engine, tenant.context(), statements)
    assert plans, "no statement read a table of the cluster"
    spread = [plan for plan in plans if set(re.findall(r"Task Count: (\d+)", plan)) != {"1"}]
    assert not spread, "\n\n".join(spread)
    assert response.status_code == 200, response.get_json()


def test_a_region_restored_from_one_server_moves_to_its_places(
    server_admin_url: str, cluster: None
) -> None:
    """A region moving to a cluster (docs/deployment.md, "Moving a region"): its
    database, migrated and filled on one server, restored on the coordinator, which then
    joins the cluster; the upgrade that follows moves every table to its place with its
    rows, stripping and making again their policies and triggers (the copy fires none),
    and the service reads the rows there as the tenant does."""
    database = f"msc_move_{uuid.uuid4().hex[:8]}"
    ensure_database(server_admin_url, database)
    urls = urls_for(server_admin_url, database)
    try:
        coordinator, workers = cluster_nodes(server_admin_url)
        engine = make_engine(urls.admin)
        try:
            with engine.begin() as conn:  # one server's database: no Citus in it
                conn.execute(text("DROP EXTENSION citus"))
            ensure_roles(urls.admin, urls.owner, urls.app)
            migrate.upgrade(urls.owner, region="test")
            with Session(engine, expire_on_commit=False) as session:
                use_context(session, TenantContext.system("test-setup"))
                tenant = factories.make_organization(session, name="Before The Move")
                admin = factories.make_user(session)
                factories.make_membership(session, admin, tenant, Role.ORGANIZATION_ADMIN)
                facilities = [factories.make_facility(session, tenant) for _ in range(3)]
                session.commit()
            with engine.connect() as conn:
                events = _events(conn)
                assert "SELECT tenancy." in _policy(conn, "facilities", "facilities_select")

            join_cluster(server_admin_url, database, coordinator, workers)
            # the migration Job's two steps, as on every upgrade
            ensure_roles(urls.admin, urls.owner, urls.app)
            migrate.upgrade(urls.owner, region="test")

            with engine.connect() as conn:
                places = _places(conn)
                assert {table: places.get(table, "missing") for table in LAYOUT} == LAYOUT
                assert (
                    conn.execute(text("SELECT count(*) FROM audit_events")).scalar_one() == events
                )
                assert "SELECT tenancy." not in _policy(conn, "facilities", "facilities_select")
            app_engine = make_engine(urls.app)
            with app_engine.begin() as conn:
                apply(conn, Tenant(tenant, admin, admin, facilities[0]).context())
                names = conn.execute(text("SELECT name FROM facilities")).scalars()
                assert sorted(names) == sorted(f.name for f in facilities)
            app_engine.dispose()
        finally:
            engine.dispose()
    finally:
        drop_database(server_admin_url, database)


def _events(conn: Connection) -> int:
    count: int = conn.execute(text("SELECT count(*) FROM audit_events")).scalar_one()
    return count


def _policy(conn: Connection, table: str, name: str) -> str:
    expression: str = conn.execute(
        text("SELECT qual FROM pg_policies WHERE tablename = :t AND policyname = :p"),
        {"t": table, "p": name},
    ).scalar_one()
    return expression
