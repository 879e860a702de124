"""Every request's statement budget: one statement resolves and applies the tenant
context, then a list makes two more (its page and its total) and a detail one, however
large the page or the tenant. Reports and trees have budgets of their own that must not
grow with the tenant either."""

from __future__ import annotations

import uuid

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from app import clock
from app.models import User
from app.tenancy.context import TenantContext, use_context
from tests.api_helpers import (
    committed_credential,
    committed_provider,
    committed_representative,
    counting_statements,
    grow_tenant,
)
from tests.conftest import Tenant, TwoTenants, bearer, token_for
from tests.screening_fixtures import committed_entry

CONTEXT = 1
LIST_BUDGET = CONTEXT + 2  # the page and its total
DETAIL_BUDGET = CONTEXT + 1
# An audited read's access event (app/domain/access.py).
ACCESS = 1
# The trail's export: its access, and the one cursor its batches are fetched from.
EXPORT_BUDGET = CONTEXT + ACCESS + 1

LISTS = (
    "/api/v1/admin/facilities",
    "/api/v1/admin/providers",
    "/api/v1/admin/organizations",
    "/api/v1/admin/invitations",
    "/api/v1/orders",
    "/api/v1/admin/audit-events",
    "/api/v1/admin/organizations/{org}/members",
    "/api/v1/admin/organizations/{org}/license-checks",
    "/api/v1/admin/screenings",
    # its page, with the total, and its providers' states
    "/api/v1/admin/exclusion-matches",
)


def _details(tenant: Tenant) -> tuple[str, ...]:
    return (
        f"/api/v1/admin/facilities/{tenant.facility.id}",
        f"/api/v1/admin/organizations/{tenant.organization.id}",
    )


def _reports(tenant: Tenant) -> tuple[str, ...]:
    organization = f"/api/v1/admin/organizations/{tenant.organization.id}"
    return (
        "/api/v1/me",  # the profile and every membership
        f"{organization}/hierarchy",
        f"{organization}/dashboard",
        f"{organization}/analytics",
        "/api/v1/admin/compliance",
    )


def _count(app: Flask, client: FlaskClient, token: str, url: str) -> int:
    with counting_statements(app) as statements:
        # the whole body, read within the block: a streamed one is read as it is sent
        response = client.get(url, headers=bearer(token), buffered=True)
    assert response.status_code == 200, (url, response.get_json())
    return len(statements)


def test_statements_per_request_stay_within_budget_whatever_the_size(
    app: Flask, client: FlaskClient, seeded: TwoTenants, admin_engine: Engine
) -> None:
    small, big = seeded.a, seeded.b
    grow_tenant(admin_engine, big.organization.id, facilities=120, providers=300)
    committed_provider(admin_engine, small.organization, small.facility)
    _screen_everyone(admin_engine, small, big)
    counts: dict[str, dict[str, int]] = {}
    for tenant in (small, big):
        token = token_for(client, tenant.admin)
        name = tenant.organization.name
        for url in LISTS:
            for size in (5, 100):
                counts.setdefault(f"{url}?page_size={size}", {})[name] = _count(
                    app,
                    client,
                    token,
                    f"{url.format(org=tenant.organization.id)}?page_size={size}",
                )
        for url in (*_details(tenant), *_reports(tenant)):
            key = url.replace(str(tenant.organization.id), "{org}").replace(
                str(tenant.facility.id), "{facility}"
            )
            counts.setdefault(key, {})[name] = _count(app, client, token, url)

    for key, by_tenant in counts.items():
        assert by_tenant["Tenant A"] == by_tenant["Tenant B"], (key, by_tenant)
    for url in LISTS:
        assert counts[f"{url}?page_size=5"] == counts[f"{url}?page_size=100"], url
        assert counts[f"{url}?page_size=100"]["Tenant B"] <= LIST_BUDGET, (url, counts)
    for url in _details(small):
        key = url.replace(str(small.organization.id), "{org}").replace(
            str(small.facility.id), "{facility}"
        )
        assert counts[key]["Tenant B"] <= DETAIL_BUDGET, (key, counts[key])


def test_a_provider_and_an_office_manager_resolve_in_one_statement(
    app: Flask, client: FlaskClient, seeded: TwoTenants
) -> None:
    """The context of every role is one statement: a list stays within its budget."""
    for user in (seeded.shared_provider, seeded.a.office_manager, seeded.msc_admin):
        token = token_for(client, user, None if user.is_msc_admin else seeded.a.organization)
        assert _count(app, client, token, "/api/v1/me/facilities") <= LIST_BUDGET


def test_an_msc_representative_reads_the_reports_at_the_admins_cost(
    app: Flask, client: FlaskClient, seeded: TwoTenants, admin_engine: Engine
) -> None:
    """Their context too is one statement, however many organizations they represent and
    however deep: each report they may read costs them what it costs the organization's
    admin, and a list stays within its budget."""
    a = seeded.a
    committed_provider(admin_engine, a.organization, a.facility)
    representative = committed_representative(admin_engine, a.organization, seeded.b.organization)
    token = token_for(client, representative, a.organization)
    admin = token_for(client, a.admin)
    organization = f"/api/v1/admin/organizations/{a.organization.id}"
    for url in (
        f"{organization}/hierarchy",
        f"{organization}/dashboard",
        f"{organization}/onboarding",
        "/api/v1/admin/compliance",
        organization,
    ):
        assert _count(app, client, token, url) == _count(app, client, admin, url), url
    assert _count(app, client, token, "/api/v1/admin/organizations?page_size=100") <= LIST_BUDGET


def test_an_audited_read_costs_its_access_and_the_export_its_cursor_whatever_the_size(
    app: Flask, client: FlaskClient, seeded: TwoTenants, admin_engine: Engine
) -> None:
    """The same read, by an MSC admin (audited) and by the organization's own admin (not),
    differs by its access event alone. The export reads the trail from one cursor: a
    trail of thousands of events costs what one of a few does."""
    small, big = seeded.a, seeded.b
    grow_tenant(admin_engine, big.organization.id, facilities=120, providers=300)
    provider = seeded.shared_provider
    credential = committed_credential(admin_engine, provider)
    msc = token_for(client, seeded.msc_admin)
    for tenant in (small, big):
        admin = token_for(client, tenant.admin)
        membership = _membership_of(admin_engine, provider, tenant)
        for url in (
            f"/api/v1/admin/members/{membership}",
            f"/api/v1/admin/providers/{provider.id}/credentials/{credential}",
            f"/api/v1/admin/providers/{provider.id}/credentials",
        ):
            assert _count(app, client, msc, url) == _count(app, client, admin, url) + ACCESS, url
        today = clock.today()
        export = f"/api/v1/admin/audit-events/export?from={today}&to={today}"
        assert _count(app, client, admin, export) == EXPORT_BUDGET
        named = f"{export}&organization_id={tenant.organization.id}"
        assert _count(app, client, admin, named) == EXPORT_BUDGET + 1  # the organization
    assert _count(app, client, msc, named) == EXPORT_BUDGET + 1


def test_webhook_lists_stay_within_budget_whatever_the_traffic(
    app: Flask, client: FlaskClient, seeded: TwoTenants, admin_engine: Engine
) -> None:
    """An organization's endpoints and events, an endpoint's deliveries and log, and an
    event's log are lists like the others (the endpoint or event read in place of the
    organization), however many endpoints, events and attempts the organization has."""
    traffic = {
        seeded.a.organization.name: _webhook_traffic(admin_engine, seeded.a, 1, 3),
        seeded.b.organization.name: _webhook_traffic(admin_engine, seeded.b, 30, 200),
    }
    counts: dict[str, dict[str, int]] = {}
    for tenant in (seeded.a, seeded.b):
        token = token_for(client, tenant.admin)
        organization = f"/api/v1/admin/organizations/{tenant.organization.id}"
        endpoint_id, event_id = traffic[tenant.organization.name]
        endpoint = f"{organization}/webhook-endpoints/{endpoint_id}"
        urls = {
            "endpoints": (f"{organization}/webhook-endpoints", LIST_BUDGET),
            "events": (f"{organization}/webhook-events", LIST_BUDGET),
            "deliveries": (f"{endpoint}/deliveries", LIST_BUDGET),
            "endpoint attempts": (f"{endpoint}/attempts", LIST_BUDGET),
            "event attempts": (
                f"{organization}/webhook-events/{event_id}/attempts",
                LIST_BUDGET,
            ),
        }
        for name, (url, budget) in urls.items():
            for size in (5, 100):
                count = _count(app, client, token, f"{url}?page_size={size}")
                assert count <= budget, (name, size, count)
                counts.setdefault(f"{name}?page_size={size}", {})[tenant.organization.name] = count
        count = _count(app, client, token, endpoint)
        assert count <= DETAIL_BUDGET, count
        counts.setdefault("endpoint", {})[tenant.organization.name] = count
    for key, by_tenant in counts.items():
        assert by_tenant["Tenant A"] == by_tenant["Tenant B"], (key, by_tenant)


def _webhook_traffic(
    admin_engine: Engine, tenant: Tenant, endpoints: int, events: int
) -> tuple[uuid.UUID, uuid.UUID]:
    """`endpoints` endpoints and `events` events of the tenant's, each event delivered to
    each endpoint and attempted once, in bulk; the first endpoint's id and an event's."""
    values = {"o": tenant.organization.id, "endpoints": endpoints, "events": events}
    with admin_engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO webhook_endpoints (organization_id, url, event_types,"
                " secret_sealed) SELECT :o, 'https://hooks.example.com/' || n,"
                " ARRAY['provider.joined'], 'sealed' FROM generate_series(1, :endpoints) n"
            ),
            values,
        )
        conn.execute(
            text(
                "INSERT INTO webhook_events (organization_id, type, key, data)"
                " SELECT :o, 'provider.joined', 'event-' || n, '{}'"
                " FROM generate_series(1, :events) n"
            ),
            values,
        )
        conn.execute(
            text(
                "INSERT INTO webhook_deliveries (organization_id, endpoint_id, event_id)"
                " SELECT :o, endpoint.id, event.id FROM webhook_endpoints endpoint"
                " JOIN webhook_events event USING (organization_id)"
                " WHERE organization_id = :o"
            ),
            values,
        )
        conn.execute(
            text(
                "INSERT INTO webhook_attempts (organization_id, delivery_id, endpoint_id,"
                " event_id, number, attempted_at, url, status_code, latency_ms)"
                " SELECT organization_id, id, endpoint_id, event_id, 1, now(),"
                " 'https://hooks.example.com/', 500, 5"
                " FROM webhook_deliveries WHERE organization_id = :o"
            ),
            values,
        )
        endpoint_id, event_id = conn.execute(
            text(
                "SELECT endpoint_id, event_id FROM webhook_deliveries"
                " WHERE organization_id = :o ORDER BY created_at, id LIMIT 1"
            ),
            values,
        ).one()
    return endpoint_id, event_id


def _screen_everyone(admin_engine: Engine, *tenants: Tenant) -> None:
    """A screening and a candidate match for every provider of the tenants: a page of
    each list is full, in the big tenant as in the small."""
    listed = committed_entry(admin_engine)
    with Session(admin_engine) as session:
        use_context(session, TenantContext.system("test-setup"))
        for tenant in tenants:
            values = {"o": tenant.organization.id, "l": listed.exclusion_list.id}
            providers = "FROM memberships WHERE organization_id = :o AND role = 'provider'"
            session.execute(
                text(
                    "INSERT INTO provider_screenings (organization_id, user_id, reason,"
                    " list_ids, outcome) SELECT organization_id, user_id, 'monthly',"
                    f" ARRAY[:l]::uuid[], 'candidate' {providers}"
                ),
                values,
            )
            session.execute(
                text(
                    "INSERT INTO exclusion_matches (organization_id, user_id, entry_id,"
                    " match_kind, status) SELECT organization_id, user_id, :e,"
                    f" 'name_and_state', 'candidate' {providers}"
                ),
                {**values, "e": listed.entry.id},
            )
        session.commit()


def _membership_of(admin_engine: Engine, user: User, tenant: Tenant) -> uuid.UUID:
    with admin_engine.connect() as conn:
        found: uuid.UUID = conn.execute(
            text("SELECT id FROM memberships WHERE user_id = :u AND organization_id = :o"),
            {"u": user.id, "o": tenant.organization.id},
        ).scalar_one()
        return found
