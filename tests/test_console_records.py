"""The console's record screens in a real browser over the real build: members and their
roles, the audit and access trail, analytics as charts, and the organization's documents.
What each shows is checked against the API's own answer, what each does against the API
after it; refusals appear in the API's words."""

from __future__ import annotations

import csv
import datetime as dt
import io
from io import BytesIO
from pathlib import Path
from typing import Any

from flask.testing import FlaskClient
from playwright.sync_api import Download, FilePayload, Page, expect
from sqlalchemy import Engine
from werkzeug.test import TestResponse

from app.schemas.documents import PDF
from tests.browser import (
    CONSOLE_SCREENSHOTS,
    TABLET,
    assert_accessible,
    policy_violations,
    screenshot,
    sign_in,
)
from tests.conftest import TwoTenants, bearer, token_for
from tests.test_analytics import TODAY, _seed

# Enough changes for the trail to fill more than one of its pages (50 events).
ROLE_FLIPS = 50


def _open(page: Page, email: str, screen: str) -> None:
    """Sign in and open a screen from the navigation, as a person would."""
    sign_in(page, email)
    page.get_by_role("navigation", name="Screens").get_by_role("link", name=screen).click()
    page.get_by_role("heading", level=1).filter(has_text=screen.split()[0]).wait_for()


def _get(client: FlaskClient, token: str, path: str) -> Any:
    response = client.get(path, headers=bearer(token))
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def _refusal(response: TestResponse, field: str) -> str:
    """The API's first message about `field`, wherever the request carried it."""
    errors: dict[str, dict[str, list[str]]] = response.get_json()["errors"]
    return next(fields[field][0] for fields in errors.values() if field in fields)


def _saved(download: Download) -> bytes:
    return Path(download.path()).read_bytes()


def _fits_the_width(page: Page) -> bool:
    """Wide tables scroll in their own box: the page itself never scrolls sideways."""
    return bool(page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth"))


# --- members ----------------------------------------------------------------------------


def test_an_organization_admin_changes_roles_and_deactivates_a_member(
    console: Page, client: FlaskClient, seeded: TwoTenants
) -> None:
    page = console
    a = seeded.a
    token = token_for(client, a.admin, a.organization)
    members_path = f"/api/v1/admin/organizations/{a.organization.id}/members?page_size=100"
    refused = policy_violations(page)
    _open(page, a.admin.email, "Members")

    expected = _get(client, token, members_path)
    names = page.locator("table.records tbody th")
    expect(names).to_have_text([member["name"] for member in expected])
    for member in expected:
        assert page.get_by_label(f"Role of {member['name']}").input_value() == member["role"]
    assert page.locator("table.records tbody td:nth-child(4)").all_inner_texts() == [
        "Active" for _ in expected
    ]
    assert_accessible(page)
    screenshot(page, "members", folder=CONSOLE_SCREENSHOTS)
    # The rest on a tablet: the table scrolls in its box, the page does not.
    page.set_viewport_size(TABLET)
    assert _fits_the_width(page)

    # The only admin may not step down: the API's words beside the field, the choice kept.
    own = next(member for member in expected if member["user_id"] == str(a.admin.id))
    own_role = page.get_by_label(f"Role of {a.admin.name}")
    own_role.select_option("office_manager")
    page.get_by_role("button", name=f"Change role of {a.admin.name}").click()
    said = client.put(
        f"/api/v1/admin/members/{own['id']}",
        json={"role": "office_manager"},
        headers=bearer(token),
    )
    assert said.status_code == 409
    refusal = _refusal(said, "role")
    assert "at least one active organization admin" in refusal
    expect(page.locator(f"#role-{own['id']}-error")).to_have_text(refusal)
    expect(own_role).to_have_attribute("aria-invalid", "true")
    expect(own_role).to_have_attribute("aria-describedby", f"role-{own['id']}-error")
    assert own_role.input_value() == "office_manager"
    assert_accessible(page)

    # The office manager becomes an organization admin.
    manager = a.office_manager.name
    page.get_by_label(f"Role of {manager}").select_option("organization_admin")
    page.get_by_role("button", name=f"Change role of {manager}").click()
    expect(page.get_by_role("status").filter(has_text="is now")).to_have_text(
        f"{manager} is now organization admin."
    )
    roles = {m["name"]: m["role"] for m in _get(client, token, members_path)}
    assert roles[manager] == "organization_admin"
    assert roles[a.admin.name] == "organization_admin"

    # The shared provider is deactivated, after a confirmation, then reactivated.
    provider = seeded.shared_provider.name
    page.get_by_role("button", name=f"Deactivate {provider}").click()
    confirm = page.get_by_role("button", name="Yes, deactivate")
    assert_accessible(page)
    confirm.click()
    expect(page.get_by_role("status").filter(has_text="deactivated")).to_have_text(
        f"{provider} is deactivated."
    )
    statuses = {m["name"]: m["status"] for m in _get(client, token, members_path)}
    assert statuses[provider] == "deactivated"
    row = page.locator("table.records tbody tr").filter(has_text=provider)
    expect(row.locator("td").nth(2)).to_have_text("Deactivated")
    page.get_by_role("button", name=f"Reactivate {provider}").click()
    expect(page.get_by_role("status").filter(has_text="reactivated")).to_have_text(
        f"{provider} is reactivated."
    )
    statuses = {m["name"]: m["status"] for m in _get(client, token, members_path)}
    assert statuses[provider] == "active"

    # With a second admin, the admin steps down: the console offers her what an office
    # manager may open, at once.
    own_role.select_option("office_manager")
    page.get_by_role("button", name=f"Change role of {a.admin.name}").click()
    expect(page.get_by_role("alert")).to_have_text("Your role cannot open members.")
    nav = page.get_by_role("navigation", name="Screens").get_by_role("link")
    assert "Members" not in nav.all_inner_texts()
    expect(page.locator("header .who")).to_contain_text("office manager")
    assert refused == []


# --- the audit and access trail -----------------------------------------------------------


def _csv_rows(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode())))


def test_an_organization_admin_filters_pages_and_exports_the_audit_trail(
    console: Page, client: FlaskClient, seeded: TwoTenants
) -> None:
    page = console
    a = seeded.a
    token = token_for(client, a.admin, a.organization)
    manager = next(
        m
        for m in _get(client, token, f"/api/v1/admin/organizations/{a.organization.id}/members")
        if m["user_id"] == str(a.office_manager.id)
    )
    for flip in range(ROLE_FLIPS):
        role = "provider" if flip % 2 == 0 else "office_manager"
        changed = client.put(
            f"/api/v1/admin/members/{manager['id']}", json={"role": role}, headers=bearer(token)
        )
        assert changed.status_code == 200, changed.get_json()
    trail = f"/api/v1/admin/audit-events?organization_id={a.organization.id}&page_size=50"
    refused = policy_violations(page)
    _open(page, a.admin.email, "Audit trail")

    rows = page.locator("table.audit tbody tr")
    expect(rows).to_have_count(50)
    first_page = _get(client, token, trail)
    assert rows.locator("td:nth-child(4)").all_inner_texts() == [e["row_id"] for e in first_page]
    assert rows.locator("td:nth-child(2)").all_inner_texts() == [
        e["action"].capitalize() for e in first_page
    ]
    assert_accessible(page)
    screenshot(page, "audit", folder=CONSOLE_SCREENSHOTS)

    # The next page, as the API pages it.
    page.get_by_role("button", name="Older events").click()
    expect(page.get_by_text("Page 2", exact=True)).to_be_visible()
    second_page = _get(client, token, trail + "&page=2")
    expect(rows.locator("td:nth-child(4)")).to_have_text([e["row_id"] for e in second_page])
    page.get_by_role("button", name="Newer events").click()
    expect(page.get_by_text("Page 1", exact=True)).to_be_visible()

    # Only the admin's changes of memberships, today.
    today = dt.datetime.now(dt.UTC).date().isoformat()
    page.get_by_label("From (UTC day)").fill(today)
    page.get_by_label("To (UTC day)").fill(today)
    page.get_by_label("Action").select_option("update")
    page.get_by_label("Table (e.g. memberships)").fill("memberships")
    page.get_by_label("Actor").select_option(label=a.admin.name)
    page.get_by_role("button", name="Filter").click()
    filtered = _get(
        client,
        token,
        trail + f"&from={today}&to={today}&action=update&table_name=memberships"
        f"&actor_user_id={a.admin.id}",
    )
    assert len(filtered) == ROLE_FLIPS
    expect(rows.locator("td:nth-child(4)")).to_have_text([e["row_id"] for e in filtered])
    assert set(rows.locator("td:nth-child(3)").all_inner_texts()) == {"memberships"}
    assert set(rows.locator("td:nth-child(5)").all_inner_texts()) == {a.admin.name}
    assert rows.locator("td:nth-child(7)").all_inner_texts() == [
        ", ".join(e["changes"]) for e in filtered
    ]
    assert {", ".join(e["changes"]) for e in filtered} == {"role"}
    assert_accessible(page)

    # A row id that is not one: the API's words beside the field.
    page.get_by_label("Row id").fill("not-an-id")
    page.get_by_role("button", name="Filter").click()
    said = client.get(trail + "&row_id=not-an-id", headers=bearer(token))
    assert said.status_code == 422
    expect(page.locator("#audit-row_id-error")).to_have_text(_refusal(said, "row_id"))
    expect(page.get_by_label("Row id")).to_have_attribute("aria-invalid", "true")
    page.set_viewport_size(TABLET)
    assert _fits_the_width(page)
    assert_accessible(page)

    # The export: the file the API gives for the same days.
    page.get_by_label("First day").fill(today)
    page.get_by_label("Last day").fill(today)
    with page.expect_download() as downloading:
        page.get_by_role("button", name="Download CSV").click()
    saved = downloading.value
    assert saved.suggested_filename == f"audit-events-{today}-{today}.csv"
    shown = _csv_rows(_saved(saved))
    exported = client.get(
        f"/api/v1/admin/audit-events/export?from={today}&to={today}"
        f"&organization_id={a.organization.id}",
        headers=bearer(token),
    )
    assert exported.status_code == 200
    from_api = _csv_rows(exported.get_data())
    # The API's later export holds everything the console's did, and the trail of exports
    # since (each export is recorded as it runs).
    by_id = {row["id"]: row for row in from_api}
    assert all(by_id[row["id"]] == row for row in shown)
    later = [row for row in from_api if row["id"] not in {r["id"] for r in shown}]
    assert later and {(r["action"], r["purpose"]) for r in later} == {("access", "audit_export")}
    assert ("access", "audit_export") in {(r["action"], r["purpose"]) for r in shown}
    assert len(shown) > ROLE_FLIPS
    expect(page.get_by_role("status").filter(has_text="export")).to_have_text(
        "The export is downloaded."
    )

    # Each export is in the trail itself, as an access.
    page.get_by_label("Row id").fill("")
    page.get_by_label("Table (e.g. memberships)").fill("")
    page.get_by_label("Actor").select_option("")
    page.get_by_label("Action").select_option("access")
    page.get_by_label("Access purpose").select_option("audit_export")
    page.get_by_role("button", name="Filter").click()
    accesses = _get(
        client, token, trail + f"&from={today}&to={today}&action=access&purpose=audit_export"
    )
    assert len(accesses) == 2
    expect(rows.locator("td:nth-child(4)")).to_have_text([e["row_id"] for e in accesses])
    assert set(rows.locator("td:nth-child(6)").all_inner_texts()) == {"Audit export"}
    assert set(rows.locator("td:nth-child(5)").all_inner_texts()) == {a.admin.name}
    assert refused == []


# --- analytics ------------------------------------------------------------------------------


def _rate(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def _growth(value: float | None) -> str:
    if value is None:
        return "—"
    number = f"{value:g}" if value != int(value) else str(int(value))
    return f"+{number}%" if value > 0 else f"{number}%"


def test_analytics_charts_show_the_apis_figures_and_download_its_csv(
    console: Page, client: FlaskClient, seeded: TwoTenants, admin_engine: Engine
) -> None:
    page = console
    a = seeded.a
    _seed(seeded, admin_engine)
    token = token_for(client, a.admin, a.organization)
    start = TODAY - dt.timedelta(days=13)
    query = f"from={start}&to={TODAY}&interval=day&include_descendants=true"
    report_path = f"/api/v1/admin/organizations/{a.organization.id}/analytics?{query}"
    refused = policy_violations(page)
    _open(page, a.admin.email, "Analytics")
    page.get_by_label("From", exact=True).fill(start.isoformat())
    page.get_by_label("To", exact=True).fill(TODAY.isoformat())
    page.get_by_label("By", exact=True).select_option("day")
    page.get_by_role("button", name="Show").click()
    expect(page.get_by_text(f"From {start} to {TODAY}, by day.")).to_be_visible()

    report = _get(client, token, report_path)
    figures = dict(
        zip(
            page.locator(".figure dt").all_inner_texts(),
            page.locator(".figure dd").all_inner_texts(),
            strict=True,
        )
    )
    assert figures == {"Orders": str(report["total_orders"]), "Revenue": report["total_revenue"]}
    assert report["total_orders"] > 0
    shown = [
        row.locator("th, td").all_inner_texts()
        for row in page.locator("table.periods tbody tr").all()
    ]
    assert shown == [
        [
            p["start"],
            str(p["orders"]),
            _growth(p["order_growth"]),
            p["revenue"],
            _growth(p["revenue_growth"]),
            str(p["ordering_providers"]),
            str(p["active_providers"]),
            _rate(p["provider_activity_rate"]),
            "—" if p["compliance_score"] is None else f"{p['compliance_score']}%",
        ]
        for p in report["periods"]
    ]
    facilities = [
        row.locator("th, td").all_inner_texts()
        for row in page.locator("table.facilities tbody tr").all()
    ]
    assert facilities == [
        [f["name"], str(f["orders"]), _rate(f["share"])] for f in report["facilities"]
    ]
    # The charts: named images whose descriptions give the same figures, a bar each.
    orders = page.get_by_role("img", name="Orders", exact=True)
    assert orders.locator("desc").text_content() == "; ".join(
        f"{p['start']}: {p['orders']}" for p in report["periods"]
    )
    assert orders.locator("rect.bar").count() == len(report["periods"])
    revenue = page.get_by_role("img", name="Revenue", exact=True)
    assert revenue.locator("desc").text_content() == "; ".join(
        f"{p['start']}: {p['revenue']}" for p in report["periods"]
    )
    for name in ("Provider activity rate", "Compliance score", "Orders by facility"):
        expect(page.get_by_role("img", name=name, exact=True)).to_be_visible()
    assert page.locator("[style]").count() == 0
    assert_accessible(page)
    screenshot(page, "analytics", folder=CONSOLE_SCREENSHOTS)
    page.set_viewport_size(TABLET)
    assert _fits_the_width(page)
    assert_accessible(page)

    # The CSV is the API's, for the range shown.
    with page.expect_download() as downloading:
        page.get_by_role("button", name="Download CSV").click()
    saved = downloading.value
    assert saved.suggested_filename == "analytics.csv"
    as_csv = client.get(report_path + "&format=csv", headers=bearer(token))
    assert as_csv.status_code == 200
    assert _saved(saved) == as_csv.get_data()
    assert [r["orders"] for r in _csv_rows(_saved(saved))] == [
        str(p["orders"]) for p in report["periods"]
    ]

    # A range backwards: the API's words beside the field, what was typed kept.
    page.get_by_label("From", exact=True).fill((TODAY + dt.timedelta(days=1)).isoformat())
    page.get_by_role("button", name="Show").click()
    backwards = client.get(
        report_path.replace(f"from={start}", f"from={TODAY + dt.timedelta(days=1)}"),
        headers=bearer(token),
    )
    assert backwards.status_code == 422
    expect(page.locator("#analytics-from-error")).to_have_text(_refusal(backwards, "from"))
    assert (
        page.get_by_label("From", exact=True).input_value()
        == (TODAY + dt.timedelta(days=1)).isoformat()
    )
    assert_accessible(page)
    assert refused == []


# --- documents ------------------------------------------------------------------------------


def test_an_organization_admin_uploads_downloads_and_deletes_a_document(
    console: Page, client: FlaskClient, seeded: TwoTenants
) -> None:
    page = console
    a = seeded.a
    token = token_for(client, a.admin, a.organization)
    documents_path = f"/api/v1/admin/organizations/{a.organization.id}/documents"
    refused = policy_violations(page)
    _open(page, a.admin.email, "Documents")
    expect(page.get_by_text("No documents yet.")).to_be_visible()
    assert_accessible(page)

    # Not a PDF, PNG or JPEG: the API's refusal beside the file field.
    not_a_document: FilePayload = {
        "name": "notes.txt",
        "mimeType": "text/plain",
        "buffer": b"some notes",
    }
    page.get_by_label("File (PDF, PNG or JPEG)").set_input_files(not_a_document)
    page.get_by_label("Document type").select_option("banking_letter")
    page.get_by_role("button", name="Upload").click()
    said = client.post(
        documents_path,
        data={
            "file": (io.BytesIO(not_a_document["buffer"]), "notes.txt", "text/plain"),
            "document_type": "banking_letter",
        },
        content_type="multipart/form-data",
        headers=bearer(token),
    )
    assert said.status_code == 422
    refusal = _refusal(said, "file")
    file_field = page.get_by_label("File (PDF, PNG or JPEG)")
    expect(page.locator("#upload-file-error")).to_have_text(refusal)
    expect(file_field).to_have_attribute("aria-invalid", "true")
    assert page.get_by_label("Document type").input_value() == "banking_letter"
    assert_accessible(page)

    page.get_by_label("File (PDF, PNG or JPEG)").set_input_files(
        {"name": "w9.pdf", "mimeType": "application/pdf", "buffer": PDF.encode()}
    )
    page.get_by_label("Document type").select_option("tax_form")
    page.get_by_label("Expiry date (optional)").fill("2027-04-15")
    page.get_by_role("button", name="Upload").click()
    expect(page.get_by_role("status").filter(has_text="uploaded")).to_have_text(
        "w9.pdf is uploaded."
    )
    (listed,) = _get(client, token, documents_path)
    assert (listed["filename"], listed["document_type"], listed["expiry_date"]) == (
        "w9.pdf",
        "tax_form",
        "2027-04-15",
    )
    row = page.locator("table.documents tbody tr")
    expect(row.locator("th")).to_have_text(["w9.pdf"])
    assert row.locator("td").all_inner_texts()[:3] == [
        "Tax form",
        f"{listed['size_bytes']} B",
        "2027-04-15",
    ]
    assert_accessible(page)
    screenshot(page, "documents", folder=CONSOLE_SCREENSHOTS)
    page.set_viewport_size(TABLET)
    assert _fits_the_width(page)
    assert_accessible(page)

    with page.expect_download() as downloading:
        page.get_by_role("button", name="Download w9.pdf").click()
    saved = downloading.value
    assert saved.suggested_filename == "w9.pdf"
    assert _saved(saved) == PDF.encode()

    page.get_by_role("button", name="Delete w9.pdf").click()
    page.get_by_role("button", name="Yes, delete").click()
    expect(page.get_by_text("No documents yet.")).to_be_visible()
    assert _get(client, token, documents_path) == []
    assert refused == []


# --- who may open them ------------------------------------------------------------------------


def test_a_document_keeps_its_name_whatever_its_characters_when_downloaded(
    console: Page, client: FlaskClient, seeded: TwoTenants
) -> None:
    """The name goes to the browser in the header's UTF-8 form, percent-encoded: read
    whole, a per cent sign, a semicolon or a letter outside ASCII stays as it was."""
    page = console
    a = seeded.a
    name = "100% Müller; W-9 診断書.pdf"
    uploaded = client.post(
        f"/api/v1/admin/organizations/{a.organization.id}/documents",
        data={
            "file": (BytesIO(PDF.encode()), name, "application/pdf"),
            "document_type": "tax_form",
        },
        headers=bearer(token_for(client, a.admin, a.organization)),
        content_type="multipart/form-data",
    )
    assert uploaded.status_code == 201, uploaded.get_json()
    assert uploaded.get_json()["filename"] == name
    _open(page, a.admin.email, "Documents")
    with page.expect_download() as downloading:
        page.get_by_role("button", name=f"Download {name}").click()
    assert downloading.value.suggested_filename == name
    assert _saved(downloading.value) == PDF.encode()


def test_an_office_manager_cannot_reach_members_audit_or_documents(
    console: Page, seeded: TwoTenants
) -> None:
    page = console
    refused = policy_violations(page)
    sign_in(page, seeded.a.office_manager.email)
    navigation = page.get_by_role("navigation", name="Screens")
    navigation.get_by_role("link", name="Analytics").wait_for()
    offered = navigation.get_by_role("link").all_inner_texts()
    for screen in ("Members", "Audit trail", "Documents"):
        assert screen not in offered
    for path, title in (
        ("members", "members"),
        ("audit", "audit trail"),
        ("documents", "documents"),
    ):
        page.goto(f"/console/{path}")
        expect(page.get_by_role("alert")).to_have_text(f"Your role cannot open {title}.")
    assert_accessible(page)
    assert refused == []
