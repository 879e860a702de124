"""The console's provider and invitation screens, in a real browser over the real build:
an organization admin invites, resends and revokes; verifies a provider's credential and
sees their compliance move as the API scores it; assigns them to a facility, makes it
primary and ends another assignment. A provider's role opens neither screen."""

from __future__ import annotations

from io import BytesIO
from pathlib import Path
from typing import Any

from flask.testing import FlaskClient
from playwright.sync_api import Page, expect
from sqlalchemy import Engine, text

from tests.api_helpers import assignment_rows, committed_facility, set_office_manager
from tests.browser import (
    CONSOLE_SCREENSHOTS,
    TABLET,
    assert_accessible,
    policy_violations,
    screenshot,
    sign_in,
)
from tests.conftest import Tenant, TwoTenants, bearer, token_for

INVITATIONS = "/api/v1/admin/invitations"
PROVIDERS = "/api/v1/admin/providers"
LICENSE = {
    "credential_type": "medical_license",
    "state": "TX",
    "number": "TX-12345",
    "issuer": "Texas Medical Board",
    "expiry_date": "2099-12-31",
}
PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << >>\n%%EOF\n"


def _signed_in_as_admin(page: Page, tenant: Tenant) -> None:
    sign_in(page, tenant.admin.email)
    page.get_by_role("heading", name="Overview").wait_for()


def _invitation_emails(admin_engine: Engine, email: str) -> list[str]:
    """The statuses of the invitation emails written to the outbox for `email`, oldest first."""
    with admin_engine.connect() as conn:
        return list(
            conn.execute(
                text(
                    "SELECT status FROM outbox_messages WHERE kind = 'invitation'"
                    " AND recipient_email = :e ORDER BY created_at"
                ),
                {"e": email},
            ).scalars()
        )


def _invite(client: FlaskClient, staff: dict[str, str], tenant: Tenant, email: str) -> Any:
    body = {
        "email": email,
        "name": "Dr. Leaving",
        "role": "provider",
        "organization_id": str(tenant.organization.id),
    }
    return client.post("/api/v1/admin/providers/invite", json=body, headers=staff)


def _invitations(client: FlaskClient, staff: dict[str, str]) -> dict[str, dict[str, Any]]:
    listed = client.get(INVITATIONS, headers=staff)
    assert listed.status_code == 200
    return {invitation["email"]: invitation for invitation in listed.get_json()}


def test_an_organization_admin_invites_resends_and_revokes(
    console: Page, client: FlaskClient, seeded: TwoTenants, admin_engine: Engine
) -> None:
    page = console
    a = seeded.a
    staff = bearer(token_for(client, a.admin))
    other = "leaving.soon@example.com"
    assert _invite(client, staff, a, other).status_code == 201
    refused = policy_violations(page)
    _signed_in_as_admin(page, a)
    page.get_by_role("navigation", name="Screens").get_by_role("link", name="Invitations").click()
    page.get_by_role("heading", name="Sent invitations").wait_for()
    expect(page.locator("tbody th")).to_have_text([other])

    # Only the roles an organization admin may offer, all three of them.
    assert page.get_by_label("Role").locator("option").all_inner_texts() == [
        "Provider",
        "Office manager",
        "Organization admin",
    ]
    # Refused: the API's message beside the field it names, what was typed kept.
    email = page.get_by_label("Email")
    email.fill("not-an-email")
    page.get_by_label("Name").fill("Dr. Jordan Lee")
    page.get_by_label(a.facility.name).check()
    page.get_by_role("button", name="Send invitation").click()
    message = page.locator("#invite-email-error")
    expect(message).to_be_visible()
    expected = _invite(client, staff, a, "not-an-email")
    assert expected.status_code == 422
    assert message.inner_text() == expected.get_json()["errors"]["json"]["email"][0]
    assert email.get_attribute("aria-invalid") == "true"
    assert email.get_attribute("aria-describedby") == "invite-email-error"
    assert email.input_value() == "not-an-email"
    assert page.get_by_label("Name").input_value() == "Dr. Jordan Lee"
    assert page.get_by_label(a.facility.name).is_checked()
    assert_accessible(page)
    screenshot(page, "invite-refused", folder=CONSOLE_SCREENSHOTS)

    # Sent: the invitation is listed as the API lists it, its email queued.
    new = "jordan.lee@example.com"
    email.fill(new)
    page.get_by_label("Primary facility").select_option(label=a.facility.name)
    page.get_by_role("button", name="Send invitation").click()
    expect(page.locator(".notice")).to_have_text(f"Invitation sent to {new}.")
    expect(page.locator("tbody th")).to_have_text([new, other])
    listed = _invitations(client, staff)
    invitation = listed[new]
    assert invitation["status"] == "pending" and invitation["name"] == "Dr. Jordan Lee"
    assert invitation["facility_ids"] == [str(a.facility.id)]
    assert invitation["primary_facility_id"] == str(a.facility.id)
    row = page.locator("tbody tr", has_text=new)
    assert row.locator("td").nth(2).inner_text() == "Pending"
    assert _invitation_emails(admin_engine, new) == ["pending"]
    assert email.input_value() == ""
    assert_accessible(page)

    # Resent: the same invitation with a new link, the old email cancelled for a new one.
    page.get_by_role("button", name=f"Resend the invitation to {new}").click()
    expect(page.locator(".notice")).to_have_text(f"A new invitation was sent to {new}.")
    assert _invitation_emails(admin_engine, new) == ["cancelled", "pending"]
    again = _invitations(client, staff)
    assert len(again) == 2 and again[new]["id"] == invitation["id"]
    assert again[new]["facility_ids"] == invitation["facility_ids"]

    # Revoked, after a confirmation.
    page.get_by_role("button", name=f"Revoke the invitation to {other}").click()
    assert_accessible(page)
    page.get_by_role("button", name="Keep it").click()
    assert _invitations(client, staff)[other]["status"] == "pending"
    page.get_by_role("button", name=f"Revoke the invitation to {other}").click()
    # The confirmation takes the keyboard's focus from the button it replaced.
    expect(page.get_by_role("button", name="Revoke invitation")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator(".notice")).to_have_text(f"The invitation to {other} was revoked.")
    expect(page.locator("tbody tr", has_text=other).locator(".badge")).to_have_text("Revoked")
    assert _invitations(client, staff)[other]["status"] == "revoked"
    assert _invitation_emails(admin_engine, other) == ["cancelled"]
    assert page.get_by_role("button", name=f"Revoke the invitation to {other}").count() == 0
    assert_accessible(page)
    screenshot(page, "invitations", folder=CONSOLE_SCREENSHOTS)
    page.set_viewport_size(TABLET)
    assert_accessible(page)
    assert _fits_across(page)
    assert refused == []


def _fits_across(page: Page) -> bool:
    """Whether the page needs no sideways scrolling (wide tables scroll in their box)."""
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"))


def _score_text(value: int) -> str:
    return f"{value}%"


def test_an_organization_admin_verifies_a_credential_and_sees_the_compliance_move(
    console: Page, client: FlaskClient, seeded: TwoTenants
) -> None:
    page = console
    a = seeded.a
    provider = seeded.shared_provider
    as_provider = bearer(token_for(client, provider, a.organization))
    created = client.post("/api/v1/me/credentials", json=LICENSE, headers=as_provider)
    assert created.status_code == 201, created.get_json()
    uploaded = client.post(
        "/api/v1/me/documents",
        data={
            "file": (BytesIO(PDF), "license.pdf", "application/pdf"),
            "document_type": "license_copy",
            "credential_id": created.get_json()["id"],
        },
        headers=as_provider,
        content_type="multipart/form-data",
    )
    assert uploaded.status_code == 201, uploaded.get_json()
    staff = bearer(token_for(client, a.admin))
    compliance = f"{PROVIDERS}/{provider.id}/compliance"
    before = client.get(compliance, headers=staff).get_json()
    refused = policy_violations(page)
    _signed_in_as_admin(page, a)

    page.get_by_role("navigation", name="Screens").get_by_role("link", name="Providers").click()
    page.get_by_role("heading", name=f"Providers of {a.organization.name}").wait_for()
    [listed] = client.get(PROVIDERS, headers=staff).get_json()
    row = page.locator("tbody tr")
    expect(row).to_have_count(1)
    assert listed["primary_facility_id"] == str(a.facility.id)
    expect(row.locator("th, td")).to_have_text(
        [listed["name"], listed["email"], listed["npi"], "Active", a.facility.name]
    )
    assert_accessible(page)
    screenshot(page, "providers", folder=CONSOLE_SCREENSHOTS)
    page.get_by_label("Name or NPI").fill("nobody of this name")
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_text("No provider matches this search.")).to_be_visible()
    page.get_by_label("Name or NPI").fill(provider.npi or "")
    page.get_by_role("button", name="Search").click()
    expect(row.locator("th")).to_have_text([provider.name])

    page.get_by_role("link", name=provider.name).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(provider.name)
    score = page.locator(".compliance-score")
    expect(score).to_have_text(_score_text(before["score"]))
    assert "Medical license" in page.locator(".reasons").inner_text()
    credential = page.locator(".credentials tbody tr")
    expect(credential.locator(".badge")).to_have_text("Unverified")
    checklist = client.get(f"{PROVIDERS}/{provider.id}/onboarding", headers=staff).get_json()
    expect(page.get_by_text(f"{checklist['percent_complete']}% complete")).to_be_visible()
    assert_accessible(page)

    # The document's file, fetched with the token and handed over as the API names it.
    with page.expect_download() as downloading:
        page.get_by_role("button", name="Download license.pdf").click()
    saved = downloading.value
    assert saved.suggested_filename == "license.pdf"
    assert Path(saved.path()).read_bytes() == PDF

    # A rejection needs a reason: the API's refusal beside the field, nothing changed.
    page.get_by_role("button", name="Reject Medical license TX TX-12345").click()
    page.get_by_label("Reason for rejecting").fill("no")
    page.get_by_role("button", name="Reject credential").click()
    expect(page.locator("#rejection-reason-error")).to_be_visible()
    assert page.get_by_label("Reason for rejecting").input_value() == "no"
    assert_accessible(page)
    page.get_by_role("button", name="Cancel").click()

    page.get_by_role("button", name="Verify Medical license TX TX-12345").click()
    expect(page.locator(".notice")).to_have_text("Medical license TX TX-12345 verified.")
    expect(credential.locator(".badge")).to_have_text("Verified")
    after = client.get(compliance, headers=staff).get_json()
    assert after["score"] > before["score"]
    expect(score).to_have_text(_score_text(after["score"]))
    [stored] = client.get(f"{PROVIDERS}/{provider.id}/credentials", headers=staff).get_json()
    assert stored["status"] == "verified" and stored["verified_by_id"] == str(a.admin.id)
    assert_accessible(page)
    screenshot(page, "provider", folder=CONSOLE_SCREENSHOTS)
    page.set_viewport_size(TABLET)
    assert_accessible(page)
    assert _fits_across(page)
    assert refused == []


def test_an_organization_admin_assigns_makes_primary_and_ends(
    console: Page, client: FlaskClient, seeded: TwoTenants, admin_engine: Engine
) -> None:
    page = console
    a = seeded.a
    provider = seeded.shared_provider
    second = committed_facility(admin_engine, a.organization, name="Northside Clinic")
    refused = policy_violations(page)
    _signed_in_as_admin(page, a)
    page.goto(f"/console/providers/{provider.id}")
    expect(page.get_by_role("heading", level=1)).to_have_text(provider.name)
    rows = page.locator(".assignments tbody tr")
    expect(rows).to_have_count(1)

    page.get_by_label("Facility", exact=True).select_option(label=second.name)
    page.get_by_role("button", name="Assign", exact=True).click()
    expect(page.locator(".notice")).to_have_text(f"Assigned to {second.name}.")
    expect(rows).to_have_count(2)
    staff = bearer(token_for(client, a.admin))
    shown = {
        row.locator("th").inner_text(): row.locator("td").all_inner_texts()[:2]
        for row in rows.all()
    }
    listed = client.get(f"{PROVIDERS}/{provider.id}/facilities", headers=staff).get_json()
    assert shown == {
        assignment["facility_name"]: [
            "Primary" if assignment["is_primary"] else "—",
            assignment["status"].capitalize(),
        ]
        for assignment in listed
    }
    assert shown[second.name] == ["—", "Active"]

    page.get_by_role("button", name=f"Make {second.name} primary").click()
    expect(page.locator(".notice")).to_have_text(f"{second.name} is now the primary facility.")
    expect(rows.filter(has_text=second.name).locator("td").first).to_have_text("Primary")
    primary = {r["facility_id"]: r["is_primary"] for r in assignment_rows(admin_engine, provider)}
    assert primary[second.id] is True and primary[a.facility.id] is False

    page.get_by_role("button", name=f"End the assignment at {a.facility.name}").click()
    assert_accessible(page)
    page.get_by_role("button", name="End assignment").click()
    expect(page.locator(".notice")).to_have_text(f"The assignment at {a.facility.name} has ended.")
    ended = rows.filter(has_text=a.facility.name)
    expect(ended.locator("td").nth(1)).to_have_text("Inactive")
    assert ended.get_by_role("button").count() == 0
    statuses = {r["facility_id"]: r["status"] for r in assignment_rows(admin_engine, provider)}
    assert statuses[a.facility.id] == "inactive" and statuses[second.id] == "active"
    assert_accessible(page)
    assert refused == []


def test_an_office_manager_invites_providers_only_to_the_facilities_they_manage(
    console: Page, client: FlaskClient, seeded: TwoTenants, admin_engine: Engine
) -> None:
    page = console
    a = seeded.a
    set_office_manager(admin_engine, a.facility, a.office_manager)
    unmanaged = committed_facility(admin_engine, a.organization, name="Someone Else's Clinic")
    refused = policy_violations(page)
    sign_in(page, a.office_manager.email)
    nav = page.get_by_role("navigation", name="Screens")
    nav.get_by_role("link", name="Invitations").click()
    page.get_by_role("heading", name="Sent invitations").wait_for()
    assert page.get_by_label("Role").locator("option").all_inner_texts() == ["Provider"]
    offered = page.locator("fieldset.facilities label")
    expect(offered).to_have_text([a.facility.name])
    assert unmanaged.name not in offered.all_inner_texts()
    assert_accessible(page)

    # The API asks for a facility; its word comes beside the facilities.
    page.get_by_label("Email").fill("new.provider@example.com")
    page.get_by_label("Name").fill("Dr. New Provider")
    page.get_by_role("button", name="Send invitation").click()
    expect(page.locator("#invite-facilities-error")).to_contain_text("facility you manage")
    page.get_by_label(a.facility.name).check()
    page.get_by_role("button", name="Send invitation").click()
    expect(page.locator(".notice")).to_have_text("Invitation sent to new.provider@example.com.")
    [invitation] = client.get(
        INVITATIONS, headers=bearer(token_for(client, a.office_manager))
    ).get_json()
    assert invitation["role"] == "provider"
    assert invitation["facility_ids"] == [str(a.facility.id)]
    assert_accessible(page)
    assert refused == []


def test_a_provider_cannot_reach_the_provider_or_invitation_screens(
    console: Page, seeded: TwoTenants
) -> None:
    page = console
    refused = policy_violations(page)
    sign_in(page, seeded.shared_provider.email)
    nav = page.get_by_role("navigation", name="Screens")
    nav.get_by_role("link", name="My profile").wait_for()
    offered = nav.get_by_role("link").all_inner_texts()
    assert "Providers" not in offered and "Invitations" not in offered
    for path, title in (("providers", "providers"), ("invitations", "invitations")):
        page.goto(f"/console/{path}")
        expect(page.get_by_role("alert")).to_have_text(f"Your role cannot open {title}.")
    page.goto(f"/console/providers/{seeded.shared_provider.id}")
    expect(page.get_by_role("alert")).to_have_text("Your role cannot open providers.")
    assert_accessible(page)
    assert refused == []
