"""Tenant settings are transaction-local: a pooled connection carries nothing from one
request into the next."""

from __future__ import annotations

from dataclasses import replace

import pytest
from sqlalchemy import text

from app.config import Settings
from app.extensions import db
from app.factory import create_app
from app.tenancy.context import SETTING_NAMES
from tests.conftest import TwoTenants, bearer, token_for

REQUESTS = 1000
READ_SETTINGS = text(
    "SELECT pg_backend_pid(), "
    + ", ".join(f"coalesce(current_setting('{name}', true), '')" for name in SETTING_NAMES)
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
            pid, *values = conn.execute(READ_SETTINGS).one()
            conn.rollback()
        backend_pids.add(pid)
        assert values == [""] * len(SETTING_NAMES), f"settings left after request {i}: {values}"
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
        _pid, *values = conn.execute(READ_SETTINGS).one()
    assert values == [""] * len(SETTING_NAMES)
