"""A new organization's first weeks in the console, each person in a browser of their own.

MSC creates the organization with its first admin's invitation. Every invitation goes out
by email (the outbox, a worker, a real SMTP server) and is accepted from the email's link.
In the console the admin walks onboarding to go-live: documents, facilities, an office
manager and a provider invited, the office manager put in charge of one facility. The
provider adds a license; the admin verifies it and sees the compliance score move on the
dashboard. The office manager sees their facility alone. An MSC admin finds the
organization and suspends it, and its admin's next change is refused in words.
Nothing here reaches into the database: every step is an email, a page or a click, and
the API is asked only to compare what the screens show.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pyotp
import pytest
from flask import Flask
from flask.testing import FlaskClient
from playwright.sync_api import Browser, Page, expect

from app import clock
from app.blueprints.console import DEFAULT_BUILD
from tests import test_delivery as delivery
from tests import test_go_live as go_live
from tests.api_helpers import SIGN_IN_AT, enrol_second_factor
from tests.browser import (
    CONSOLE_SCREENSHOTS,
    assert_accessible,
    console_page,
    policy_violations,
    screenshot,
    sign_in,
)
from tests.conftest import TwoTenants, bearer, token_for
from tests.smtp_server import SmtpServer

pytestmark = pytest.mark.slow

# The fixtures this module borrows, made available to it.
smtp = delivery.smtp
queue_name = delivery.queue_name
delivering_site = go_live.delivering_site

ORGANIZATION = "Lakeside Wound Care"
ADMIN = ("ada.first@lakeside.example.com", "Ada First")
OFFICE_MANAGER = ("olive.manager@lakeside.example.com", "Olive Manager")
PROVIDER = ("pat.provider@lakeside.example.com", "Dr. Pat Provider")
PASSWORDS = {
    ADMIN[0]: "lantern quarry velvet 9182",
    OFFICE_MANAGER[0]: "harbour mosaic tundra 4471",
    PROVIDER[0]: "copper meadow signal 2093",
}
CLINIC = "Lakeside Clinic"
NORTH = "Lakeside North"
PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << >>\n%%EOF\n"


class People:
    """One browser profile per person (their own cookies), closed before the test's rows
    are removed."""

    def __init__(self, browser: Browser, site: str) -> None:
        self.browser = browser
        self.site = site
        self.pages: list[Page] = []
        self.refused: list[str] = []

    def new(self) -> Page:
        page = console_page(self.browser, self.site, DEFAULT_BUILD)
        self.refused += policy_violations(page)
        self.pages.append(page)
        return page

    def close(self) -> None:
        for page in self.pages:
            page.context.close()


@pytest.fixture
def people(
    browser: Browser, delivering_site: tuple[Flask, str], clean_database: None
) -> Iterator[People]:
    found = People(browser, delivering_site[1])
    try:
        yield found
    finally:
        found.close()


def _accept(page: Page, link: str, organization: str, name: str, email: str) -> None:
    """Open the invitation email's link and sign up on its page."""
    shown = page.goto(link)
    assert shown is not None and shown.status == 200
    assert f"Join {organization}" in page.inner_text("h1")
    assert page.input_value("#name") == name
    page.fill("#password", PASSWORDS[email])
    page.fill("#password_confirm", PASSWORDS[email])
    page.click("button[type=submit]")
    page.get_by_role("heading", name=f"Welcome to {organization}").wait_for()


def _sign_in(page: Page, email: str) -> None:
    """Sign in, and wait for the console's screens to be offered."""
    sign_in(page, email, PASSWORDS[email])
    page.get_by_role("navigation", name="Screens").wait_for()


def _open(page: Page, screen: str) -> None:
    page.get_by_role("navigation", name="Screens").get_by_role("link", name=screen).click()


def _figure(page: Page, name: str) -> str:
    return page.locator(".figure", has=page.locator("dt", has_text=name)).locator("dd").inner_text()


def _api(client: FlaskClient, token: str, path: str) -> Any:
    answer = client.get(path, headers=bearer(token))
    assert answer.status_code == 200, answer.get_json()
    return answer.get_json()


def test_an_organization_goes_live_and_is_run_from_the_console(
    delivering_site: tuple[Flask, str],
    smtp: SmtpServer,
    seeded: TwoTenants,
    people: People,
) -> None:
    app, url = delivering_site
    client = app.test_client()
    msc_token = token_for(client, seeded.msc_admin)

    # MSC creates the organization, and with it its first admin's invitation.
    created = client.post(
        "/api/v1/admin/organizations",
        json={
            "name": ORGANIZATION,
            "organization_type": "group_practice",
            "tax_id": "12-3456780",
            "primary_contact_name": ADMIN[1],
            "primary_contact_email": ADMIN[0],
            "primary_contact_phone": "+1 415 555 2671",
            "first_admin": {"email": ADMIN[0], "name": ADMIN[1]},
        },
        headers=bearer(msc_token),
    )
    assert created.status_code == 201, created.get_json()
    organization_id = created.get_json()["id"]
    onboarding = f"/api/v1/admin/organizations/{organization_id}/onboarding"

    # --- The admin accepts from her email and signs in to the console.
    admin = people.new()
    _accept(
        admin, go_live._emailed_link(app, smtp, ADMIN[0], url), ORGANIZATION, ADMIN[1], ADMIN[0]
    )
    _sign_in(admin, ADMIN[0])
    admin.get_by_role("heading", name="Overview").wait_for()
    admin_token = client.post(
        "/api/v1/auth/login", json={"email": ADMIN[0], "password": PASSWORDS[ADMIN[0]]}
    ).get_json()["access_token"]

    # Onboarding says what is missing and where it is done.
    _open(admin, "Onboarding")
    steps = admin.get_by_role("main")
    expect(steps).to_contain_text("a tax form uploaded")
    expect(steps).to_contain_text("at least one facility")
    assert_accessible(admin)

    # Documents: the tax form and the banking letter.
    _open(admin, "Documents")
    for kind, name in (("tax_form", "tax-form.pdf"), ("banking_letter", "banking-letter.pdf")):
        admin.get_by_label("File (PDF, PNG or JPEG)").set_input_files(
            {"name": name, "mimeType": "application/pdf", "buffer": PDF}
        )
        admin.get_by_label("Document type").select_option(kind)
        admin.get_by_role("button", name="Upload").click()
        expect(admin.get_by_role("main")).to_contain_text(name)

    # Two facilities.
    for facility in (CLINIC, NORTH):
        _open(admin, "Facilities")
        admin.get_by_role("link", name="Add a facility").click()
        admin.get_by_label("Name").fill(facility)
        admin.get_by_label("Type").select_option(label="Clinic")
        admin.get_by_label("State").fill("CA")
        admin.get_by_role("button", name="Add the facility").click()
        admin.get_by_role("heading", level=1, name=facility).wait_for()

    # An office manager and a provider invited.
    _open(admin, "Invitations")
    admin.get_by_role("heading", name="Sent invitations").wait_for()
    for (email, name), role in ((OFFICE_MANAGER, "Office manager"), (PROVIDER, "Provider")):
        admin.get_by_label("Role").select_option(label=role)
        admin.get_by_label("Email").fill(email)
        admin.get_by_label("Name").fill(name)
        if role == "Provider":
            admin.get_by_label(CLINIC).check()
            admin.get_by_label("Primary facility").select_option(label=CLINIC)
        admin.get_by_role("button", name="Send invitation").click()
        expect(admin.locator(".notice")).to_have_text(f"Invitation sent to {email}.")

    # --- Each accepts from their own email, in their own browser.
    manager = people.new()
    provider = people.new()
    for page, (email, name) in ((manager, OFFICE_MANAGER), (provider, PROVIDER)):
        _accept(page, go_live._emailed_link(app, smtp, email, url), ORGANIZATION, name, email)

    # The office manager is put in charge of the clinic.
    _open(admin, "Facilities")
    admin.get_by_role("link", name=CLINIC).click()
    admin.get_by_role("button", name="Edit details").click()
    admin.get_by_label("Office manager").select_option(label=OFFICE_MANAGER[1])
    admin.get_by_role("button", name="Save").click()
    expect(admin.get_by_role("main")).to_contain_text(OFFICE_MANAGER[1])

    # The manual steps, and the organization is live.
    _open(admin, "Onboarding")
    admin.get_by_role("button", name="Complete training and certification").click()
    admin.get_by_role("button", name="Reopen training and certification").wait_for()
    admin.get_by_role("button", name="Complete go live").click()
    expect(admin.get_by_role("main")).to_contain_text("100%")
    progress = _api(client, admin_token, onboarding)
    assert (progress["percent_complete"], progress["onboarding_status"]) == (100, "completed"), (
        progress,
        admin.inner_text("main"),
    )
    _open(admin, "Dashboard")
    expect(admin.get_by_text("Completed: 100% complete")).to_be_visible()
    organization = _api(client, msc_token, f"/api/v1/admin/organizations/{organization_id}")
    assert organization["status"] == "active"

    # --- The provider adds a license in their profile.
    _sign_in(provider, PROVIDER[0])
    provider.goto("/console/profile/credentials")
    add = provider.locator("form", has=provider.get_by_role("button", name="Add credential"))
    add.get_by_label("License number").fill("CA-A123456")
    add.get_by_label("State (2 letters)").fill("CA")
    add.get_by_label("Expiry date").fill("2030-06-30")
    add.get_by_role("button", name="Add credential").click()
    expect(provider.locator("table.credentials tbody tr")).to_have_count(1)
    assert_accessible(provider)

    # --- The admin sees the score before, verifies the license, and sees it move.
    _open(admin, "Dashboard")
    admin.get_by_role("heading", name="Overview").wait_for()
    before = _api(client, admin_token, f"/api/v1/admin/organizations/{organization_id}/dashboard")
    expect(admin.locator(".figure", has_text="Compliance score").locator("dd")).to_have_text(
        f"{before['overview']['compliance_score']}%"
    )
    _open(admin, "Providers")
    admin.get_by_role("link", name=PROVIDER[1]).click()
    admin.get_by_role("button", name="Verify Medical license CA CA-A123456").click()
    expect(admin.get_by_role("main")).to_contain_text("Verified")
    _open(admin, "Dashboard")
    after = _api(client, admin_token, f"/api/v1/admin/organizations/{organization_id}/dashboard")
    assert after["overview"]["compliance_score"] > before["overview"]["compliance_score"]
    expect(admin.locator(".figure", has_text="Compliance score").locator("dd")).to_have_text(
        f"{after['overview']['compliance_score']}%"
    )
    assert_accessible(admin)
    screenshot(admin, "journey-dashboard", folder=CONSOLE_SCREENSHOTS)

    # --- The office manager sees their facility and no other, and no admin's screens.
    _sign_in(manager, OFFICE_MANAGER[0])
    offered = manager.get_by_role("navigation", name="Screens").get_by_role("link")
    assert "Members" not in offered.all_inner_texts()
    _open(manager, "Facilities")
    expect(manager.locator("tbody th")).to_have_text([CLINIC])
    for path, title in (("members", "members"), ("documents", "documents")):
        manager.goto(f"/console/{path}")
        expect(manager.get_by_role("alert")).to_have_text(f"Your role cannot open {title}.")
    assert_accessible(manager)

    # --- An MSC admin finds the organization and suspends it.
    msc = people.new()
    secret = enrol_second_factor(client, msc_token)
    with clock.frozen(SIGN_IN_AT):
        sign_in(msc, seeded.msc_admin.email)
        msc.get_by_label("Code from your authenticator app").fill(pyotp.TOTP(secret).at(SIGN_IN_AT))
        msc.get_by_role("button", name="Sign in").click()
        msc.get_by_role("heading", name="Organizations").wait_for()
    msc.get_by_label("Name").fill("Lakeside")
    msc.get_by_role("button", name="Search").click()
    msc.get_by_role("link", name=ORGANIZATION).click()
    status = msc.get_by_role("region", name="Status")
    status.get_by_role("button", name="Suspend").click()
    status.get_by_role("button", name="Yes, suspend").click()
    expect(status).to_contain_text(f"{ORGANIZATION} is suspended.")
    organization = _api(client, msc_token, f"/api/v1/admin/organizations/{organization_id}")
    assert organization["status"] == "suspended"

    # Its admin can still read, but a change is refused in the API's words.
    _open(admin, "Facilities")
    admin.get_by_role("link", name="Add a facility").click()
    admin.get_by_label("Name").fill("Lakeside South")
    admin.get_by_label("Type").select_option(label="Clinic")
    admin.get_by_label("State").fill("CA")
    admin.get_by_role("button", name="Add the facility").click()
    expect(admin.get_by_role("alert")).to_contain_text("suspended")
    assert people.refused == []
