"""Security facts read from PostgreSQL's catalogue, so a new table or role that breaks
them fails here."""

from __future__ import annotations

import re

from sqlalchemy import Engine, Table, text

from app.local import APP_ROLE
from app.models.base import Base
from app.tenancy.policies import POLICIES_DIR, citus_form, is_citus, is_policy, policy_files
from app.tenancy.roles import APPLICATION_GROUP

# Tables that hold no tenant data and are the same for everyone.
GLOBAL_TABLES = {
    "alembic_version",
    "us_states",
    "npi_registry_answers",
    "deployment_region",
    "exclusion_lists",
    "exclusion_entries",
    "exclusion_import_rows",
}


def test_application_role_is_unprivileged(admin_engine: Engine) -> None:
    with admin_engine.connect() as conn:
        for role in (APP_ROLE, APPLICATION_GROUP):
            row = conn.execute(
                text(
                    "SELECT rolsuper, rolbypassrls, rolcreaterole, rolcreatedb"
                    " FROM pg_roles WHERE rolname = :r"
                ),
                {"r": role},
            ).one()
            assert tuple(row) == (False, False, False, False), role
        owned = conn.execute(
            text(
                "SELECT c.relname FROM pg_class c JOIN pg_roles r ON r.oid = c.relowner "
                "WHERE r.rolname IN (:a, :g)"
            ),
            {"a": APP_ROLE, "g": APPLICATION_GROUP},
        ).all()
        assert owned == []
        # and the app role is a member of nothing that could bypass RLS
        members_of = conn.execute(
            text(
                "SELECT r.rolname, r.rolsuper, r.rolbypassrls FROM pg_auth_members m "
                "JOIN pg_roles r ON r.oid = m.roleid JOIN pg_roles u ON u.oid = m.member "
                "WHERE u.rolname = :a"
            ),
            {"a": APP_ROLE},
        ).all()
        assert [tuple(row) for row in members_of] == [(APPLICATION_GROUP, False, False)]
        # and it may create nothing: no schema, no object in any schema, no temporary
        # table (the context's check reads function names in the caller's search path)
        creates = conn.execute(
            text(
                "SELECT has_database_privilege(:a, current_database(), 'CREATE'),"
                " has_database_privilege(:a, current_database(), 'TEMP'),"
                " (SELECT array_agg(nspname) FROM pg_namespace"
                "   WHERE has_schema_privilege(:a, oid, 'CREATE'))"
            ),
            {"a": APP_ROLE},
        ).one()
        assert tuple(creates) == (False, False, None)


def test_every_tenant_table_has_rls_enabled_and_forced(admin_engine: Engine) -> None:
    with admin_engine.connect() as conn:
        tables = conn.execute(
            text(
                "SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity,"
                " EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid"
                "         AND a.attname = 'organization_id' AND NOT a.attisdropped)"
                " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')"
            )
        ).all()
    assert tables, "no tables found"
    with_org = [t for t in tables if t[3]]
    assert {t[0] for t in with_org} >= {
        "facilities",
        "memberships",
        "provider_facilities",
        "primary_assignments",
        "audit_events",
    }
    unprotected = [t[0] for t in tables if t[0] not in GLOBAL_TABLES and not (t[1] and t[2])]
    assert unprotected == []
    assert all(t[1] and t[2] for t in with_org)


# How PostgreSQL shows the once-per-statement wrappers of a reach function's call.
WRAPPED_CALL = re.compile(r"\( SELECT (unnest\()?tenancy\.\w+\(\)\)? AS \w+\)")


def test_no_policy_holds_a_subquery(admin_engine: Engine) -> None:
    """A Citus cluster refuses a policy with a subquery on a distributed table: a rule
    that needs another table calls a STABLE predicate (policies/functions.sql). The one
    subqueries allowed are the wrappers that make PostgreSQL evaluate a reach function
    once per statement, `(SELECT tenancy.f())` and `IN (SELECT unnest(tenancy.f()))`,
    and on a Citus cluster not even those (the policies are applied without them there:
    app/tenancy/policies.py)."""
    with admin_engine.connect() as conn:
        citus = is_citus(conn)
        expressions = conn.execute(
            text(
                "SELECT policyname, coalesce(qual, '') || ' ' || coalesce(with_check, '')"
                " FROM pg_policies"
            )
        ).all()
        volatility = dict(
            conn.execute(
                text(
                    "SELECT p.proname, p.provolatile FROM pg_proc p"
                    " JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'tenancy'"
                )
            ).all()
        )
    assert expressions
    called: set[str] = set()
    for name, expression in expressions:
        unwrapped = expression if citus else WRAPPED_CALL.sub("", expression)
        assert "SELECT" not in unwrapped, f"{name} holds a subquery: {expression}"
        called |= set(re.findall(r"tenancy\.(\w+)\(", expression))
    assert {
        "staff_organization_ids",
        "invitation_admits_membership",
        "organization_ids",
        "user_id",
    } <= called
    assert {function: volatility[function] for function in called} == dict.fromkeys(called, "s")


# A call of one of our functions, in a policy or a function's body.
TENANCY_CALL = re.compile(r"tenancy\.(\w+)\(")


def _tables_read(body: str, tables: set[str]) -> set[str]:
    """The tables of `tables` that a function body names after FROM or JOIN (comments
    left out)."""
    code = re.sub(r"--[^\n]*", "", body)
    named = re.findall(r"\b(?:FROM|JOIN)\s+(?:public\.)?\"?(\w+)", code, flags=re.IGNORECASE)
    return tables & set(named)


# Queried on the coordinator alone (never joined to a tenant table): its policy may read
# any table.
ON_THE_COORDINATOR = ("outbox_messages",)


def test_no_policy_reads_a_table(admin_engine: Engine) -> None:
    """On a Citus cluster the policies of a query sent to a worker are evaluated there:
    those of a distributed table on its shard, those of a reference table (organizations,
    users, ...) too when the query joins it to a tenant's rows. From there a function may
    read no table of the cluster, reference tables included ("cannot execute a
    distributed query from a query on a shard"); what those policies would look up in
    other tables travels in the context (tenancy.enter) or on the row itself
    (owner_organization_ids). So every function a policy calls, and every function those
    call, reads no table, but for the policies of a table queried on the coordinator
    alone. (The context key, read by every reach function through tenancy.fields(), is
    each node's own table, not one of the cluster's: policies/context_key.sql.)"""
    with admin_engine.connect() as conn:
        policies = conn.execute(
            text(
                "SELECT tablename, policyname,"
                " coalesce(qual, '') || ' ' || coalesce(with_check, '')"
                " FROM pg_policies WHERE schemaname = 'public'"
            )
        ).all()
        bodies: dict[str, str] = {
            name: "\n".join(sources)
            for name, sources in conn.execute(
                text(
                    "SELECT p.proname, array_agg(p.prosrc) FROM pg_proc p"
                    " JOIN pg_namespace n ON n.oid = p.pronamespace"
                    " WHERE n.nspname = 'tenancy' GROUP BY p.proname"
                )
            ).all()
        }
        tables = set(
            conn.scalars(
                text(
                    "SELECT c.relname FROM pg_class c JOIN pg_namespace n"
                    " ON n.oid = c.relnamespace WHERE n.nspname = 'public'"
                    " AND c.relkind IN ('r', 'p', 'v')"
                )
            )
        )
    # the check sees a predicate that reads a table (the outbox's, on the coordinator)
    assert _tables_read(bodies["sees_invitation"], tables) == {"invitations"}

    def reads(function: str, seen: frozenset[str] = frozenset()) -> set[str]:
        body = bodies[function]
        found = _tables_read(body, tables)
        for called in set(TENANCY_CALL.findall(body)) - seen - {function}:
            found |= reads(called, seen | {function})
        return found

    checked = set()
    for table, policy, expression in policies:
        if table in ON_THE_COORDINATOR:
            continue
        for function in set(TENANCY_CALL.findall(expression)):
            checked.add(function)
            assert reads(function) == set(), f"{policy} calls tenancy.{function}"
    assert {"assigned_facility_ids", "managed_member_ids", "working_facility_ids"} <= checked
    assert {"invitation_admits_membership", "invitation_admits_assignment"} <= checked
    assert {
        "staff_organization_ids",
        "member_organization_ids",
        "invited_organization_ids",
    } <= checked


def test_the_citus_form_of_the_policies_holds_no_subquery() -> None:
    """What a Citus cluster is given, checked without one: the wrappers are the only
    subqueries of any policy statement, so removing them leaves none."""
    policies = [
        statement
        for name in policy_files()
        for statement in citus_form((POLICIES_DIR / name).read_text())
        if is_policy(statement)
    ]
    assert any(statement.startswith("CREATE POLICY facilities_select ") for statement in policies)
    for statement in policies:
        assert not re.search(r"(?<!FOR )SELECT", statement), statement


def test_views_are_security_invoker(admin_engine: Engine) -> None:
    """A view reads as whoever asks, so no view opens rows its reader's policies close;
    but the context's check (policies/context_key.sql), which reads the key for its
    reader and shows them only whether their own context holds."""
    with admin_engine.connect() as conn:
        definer_views = conn.execute(
            text(
                "SELECT n.nspname || '.' || c.relname, c.reloptions FROM pg_class c"
                " JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE n.nspname IN ('public', 'tenancy') AND c.relkind = 'v'"
                " AND NOT coalesce(c.reloptions @> ARRAY['security_invoker=true'], false)"
                # an extension's own views (Citus puts two in public) are not ours
                " AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass"
                "                 AND d.objid = c.oid AND d.deptype = 'e')"
            )
        ).all()
    assert [name for name, _ in definer_views] == ["tenancy.verified_fields"]
    assert "security_barrier=true" in definer_views[0][1]


def test_the_context_is_read_only_through_its_check(admin_engine: Engine) -> None:
    """No policy and no function of ours but tenancy.fields() reads a setting: the context
    is read through it, which takes only a signed one, recognising the one its session
    made current by its digest (tests/test_verified_context.py shows what a context made
    up without the key gets)."""
    with admin_engine.connect() as conn:
        readers = conn.scalars(
            text(
                "SELECT n.nspname || '.' || p.proname FROM pg_proc p"
                " JOIN pg_namespace n ON n.oid = p.pronamespace"
                " WHERE n.nspname IN ('public', 'tenancy') AND p.prosrc ~ 'current_setting'"
                " AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass"
                "                 AND d.objid = p.oid AND d.deptype = 'e')"
            )
        ).all()
        policies = conn.scalars(
            text(
                "SELECT policyname FROM pg_policies"
                " WHERE coalesce(qual, '') || coalesce(with_check, '') ~ 'current_setting'"
            )
        ).all()
        checked_by = conn.scalar(text("SELECT pg_get_viewdef('tenancy.verified_fields'::regclass)"))
    # tenancy.make_current reads one setting more: whether the transaction is read-only
    assert sorted(readers) == ["tenancy.fields", "tenancy.make_current"] and policies == []
    assert "current_setting('tenancy.context'" in checked_by


def test_the_states_are_read_only(app_engine: Engine) -> None:
    with app_engine.begin() as conn:
        changed = conn.execute(text("UPDATE us_states SET name = 'Renamed'")).rowcount
        assert changed == 0
        assert conn.scalar(text("SELECT count(*) FROM us_states WHERE name = 'Renamed'")) == 0
        assert conn.scalar(text("SELECT count(*) FROM us_states")) > 50


def test_application_privileges_are_exactly_granted(admin_engine: Engine) -> None:
    """Read-only trail and reference data; nothing at all on migration bookkeeping."""
    with admin_engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT table_name, string_agg(privilege_type, ',' ORDER BY privilege_type)"
                " FROM information_schema.role_table_grants"
                " WHERE grantee = :g AND table_schema = 'public' GROUP BY table_name"
            ),
            {"g": APPLICATION_GROUP},
        ).all()
    granted = dict(rows)
    assert granted["audit_events"] == "SELECT"
    # UPDATE for a Citus cluster's locks (policies/us_states.sql), which changes no row:
    # test_the_states_are_read_only
    assert granted["us_states"] == "SELECT,UPDATE"
    assert granted["invitations"] == "INSERT,SELECT,UPDATE"
    # written through tenancy.remember_npi_answer alone (tests/test_rls.py)
    assert granted["npi_registry_answers"] == "SELECT"
    assert "alembic_version" not in granted
    for table in (
        "organizations",
        "users",
        "memberships",
        "facilities",
        "provider_facilities",
        "primary_assignments",
    ):
        assert granted[table] == "DELETE,INSERT,SELECT,UPDATE", table


def test_the_orm_names_every_row_by_its_tables_whole_primary_key() -> None:
    """The ORM's UPDATE and DELETE name a row by the mapper's key: for a tenant's row
    that is (organization_id, id), which a Citus cluster sends to the one node holding
    it, where `id` alone would go to every node."""
    mappers = list(Base.registry.mappers)
    assert any(m.local_table.name == "provider_facilities" for m in mappers)
    for mapper in mappers:
        table = mapper.local_table
        assert isinstance(table, Table)
        assert list(mapper.primary_key) == list(table.primary_key.columns), table.name


# Writes into a table, or reads from one, in a function body: the name that follows.
TABLE_NAMED = re.compile(r"\b(?:FROM|JOIN|INTO|UPDATE)\s+([\w.\"]+)", re.IGNORECASE)


def test_security_definer_functions_let_no_temporary_table_stand_in(
    admin_engine: Engine,
) -> None:
    """A function running as the owner resolves its names on a search path pinned with
    pg_temp last (unlisted, pg_temp is searched first), and names every table of ours by
    its schema: no caller's temporary table can take the place of one (the audit trail's
    functions, policies/functions.sql)."""
    with admin_engine.connect() as conn:
        definers = conn.execute(
            text(
                "SELECT n.nspname || '.' || p.proname, p.proconfig, p.prosrc FROM pg_proc p"
                " JOIN pg_namespace n ON n.oid = p.pronamespace"
                " WHERE p.prosecdef AND n.nspname IN ('public', 'tenancy')"
                # an extension's own functions (Citus puts some in public) are not ours
                " AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass"
                "                 AND d.objid = p.oid AND d.deptype = 'e')"
            )
        ).all()
        tables = set(
            conn.scalars(text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'"))
        )
    names = {name for name, _, _ in definers}
    assert {"tenancy.record_audit_event", "tenancy.record_audit_inserts"} <= names
    for name, config, body in definers:
        path = next((c.split("=", 1)[1] for c in config or () if c.startswith("search_path=")), "")
        schemas = [s.strip() for s in path.split(",")]
        assert schemas[-1:] == ["pg_temp"] and "pg_temp" not in schemas[:-1], (name, path)
        code = re.sub(r"--[^\n]*", "", body)
        unqualified = {t for t in TABLE_NAMED.findall(code) if t in tables}
        assert unqualified == set(), f"{name} names {unqualified} without their schema"
