"""The tenant context the database can verify: code that runs SQL as the application role
without the context key (an injected statement, a leaked database password) sees no
tenant's rows, writes none, and cannot choose the actor the audit trail records.

Every test here connects as the application role itself, as such code would.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import replace

import pytest
from flask import Flask
from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

from app import migrate
from app.config import Settings
from app.database import make_engine
from app.local import DatabaseUrls
from app.tenancy import signing
from app.tenancy.context import (
    ADOPT,
    FIELD_NAMES,
    ContextKeyMismatch,
    TenantContext,
    apply,
    check_context_key,
    signed_context,
    verify_context_key,
)
from app.tenancy.policies import is_citus
from app.tenancy.signing import ContextKey, enter_ticket
from tests.conftest import TwoTenants

INSUFFICIENT_PRIVILEGE = "42501"
OBJECT_NOT_IN_PREREQUISITE_STATE = "55000"
FEATURE_NOT_SUPPORTED = "0A000"
MSC_REACH = TenantContext(is_msc_admin=True, request_id="forged")


# Public reference data under row-level security, readable by anyone (its policy says
# `true`): no tenant's rows.
PUBLIC_TABLES = {"us_states"}


def _tenant_tables(connection: Connection) -> list[tuple[str, str]]:
    """Each table under row-level security but the public ones, with its first column."""
    rows = connection.execute(
        text(
            "SELECT c.relname, a.attname FROM pg_class c"
            " JOIN pg_namespace n ON n.oid = c.relnamespace"
            " JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = 1"
            " WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND c.relrowsecurity"
            " ORDER BY c.relname"
        )
    )
    return [(table, column) for table, column in rows if table not in PUBLIC_TABLES]


def _forge_plain_settings(connection: Connection) -> None:
    """Every field as a setting of its own, as the context once was, MSC reach included:
    with set_config, and with SET LOCAL (which a Citus cluster passes on to its workers)."""
    values = replace(MSC_REACH, user_id=uuid.uuid4()).settings()
    for name, value in values.items():
        connection.execute(
            text("SELECT set_config(:name, :value, true)"),
            {"name": f"tenancy.{name}", "value": value},
        )
    connection.exec_driver_sql("SET LOCAL citus.propagate_set_commands = 'local'")
    connection.exec_driver_sql("SET LOCAL tenancy.is_msc_admin = 'true'")


def _forge_unsigned(connection: Connection) -> None:
    """The context's own setting, with MSC reach and no signature."""
    payload = signing.payload(MSC_REACH.settings().values())
    connection.exec_driver_sql(ADOPT, ("0" * signing.SIGNATURE_LENGTH + payload,))


def _forge_with_another_key(connection: Connection) -> None:
    payload = signing.payload(MSC_REACH.settings().values())
    forged = ContextKey("a key that is not the service's, as long as any").sign(payload)
    connection.exec_driver_sql(ADOPT, (forged + payload,))


def _forge_from_a_real_one(seeded: TwoTenants) -> str:
    """Tenant A's admin's real, signed context with MSC reach written into it."""
    real = signed_context(seeded.a.context())
    signature, payload = real[: signing.SIGNATURE_LENGTH], real[signing.SIGNATURE_LENGTH :]
    fields = payload.split(signing.FIELD_SEPARATOR)
    fields[FIELD_NAMES.index("is_msc_admin")] = "true"
    return signature + signing.FIELD_SEPARATOR.join(fields)


@pytest.fixture
def app_connection(app_engine: Engine) -> Iterator[Connection]:
    """An application-role connection, rolled back after (ask for it after `seeded`, so it
    ends first and holds no lock that seeded's clean-up waits for)."""
    with app_engine.connect() as connection:
        yield connection
        connection.rollback()


@pytest.mark.parametrize(
    "forge", ["plain settings", "unsigned", "another key", "altered after signing"]
)
def test_a_context_the_application_role_makes_itself_reaches_no_row(
    seeded: TwoTenants, app_connection: Connection, forge: str
) -> None:
    connection = app_connection
    tables = _tenant_tables(connection)
    assert {"organizations", "users", "credentials", "audit_events"} <= {t for t, _ in tables}
    # the service's own context for tenant A reads A's rows: what is forged below is
    # measured against a context that does reach rows
    apply(connection, seeded.a.context())
    assert connection.scalar(text("SELECT count(*) FROM organizations")) == 1
    connection.rollback()

    if forge == "plain settings":
        _forge_plain_settings(connection)
    elif forge == "unsigned":
        _forge_unsigned(connection)
    elif forge == "another key":
        _forge_with_another_key(connection)
    else:
        connection.exec_driver_sql(ADOPT, (_forge_from_a_real_one(seeded),))
    assert connection.scalar(text("SELECT tenancy.is_msc_admin()")) is False
    for table, column in tables:
        savepoint = connection.begin_nested()
        try:
            assert connection.scalar(text(f"SELECT count(*) FROM {table}")) == 0, table
        except DBAPIError as refused:  # a table the role may not read at all
            assert refused.orig is not None
            assert refused.orig.sqlstate == INSUFFICIENT_PRIVILEGE, table
        finally:
            savepoint.rollback()
        for change in (
            f"UPDATE {table} SET {column} = {column}",
            f"DELETE FROM {table}",
        ):
            savepoint = connection.begin_nested()
            try:
                assert connection.execute(text(change)).rowcount == 0, change
            except DBAPIError as refused:
                assert refused.orig is not None
                assert refused.orig.sqlstate == INSUFFICIENT_PRIVILEGE, change
            finally:
                savepoint.rollback()
    for insert in (
        "INSERT INTO organizations (name, organization_type) VALUES ('Forged', 'individual')",
        "INSERT INTO users (email, name, is_msc_admin) VALUES ('f@example.com', 'F', true)",
    ):
        savepoint = connection.begin_nested()
        with pytest.raises(DBAPIError) as refused:
            connection.execute(text(insert))
        savepoint.rollback()
        assert refused.value.orig is not None
        assert refused.value.orig.sqlstate == INSUFFICIENT_PRIVILEGE


def test_the_held_digest_admits_only_the_context_it_was_made_for(
    seeded: TwoTenants, app_connection: Connection
) -> None:
    """Once the service's context is current (its digest held for the session), a context
    the role sets beside it, directly with set_config, has its signature checked as any
    other: an altered one is no context; the service's own, set again, still reads."""
    connection = app_connection
    real = signed_context(seeded.a.context())
    apply(connection, seeded.a.context())
    assert connection.scalar(text("SELECT count(*) FROM organizations")) == 1
    set_context = text("SELECT set_config('tenancy.context', :context, true)")
    connection.execute(set_context, {"context": _forge_from_a_real_one(seeded)})
    assert connection.scalar(text("SELECT tenancy.is_msc_admin()")) is False
    assert connection.scalar(text("SELECT count(*) FROM organizations")) == 0
    assert connection.scalar(text("SELECT count(*) FROM users")) == 0
    connection.execute(set_context, {"context": real})
    assert connection.scalar(text("SELECT count(*) FROM organizations")) == 1


def test_a_read_only_transaction_takes_the_context(
    seeded: TwoTenants, app_connection: Connection
) -> None:
    """A read-only transaction (or a standby) sets no sequence: the context is applied all
    the same, and its readers check its signature."""
    connection = app_connection
    connection.exec_driver_sql("SET TRANSACTION READ ONLY")
    apply(connection, seeded.a.context())
    assert connection.scalar(text("SELECT count(*) FROM organizations")) == 1
    connection.execute(
        text("SELECT set_config('tenancy.context', :context, true)"),
        {"context": _forge_from_a_real_one(seeded)},
    )
    assert connection.scalar(text("SELECT count(*) FROM organizations")) == 0


@pytest.mark.parametrize(
    "statement",
    [
        "SELECT setval('tenancy.held_context_digest_1', 1)",
        "SELECT nextval('tenancy.held_context_digest_2')",
        "SELECT tenancy.make_current('anything', true)",
    ],
)
def test_the_role_holds_no_digest_of_its_own(app_connection: Connection, statement: str) -> None:
    with pytest.raises(DBAPIError) as refused:
        app_connection.execute(text(statement))
    assert refused.value.orig is not None
    assert refused.value.orig.sqlstate == INSUFFICIENT_PRIVILEGE


def test_the_held_flag_set_by_the_role_opens_nothing(
    seeded: TwoTenants, database_urls: DatabaseUrls
) -> None:
    """`tenancy.context_held`, set by the role itself with a made-up context: in a session
    that never held a digest, the check fails with an error; in one that did, the digest
    is not the made-up context's, and it is no context."""
    forged = _forge_from_a_real_one(seeded)
    engine = make_engine(database_urls.app, poolclass=NullPool)
    try:
        for held_before in (False, True):
            with engine.connect() as connection:
                if held_before:
                    apply(connection, seeded.a.context())
                    connection.commit()
                for name, value in (("tenancy.context_held", "on"), ("tenancy.context", forged)):
                    connection.execute(
                        text("SELECT set_config(:name, :value, true)"),
                        {"name": name, "value": value},
                    )
                if held_before:
                    assert connection.scalar(text("SELECT count(*) FROM organizations")) == 0
                else:
                    with pytest.raises(DBAPIError) as refused:
                        connection.execute(text("SELECT count(*) FROM organizations"))
                    assert refused.value.orig is not None
                    assert refused.value.orig.sqlstate == OBJECT_NOT_IN_PREREQUISITE_STATE
                connection.rollback()
    finally:
        engine.dispose()


def test_a_parallel_plan_reads_the_context_in_the_leader(
    seeded: TwoTenants, app_connection: Connection
) -> None:
    """A parallel worker has the transaction's settings but not the session's held digest:
    the context's readers are never run there. (Forced into a worker, as this setting
    forces every query it may, a reader would fail there.)"""
    connection = app_connection
    if is_citus(connection):
        # the query runs on a worker holding the table, whose session holds no digest
        pytest.skip("a Citus cluster plans the query on its workers")
    apply(connection, seeded.a.context())
    forcing = connection.scalar(
        text(
            "SELECT name FROM pg_settings"
            " WHERE name IN ('debug_parallel_query', 'force_parallel_mode')"
        )
    )
    connection.execute(text("SELECT set_config(:name, 'on', true)"), {"name": forcing})
    states = "SELECT count(*) FROM us_states WHERE code <> ''"
    assert "Gather" in "\n".join(connection.scalars(text(f"EXPLAIN {states}")))
    reading = f"{states} AND tenancy.user_id()::text <> code"
    assert connection.scalar(text(reading)) == connection.scalar(text(states))


def test_the_audit_trail_names_no_actor_of_the_writers_choosing(
    app_engine: Engine, admin_engine: Engine, seeded: TwoTenants
) -> None:
    """A statement that passes the policies in its real context and replaces the context
    on the way (to have the trail name someone else, or no one) fails whole."""
    victim = seeded.b.admin
    real = signed_context(seeded.a.context())
    signature, payload = real[: signing.SIGNATURE_LENGTH], real[signing.SIGNATURE_LENGTH :]
    as_victim = signature + payload.replace(str(seeded.a.admin.id), str(victim.id))
    facility = seeded.a.facility.id
    for replacement in (as_victim, ""):
        with app_engine.connect() as connection:
            apply(connection, seeded.a.context())
            try:
                connection.execute(
                    text(
                        "UPDATE facilities SET name = 'Renamed' WHERE id = :id"
                        " AND set_config('tenancy.context', :replacement, true) IS NOT NULL"
                    ),
                    {"id": facility, "replacement": replacement},
                )
                connection.commit()
            except DBAPIError as refused:
                connection.rollback()
                assert refused.orig is not None
                # a Citus cluster refuses the statement before it runs: a volatile function
                # in the WHERE clause of a change to a distributed table
                assert refused.orig.sqlstate in (INSUFFICIENT_PRIVILEGE, FEATURE_NOT_SUPPORTED)
    with admin_engine.connect() as connection:
        actors = connection.execute(
            text(
                "SELECT actor_user_id FROM audit_events"
                " WHERE table_name = 'facilities' AND row_id = :id AND action = 'update'"
            ),
            {"id": facility},
        ).scalars()
        # nothing, or (should a statement get through) the real actor
        assert set(actors) <= {seeded.a.admin.id}


def test_tenancy_enter_resolves_only_for_the_service(
    seeded: TwoTenants, app_connection: Connection
) -> None:
    user, organization = seeded.a.admin.id, seeded.a.organization.id
    enter = text("SELECT role FROM tenancy.enter(:user_id, :organization_id, NULL, '{}', :ticket)")
    arguments = {"user_id": user, "organization_id": organization}
    real = enter_ticket(user, organization, None, ())
    assert connection_role(app_connection, enter, {**arguments, "ticket": real}) == (
        "organization_admin"
    )
    app_connection.rollback()
    # another user's ticket, or a made-up one, resolves nothing
    for ticket in (enter_ticket(seeded.b.admin.id, organization, None, ()), "0" * 64):
        savepoint = app_connection.begin_nested()
        with pytest.raises(DBAPIError) as refused:
            app_connection.execute(enter, {**arguments, "ticket": ticket})
        savepoint.rollback()
        assert refused.value.orig is not None
        assert refused.value.orig.sqlstate == INSUFFICIENT_PRIVILEGE


def connection_role(connection: Connection, enter: object, arguments: dict[str, object]) -> str:
    return str(connection.execute(enter, arguments).scalar_one())  # type: ignore[call-overload]


@pytest.mark.parametrize(
    "statement",
    [
        "SELECT * FROM tenancy.context_key",
        "SELECT tenancy.signature('anything')",
        # without the service's ticket for a request, no context is signed
        "SELECT tenancy.put('{}', repeat('0', 64), gen_random_uuid(), NULL, NULL, '{}')",
    ],
)
def test_the_key_is_the_owners_and_signs_only_the_services_requests(
    app_connection: Connection, statement: str
) -> None:
    with pytest.raises(DBAPIError) as refused:
        app_connection.execute(text(statement))
    assert refused.value.orig is not None
    assert refused.value.orig.sqlstate == INSUFFICIENT_PRIVILEGE


def test_other_sessions_see_no_context_to_replay(app_engine: Engine, seeded: TwoTenants) -> None:
    """What pg_stat_activity shows other sessions of the role of a transaction that took
    MSC reach holds neither its signature nor its fields."""
    system = TenantContext.system("job:replay-me")
    with app_engine.connect() as holder, app_engine.connect() as onlooker:
        apply(holder, system)
        pid = holder.scalar(text("SELECT pg_backend_pid()"))
        shown = onlooker.scalar(
            text("SELECT query FROM pg_stat_activity WHERE pid = :pid"), {"pid": pid}
        )
        holder.rollback()
    assert shown is not None
    assert signed_context(system)[: signing.SIGNATURE_LENGTH] not in shown
    assert "job:replay-me" not in shown


def test_the_service_and_the_database_agree_on_the_fields(app_connection: Connection) -> None:
    names = app_connection.scalar(text("SELECT tenancy.field_names()"))
    assert tuple(names) == FIELD_NAMES


def test_a_process_with_another_key_is_refused(
    app_connection: Connection, settings: Settings, app: Flask
) -> None:
    verify_context_key(app_connection)
    signing.use_key("another key than the one the migrations wrote, long enough")
    try:
        with pytest.raises(ContextKeyMismatch):
            verify_context_key(app_connection)
        ready = app.test_client().get("/readyz")
        assert ready.status_code == 503
        assert ready.get_json()["checks"]["database"] == "another context key"
    finally:
        signing.use_key(settings.tenant_context_key)
    assert app.test_client().get("/readyz").status_code == 200


def test_the_key_changes_by_migrating_again(
    database_urls: DatabaseUrls,
    app_engine: Engine,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A new key: the processes given it say the database holds another (they still start:
    the migrations that write it start one too), and once the migrations ran with it, the
    database takes their contexts, and no longer the old key's."""
    new_key = "the region's next context key, random and long enough"
    old_context = signed_context(TenantContext(request_id="old-key"))
    monkeypatch.setenv("TENANT_CONTEXT_KEY", new_key)
    signing.use_key(new_key)
    try:
        check_context_key(app_engine)
        assert "another key" in caplog.text
        migrate.upgrade(database_urls.owner)
        with app_engine.connect() as connection:
            verify_context_key(connection)
            connection.exec_driver_sql(ADOPT, (old_context,))
            assert connection.scalar(text("SELECT tenancy.fields()")) is None
            connection.rollback()
    finally:
        monkeypatch.setenv("TENANT_CONTEXT_KEY", settings.tenant_context_key)
        signing.use_key(settings.tenant_context_key)
        migrate.upgrade(database_urls.owner)
    with app_engine.connect() as connection:
        verify_context_key(connection)
        connection.rollback()
