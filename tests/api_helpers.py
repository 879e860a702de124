"""Helpers shared by the HTTP API tests: superuser writes and reads, response parsing."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from http import HTTPStatus
from typing import Any

import pyotp
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, event, text, update
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from app import clock
from app.domain import assignments, members
from app.extensions import db
from app.models import Credential, Facility, Organization, User
from app.models.enums import Role
from app.tenancy.context import TenantContext, use_context
from tests import factories


def committed_facility(admin_engine: Engine, organization: Organization, **fields: Any) -> Facility:
    """A committed facility of `organization`, written as the superuser."""
    with Session(admin_engine, expire_on_commit=False) as session:
        facility = factories.make_facility(session, organization, **fields)
        session.commit()
    return facility


def committed_provider(
    admin_engine: Engine,
    organization: Organization,
    facility: Facility | None = None,
    *,
    assignment: dict[str, Any] | None = None,
    **fields: Any,
) -> User:
    """A committed provider of `organization`, assigned to `facility` when given."""
    with Session(admin_engine, expire_on_commit=False) as session:
        provider = factories.make_user(session, **fields)
        factories.make_membership(session, provider, organization, Role.PROVIDER)
        if facility is not None:
            factories.make_assignment(session, provider, facility, **(assignment or {}))
        session.commit()
    return provider


def committed_credential(admin_engine: Engine, user: User) -> uuid.UUID:
    """A committed medical license of `user`'s, open to their organizations (superuser)."""
    with Session(admin_engine) as session:
        credential = Credential(
            user_id=user.id,
            owner_organization_ids=members.organizations_of(session, user.id),
            credential_type="medical_license",
            number="ME-12345",
        )
        session.add(credential)
        session.commit()
        return credential.id


def set_office_manager(admin_engine: Engine, facility: Facility, manager: User) -> None:
    """Make `manager` the office manager of `facility`, written as the superuser."""
    with admin_engine.begin() as conn:
        conn.execute(
            text("UPDATE facilities SET office_manager_id = :u WHERE id = :f"),
            {"u": manager.id, "f": facility.id},
        )


def assignment_rows(admin_engine: Engine, user: User) -> list[dict[str, Any]]:
    """Every assignment of `user`, in every tenant, oldest first (superuser read), each
    primary when the user's primary_assignments row points at it (and it is active)."""
    return assignment_rows_of(admin_engine, user.id)


def assignment_rows_of(admin_engine: Engine, user_id: uuid.UUID) -> list[dict[str, Any]]:
    """assignment_rows by the user's id, once every primary_assignments row is checked to
    point at an active assignment."""
    with admin_engine.connect() as conn:
        assert conn.execute(text(assignments.DANGLING_PRIMARIES)).scalar_one() == 0
        rows = conn.execute(
            text(
                "SELECT pf.id, pf.organization_id, pf.facility_id,"
                " pa.user_id IS NOT NULL AS is_primary, pf.status, pf.start_date, pf.end_date"
                " FROM provider_facilities pf LEFT JOIN primary_assignments pa"
                "  ON pa.user_id = pf.user_id AND pa.organization_id = pf.organization_id"
                "  AND pa.facility_id = pf.facility_id AND pf.status = 'active'"
                " WHERE pf.user_id = :u ORDER BY pf.created_at, pf.id"
            ),
            {"u": user_id},
        ).mappings()
        return [dict(r) for r in rows]


def primary_assignment_ids(admin_engine: Engine, user: User) -> list[uuid.UUID]:
    """The ids of `user`'s primary assignments, in every tenant, once every
    primary_assignments row is checked to point at an active assignment."""
    return [r["id"] for r in assignment_rows(admin_engine, user) if r["is_primary"]]


def assignment_id_of(admin_engine: Engine, user: User, facility: Facility) -> uuid.UUID:
    """The id of `user`'s single assignment to `facility`."""
    found: uuid.UUID
    [found] = [
        r["id"] for r in assignment_rows(admin_engine, user) if r["facility_id"] == facility.id
    ]
    return found


PROBLEM_KEYS = {"type", "title", "status", "detail", "instance", "request_id"}


def problem_of(response: TestResponse, status: int) -> dict[str, Any]:
    """The problem (RFC 9457, app/problems.py) `response` answers with `status`: its body,
    once its shape is checked."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json", response.mimetype
    body: dict[str, Any] = response.get_json()
    assert set(body) - {"errors"} == PROBLEM_KEYS, body
    assert body["type"] == "about:blank"
    assert body["title"] == HTTPStatus(status).phrase
    assert body["status"] == status
    assert isinstance(body["detail"], str) and body["detail"], body
    assert body["instance"] == response.request.path
    assert body["request_id"] == response.headers["X-Request-ID"]
    return body


def refusal_of(response: TestResponse) -> tuple[int, dict[str, Any]]:
    """A refusal's status and problem without what is each request's own (its path and
    id): what two refusals compare by."""
    body = problem_of(response, response.status_code)
    return response.status_code, {
        key: value for key, value in body.items() if key not in {"instance", "request_id"}
    }


def validation_errors(response: TestResponse) -> dict[str, Any]:
    """The per-field validation errors of a 422 response body."""
    body = response.get_json()
    assert "errors" in body, body
    fields: dict[str, Any] = body["errors"]["json"]
    return fields


@contextmanager
def recording_statements(app: Flask) -> Iterator[list[tuple[str, Any]]]:
    """The statements `app` sends to the database inside the block, in order, each with
    its parameters."""
    with app.app_context():
        engine = db.engine
    statements: list[tuple[str, Any]] = []

    def record(_conn: object, _cursor: object, statement: str, parameters: Any, *_: object) -> None:
        statements.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


@contextmanager
def counting_statements(app: Flask) -> Iterator[list[str]]:
    """The statements `app` sends to the database inside the block, in order (the list
    is filled when the block ends)."""
    statements: list[str] = []
    with recording_statements(app) as recorded:
        yield statements
    statements.extend(statement for statement, _ in recorded)


def grow_tenant(
    admin_engine: Engine, organization_id: uuid.UUID, facilities: int, providers: int
) -> None:
    """`facilities` facilities and `providers` providers (spread over them), in bulk."""
    with admin_engine.begin() as conn:
        facility_ids = (
            conn.execute(
                text(
                    "INSERT INTO facilities (organization_id, name, facility_type, state)"
                    " SELECT :o, 'Facility ' || n, 'clinic', 'TX' FROM generate_series(1, :n) n"
                    " RETURNING id"
                ),
                {"o": organization_id, "n": facilities},
            )
            .scalars()
            .all()
        )
        user_ids = (
            conn.execute(
                text(
                    "INSERT INTO users (email, name)"
                    " SELECT 'bulk' || n || '-' || :tag || '@example.com', 'Provider ' || n"
                    " FROM generate_series(1, :n) n RETURNING id"
                ),
                {"n": providers, "tag": uuid.uuid4().hex[:8]},
            )
            .scalars()
            .all()
        )
        conn.execute(
            text(
                "INSERT INTO memberships (organization_id, user_id, role)"
                " VALUES (:o, :u, 'provider')"
            ),
            [{"o": organization_id, "u": u} for u in user_ids],
        )
        factories.sync_organization_ids(conn, user_ids)
        conn.execute(
            text(
                "INSERT INTO provider_facilities (organization_id, user_id, facility_id, status)"
                " VALUES (:o, :u, :f, 'active')"
            ),
            [
                {"o": organization_id, "u": u, "f": facility_ids[i % facilities]}
                for i, u in enumerate(user_ids)
            ],
        )


def committed_representative(
    admin_engine: Engine, *organizations: Organization, user: User | None = None
) -> User:
    """A committed MSC representative (a new user, or `user` made one), named as the
    representative of `organizations` (MSC's columns: written in the system context)."""
    with Session(admin_engine, expire_on_commit=False) as session:
        use_context(session, TenantContext.system("test-setup"))
        if user is None:
            user = factories.make_user(session, is_msc_representative=True)
        else:
            session.execute(
                update(User).where(User.id == user.id).values(is_msc_representative=True)
            )
        session.execute(
            update(Organization)
            .where(Organization.id.in_([o.id for o in organizations]))
            .values(msc_representative_id=user.id)
        )
        session.commit()
    return user


def child_organization(admin_engine: Engine, parent: Organization) -> tuple[Organization, User]:
    """A committed child organization of `parent`, with an admin of its own."""
    with Session(admin_engine, expire_on_commit=False) as session:
        child = factories.make_organization(session, parent_organization_id=parent.id)
        admin = factories.make_user(session)
        factories.make_membership(session, admin, child, Role.ORGANIZATION_ADMIN)
        session.commit()
    return child, admin


# When the second factor of `enrol_second_factor` is set up; a sign-in with it comes at a
# later time step (SIGN_IN_AT), as a code is accepted once only.
ENROLLED_AT = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)
SIGN_IN_AT = ENROLLED_AT + dt.timedelta(seconds=30)


def enrol_second_factor(client: FlaskClient, access_token: str) -> str:
    """Turn multi-factor sign-in on for the token's user through the API, confirming at
    ENROLLED_AT; the authenticator's secret."""
    started = client.post(
        "/api/v1/auth/mfa/enrollment",
        json={"password": factories.PASSWORD},
        headers={"Authorization": f"Bearer {access_token}"},
    )
    assert started.status_code == 200, started.get_json()
    secret: str = started.get_json()["secret"]
    with clock.frozen(ENROLLED_AT):
        confirmed = client.post(
            "/api/v1/auth/mfa/enrollment/confirm",
            json={"code": pyotp.TOTP(secret).at(ENROLLED_AT)},
            headers={"Authorization": f"Bearer {access_token}"},
        )
    assert confirmed.status_code == 200, confirmed.get_json()
    return secret
