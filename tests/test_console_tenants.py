"""The console's screens across tenants, in a real browser over the real build: MSC
admins' organizations (the list with each one's onboarding progress, one entered and its
status changed, a new one with its first admin) and an organization's onboarding steps
(tests/browser.py says how the browser is set up)."""

from __future__ import annotations

from typing import Any

import pyotp
from flask.testing import FlaskClient
from playwright.sync_api import Page, expect
from sqlalchemy import Engine, text

from app import clock
from app.models import User
from tests.api_helpers import SIGN_IN_AT, enrol_second_factor
from tests.browser import (
    CONSOLE_SCREENSHOTS,
    TABLET,
    assert_accessible,
    policy_violations,
    screenshot,
    sign_in,
)
from tests.conftest import Tenant, TwoTenants, bearer, token_for

ORGS = "/api/v1/admin/organizations"


def _msc_admin_signs_in(page: Page, client: FlaskClient, msc_admin: User) -> str:
    """The MSC admin signed in to the console with their second factor, which MSC admins
    need; a token of theirs for the API, taken before."""
    token = token_for(client, msc_admin)
    secret = enrol_second_factor(client, token)
    with clock.frozen(SIGN_IN_AT):
        sign_in(page, msc_admin.email)
        page.get_by_label("Code from your authenticator app").fill(
            pyotp.TOTP(secret).at(SIGN_IN_AT)
        )
        page.get_by_role("button", name="Sign in").click()
        page.get_by_role("heading", name="Organizations").wait_for()
    return token


def _get(client: FlaskClient, token: str, url: str) -> Any:
    answer = client.get(url, headers=bearer(token))
    assert answer.status_code == 200, answer.get_json()
    return answer.get_json()


def _document(admin_engine: Engine, tenant: Tenant, kind: str) -> None:
    """An organization's document, as an upload leaves it."""
    with admin_engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO documents (organization_id, document_type, filename,"
                " content_type, size_bytes, sha256, storage_key) VALUES (:o, :t, 'f.pdf',"
                " 'application/pdf', 10, repeat('a', 64), :t)"
            ),
            {"o": tenant.organization.id, "t": kind},
        )


def test_an_msc_admin_finds_an_organization_and_suspends_it(
    console: Page, client: FlaskClient, seeded: TwoTenants, admin_engine: Engine
) -> None:
    page = console
    refused = policy_violations(page)
    # One organization further on than the other: 3 steps of 9 (33%) against 2 (22%).
    _document(admin_engine, seeded.a, "tax_form")
    token = _msc_admin_signs_in(page, client, seeded.msc_admin)
    listed = {row["name"]: row for row in _get(client, token, f"{ORGS}?page_size=100")}

    # Each organization's onboarding as the list shows it: the API's dashboard figure.
    rows = page.locator("tbody tr")
    rows.first.wait_for()
    shown = dict(
        zip(
            rows.locator("th").all_inner_texts(),
            rows.locator(".onboarding-text").all_inner_texts(),
            strict=True,
        )
    )
    for tenant, expected in ((seeded.a, 33), (seeded.b, 22)):
        organization = tenant.organization
        dashboard = _get(client, token, f"{ORGS}/{organization.id}/dashboard")
        percent = dashboard["onboarding_progress"]["percent_complete"]
        assert percent == expected
        assert listed[organization.name]["onboarding_percent_complete"] == percent
        assert shown[organization.name].startswith(f"{percent}% ·")
        bar = page.get_by_role("progressbar", name=f"{organization.name} onboarding")
        assert bar.get_attribute("value") == str(percent)
    assert_accessible(page)
    screenshot(page, "organizations", folder=CONSOLE_SCREENSHOTS)
    page.set_viewport_size(TABLET)
    assert_accessible(page)
    screenshot(page, "organizations-tablet", folder=CONSOLE_SCREENSHOTS)

    # Found by its name, then by status: none is suspended yet.
    b = seeded.b.organization
    page.get_by_label("Name").fill(b.name)
    page.get_by_role("button", name="Search").click()
    expect(rows.locator("th")).to_have_text([b.name])
    page.get_by_label("Status").select_option(label="Suspended")
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_text("No organization matches this search.")).to_be_visible()
    assert_accessible(page)
    page.get_by_label("Status").select_option(label="Any")
    page.get_by_role("button", name="Search").click()
    page.get_by_role("link", name=b.name).click()

    # Entered: its dashboard, details and status.
    page.get_by_role("heading", name="Overview").wait_for()
    assert page.get_by_role("heading", level=1).inner_text() == b.name
    assert seeded.b.facility.name in page.locator(".card h3").all_inner_texts()
    details = dict(
        zip(
            page.locator(".details dt").all_inner_texts(),
            page.locator(".details dd").all_inner_texts(),
            strict=True,
        )
    )
    assert details["Type"] == "Group practice"
    assert details["Onboarding"] == _label(listed[b.name]["onboarding_status"])
    status = page.get_by_role("region", name="Status")
    assert f"{b.name} is active." in status.inner_text()
    page.set_viewport_size({"width": 1280, "height": 800})
    assert_accessible(page)
    screenshot(page, "organization", folder=CONSOLE_SCREENSHOTS)

    # Suspended once confirmed; cancelling changes nothing.
    status.get_by_role("button", name="Suspend").click()
    confirm = status.get_by_role("group")
    assert "can still sign in and read its data" in confirm.inner_text()
    assert_accessible(page)
    screenshot(page, "organization-suspend", folder=CONSOLE_SCREENSHOTS)
    confirm.get_by_role("button", name="Cancel").click()
    assert _get(client, token, f"{ORGS}/{b.id}")["status"] == "active"
    status.get_by_role("button", name="Suspend").click()
    status.get_by_role("button", name="Yes, suspend").click()
    expect(status.get_by_role("status")).to_have_text(f"{b.name} is now suspended.")
    assert _get(client, token, f"{ORGS}/{b.id}")["status"] == "suspended"
    expect(page.locator(".entered-status .badge")).to_have_text("Suspended")

    # What suspension means: its admin still signs in and reads, and every change is refused.
    b_admin = token_for(client, seeded.b.admin, b)
    assert client.get("/api/v1/admin/facilities", headers=bearer(b_admin)).status_code == 200
    write = client.post(
        f"{ORGS}/{b.id}/facilities",
        json={"name": "Another Clinic", "facility_type": "clinic", "state": "CA"},
        headers=bearer(b_admin),
    )
    assert write.status_code == 403
    assert write.get_json()["detail"] == "the organization is suspended or inactive: read-only"

    # Reactivated the same way.
    status.get_by_role("button", name="Reactivate").click()
    status.get_by_role("button", name="Yes, reactivate").click()
    expect(status.get_by_role("status")).to_have_text(f"{b.name} is now active.")
    assert _get(client, token, f"{ORGS}/{b.id}")["status"] == "active"

    # Made inactive elsewhere meanwhile: the API's refusal, in its words.
    made_inactive = client.put(f"{ORGS}/{b.id}", json={"status": "inactive"}, headers=bearer(token))
    assert made_inactive.status_code == 200
    status.get_by_role("button", name="Suspend").click()
    status.get_by_role("button", name="Yes, suspend").click()
    expect(status.get_by_role("alert")).to_contain_text(
        "status cannot change from inactive to suspended"
    )
    assert _get(client, token, f"{ORGS}/{b.id}")["status"] == "inactive"
    assert_accessible(page)

    page.get_by_role("link", name="All organizations").click()
    page.get_by_role("heading", name="Organizations").wait_for()
    assert refused == []


def test_an_msc_admin_creates_an_organization_with_its_first_admin(
    console: Page, client: FlaskClient, seeded: TwoTenants
) -> None:
    page = console
    refused = policy_violations(page)
    token = _msc_admin_signs_in(page, client, seeded.msc_admin)
    page.get_by_role("link", name="New organization").click()
    page.get_by_role("heading", name="New organization").wait_for()
    page.get_by_label("Name", exact=True).fill("Harbor Wound Care")
    page.get_by_label("Type").select_option(label="Individual")
    page.get_by_label("Tax id (optional)").fill("12-3456789")
    page.get_by_label("Admin's name").fill("Hana Ito")
    page.get_by_label("Admin's email").fill("hana at harbor")
    page.get_by_role("button", name="Create the organization").click()

    # The API's 422 names the field, beside it; what was typed stays.
    email = page.get_by_label("Admin's email")
    expect(email).to_have_attribute("aria-invalid", "true")
    described = email.get_attribute("aria-describedby")
    assert described is not None
    assert "@" in page.locator(f"[id='{described}']").inner_text()
    assert page.get_by_label("Name", exact=True).input_value() == "Harbor Wound Care"
    assert page.get_by_label("Type").input_value() == "individual"
    assert_accessible(page)
    screenshot(page, "organization-new", folder=CONSOLE_SCREENSHOTS)
    assert [o["name"] for o in _get(client, token, f"{ORGS}?name=Harbor")] == []

    email.fill("hana@harbor.example.com")
    page.get_by_role("button", name="Create the organization").click()
    page.get_by_role("heading", name="Harbor Wound Care", level=1).wait_for()
    (created,) = _get(client, token, f"{ORGS}?name=Harbor")
    assert created["organization_type"] == "individual" and created["tax_id"] == "12-3456789"
    assert page.url.endswith(f"/console/organizations/{created['id']}")
    invited = _get(client, token, f"/api/v1/admin/invitations?organization_id={created['id']}")
    assert [(i["email"], i["role"]) for i in invited] == [
        ("hana@harbor.example.com", "organization_admin")
    ]
    assert refused == []


def _ready_for_training(client: FlaskClient, admin_engine: Engine, tenant: Tenant) -> str:
    """Every step before training and certification complete, through the API where it
    can be (documents are written as an upload would leave them); the admin's token."""
    organization = tenant.organization
    token = token_for(client, tenant.admin, organization)
    basics = client.put(
        f"{ORGS}/{organization.id}",
        json={
            "tax_id": "12-3456789",
            "primary_contact_name": "Hana Ito",
            "primary_contact_email": "hana@example.com",
            "primary_contact_phone": "+1 415 555 2671",
        },
        headers=bearer(token),
    )
    assert basics.status_code == 200, basics.get_json()
    for kind in ("tax_form", "banking_letter"):
        _document(admin_engine, tenant, kind)
    for role, email in (("office_manager", "om@example.com"), ("provider", "dr@example.com")):
        invited = client.post(
            "/api/v1/admin/providers/invite",
            json={
                "email": email,
                "name": "Someone",
                "role": role,
                "organization_id": str(organization.id),
            },
            headers=bearer(token),
        )
        assert invited.status_code == 201, invited.get_json()
    return token


def test_an_organization_admin_completes_and_reopens_a_manual_step(
    console: Page,
    another_console: Page,
    client: FlaskClient,
    seeded: TwoTenants,
    admin_engine: Engine,
) -> None:
    page = console
    refused = policy_violations(page)
    a = seeded.a
    token = _ready_for_training(client, admin_engine, a)
    onboarding = f"{ORGS}/{a.organization.id}/onboarding"

    def percent() -> int:
        return int(_get(client, token, onboarding)["percent_complete"])

    sign_in(page, a.admin.email)
    nav = page.get_by_role("navigation", name="Screens")
    nav.get_by_role("link", name="Onboarding").click()
    assert "Organizations" not in nav.get_by_role("link").all_inner_texts()
    heading = page.get_by_role("heading", level=1)
    expect(heading).to_have_text(f"Onboarding of {a.organization.name}")
    summary = page.locator(".onboarding-summary label")
    # Seven of nine steps: 78%, the API's figure.
    assert percent() == 78
    expect(summary).to_contain_text("78% complete")
    assert page.get_by_role("progressbar").get_attribute("value") == "78"
    steps = page.locator(".onboarding-step h2").all_inner_texts()
    assert steps == _labels(_get(client, token, onboarding))
    assert_accessible(page)
    screenshot(page, "onboarding", folder=CONSOLE_SCREENSHOTS)

    # Out of order: the API's refusal, in its words.
    page.get_by_role("button", name="Complete go live").click()
    expect(page.get_by_role("alert")).to_contain_text(
        "complete these steps first: training_and_certification"
    )
    assert percent() == 78

    page.get_by_role("button", name="Complete training and certification").click()
    expect(summary).to_contain_text("89% complete")
    assert percent() == 89
    training = page.locator(".onboarding-step", has_text="Training and certification")
    expect(training.locator(".step-badge")).to_have_text("Done")
    assert_accessible(page)

    page.get_by_role("button", name="Reopen training and certification").click()
    expect(summary).to_contain_text("78% complete")
    assert percent() == 78
    expect(training.locator(".step-badge")).to_have_text("To do")
    page.set_viewport_size(TABLET)
    assert_accessible(page)
    screenshot(page, "onboarding-tablet", folder=CONSOLE_SCREENSHOTS)
    assert refused == []

    # Its office manager follows the onboarding but completes nothing (manage-facilities).
    other = another_console
    sign_in(other, a.office_manager.email)
    other.get_by_role("navigation", name="Screens").get_by_role("link", name="Onboarding").click()
    other.locator(".onboarding-summary").wait_for()
    # As the API gives it to them: the steps counted from the rows they may see.
    theirs = _get(client, token_for(client, a.office_manager, a.organization), onboarding)
    expect(other.locator(".onboarding-summary label")).to_contain_text(
        f"{theirs['percent_complete']}% complete"
    )
    assert other.locator(".onboarding-step button").count() == 0


def _label(code: str) -> str:
    """An API code as the console writes it (console/src/words.ts)."""
    return code.replace("_", " ").capitalize()


def _labels(progress: dict[str, Any]) -> list[str]:
    return [_label(s["step"]) for s in progress["steps"]]


def test_only_msc_admins_reach_the_organizations(console: Page, seeded: TwoTenants) -> None:
    page = console
    refused = policy_violations(page)
    sign_in(page, seeded.shared_provider.email)
    nav = page.get_by_role("navigation", name="Screens")
    nav.get_by_role("link").first.wait_for()
    offered = nav.get_by_role("link").all_inner_texts()
    assert "Organizations" not in offered and "Onboarding" not in offered
    for address, title in (
        ("/console/organizations", "organizations"),
        (f"/console/organizations/{seeded.b.organization.id}", "organizations"),
        ("/console/onboarding", "onboarding"),
    ):
        page.goto(address)
        expect(page.get_by_role("alert")).to_have_text(f"Your role cannot open {title}.")
        assert_accessible(page)
    assert refused == []
