"""The tenant context is transaction-local: a pooled connection carries nothing from one
request into the next."""

from __future__ import annotations

from dataclasses import replace

import pytest
from sqlalchemy import Engine, text

from app.config import Settings
from app.extensions import db
from app.factory import create_app
from app.tenancy.context import TenantContext, apply
from tests.conftest import TwoTenants, bearer, token_for

REQUESTS = 1000
READ_CONTEXT = text(
    "SELECT pg_backend_pid(), coalesce(current_setting('tenancy.context', true), '')"
)


@pytest.mark.slow  # a thousand requests
def test_one_connection_alternating_tenants_never_leaks(
    settings: Settings, seeded: TwoTenants
) -> None:
    app = create_app(replace(settings, database_pool_size=1))
    client = app.test_client()
    tenants = [
        (bearer(token_for(client, seeded.a.admin)), str(seeded.a.organization.id)),
        (bearer(token_for(client, seeded.b.admin)), str(seeded.b.organization.id)),
    ]
    backend_pids = set()
    for i in range(REQUESTS):
        headers, own_id = tenants[i % 2]
        response = client.get("/api/v1/admin/organizations", headers=headers)
        assert response.status_code == 200
        assert [o["id"] for o in response.get_json()] == [own_id], f"request {i}"
        with app.app_context(), db.engine.connect() as conn:
            pid, left = conn.execute(READ_CONTEXT).one()
            conn.rollback()
        backend_pids.add(pid)
        assert left == "", f"context left after request {i}: {left!r}"
    assert len(backend_pids) == 1, "the pool was meant to hold exactly one connection"


def test_a_failed_request_leaves_nothing_behind(settings: Settings, seeded: TwoTenants) -> None:
    app = create_app(replace(settings, database_pool_size=1))
    client = app.test_client()
    token = token_for(client, seeded.a.admin)
    refused = client.put(
        f"/api/v1/admin/organizations/{seeded.a.organization.id}",
        json={"status": "active"},
        headers=bearer(token),
    )
    assert refused.status_code == 403
    with app.app_context(), db.engine.connect() as conn:
        _pid, left = conn.execute(READ_CONTEXT).one()
    assert left == ""


@pytest.mark.parametrize(
    "email",
    [
        "a@example.com'; SET LOCAL tenancy.is_msc_admin = 'true'; --",
        "back\\slash'quote\"@example.com",
        "ünïcødé@例え.jp",
        "per%cent%%and%(named)s@example.com",
    ],
)
def test_context_values_travel_exactly(app_engine: Engine, email: str) -> None:
    """The context goes in as a bind parameter and tenancy.adopt quotes it into its SET
    LOCAL as a literal: a value (a login email is whatever was typed) sets its own field,
    exactly, and nothing else."""
    with app_engine.connect() as conn:
        apply(conn, TenantContext(login_email=email, request_id="req-literal"))
        fields = conn.execute(
            text(
                "SELECT tenancy.field(f, 'login_email'), tenancy.field(f, 'is_msc_admin'),"
                " tenancy.field(f, 'request_id') FROM tenancy.fields() AS f"
            )
        ).one()
        conn.rollback()
    assert tuple(fields) == (email, None, "req-literal")
