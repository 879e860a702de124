"""The administration console (console/, served at /console/ by app/blueprints/console.py).

How it is served: its page and files under a policy of its own, the page for any address
of its screens, and, while it is not built, a 503 saying how to build it. Then, in a real
browser over the real build: an organization admin signs in and reads their
organization's dashboard, with no policy refusal, no serious accessibility problem
(axe-core), and no token anywhere the page's script could read it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyotp
import pytest
from flask import Flask
from flask.testing import FlaskClient
from playwright.sync_api import Page, expect

from app import clock
from app.auth.refresh_cookie import REFRESH_COOKIE, REFRESH_COOKIE_PATH
from app.blueprints.console import CONSOLE_BUILD
from app.security_headers import CONSOLE_POLICY
from tests.api_helpers import SIGN_IN_AT, enrol_second_factor, problem_of
from tests.browser import (
    CONSOLE_SCREENSHOTS,
    TABLET,
    assert_accessible,
    policy_violations,
    screenshot,
    sign_in,
)
from tests.conftest import TwoTenants, bearer, token_for
from tests.factories import PASSWORD


@pytest.fixture
def built(app: Flask, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A stand-in build of the console (its page and one bundle), with a file beside it
    that must never be served."""
    build = tmp_path / "dist"
    (build / "assets").mkdir(parents=True)
    (build / "index.html").write_text("<!doctype html><title>the console</title>")
    (build / "assets" / "index-Bx1.js").write_text("document.title = 'built';")
    (tmp_path / "secret.txt").write_text("not the console's")
    monkeypatch.setitem(app.config, CONSOLE_BUILD, build)
    return build


def test_the_console_is_served_under_its_own_policy(client: FlaskClient, built: Path) -> None:
    # Its page, at its root and at any address of one of its screens.
    for path in ("/console/", "/console/organizations/42/dashboard"):
        page = client.get(path)
        assert page.status_code == 200, path
        assert page.mimetype == "text/html"
        assert "<title>the console</title>" in page.get_data(as_text=True)
        assert page.headers["Content-Security-Policy"] == CONSOLE_POLICY
        assert page.headers["X-Frame-Options"] == "DENY"
        # A new build is picked up at once.
        assert page.headers["Cache-Control"] == "no-cache"
    assert client.get("/console").headers["Location"].endswith("/console/")
    # Its bundles, named by their content, are kept for good.
    bundle = client.get("/console/assets/index-Bx1.js")
    assert bundle.status_code == 200
    assert bundle.mimetype in ("text/javascript", "application/javascript")
    assert bundle.headers["Content-Security-Policy"] == CONSOLE_POLICY
    assert "max-age=31536000" in bundle.headers["Cache-Control"]
    # A bundle that is not there is missing, not the page.
    problem_of(client.get("/console/assets/index-gone.js"), 404)
    # Nothing outside the build.
    for escape in ("/console/../secret.txt", "/console/..%2Fsecret.txt"):
        assert "not the console's" not in client.get(escape).get_data(as_text=True)


def test_without_a_build_the_console_says_how_to_build_it_and_the_api_works(
    app: Flask,
    client: FlaskClient,
    seeded: TwoTenants,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(app.config, CONSOLE_BUILD, tmp_path / "never-built")
    for path in ("/console/", "/console/organizations"):
        assert "make install" in problem_of(client.get(path), 503)["detail"]
    token = token_for(client, seeded.a.admin, seeded.a.organization)
    assert client.get("/api/v1/me", headers=bearer(token)).status_code == 200


# --- in a real browser ------------------------------------------------------------------


def _score(value: int | None) -> str:
    return "—" if value is None else f"{value}%"


def _refresh_cookies(page: Page) -> list[Any]:
    return [c for c in page.context.cookies() if c["name"] == REFRESH_COOKIE]


def test_an_organization_admin_signs_in_and_reads_their_dashboard(
    console: Page, client: FlaskClient, seeded: TwoTenants
) -> None:
    page = console
    organization = seeded.a.organization
    expected = client.get(
        f"/api/v1/admin/organizations/{organization.id}/dashboard",
        headers=bearer(token_for(client, seeded.a.admin, organization)),
    ).get_json()
    refused = policy_violations(page)

    shown = page.goto("/console/")
    assert shown is not None and shown.headers["content-security-policy"] == CONSOLE_POLICY
    page.get_by_label("Email").fill(seeded.a.admin.email)
    page.get_by_label("Password").fill("not-the-password")
    page.get_by_role("button", name="Sign in").click()
    # The API's refusal, in its words; what was typed stays.
    assert "wrong email or password" in page.get_by_role("alert").inner_text()
    assert page.get_by_label("Email").input_value() == seeded.a.admin.email
    assert_accessible(page)
    screenshot(page, "sign-in-refused", folder=CONSOLE_SCREENSHOTS)

    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Overview").wait_for()
    assert page.get_by_role("heading", level=1).inner_text() == organization.name
    overview = expected["overview"]
    figures = dict(
        zip(
            page.locator(".figure dt").all_inner_texts(),
            page.locator(".figure dd").all_inner_texts(),
            strict=True,
        )
    )
    assert figures == {
        "Facilities": str(overview["total_facilities"]),
        "Providers": str(overview["total_providers"]),
        "Active orders": str(overview["active_orders"]),
        "Compliance score": _score(overview["compliance_score"]),
        "Document compliance": _score(overview["document_compliance_score"]),
        "Excluded providers": str(overview["excluded_providers"]),
        "Exclusion matches to review": str(overview["open_exclusion_candidates"]),
    }
    assert page.locator(".card h3").all_inner_texts() == [
        facility["name"] for facility in expected["facilities"]
    ]
    assert seeded.a.facility.name in page.locator(".card h3").all_inner_texts()
    assert seeded.b.facility.name not in page.inner_text("main")
    percent = expected["onboarding_progress"]["percent_complete"]
    assert page.get_by_text(f"{percent}% complete").is_visible()
    assert_accessible(page)
    screenshot(page, "dashboard", folder=CONSOLE_SCREENSHOTS)
    page.set_viewport_size(TABLET)
    assert_accessible(page)
    screenshot(page, "dashboard-tablet", folder=CONSOLE_SCREENSHOTS)

    # No token where a script could read it: the access token lives in the app's memory,
    # the refresh token in an HttpOnly, SameSite=Strict cookie for the refresh path only.
    assert page.evaluate("() => [localStorage.length, sessionStorage.length]") == [0, 0]
    assert REFRESH_COOKIE not in page.evaluate("() => document.cookie")
    (cookie,) = _refresh_cookies(page)
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert cookie["path"] == REFRESH_COOKIE_PATH

    # A reload forgets the access token; the cookie resumes the login.
    page.reload()
    page.get_by_role("heading", name="Overview").wait_for()

    page.get_by_role("button", name="Sign out").click()
    page.get_by_role("heading", name="Sign in to the MSC console").wait_for()
    assert _refresh_cookies(page) == []
    page.reload()
    page.get_by_role("heading", name="Sign in to the MSC console").wait_for()
    assert refused == []


def test_the_second_factor_step_when_the_api_asks_for_it(
    console: Page, client: FlaskClient, seeded: TwoTenants
) -> None:
    page = console
    admin = seeded.b.admin
    secret = enrol_second_factor(client, token_for(client, admin, seeded.b.organization))
    refused = policy_violations(page)

    with clock.frozen(SIGN_IN_AT):
        sign_in(page, admin.email)
        right = pyotp.TOTP(secret).at(SIGN_IN_AT)
        code = page.get_by_label("Code from your authenticator app")
        code.fill(f"{(int(right) + 1) % 1_000_000:06d}")
        page.get_by_role("button", name="Sign in").click()
        # The API's refusal in words; the code field stays for another try.
        assert "code" in page.get_by_role("alert").inner_text()
        assert_accessible(page)
        screenshot(page, "sign-in-code", folder=CONSOLE_SCREENSHOTS)
        code.fill(right)
        page.get_by_role("button", name="Sign in").click()
        page.get_by_role("heading", name="Overview").wait_for()
    assert page.get_by_role("heading", level=1).inner_text() == seeded.b.organization.name
    assert refused == []


def test_a_provider_of_two_organizations_switches_between_them(
    console: Page, seeded: TwoTenants
) -> None:
    page = console
    refused = policy_violations(page)
    sign_in(page, seeded.shared_provider.email)
    switcher = page.get_by_label("Organization")
    switcher.wait_for()
    chosen = switcher.locator("option:checked")
    first = chosen.inner_text()
    names = {seeded.a.organization.name, seeded.b.organization.name}
    assert first in names
    # A provider's screens, and none of an administrator's.
    offered = page.get_by_role("navigation", name="Screens").get_by_role("link").all_inner_texts()
    assert "My profile" in offered and "Dashboard" not in offered
    assert_accessible(page)
    screenshot(page, "switch-organization", folder=CONSOLE_SCREENSHOTS)
    (other,) = names - {first}
    switcher.select_option(label=other)
    expect(chosen).to_have_text(other)
    # The switch is the session's: a reload resumes it in the organization chosen.
    page.reload()
    expect(page.get_by_label("Organization").locator("option:checked")).to_have_text(other)
    assert refused == []


def test_an_msc_admin_finds_an_organization_and_enters_its_dashboard(
    console: Page, client: FlaskClient, seeded: TwoTenants
) -> None:
    page = console
    msc_admin = seeded.msc_admin
    secret = enrol_second_factor(client, token_for(client, msc_admin))
    refused = policy_violations(page)
    with clock.frozen(SIGN_IN_AT):
        sign_in(page, msc_admin.email)
        page.get_by_label("Code from your authenticator app").fill(
            pyotp.TOTP(secret).at(SIGN_IN_AT)
        )
        page.get_by_role("button", name="Sign in").click()
        page.get_by_role("heading", name="Organizations").wait_for()
    # Acting across tenants, not for one organization: the screens for that alone.
    screens = page.get_by_role("navigation", name="Screens").get_by_role("link")
    expect(screens).to_have_text(["Organizations", "Security"])
    rows = page.locator("tbody th")
    rows.first.wait_for()
    assert {seeded.a.organization.name, seeded.b.organization.name} <= set(rows.all_inner_texts())
    assert_accessible(page)
    screenshot(page, "organizations", folder=CONSOLE_SCREENSHOTS)

    page.get_by_label("Name").fill(seeded.b.organization.name)
    page.get_by_role("button", name="Search").click()
    expect(rows).to_have_text([seeded.b.organization.name])
    page.get_by_role("link", name=seeded.b.organization.name).click()
    page.get_by_role("heading", name="Overview").wait_for()
    assert page.get_by_role("heading", level=1).inner_text() == seeded.b.organization.name
    assert seeded.b.facility.name in page.locator(".card h3").all_inner_texts()
    page.get_by_role("link", name="All organizations").click()
    page.get_by_role("heading", name="Organizations").wait_for()
    assert refused == []


# Each screen, and the API call that shows whether the role may open it: the console
# offers a screen exactly when the API would answer its calls.
SCREEN_CALLS = {
    "Dashboard": "/api/v1/admin/organizations/{organization}/dashboard",
    "Onboarding": "/api/v1/admin/organizations/{organization}/onboarding",
    "Facilities": "/api/v1/admin/facilities",
    "Providers": "/api/v1/admin/providers",
    "Invitations": "/api/v1/admin/invitations",
    "Members": "/api/v1/admin/organizations/{organization}/members",
    "Documents": "/api/v1/admin/organizations/{organization}/documents",
    "My profile": "/api/v1/me/credentials",
    "Orders": "/api/v1/orders",
    "Analytics": "/api/v1/admin/organizations/{organization}/analytics",
    "Audit trail": "/api/v1/admin/audit-events",
    "Security": "/api/v1/auth/mfa",
}
# The list of organizations answers everyone with those they reach; the console's screen
# is the MSC admins' view across tenants, where organizations are created and suspended.
MSC_ADMINS_ONLY = "Organizations"
SCREEN_PATHS = {
    "Dashboard": "dashboard",
    "Onboarding": "onboarding",
    "Facilities": "facilities",
    "Providers": "providers",
    "Invitations": "invitations",
    "Members": "members",
    "Documents": "documents",
    "Orders": "orders",
    "Analytics": "analytics",
    "Audit trail": "audit",
    "My profile": "profile",
    "Organizations": "organizations",
    "Security": "security",
    MSC_ADMINS_ONLY: "organizations",
}


@pytest.mark.parametrize("who", ["admin", "office_manager", "provider"])
def test_each_role_is_offered_the_screens_the_api_lets_it_use_and_no_other(
    console: Page, client: FlaskClient, seeded: TwoTenants, who: str
) -> None:
    page = console
    tenant = seeded.a
    user = seeded.shared_provider if who == "provider" else getattr(tenant, who)
    token = token_for(client, user, tenant.organization)
    answers = {
        screen: client.get(
            call.format(organization=tenant.organization.id), headers=bearer(token)
        ).status_code
        for screen, call in SCREEN_CALLS.items()
    }
    assert set(answers.values()) <= {200, 403}, answers
    allowed = [screen for screen, status in answers.items() if status == 200]
    refused = policy_violations(page)

    sign_in(page, user.email)
    if who == "provider":
        switcher = page.get_by_label("Organization")
        switcher.wait_for()
        if switcher.locator("option:checked").inner_text() != tenant.organization.name:
            # Switched once the user's new permissions are read back.
            with page.expect_response("**/api/v1/me"):
                switcher.select_option(label=tenant.organization.name)
    screens = page.get_by_role("navigation", name="Screens").get_by_role("link")
    expect(screens).to_have_text(allowed)
    # A screen the role may not open, asked for by its address: refused, in words.
    for screen in SCREEN_PATHS.keys() - set(allowed):
        page.goto(f"/console/{SCREEN_PATHS[screen]}")
        expect(page.get_by_role("alert")).to_have_text(f"Your role cannot open {screen.lower()}.")
        assert page.get_by_role("heading", level=1).inner_text() == "Not available"
    assert_accessible(page)
    assert refused == []


def test_the_console_is_used_with_the_keyboard_alone(console: Page, seeded: TwoTenants) -> None:
    page = console
    page.goto("/console/")
    page.get_by_label("Email").focus()
    page.keyboard.type(seeded.a.admin.email)
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.get_by_role("heading", name="Overview").wait_for()

    # The first Tab reaches the way past the header and the screens' list.
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.textContent") == "Skip to content"
    page.keyboard.press("Enter")
    assert page.evaluate("() => document.activeElement.id") == "content"

    # A screen chosen from the list with Enter: the address changes, and the focus
    # moves to the new screen's content, as a new page's would.
    facilities = page.get_by_role("navigation", name="Screens").get_by_role(
        "link", name="Facilities"
    )
    facilities.focus()
    page.keyboard.press("Enter")
    page.wait_for_url("**/console/facilities")
    assert page.evaluate("() => document.activeElement.id") == "content"
    expect(facilities).to_have_attribute("aria-current", "page")
    # Back goes back, to the dashboard.
    page.go_back()
    page.get_by_role("heading", name="Overview").wait_for()


@pytest.mark.parametrize("who", ["admin", "office_manager", "provider"])
def test_every_screen_of_a_role_reads_on_a_tablet_and_passes_the_accessibility_check(
    console: Page, seeded: TwoTenants, who: str
) -> None:
    """Each screen the role is offered, opened from the list at a tablet's width: shown
    without an error, nothing wider than the screen but inside its own scrolling box, and
    no serious accessibility problem."""
    page = console
    page.set_viewport_size(TABLET)
    user = seeded.shared_provider if who == "provider" else getattr(seeded.a, who)
    refused = policy_violations(page)
    sign_in(page, user.email)
    screens = page.get_by_role("navigation", name="Screens").get_by_role("link")
    screens.first.wait_for()
    for name in screens.all_inner_texts():
        screens.filter(has_text=name).first.click()
        page.get_by_role("heading", level=1).first.wait_for()
        # Loaded: no "Loading…" left, and no refusal or failure.
        expect(page.get_by_role("status").filter(has_text="Loading")).to_have_count(0)
        expect(page.locator("main [role=alert]")).to_have_count(0)
        overflow = page.evaluate(
            "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, (name, overflow)
        assert_accessible(page)
    assert refused == []
