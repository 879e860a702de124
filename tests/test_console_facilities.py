"""The console's Facility Manager and orders (console/src/screens/Facilit*.tsx, Orders.tsx),
in a real browser over the real build: what each screen shows is what the API gives the
signed-in role, the actions go through the API, an office manager sees only the facility
they manage, and no screen breaks the page's policy or has a serious accessibility
problem."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from flask.testing import FlaskClient
from playwright.sync_api import Locator, Page, expect
from sqlalchemy import Engine

from app import clock
from app.models import Facility, User
from tests.api_helpers import committed_facility, committed_provider, set_office_manager
from tests.browser import (
    CONSOLE_SCREENSHOTS,
    TABLET,
    assert_accessible,
    policy_violations,
    screenshot,
    sign_in,
)
from tests.conftest import TwoTenants, bearer, token_for

API = "/api/v1"


@dataclass
class Floor:
    """Tenant A at work: its facility managed by its office manager, with the shared
    provider's orders and an expiring license, and a second facility (another provider's,
    with an order of its own) that the office manager does not manage."""

    managed: Facility
    other: Facility
    other_provider: User


def _get(client: FlaskClient, token: str, path: str) -> Any:
    response = client.get(path, headers=bearer(token))
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def _order(client: FlaskClient, token: str, facility: Facility, amount: str) -> dict[str, Any]:
    body = {"facility_id": str(facility.id), "amount": amount, "line_count": 2}
    response = client.post(f"{API}/orders", json=body, headers=bearer(token))
    assert response.status_code == 201, response.get_json()
    placed: dict[str, Any] = response.get_json()
    return placed


def _floor(client: FlaskClient, admin_engine: Engine, seeded: TwoTenants) -> Floor:
    a = seeded.a
    set_office_manager(admin_engine, a.facility, a.office_manager)
    other = committed_facility(
        admin_engine, a.organization, name="Zephyr Skilled Nursing", facility_type="snf"
    )
    other_provider = committed_provider(admin_engine, a.organization, other)
    provider = token_for(client, seeded.shared_provider, a.organization)
    license_ = {
        "credential_type": "medical_license",
        "number": "ME-20411",
        "state": "TX",
        "expiry_date": (clock.today() + dt.timedelta(days=30)).isoformat(),
    }
    response = client.post(f"{API}/me/credentials", json=license_, headers=bearer(provider))
    assert response.status_code == 201, response.get_json()
    _order(client, provider, a.facility, "1250.50")
    _order(client, provider, a.facility, "80.00")
    _order(client, token_for(client, other_provider, a.organization), other, "310.00")
    return Floor(a.facility, other, other_provider)


def _texts(locator: Locator) -> list[str]:
    return [text.strip() for text in locator.all_inner_texts()]


def _offered(page: Page) -> list[str]:
    return _texts(page.get_by_role("navigation", name="Screens").get_by_role("link"))


def _section(page: Page, heading: str) -> Locator:
    return page.get_by_role("region", name=heading, exact=True)


def _score(value: int | None) -> str:
    return "—" if value is None else f"{value}%"


def test_an_organization_admin_reads_the_facilities_and_a_facility_page(
    console: Page, client: FlaskClient, seeded: TwoTenants, admin_engine: Engine
) -> None:
    page = console
    floor = _floor(client, admin_engine, seeded)
    organization = seeded.a.organization
    token = token_for(client, seeded.a.admin, organization)
    refused = policy_violations(page)

    sign_in(page, seeded.a.admin.email)
    page.get_by_role("heading", name="Overview").wait_for()
    page.get_by_role("navigation", name="Screens").get_by_role("link", name="Facilities").click()
    listed = _get(client, token, f"{API}/admin/facilities?organization_id={organization.id}")
    rows = page.locator("table tbody tr")
    expect(rows).to_have_count(len(listed))
    assert _texts(page.locator("tbody th")) == [f["name"] for f in listed]
    assert {floor.managed.name, floor.other.name} <= set(_texts(page.locator("tbody th")))
    assert seeded.b.facility.name not in page.inner_text("main")
    other = rows.filter(has_text=floor.other.name)
    # The place of service named as the API's reference list names it.
    expect(other.locator("td")).to_have_text(
        ["Skilled nursing facility", "11 · Office", "TX", "Active"]
    )
    assert page.get_by_role("link", name="Add a facility").is_visible()
    assert_accessible(page)
    screenshot(page, "facilities", folder=CONSOLE_SCREENSHOTS)

    # The API's filters: by type.
    page.get_by_label("Type").select_option(label="Skilled nursing facility")
    page.get_by_role("button", name="Search").click()
    expect(page.locator("tbody th")).to_have_text([floor.other.name])
    page.get_by_label("Type").select_option(label="Any")
    # And its order.
    page.get_by_label("Sort by").select_option(label="Name, Z to A")
    page.get_by_role("button", name="Search").click()
    backwards = _get(
        client, token, f"{API}/admin/facilities?organization_id={organization.id}&sort=-name"
    )
    expect(page.locator("tbody th")).to_have_text([f["name"] for f in backwards])
    assert [f["name"] for f in backwards] == [f["name"] for f in reversed(listed)]

    page.get_by_role("link", name=floor.managed.name).click()
    page.get_by_role("heading", level=1, name=floor.managed.name).wait_for()
    facility = f"{API}/admin/facilities/{floor.managed.id}"
    roster = _get(client, token, f"{facility}/providers")
    roster_rows = _section(page, "Provider roster").locator("tbody th")
    expect(roster_rows).to_have_text([p["name"] for p in roster])
    assert seeded.shared_provider.name in _texts(roster_rows)
    assert floor.other_provider.name not in _texts(roster_rows)

    compliance = _get(
        client,
        token,
        f"{API}/admin/compliance?organization_id={organization.id}&facility_id={floor.managed.id}",
    )
    scored = _section(page, "Compliance").locator("table.compliance tbody tr")
    expect(scored).to_have_count(len(compliance["providers"]))
    assert [
        (row.locator("th").inner_text(), row.locator("td").first.inner_text())
        for row in scored.all()
    ] == [(p["name"], _score(p["score"])) for p in compliance["providers"]]
    expirations = _get(client, token, f"{API}/admin/compliance/expirations?within_days=90")
    here = {p["user_id"] for p in compliance["providers"]}
    expiring = _section(page, "Compliance").locator("table.expirations tbody tr")
    expect(expiring).to_have_count(len([e for e in expirations if e["owner_id"] in here]))
    assert _texts(expiring.first.locator("th, td")) == [
        seeded.shared_provider.name,
        "Medical license",
        (clock.today() + dt.timedelta(days=30)).isoformat(),
        "30 days",
    ]

    orders = _get(client, token, f"{API}/orders?facility_id={floor.managed.id}")
    shown = _section(page, "Orders").locator("tbody tr")
    expect(shown).to_have_count(len(orders))
    assert _texts(shown.locator("td:nth-child(5)")) == [f"${o['amount']}" for o in orders]
    assert floor.other.name not in _section(page, "Orders").inner_text()
    assert_accessible(page)
    screenshot(page, "facility", folder=CONSOLE_SCREENSHOTS)
    page.set_viewport_size(TABLET)
    assert_accessible(page)
    screenshot(page, "facility-tablet", folder=CONSOLE_SCREENSHOTS)
    assert refused == []


def test_an_organization_admin_edits_a_facility_then_adds_one(
    console: Page, client: FlaskClient, seeded: TwoTenants
) -> None:
    page = console
    organization = seeded.a.organization
    token = token_for(client, seeded.a.admin, organization)
    facility = f"{API}/admin/facilities/{seeded.a.facility.id}"
    refused = policy_violations(page)

    sign_in(page, seeded.a.admin.email)
    page.get_by_role("heading", name="Overview").wait_for()
    page.goto(f"/console/facilities/{seeded.a.facility.id}")
    page.get_by_role("heading", level=1, name=seeded.a.facility.name).wait_for()
    page.get_by_role("button", name="Edit details").click()
    zip_code = page.get_by_label("ZIP code")
    zip_code.fill("12")
    page.get_by_label("City").fill("Round Rock")
    # Only organization admins name the office manager: from the organization's members.
    page.get_by_label("Office manager").select_option(label=seeded.a.office_manager.name)
    page.get_by_role("button", name="Save").click()

    # The API's refusal names the field beside it; what was typed stays.
    message = page.locator("#facility-zip_code-error")
    message.wait_for()
    assert "ZIP code" in message.inner_text()
    expect(zip_code).to_have_attribute("aria-invalid", "true")
    expect(zip_code).to_have_attribute("aria-describedby", "facility-zip_code-error")
    assert zip_code.input_value() == "12"
    assert page.get_by_label("City").input_value() == "Round Rock"
    assert page.get_by_role("alert").first.is_visible()
    assert _get(client, token, facility)["zip_code"] is None
    assert_accessible(page)
    screenshot(page, "facility-edit-refused", folder=CONSOLE_SCREENSHOTS)

    zip_code.fill("78664")
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".notice")).to_have_text("The facility's details are saved.")
    saved = _get(client, token, facility)
    assert (saved["zip_code"], saved["city"]) == ("78664", "Round Rock")
    assert saved["office_manager_id"] == str(seeded.a.office_manager.id)
    assert "Round Rock, TX 78664" in _section(page, "Details").inner_text()
    assert seeded.a.office_manager.name in _section(page, "Details").inner_text()

    page.get_by_role("link", name="All facilities").click()
    page.get_by_role("link", name="Add a facility").click()
    page.get_by_role("heading", name=f"Add a facility to {organization.name}").wait_for()
    page.get_by_label("Name").fill("Riverside Clinic")
    page.get_by_label("Type").select_option(label="Clinic")
    page.get_by_label("State").fill("ZZ")
    page.get_by_role("button", name="Add the facility").click()
    expect(page.locator("#facility-state-error")).to_have_text("not a US state or territory code")
    assert page.get_by_label("Name").input_value() == "Riverside Clinic"
    assert_accessible(page)
    page.get_by_label("State").fill("tx")
    page.get_by_role("button", name="Add the facility").click()
    page.get_by_role("heading", level=1, name="Riverside Clinic").wait_for()
    added = [
        f
        for f in _get(client, token, f"{API}/admin/facilities?organization_id={organization.id}")
        if f["name"] == "Riverside Clinic"
    ]
    assert [(f["state"], f["facility_type"]) for f in added] == [("TX", "clinic")]
    assert page.url.endswith(f"/console/facilities/{added[0]['id']}")
    assert refused == []


def test_an_office_manager_sees_only_their_facility(
    console: Page, client: FlaskClient, seeded: TwoTenants, admin_engine: Engine
) -> None:
    page = console
    floor = _floor(client, admin_engine, seeded)
    manager = seeded.a.office_manager
    token = token_for(client, manager, seeded.a.organization)
    refused = policy_violations(page)

    sign_in(page, manager.email)
    page.get_by_role("navigation", name="Screens").wait_for()
    offered = _offered(page)
    assert {"Facilities", "Orders"} <= set(offered)
    assert "Members" not in offered
    page.get_by_role("navigation", name="Screens").get_by_role("link", name="Facilities").click()
    listed = _get(
        client, token, f"{API}/admin/facilities?organization_id={seeded.a.organization.id}"
    )
    assert [f["name"] for f in listed] == [floor.managed.name]
    expect(page.locator("tbody th")).to_have_text([floor.managed.name])
    assert floor.other.name not in page.inner_text("main")
    assert "you manage" in page.inner_text("main")
    assert page.get_by_role("link", name="Add a facility").count() == 0
    assert_accessible(page)
    screenshot(page, "facilities-office-manager", folder=CONSOLE_SCREENSHOTS)

    # Their facility's page: its contact details to edit, not its identity.
    page.get_by_role("link", name=floor.managed.name).click()
    page.get_by_role("heading", level=1, name=floor.managed.name).wait_for()
    expect(_section(page, "Orders").locator("tbody tr")).to_have_count(2)
    page.get_by_role("button", name="Edit details").click()
    page.get_by_label("Phone").fill("(512) 555-0199")
    assert page.get_by_label("NPI").count() == 0
    assert page.get_by_label("Office manager").count() == 0
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".notice")).to_have_text("The facility's details are saved.")
    assert (
        _get(client, token, f"{API}/admin/facilities/{floor.managed.id}")["phone"] == "+15125550199"
    )

    # Another facility of the organization, by its address: the API does not show it.
    page.goto(f"/console/facilities/{floor.other.id}")
    expect(page.get_by_role("alert")).to_contain_text("not found")
    # Their facility's orders only.
    page.goto("/console/orders")
    orders = _get(client, token, f"{API}/orders")
    rows = page.locator("table.orders tbody tr")
    expect(rows).to_have_count(len(orders))
    assert len(orders) == 2
    assert floor.other.name not in page.inner_text("main")
    # Adding a facility is an organization admin's: refused by its address too.
    page.goto("/console/facilities/new")
    expect(page.get_by_role("alert")).to_have_text("Your role cannot add facilities.")
    # An organization admin's screen, by its address: refused, and calls nothing.
    page.goto("/console/members")
    expect(page.get_by_role("alert")).to_have_text("Your role cannot open members.")
    assert "Members" not in _offered(page)
    assert_accessible(page)
    assert refused == []


def test_orders_are_filtered_and_moved_on_as_the_role_may(
    console: Page,
    another_console: Page,
    client: FlaskClient,
    seeded: TwoTenants,
    admin_engine: Engine,
) -> None:
    page = console
    floor = _floor(client, admin_engine, seeded)
    token = token_for(client, seeded.a.admin, seeded.a.organization)
    refused = policy_violations(page)

    sign_in(page, seeded.a.admin.email)
    page.get_by_role("heading", name="Overview").wait_for()
    page.get_by_role("navigation", name="Screens").get_by_role("link", name="Orders").click()
    orders = _get(client, token, f"{API}/orders")
    rows = page.locator("table.orders tbody tr")
    expect(rows).to_have_count(len(orders))
    assert len(orders) == 3
    assert _texts(rows.locator("td:nth-child(5)")) == [f"${o['amount']}" for o in orders]
    # The facilities' and providers' names, not their ids.
    assert set(_texts(rows.locator("td:nth-child(2)"))) == {floor.managed.name, floor.other.name}
    assert floor.other_provider.name in _texts(rows.locator("td:nth-child(3)"))
    assert_accessible(page)
    screenshot(page, "orders", folder=CONSOLE_SCREENSHOTS)

    # Staff approve a submitted order; never submit one.
    (first,) = [o for o in orders if o["amount"] == "1250.50"]
    row = rows.filter(has_text="$1250.50")
    assert row.get_by_role("button", name="Submit").count() == 0
    row.get_by_role("button", name="Approve").click()
    expect(row.locator(".order-status")).to_have_text("Approved")
    assert _get(client, token, f"{API}/orders/{first['id']}")["status"] == "approved"

    page.get_by_label("Status").select_option(label="Approved")
    page.get_by_role("button", name="Filter").click()
    expect(rows).to_have_count(1)
    page.get_by_label("Status").select_option(label="Delivered")
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_text("No order matches these filters.")).to_be_visible()

    # One order's page, where it moves on again.
    page.get_by_label("Status").select_option(label="Approved")
    page.get_by_role("button", name="Filter").click()
    rows.first.get_by_role("link").click()
    page.get_by_role("heading", level=1, name="Order").wait_for()
    assert "Approved" in page.locator(".order-history").inner_text()
    page.get_by_role("button", name="Mark shipped").click()
    expect(page.locator(".particulars .order-status")).to_have_text("Shipped")
    assert _get(client, token, f"{API}/orders/{first['id']}")["status"] == "shipped"
    assert_accessible(page)
    page.set_viewport_size(TABLET)
    page.get_by_role("link", name="All orders").click()
    expect(rows).to_have_count(3)
    assert_accessible(page)
    screenshot(page, "orders-tablet", folder=CONSOLE_SCREENSHOTS)
    assert refused == []

    # The provider: their own orders only, which they may cancel but not approve.
    provider_page = another_console
    sign_in(provider_page, seeded.shared_provider.email)
    switcher = provider_page.get_by_label("Organization")
    switcher.wait_for()
    if switcher.locator("option:checked").inner_text() != seeded.a.organization.name:
        switcher.select_option(label=seeded.a.organization.name)
        expect(switcher.locator("option:checked")).to_have_text(seeded.a.organization.name)
    provider_page.goto("/console/orders")
    own = provider_page.locator("table.orders tbody tr")
    expect(own).to_have_count(2)
    assert floor.other.name not in provider_page.inner_text("main")
    shipped = own.filter(has_text="$1250.50")
    assert shipped.get_by_role("button").count() == 0
    submitted = own.filter(has_text="$80.00")
    assert submitted.get_by_role("button", name="Approve").count() == 0
    submitted.get_by_role("button", name="Cancel").click()
    expect(submitted.locator(".order-status")).to_have_text("Cancelled")
    statuses = [
        o["status"] for o in _get(client, token, f"{API}/orders?facility_id={floor.managed.id}")
    ]
    assert statuses == ["cancelled", "shipped"]
    assert_accessible(provider_page)
    # Facilities are not a provider's screen: not offered, and refused by its address.
    assert "Facilities" not in _offered(provider_page)
    provider_page.goto("/console/facilities")
    expect(provider_page.get_by_role("alert")).to_have_text("Your role cannot open facilities.")
