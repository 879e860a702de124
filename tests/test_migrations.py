"""The migrations go up and down on an empty database, and match the models."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, inspect, text

from app import migrate
from app.database import make_engine
from app.local import DatabaseUrls, drop_database, ensure_database, urls_for
from app.models import Base
from app.tenancy.context import TenantContext, apply
from app.tenancy.roles import ensure_roles
from app.tenancy.signing import enter_ticket

DATABASE = f"msc_migrations_test_{os.getpid()}"


@pytest.fixture
def empty_database(server_admin_url: str) -> Iterator[DatabaseUrls]:
    ensure_database(server_admin_url, DATABASE, recreate=True)
    urls = urls_for(server_admin_url, DATABASE)
    ensure_roles(urls.admin, urls.owner, urls.app)
    ensure_roles(urls.admin, urls.owner, urls.app)  # idempotent: a second run changes nothing
    yield urls
    drop_database(server_admin_url, DATABASE)


def _tables(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return set(inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def test_upgrade_downgrade_upgrade(empty_database: DatabaseUrls) -> None:
    owner = empty_database.owner
    migrate.upgrade(owner)
    assert {"organizations", "facilities", "audit_events"} <= _tables(owner)
    migrate.downgrade(owner, "base")
    assert _tables(owner) == set()
    engine = make_engine(owner)
    with engine.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM pg_namespace WHERE nspname = 'tenancy'")) == 0
    engine.dispose()
    migrate.upgrade(owner)
    assert {"organizations", "facilities", "audit_events"} <= _tables(owner)


def _parent_child_and_admin(admin_url: str) -> tuple[uuid.UUID, uuid.UUID, uuid.UUID]:
    """An organization with a child, and its admin (written as the superuser)."""
    engine = make_engine(admin_url)
    with engine.begin() as conn:
        insert = text(
            "INSERT INTO organizations (name, organization_type, parent_organization_id)"
            " VALUES (:name, 'group_practice', :parent) RETURNING id"
        )
        parent = conn.scalar(insert, {"name": "Parent", "parent": None})
        child = conn.scalar(insert, {"name": "Child", "parent": parent})
        admin = conn.scalar(
            text("INSERT INTO users (email, name) VALUES ('admin@example.com', 'A') RETURNING id")
        )
        conn.execute(
            text(
                "INSERT INTO memberships (user_id, organization_id, role)"
                " VALUES (:u, :o, 'organization_admin')"
            ),
            {"u": admin, "o": parent},
        )
    engine.dispose()
    return parent, child, admin


def _resolved(app_url: str, user_id: uuid.UUID, organization_id: uuid.UUID) -> object:
    """The role and scope a request of the user's would act in, as tenancy.enter resolves
    them at every revision (what else it returns grows with the revisions)."""
    engine = make_engine(app_url)
    try:
        with engine.begin() as conn:
            # since 0023 it asks for the service's ticket
            signed = conn.scalar(
                text("SELECT to_regprocedure('tenancy.enter(uuid, uuid, text, text[], text)')")
            )
            ticket = ", :ticket" if signed else ""
            row = conn.execute(
                text(
                    "SELECT role, organization_ids"
                    f" FROM tenancy.enter(:u, :o, NULL, ARRAY[]::text[]{ticket})"
                ),
                {
                    "u": user_id,
                    "o": organization_id,
                    "ticket": enter_ticket(user_id, organization_id, None, ()),
                },
            ).one_or_none()
            return None if row is None else (row.role, tuple(row.organization_ids))
    finally:
        engine.dispose()


def test_steps_down_from_head_requests_still_resolve_their_context(
    empty_database: DatabaseUrls,
) -> None:
    """Below head the policies are not applied again (they describe head): what a
    revision added to them must go with it, and what it changed come back as it was, for
    the previous revision's service to run on. Every request of it begins in tenancy.enter.
    Down to 0014: through every revision since, among them 0023 (the signed context),
    0021 (distribution keys), 0020
    (the tenant tables' reach in the context), 0019 (onboarding and members' organizations
    kept by the domain), 0018 (the primary facility's own table), 0017
    (Citus reference tables, nothing on plain PostgreSQL), 0016 (policies without
    subqueries, whose predicates the policies left in place still call) and 0015 (MSC
    representatives)."""
    urls = empty_database
    migrate.upgrade(urls.owner)
    parent, child, admin = _parent_child_and_admin(urls.admin)
    expected = ("organization_admin", (parent, child))
    assert _resolved(urls.app, admin, parent) == expected
    steps = ScriptDirectory.from_config(migrate.alembic_config(urls.owner)).walk_revisions(
        base="0015", head="heads"
    )
    for _ in list(steps):
        migrate.downgrade(urls.owner, "-1")
        assert _resolved(urls.app, admin, parent) == expected
    engine = make_engine(urls.owner)
    with engine.connect() as conn:
        # nothing left behind that names what the step took away
        assert (
            conn.scalar(
                text(
                    "SELECT count(*) FROM pg_policies WHERE permissive = 'RESTRICTIVE'"
                    " OR qual LIKE '%represented_organization_ids%'"
                )
            )
            == 0
        )
        assert (
            conn.scalar(
                text(
                    "SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace"
                    " WHERE n.nspname = 'tenancy' AND (p.proname LIKE '%represent%'"
                    " OR p.proname IN ('may_write_tenant_data', 'working_facility_ids', 'ids'))"
                )
            )
            == 0
        )
    assert "is_msc_representative" not in {c["name"] for c in inspect(engine).get_columns("users")}
    engine.dispose()
    migrate.upgrade(urls.owner)
    assert _resolved(urls.app, admin, parent) == expected


def test_models_match_the_migrations(database_urls: DatabaseUrls) -> None:
    engine = make_engine(database_urls.owner)
    with engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    engine.dispose()
    assert differences == []


def _clinic_with_two_facilities(conn: Connection) -> tuple[uuid.UUID, uuid.UUID, uuid.UUID]:
    """A clinic, and its facilities Main and Annex (their ids, in that order)."""
    organization = conn.scalar(
        text(
            "INSERT INTO organizations (name, organization_type)"
            " VALUES ('Clinic', 'group_practice') RETURNING id"
        )
    )
    main, annex = (
        conn.scalar(
            text(
                "INSERT INTO facilities (organization_id, name, facility_type, state)"
                " VALUES (:o, :n, 'clinic', 'TX') RETURNING id"
            ),
            {"o": organization, "n": name},
        )
        for name in ("Main", "Annex")
    )
    return organization, main, annex


def test_0018_moves_the_primary_flags_into_their_table_and_back(
    empty_database: DatabaseUrls,
) -> None:
    """A database at 0017 as a deployment has it (its policies applied, so the owner
    reads provider_facilities only through them): 0018 fills primary_assignments from
    the flags and drops the index the rule was; the downgrade builds it again."""
    urls = empty_database
    migrate.upgrade(urls.owner)
    migrate.downgrade(urls.owner, "0017")
    engine = make_engine(urls.admin)
    with engine.begin() as conn:
        organization, main, annex = _clinic_with_two_facilities(conn)
        primary_at = {}
        for email, primary in (("one@example.com", main), ("two@example.com", None)):
            user = conn.scalar(
                text("INSERT INTO users (email, name) VALUES (:e, 'P') RETURNING id"), {"e": email}
            )
            conn.execute(
                text(
                    "INSERT INTO memberships (user_id, organization_id, role)"
                    " VALUES (:u, :o, 'provider')"
                ),
                {"u": user, "o": organization},
            )
            for facility in (main, annex):
                conn.execute(
                    text(
                        "INSERT INTO provider_facilities"
                        " (organization_id, user_id, facility_id, is_primary, status)"
                        " VALUES (:o, :u, :f, :p, 'active')"
                    ),
                    {"o": organization, "u": user, "f": facility, "p": facility == primary},
                )
            primary_at[user] = primary

    def primary_index() -> bool:
        with engine.connect() as conn:
            return bool(
                conn.scalar(
                    text("SELECT to_regclass('uq_provider_facilities_primary') IS NOT NULL")
                )
            )

    assert primary_index()
    migrate.upgrade(urls.owner)
    assert not primary_index()
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT user_id, organization_id, facility_id FROM primary_assignments")
        ).all()
    [(user, at)] = [(user, at) for user, at in primary_at.items() if at is not None]
    assert [tuple(row) for row in rows] == [(user, organization, at)]
    migrate.downgrade(urls.owner, "0017")
    assert primary_index()
    assert "primary_assignments" not in _tables(urls.owner)
    engine.dispose()


def test_0027_reads_the_primary_from_its_row_and_the_downgrade_writes_the_flags_back(
    empty_database: DatabaseUrls,
) -> None:
    """At head an assignment is primary by the provider's primary_assignments row alone:
    provider_facilities has no flag. Down to 0026 the flag comes back, true on the active
    assignment the row points at and on no other (an ended one at the same facility
    included); up again, it goes."""
    urls = empty_database
    migrate.upgrade(urls.owner)
    engine = make_engine(urls.admin)

    def columns() -> set[str]:
        with engine.connect() as conn:
            return {c["name"] for c in inspect(conn).get_columns("provider_facilities")}

    assert "is_primary" not in columns()
    with engine.begin() as conn:
        organization, main, annex = _clinic_with_two_facilities(conn)
        user = conn.scalar(
            text("INSERT INTO users (email, name) VALUES ('p@example.com', 'P') RETURNING id")
        )
        conn.execute(
            text(
                "INSERT INTO memberships (user_id, organization_id, role)"
                " VALUES (:u, :o, 'provider')"
            ),
            {"u": user, "o": organization},
        )
        assignments = {
            name: conn.scalar(
                text(
                    "INSERT INTO provider_facilities"
                    " (organization_id, user_id, facility_id, status, start_date, end_date)"
                    " VALUES (:o, :u, :f, :s, '2026-01-01', :e) RETURNING id"
                ),
                {"o": organization, "u": user, "f": facility, "s": status, "e": end},
            )
            for name, facility, status, end in (
                ("ended at main", main, "inactive", "2026-02-01"),
                ("main", main, "active", None),
                ("annex", annex, "active", None),
            )
        }
        conn.execute(
            text(
                "INSERT INTO primary_assignments (user_id, organization_id, facility_id)"
                " VALUES (:u, :o, :f)"
            ),
            {"u": user, "o": organization, "f": main},
        )
    migrate.downgrade(urls.owner, "0026")
    with engine.connect() as conn:
        flags = dict(conn.execute(text("SELECT id, is_primary FROM provider_facilities")).all())
    assert flags == {
        assignments["ended at main"]: False,
        assignments["main"]: True,
        assignments["annex"]: False,
    }
    migrate.upgrade(urls.owner)
    assert "is_primary" not in columns()
    engine.dispose()


def test_0022_copies_the_owners_organizations_onto_what_they_own(
    empty_database: DatabaseUrls,
) -> None:
    """A database at 0021 as a deployment has it (policies applied, so the owner reads
    every table through them): 0022 copies each owner's organizations onto their
    credentials and documents, and none onto an organization's documents."""
    urls = empty_database
    migrate.upgrade(urls.owner)
    migrate.downgrade(urls.owner, "0021")
    engine = make_engine(urls.admin)
    with engine.begin() as conn:
        conn.execute(text("SELECT set_config('tenancy.is_msc_admin', 'true', true)"))
        organization = conn.scalar(
            text(
                "INSERT INTO organizations (name, organization_type)"
                " VALUES ('Clinic', 'group_practice') RETURNING id"
            )
        )
        user = conn.scalar(
            text("INSERT INTO users (email, name) VALUES ('p@example.com', 'P') RETURNING id")
        )
        conn.execute(
            text(
                "INSERT INTO memberships (user_id, organization_id, role)"
                " VALUES (:u, :o, 'provider')"
            ),
            {"u": user, "o": organization},
        )
        conn.execute(
            text("UPDATE users SET organization_ids = ARRAY[CAST(:o AS uuid)] WHERE id = :u"),
            {"u": user, "o": organization},
        )
        conn.execute(
            text(
                "INSERT INTO credentials (user_id, credential_type) VALUES (:u, 'medical_license')"
            ),
            {"u": user},
        )
        for owner in ("user_id", "organization_id"):
            conn.execute(
                text(
                    f"INSERT INTO documents ({owner}, document_type, filename, content_type,"
                    " size_bytes, sha256, storage_key)"
                    " VALUES (:id, 'tax_form', 'f.pdf', 'application/pdf', 1, repeat('a', 64), 'k')"
                ),
                {"id": user if owner == "user_id" else organization},
            )
    migrate.upgrade(urls.owner)
    with engine.connect() as conn:
        copies = conn.execute(
            text(
                "SELECT 'credential', owner_organization_ids FROM credentials UNION ALL"
                " SELECT CASE WHEN user_id IS NULL THEN 'organization' ELSE 'provider' END,"
                "        owner_organization_ids FROM documents ORDER BY 1"
            )
        ).all()
    engine.dispose()
    assert [tuple(row) for row in copies] == [
        ("credential", [organization]),
        ("organization", []),
        ("provider", [organization]),
    ]


def test_0025_keeps_the_accesses_in_the_trail_down_and_up_again(
    empty_database: DatabaseUrls,
) -> None:
    """A downgrade never cuts the trail short: an access event stays, its purpose kept in
    `changes`, and the upgrade gives it its purpose back."""
    urls = empty_database
    migrate.upgrade(urls.owner)
    admin, app = make_engine(urls.admin), make_engine(urls.app)
    with admin.begin() as conn:
        organization = conn.scalar(
            text(
                "INSERT INTO organizations (name, organization_type)"
                " VALUES ('Clinic', 'group_practice') RETURNING id"
            )
        )
    with app.begin() as conn:
        apply(conn, TenantContext(is_msc_admin=True, request_id="req-kept"))
        conn.execute(
            text("INSERT INTO access_records VALUES (:o, 'organizations', :o, 'fhir_export')"),
            {"o": organization},
        )
    app.dispose()

    def access() -> tuple[object, ...]:
        with admin.connect() as conn:
            row = conn.execute(
                text("SELECT * FROM audit_events WHERE request_id = 'req-kept'")
            ).one()
        event = row._mapping
        return event["action"], event.get("purpose"), event["changes"]

    migrate.downgrade(urls.owner, "0025-1")
    assert access() == ("access", None, {"purpose": "fhir_export"})
    migrate.upgrade(urls.owner)
    assert access() == ("access", "fhir_export", {})
    admin.dispose()


# The revision before the verification decisions moved into their table.
BEFORE_DECISIONS = "0027"


def test_0028_files_each_decision_under_its_organization_and_back(
    empty_database: DatabaseUrls,
) -> None:
    """A rejection whose change the trail recorded under B, and a verification by A's
    admin the trail knows nothing of: each becomes its organization's decision, each
    credential's history starts with it (in UTC text), and the downgrade puts the
    decider and the reason back on the credential."""
    urls = empty_database
    migrate.upgrade(urls.owner)
    migrate.downgrade(urls.owner, BEFORE_DECISIONS)
    engine = make_engine(urls.admin)
    decided = "2026-11-02 23:59:59.5+00"
    with engine.begin() as conn:
        apply(conn, TenantContext(is_msc_admin=True, request_id="req-0028"))

        def returning(sql: str, **values: object) -> uuid.UUID:
            found = conn.scalar(text(sql + " RETURNING id"), values)
            assert isinstance(found, uuid.UUID)
            return found

        a, b = (
            returning(
                "INSERT INTO organizations (name, organization_type) VALUES (:n, 'group_practice')",
                n=name,
            )
            for name in ("A", "B")
        )
        provider = returning("INSERT INTO users (email, name) VALUES ('p@example.com', 'P')")
        admin = returning("INSERT INTO users (email, name) VALUES ('a@example.com', 'Ann')")
        for user, organization, role in (
            (provider, a, "provider"),
            (provider, b, "provider"),
            (admin, a, "organization_admin"),
        ):
            conn.execute(
                text(
                    "INSERT INTO memberships (user_id, organization_id, role) VALUES (:u, :o, :r)"
                ),
                {"u": user, "o": organization, "r": role},
            )
        conn.execute(
            text(
                "UPDATE users SET organization_ids = ARRAY[CAST(:a AS uuid), CAST(:b AS uuid)]"
                " WHERE id = :u"
            ),
            {"u": provider, "a": a, "b": b},
        )
        rejected, verified = (
            returning(
                "INSERT INTO credentials (user_id, owner_organization_ids, credential_type,"
                " verification_status, verified_by_id, verified_at, rejection_reason)"
                " VALUES (:u, ARRAY[CAST(:a AS uuid), CAST(:b AS uuid)], 'medical_license',"
                " :s, :by, CAST(:at AS timestamptz), :reason)",
                u=provider,
                a=a,
                b=b,
                s=status,
                by=admin,
                at=decided,
                reason=reason,
            )
            for status, reason in (("rejected", "not in the board's list"), ("verified", None))
        )
        conn.execute(
            text(
                "INSERT INTO audit_events (organization_id, action, table_name, row_id, changes)"
                " VALUES (:b, 'update', 'credentials', :c,"
                " jsonb_build_object('verified_at', jsonb_build_object('new', CAST(:at AS text))))"
            ),
            {"b": b, "c": rejected, "at": "2026-11-02T23:59:59.5+00:00"},
        )
    migrate.upgrade(urls.owner)
    with engine.connect() as conn:
        decisions = conn.execute(
            text(
                "SELECT credential_id, organization_id, verification_status, rejection_reason,"
                " verified_by_id FROM credential_verifications ORDER BY verification_status"
            )
        ).all()
        histories: dict[uuid.UUID, list[dict[str, str]]] = dict(
            conn.execute(text("SELECT id, verification_history FROM credentials")).all()
        )
    assert [tuple(row) for row in decisions] == [
        (rejected, b, "rejected", "not in the board's list", admin),
        (verified, a, "verified", None, admin),
    ]
    assert histories == {
        rejected: [
            {"verification_status": "rejected", "changed_at": "2026-11-02T23:59:59.500000Z"}
        ],
        verified: [
            {"verification_status": "verified", "changed_at": "2026-11-02T23:59:59.500000Z"}
        ],
    }
    migrate.downgrade(urls.owner, BEFORE_DECISIONS)
    with engine.connect() as conn:
        restored = conn.execute(
            text(
                "SELECT id, verified_by_id, rejection_reason FROM credentials ORDER BY"
                " verification_status"
            )
        ).all()
    engine.dispose()
    assert [tuple(row) for row in restored] == [
        (rejected, admin, "not in the board's list"),
        (verified, admin, None),
    ]
