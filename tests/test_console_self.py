"""The console's screens of one's own, in a real browser over the real build: a provider's
profile (details, credentials, compliance, checklist, facilities), and every user's
security (second factor, login sessions, password), with the second factor set up at
sign-in when an organization requires it. What each shows is what the API answers."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pyotp
from flask.testing import FlaskClient
from playwright.sync_api import Page, expect

from app import clock
from app.domain import mfa
from tests.api_helpers import ENROLLED_AT, SIGN_IN_AT
from tests.browser import (
    CONSOLE_SCREENSHOTS,
    LAPTOP,
    TABLET,
    assert_accessible,
    policy_violations,
    screenshot,
    sign_in,
)
from tests.conftest import TwoTenants, bearer, token_for
from tests.factories import PASSWORD

ME = "/api/v1/me"
PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << >>\n%%EOF\n"


def _label(code: str) -> str:
    """How the console writes an API code (console/src/words.ts, `label`)."""
    words = code.replace("_", " ").replace("-", " ")
    return words[:1].upper() + words[1:]


def _get(client: FlaskClient, token: str, path: str) -> Any:
    answer = client.get(path, headers=bearer(token))
    assert answer.status_code == 200, answer.get_json()
    return answer.get_json()


def _wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


def test_a_provider_keeps_their_profile_credentials_and_primary_facility(
    console: Page, client: FlaskClient, seeded: TwoTenants
) -> None:
    page = console
    provider = seeded.shared_provider
    refused = policy_violations(page)
    sign_in(page, provider.email)
    # A provider starts at their profile.
    page.get_by_role("heading", name="Your details").wait_for()
    expect(page.get_by_role("heading", level=1)).to_have_text("My profile")
    nav = page.get_by_role("navigation", name="Screens")

    # The API's figures for the organization the provider acts for.
    acting = page.get_by_label("Organization").locator("option:checked").inner_text()
    organization = next(
        t.organization for t in (seeded.a, seeded.b) if t.organization.name == acting
    )
    token = token_for(client, provider, organization)
    expect(page.get_by_label("Name", exact=True)).to_have_value(provider.name)
    expect(page.get_by_label("NPI")).to_have_value(provider.npi or "")

    compliance = _get(client, token, f"{ME}/compliance")
    expect(page.get_by_label("Compliance score")).to_have_text(f"{compliance['score']}%")
    rows = page.locator("table.compliance tbody tr")
    expect(rows.locator("th")).to_have_text([_label(i["item"]) for i in compliance["items"]])
    expect(rows.locator("td:nth-child(2)")).to_have_text(
        [_label(i["state"]) for i in compliance["items"]]
    )
    checklist = _get(client, token, f"{ME}/onboarding")
    expect(page.get_by_text(f"{checklist['percent_complete']}% complete")).to_be_visible()
    expect(page.locator(".checklist li strong")).to_have_text(
        [_label(i["item"]) for i in checklist["items"]]
    )
    assert_accessible(page)
    screenshot(page, "profile", folder=CONSOLE_SCREENSHOTS)

    # A provider's screens, and none of an administrator's; their addresses are refused.
    offered = nav.get_by_role("link").all_inner_texts()
    for other in ("Providers", "Members", "Dashboard"):
        assert other not in offered
    for path, title in (("providers", "providers"), ("members", "members")):
        page.goto(f"/console/{path}")
        expect(page.get_by_role("alert")).to_have_text(f"Your role cannot open {title}.")
    page.goto("/console/dashboard")
    expect(page.get_by_role("alert")).to_have_text("Your role cannot open dashboard.")
    assert_accessible(page)

    # A license, refused first for a missing number: the field named, the rest kept.
    page.goto("/console/profile/credentials")
    expect(page.get_by_text("You have no credential on file yet.")).to_be_visible()
    assert _get(client, token, f"{ME}/credentials") == []
    add = page.locator("form", has=page.get_by_role("button", name="Add credential"))
    expect(add.get_by_label("Kind of credential")).to_have_value("medical_license")
    add.get_by_label("State (2 letters)").fill("TX")
    add.get_by_label("Expiry date").fill("2029-08-31")
    add.get_by_role("button", name="Add credential").click()
    number = add.get_by_label("License number")
    expect(number).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#new-number-error")).to_contain_text("number")
    expect(add.get_by_label("State (2 letters)")).to_have_value("TX")
    expect(add.get_by_label("Expiry date")).to_have_value("2029-08-31")
    assert_accessible(page)
    screenshot(page, "profile-credential-refused", folder=CONSOLE_SCREENSHOTS)

    number.fill("Q4821")
    add.get_by_role("button", name="Add credential").click()
    row = page.locator("table.credentials tbody tr")
    expect(row).to_have_count(1)
    (kept,) = _get(client, token, f"{ME}/credentials")
    assert (kept["credential_type"], kept["number"], kept["state"]) == (
        "medical_license",
        "Q4821",
        "TX",
    )
    expect(row.locator("td").nth(4)).to_have_text(_label(kept["status"]))
    assert kept["status"] == "unverified"
    expect(number).to_have_value("")
    page.set_viewport_size(TABLET)
    assert_accessible(page)
    screenshot(page, "profile-credentials-tablet", folder=CONSOLE_SCREENSHOTS)

    # Edited: the API has the new expiry.
    row.get_by_role("button", name="Edit").click()
    edit = page.locator("form", has=page.get_by_role("button", name="Save changes"))
    expect(edit.get_by_label("License number")).to_have_value("Q4821")
    edit.get_by_label("Expiry date").fill("2030-01-31")
    edit.get_by_role("button", name="Save changes").click()
    expect(row.locator("td").nth(3)).to_contain_text("2030-01-31")
    assert _get(client, token, f"{ME}/credentials")[0]["expiry_date"] == "2030-01-31"

    # The compliance shown is the API's with the license.
    page.get_by_role("link", name="Profile and compliance").click()
    after = _get(client, token, f"{ME}/compliance")
    expect(page.get_by_label("Compliance score")).to_have_text(f"{after['score']}%")
    license_row = page.locator("table.compliance tbody tr", has_text="Medical license")
    (license_item,) = [i for i in after["items"] if i["item"] == "medical_license"]
    expect(license_row.locator("td").first).to_have_text(_label(license_item["state"]))

    # Removed, after a second thought.
    page.get_by_role("link", name="Credentials").click()
    page.get_by_role("button", name="Remove Medical license Q4821").click()
    page.get_by_role("button", name="Remove for good").click()
    expect(page.get_by_text("You have no credential on file yet.")).to_be_visible()
    assert _get(client, token, f"{ME}/credentials") == []

    # The primary facility moves from A's facility to B's.
    page.set_viewport_size(LAPTOP)
    page.get_by_role("link", name="Facilities").click()
    assignments = _get(client, token, f"{ME}/facilities")
    facilities = page.locator("table.facilities tbody th")
    expect(facilities).to_have_text([a["facility_name"] for a in assignments])
    expect(page.get_by_text(f"Your primary facility: {seeded.a.facility.name}")).to_be_visible()
    assert_accessible(page)
    screenshot(page, "profile-facilities", folder=CONSOLE_SCREENSHOTS)
    page.get_by_role("button", name=f"Make primary {seeded.b.facility.name}").click()
    expect(page.get_by_text(f"Your primary facility: {seeded.b.facility.name}")).to_be_visible()
    (primary,) = [a for a in _get(client, token, f"{ME}/facilities") if a["is_primary"]]
    assert primary["facility_id"] == str(seeded.b.facility.id)
    assert refused == []


def test_a_provider_profile_names_a_refused_field_and_saves_the_rest(
    console: Page, client: FlaskClient, seeded: TwoTenants
) -> None:
    page = console
    provider = seeded.shared_provider
    refused = policy_violations(page)
    sign_in(page, provider.email)
    page.get_by_role("navigation", name="Screens").get_by_role("link", name="My profile").click()
    phone = page.get_by_label("Phone")
    phone.fill("not a phone")
    page.get_by_label("Name", exact=True).fill("Dr. Robin Vale")
    page.get_by_role("button", name="Save details").click()
    expect(phone).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("Name", exact=True)).to_have_value("Dr. Robin Vale")
    assert _get(client, token_for(client, provider), ME)["name"] == provider.name
    phone.fill("+14155552671")
    page.get_by_role("button", name="Save details").click()
    expect(page.get_by_text("Your details are saved.")).to_be_visible()
    saved = _get(client, token_for(client, provider), ME)
    assert (saved["name"], saved["phone"]) == ("Dr. Robin Vale", "+14155552671")
    # The header names them as they are now, without a reload.
    expect(page.locator("header .who")).to_contain_text("Dr. Robin Vale")
    assert refused == []


def test_a_provider_uploads_downloads_and_removes_their_documents(
    console: Page, client: FlaskClient, seeded: TwoTenants
) -> None:
    page = console
    provider = seeded.shared_provider
    refused = policy_violations(page)
    sign_in(page, provider.email)
    page.get_by_role("navigation", name="Screens").get_by_role("link", name="My profile").click()
    page.get_by_role("link", name="Documents").click()
    expect(page.get_by_text("You have no document on file yet.")).to_be_visible()

    # No file: the API names the field, and what was chosen stays.
    kind = page.get_by_label("Kind of document")
    kind.select_option("training_certificate")
    page.get_by_label("Expiry date").fill("2027-06-30")
    page.get_by_role("button", name="Upload").click()
    expect(page.get_by_label("File (PDF, PNG or JPEG)")).to_have_attribute("aria-invalid", "true")
    expect(kind).to_have_value("training_certificate")
    assert_accessible(page)

    page.get_by_label("File (PDF, PNG or JPEG)").set_input_files(
        files={"name": "training.pdf", "mimeType": "application/pdf", "buffer": PDF}
    )
    page.get_by_role("button", name="Upload").click()
    expect(page.get_by_text("training.pdf uploaded.")).to_be_visible()
    (kept,) = _get(client, token_for(client, provider), f"{ME}/documents")
    assert (kept["filename"], kept["document_type"], kept["expiry_date"]) == (
        "training.pdf",
        "training_certificate",
        "2027-06-30",
    )
    row = page.locator("table.documents tbody tr")
    expect(row.locator("th")).to_have_text("training.pdf")
    expect(row.locator("td").first).to_have_text("Training certificate")
    assert_accessible(page)
    screenshot(page, "profile-documents", folder=CONSOLE_SCREENSHOTS)

    with page.expect_download() as downloading:
        page.get_by_role("button", name="Download training.pdf").click()
    fetched = downloading.value
    assert fetched.suggested_filename == "training.pdf"
    with open(fetched.path(), "rb") as content:
        assert content.read() == PDF

    # Removed once confirmed: "Keep" keeps it; the confirmation takes the focus.
    page.get_by_role("button", name="Remove training.pdf").click()
    page.get_by_role("button", name="Keep").click()
    assert len(_get(client, token_for(client, provider), f"{ME}/documents")) == 1
    page.get_by_role("button", name="Remove training.pdf").click()
    expect(page.get_by_role("button", name="Remove for good")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_text("You have no document on file yet.")).to_be_visible()
    assert _get(client, token_for(client, provider), f"{ME}/documents") == []
    assert refused == []


def test_a_user_sets_up_a_second_factor_and_signing_in_asks_for_it(
    console: Page, client: FlaskClient, seeded: TwoTenants
) -> None:
    page = console
    manager = seeded.a.office_manager
    other_session = token_for(client, manager, seeded.a.organization)
    refused = policy_violations(page)
    sign_in(page, manager.email)
    page.get_by_role("navigation", name="Screens").get_by_role("link", name="Security").click()
    expect(page.get_by_text("Off: you sign in with your password alone.")).to_be_visible()

    # Both login sessions, this one marked; the other ends.
    sessions = _get(client, other_session, "/api/v1/auth/sessions")
    rows = page.locator("table.sessions tbody tr")
    expect(rows).to_have_count(len(sessions))
    expect(page.get_by_text("This session")).to_have_count(1)
    assert_accessible(page)
    screenshot(page, "security", folder=CONSOLE_SCREENSHOTS)
    page.set_viewport_size(TABLET)
    assert_accessible(page)
    # The wide table scrolls in its box; the page keeps to the tablet's width.
    assert page.evaluate("document.documentElement.scrollWidth") <= TABLET["width"]
    screenshot(page, "security-tablet", folder=CONSOLE_SCREENSHOTS)
    page.set_viewport_size(LAPTOP)
    page.get_by_role("button", name="End all other sessions").click()
    expect(rows).to_have_count(1)
    assert client.get(ME, headers=bearer(other_session)).status_code == 401

    # A wrong password names its field, and so does a policy's refusal of the new one.
    page.get_by_label("Current password").fill("not-the-password")
    page.get_by_label("New password").fill("violet-harbor-71-kettle")
    page.get_by_role("button", name="Change password").click()
    expect(page.get_by_label("Current password")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("New password")).to_have_value("violet-harbor-71-kettle")

    # The key, then a wrong code, then the right one: the recovery codes, once.
    page.get_by_label("Your password").fill(PASSWORD)
    page.get_by_role("button", name="Set up", exact=True).click()
    secret = page.get_by_label("Key", exact=True).input_value()
    assert (
        page.get_by_label("Address for the app (otpauth)")
        .input_value()
        .startswith("otpauth://totp/")
    )
    expect(page.get_by_role("img", name="QR code of the key")).to_be_visible()
    with clock.frozen(ENROLLED_AT):
        right = pyotp.TOTP(secret).at(ENROLLED_AT)
        code = page.get_by_label("Code from your authenticator app")
        code.fill(_wrong(right))
        page.get_by_role("button", name="Confirm").click()
        expect(code).to_have_attribute("aria-invalid", "true")
        assert_accessible(page)
        screenshot(page, "security-enrol", folder=CONSOLE_SCREENSHOTS)
        code.fill(right)
        page.get_by_role("button", name="Confirm").click()
        codes = page.get_by_role("list", name="Recovery codes").get_by_role("listitem")
        expect(codes).to_have_count(10)
    token = token_for(client, manager, seeded.a.organization)
    status = _get(client, token, "/api/v1/auth/mfa")
    assert status["enabled"] is True and status["recovery_codes_left"] == 10
    expect(page.get_by_text("10 recovery codes left")).to_be_visible()
    assert_accessible(page)
    screenshot(page, "security-recovery-codes", folder=CONSOLE_SCREENSHOTS)

    # Signing in again asks for the code.
    page.get_by_role("button", name="Sign out").click()
    with clock.frozen(SIGN_IN_AT):
        sign_in(page, manager.email)
        page.get_by_label("Code from your authenticator app").fill(
            pyotp.TOTP(secret).at(SIGN_IN_AT)
        )
        page.get_by_role("button", name="Sign in").click()
        page.get_by_role("navigation", name="Screens").get_by_role("link", name="Security").click()
    expect(page.get_by_text("10 recovery codes left")).to_be_visible()
    # This one, and the one the API was asked with.
    expect(page.locator("table.sessions tbody tr")).to_have_count(
        len(_get(client, token, "/api/v1/auth/sessions"))
    )

    # New recovery codes for a code, then off with one of them.
    later = SIGN_IN_AT + dt.timedelta(seconds=30)
    with clock.frozen(later):
        page.locator("#recovery-codes-code").fill(pyotp.TOTP(secret).at(later))
        page.get_by_role("button", name="Make new recovery codes").click()
        fresh = page.get_by_role("list", name="Recovery codes").get_by_role("listitem")
        expect(fresh).to_have_count(10)
    page.get_by_role("button", name="Use a recovery code").click()
    page.get_by_label("Recovery code", exact=True).fill(fresh.first.inner_text())
    page.get_by_role("button", name="Turn off the second factor").click()
    expect(page.get_by_text("Off: you sign in with your password alone.")).to_be_visible()
    expect(page.get_by_role("list", name="Recovery codes")).to_have_count(0)
    assert _get(client, token, "/api/v1/auth/mfa")["enabled"] is False
    assert refused == []


def test_an_admin_sets_up_the_second_factor_their_organization_requires_at_sign_in(
    console: Page, client: FlaskClient, seeded: TwoTenants
) -> None:
    page = console
    admin, organization = seeded.a.admin, seeded.a.organization
    required = client.put(
        f"/api/v1/admin/organizations/{organization.id}",
        json={"require_admin_mfa": True},
        headers=bearer(token_for(client, admin, organization)),
    )
    assert required.status_code == 200, required.get_json()
    refused = policy_violations(page)
    sign_in(page, admin.email)
    page.get_by_role("heading", name="Set up a second factor first").wait_for()
    rule = mfa.ORGANIZATION_RULE
    expect(page.get_by_text(rule[:1].upper() + rule[1:])).to_be_visible()
    page.get_by_role("button", name="Set up an authenticator app").click()
    secret = page.get_by_label("Key", exact=True).input_value()
    assert_accessible(page)
    screenshot(page, "sign-in-enrol", folder=CONSOLE_SCREENSHOTS)
    with clock.frozen(ENROLLED_AT):
        code = page.get_by_label("Code from your authenticator app")
        code.fill(_wrong(pyotp.TOTP(secret).at(ENROLLED_AT)))
        page.get_by_role("button", name="Confirm and sign in").click()
        expect(code).to_have_attribute("aria-invalid", "true")
        code.fill(pyotp.TOTP(secret).at(ENROLLED_AT))
        page.get_by_role("button", name="Confirm and sign in").click()
        expect(
            page.get_by_role("list", name="Recovery codes").get_by_role("listitem")
        ).to_have_count(10)
    page.get_by_role("button", name="I have kept them: continue").click()
    page.get_by_role("heading", name="Overview").wait_for()
    status = _get(client, token_for(client, admin, organization), "/api/v1/auth/mfa")
    assert status["enabled"] is True and status["required_by"]

    # It cannot be turned off while the rule stands: the screen says so and offers nothing.
    page.get_by_role("navigation", name="Screens").get_by_role("link", name="Security").click()
    expect(page.get_by_text("It cannot be turned off")).to_be_visible()
    expect(page.get_by_role("button", name="Turn off the second factor")).to_have_count(0)
    assert refused == []
