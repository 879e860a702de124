"""The pages behind the email links, in a real browser with JavaScript off: accepting an
invitation (a new account, or signing in to link an existing one), the closed
invitation's 410 page, the forms' CSRF tokens, and the renewal reminders' landing pages
reached from the links the reminder scan writes."""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from urllib.parse import urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from playwright.sync_api import Page
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session

from app import clock
from app.config import DEV_OUTBOX_SECRET, Settings
from app.domain import members, reminders
from app.domain.outbox import Sealer
from app.models import Credential, Document, OutboxMessage
from app.models.enums import Role
from app.security_headers import PAGE_POLICY
from app.tenancy.context import TenantContext, use_context
from tests import factories
from tests.browser import (
    assert_refused_without_its_token,
    form_token,
    policy_violations,
    screenshot,
)
from tests.conftest import MSC_SYSTEM, TwoTenants, bearer, token_for

NEW_EMAIL = "new.provider@example.com"
NEW_PASSWORD = "a-long-enough-password"


def _invite(
    client: FlaskClient,
    admin_engine: Engine,
    settings: Settings,
    inviter: str,
    organization_id: uuid.UUID,
    email: str = NEW_EMAIL,
    role: str = Role.PROVIDER,
) -> str:
    """Invite `email`; the path of the link in the invitation email it gets."""
    response = client.post(
        "/api/v1/admin/providers/invite",
        json={
            "email": email,
            "name": "Dr. Nova Reyes",
            "role": role,
            "organization_id": str(organization_id),
        },
        headers=bearer(inviter),
    )
    assert response.status_code == 201, response.get_json()
    with admin_engine.connect() as connection:
        sealed = connection.execute(
            text(
                "SELECT sealed_payload FROM outbox_messages WHERE kind = 'invitation'"
                " AND recipient_email = :email ORDER BY created_at DESC LIMIT 1"
            ),
            {"email": email},
        ).scalar_one()
    link = str(Sealer(DEV_OUTBOX_SECRET).unseal(sealed)["accept_url"])
    # The page, on the server the settings name; not the API's POST-only URL.
    assert link.startswith(f"{settings.public_base_url}/invitations/"), link
    assert link.endswith("/accept")
    return urlsplit(link).path


def _count(admin_engine: Engine, sql: str, **values: object) -> int:
    with admin_engine.connect() as connection:
        return int(connection.execute(text(sql), values).scalar_one())


def _accounts(admin_engine: Engine, email: str) -> int:
    return _count(admin_engine, "SELECT count(*) FROM users WHERE lower(email) = :e", e=email)


def _member(admin_engine: Engine, email: str, organization_id: uuid.UUID) -> bool:
    return bool(
        _count(
            admin_engine,
            "SELECT count(*) FROM memberships m JOIN users u ON u.id = m.user_id"
            " WHERE lower(u.email) = :e AND m.organization_id = :o",
            e=email.lower(),
            o=organization_id,
        )
    )


# --- accepting an invitation ----------------------------------------------------------


def test_a_new_account_accepts_in_the_browser(
    client: FlaskClient,
    seeded: TwoTenants,
    admin_engine: Engine,
    settings: Settings,
    site: str,
    page: Page,
) -> None:
    a = seeded.a
    path = _invite(client, admin_engine, settings, token_for(client, a.admin), a.organization.id)
    refused = policy_violations(page)

    shown = page.goto(site + path)
    assert shown is not None and shown.status == 200
    assert shown.headers["content-security-policy"] == PAGE_POLICY
    assert shown.headers["referrer-policy"] == "no-referrer"
    assert "Join Tenant A" in page.inner_text("h1")
    assert page.input_value("#name") == "Dr. Nova Reyes"
    screenshot(page, "invitation-new-account")

    # Refused by the server (the browser's own checks pass): shown again, nothing written.
    page.fill("#name", "Dr. Nova Reyes-Park")
    page.fill("#password", NEW_PASSWORD)
    page.fill("#password_confirm", NEW_PASSWORD + "!")
    with page.expect_navigation() as sent:
        page.click("button[type=submit]")
    assert sent.value is not None and sent.value.status == 422
    assert "the two passwords differ" in page.inner_text(".error")
    assert page.input_value("#name") == "Dr. Nova Reyes-Park"  # kept; passwords are not
    assert page.input_value("#password") == ""
    assert _accounts(admin_engine, NEW_EMAIL) == 0

    page.fill("#password", NEW_PASSWORD)
    page.fill("#password_confirm", NEW_PASSWORD)
    with page.expect_navigation() as sent:
        page.click("button[type=submit]")
    assert sent.value is not None and sent.value.status == 200
    assert "Welcome to Tenant A" in page.inner_text("h1")
    screenshot(page, "invitation-accepted")

    assert _member(admin_engine, NEW_EMAIL, a.organization.id)
    login = client.post("/api/v1/auth/login", json={"email": NEW_EMAIL, "password": NEW_PASSWORD})
    assert login.status_code == 200
    me = client.get("/api/v1/me", headers=bearer(login.get_json()["access_token"]))
    assert me.get_json()["name"] == "Dr. Nova Reyes-Park"

    # The link works once.
    again = page.goto(site + path)
    assert again is not None and again.status == 410
    assert "already been accepted" in page.inner_text("h1")
    screenshot(page, "invitation-closed")
    assert refused == []


def test_an_existing_account_signs_in_on_the_page_to_be_linked(
    client: FlaskClient,
    seeded: TwoTenants,
    admin_engine: Engine,
    settings: Settings,
    site: str,
    page: Page,
) -> None:
    b, invitee = seeded.b, seeded.a.admin.email
    path = _invite(
        client,
        admin_engine,
        settings,
        token_for(client, b.admin),
        b.organization.id,
        email=invitee,
        role=Role.OFFICE_MANAGER,
    )
    page.goto(site + path)
    assert page.locator("#name").count() == 0  # no new account: sign in instead
    assert page.input_value("#email") == invitee
    screenshot(page, "invitation-sign-in")

    for email, password, problem in (
        (invitee, "not-the-password", "wrong email or password"),
        ("someone.else@example.com", factories.PASSWORD, f"this invitation is for {invitee}"),
    ):
        page.fill("#email", email)
        page.fill("#password", password)
        with page.expect_navigation() as sent:
            page.click("button[type=submit]")
        assert sent.value is not None and sent.value.status == 422
        assert problem in page.inner_text(".error")
        assert not _member(admin_engine, invitee, b.organization.id)

    page.fill("#email", invitee.upper())
    page.fill("#password", factories.PASSWORD)
    with page.expect_navigation() as sent:
        page.click("button[type=submit]")
    assert sent.value is not None and sent.value.status == 200
    assert "added to your existing account" in page.inner_text("main")
    assert _member(admin_engine, invitee, b.organization.id)
    assert _accounts(admin_engine, invitee) == 1


def test_a_form_sent_without_its_browser_session_is_refused(
    client: FlaskClient,
    seeded: TwoTenants,
    admin_engine: Engine,
    settings: Settings,
    site: str,
    page: Page,
) -> None:
    a = seeded.a
    path = _invite(client, admin_engine, settings, token_for(client, a.admin), a.organization.id)
    page.goto(site + path)
    page.context.clear_cookies()  # the session that the form's token is bound to
    page.fill("#password", NEW_PASSWORD)
    page.fill("#password_confirm", NEW_PASSWORD)
    with page.expect_navigation() as sent:
        page.click("button[type=submit]")
    assert sent.value is not None and sent.value.status == 400
    assert "This form has expired" in page.inner_text("h1")
    screenshot(page, "form-expired")
    assert _accounts(admin_engine, NEW_EMAIL) == 0

    page.click("text=Open the page again")  # a new form, in a new session, works
    page.fill("#password", NEW_PASSWORD)
    page.fill("#password_confirm", NEW_PASSWORD)
    with page.expect_navigation() as sent:
        page.click("button[type=submit]")
    assert sent.value is not None and sent.value.status == 200
    assert _accounts(admin_engine, NEW_EMAIL) == 1


def test_links_that_open_nothing_get_404_pages(site: str, page: Page) -> None:
    for path, heading, name in (
        (
            "/invitations/not-a-real-token/accept",
            "invitation link is not valid",
            "invitation-unknown",
        ),
        (
            f"/reminders/me/credentials/{uuid.uuid4()}?type=passport&expires=2026-07-01",
            "reminder link is not valid",
            "reminder-unknown",
        ),
    ):
        shown = page.goto(site + path)
        assert shown is not None and shown.status == 404
        assert heading in page.inner_text("h1")
        screenshot(page, name)


def _open_form(client: FlaskClient, path: str) -> str:
    shown = client.get(path)
    assert shown.status_code == 200
    return form_token(shown.get_data(as_text=True))


def test_closed_invitations_answer_410_and_change_nothing(
    client: FlaskClient, seeded: TwoTenants, admin_engine: Engine, settings: Settings
) -> None:
    a = seeded.a
    admin = token_for(client, a.admin)
    form = {"name": "Late Comer", "password": NEW_PASSWORD, "password_confirm": NEW_PASSWORD}

    revoked_path = _invite(client, admin_engine, settings, admin, a.organization.id, "r@x.example")
    csrf = _open_form(client, revoked_path)
    [invitation] = client.get(
        "/api/v1/admin/invitations?email=r@x.example", headers=bearer(admin)
    ).get_json()
    revoke = f"/api/v1/admin/invitations/{invitation['id']}/revoke"
    assert client.post(revoke, headers=bearer(admin)).status_code == 200

    expired_path = _invite(client, admin_engine, settings, admin, a.organization.id, "e@x.example")
    _open_form(client, expired_path)
    with admin_engine.begin() as connection:
        connection.execute(
            text("UPDATE invitations SET expires_at = now() - interval '1 hour' WHERE email = :e"),
            {"e": "e@x.example"},
        )

    accepted_path = _invite(client, admin_engine, settings, admin, a.organization.id, "a@x.example")
    _open_form(client, accepted_path)
    api_accept = "/api/v1" + accepted_path
    assert client.post(api_accept, json={"password": NEW_PASSWORD}).status_code == 200

    for path, email, words in (
        (revoked_path, "r@x.example", "withdrawn"),
        (expired_path, "e@x.example", "expired"),
        (accepted_path, "a@x.example", "already been accepted"),
    ):
        before = _accounts(admin_engine, email)
        for response in (client.get(path), client.post(path, data={**form, "csrf_token": csrf})):
            assert response.status_code == 410, (path, response.status_code)
            body = response.get_data(as_text=True)
            assert words in body and "Nothing was changed" in body
            assert response.headers["Content-Security-Policy"] == PAGE_POLICY
        assert _accounts(admin_engine, email) == before

    unknown = client.get("/invitations/not-a-real-token/accept")
    assert unknown.status_code == 404 and "not valid" in unknown.get_data(as_text=True)


def test_the_form_needs_its_csrf_token_from_the_same_browser(
    app: Flask, client: FlaskClient, seeded: TwoTenants, admin_engine: Engine, settings: Settings
) -> None:
    a = seeded.a
    path = _invite(client, admin_engine, settings, token_for(client, a.admin), a.organization.id)
    csrf = _open_form(client, path)
    form = {"name": "Nova", "password": NEW_PASSWORD, "password_confirm": NEW_PASSWORD}

    assert_refused_without_its_token(client, path, form, csrf)
    assert _accounts(admin_engine, NEW_EMAIL) == 0

    assert client.post(path, data={**form, "csrf_token": csrf}).status_code == 200
    assert _accounts(admin_engine, NEW_EMAIL) == 1
    cookie = client.get_cookie("session")
    assert cookie is not None and cookie.http_only and cookie.same_site == "Lax"


def test_two_forms_sent_at_once_accept_once(
    app: Flask, client: FlaskClient, seeded: TwoTenants, admin_engine: Engine, settings: Settings
) -> None:
    """Both forms were shown while the invitation was open; the second to lock it finds
    it accepted (as the lock left it, not as its page read it) and gets the 410 page."""
    a = seeded.a
    path = _invite(client, admin_engine, settings, token_for(client, a.admin), a.organization.id)
    browsers = [app.test_client() for _ in range(2)]
    tokens = [_open_form(browser, path) for browser in browsers]
    start = threading.Barrier(2)
    statuses: list[int] = []

    def send(browser: FlaskClient, csrf: str) -> None:
        form = {"password": NEW_PASSWORD, "password_confirm": NEW_PASSWORD, "csrf_token": csrf}
        start.wait()
        statuses.append(browser.post(path, data=form).status_code)

    senders = [
        threading.Thread(target=send, args=pair) for pair in zip(browsers, tokens, strict=True)
    ]
    for sender in senders:
        sender.start()
    for sender in senders:
        sender.join()
    assert sorted(statuses) == [200, 410]
    assert _accounts(admin_engine, NEW_EMAIL) == 1


# --- renewal reminders -------------------------------------------------------------------


TODAY = dt.date(2026, 6, 1)


def test_reminder_links_open_pages_that_say_what_to_renew_and_where(
    db: Session, tenants: TwoTenants, site: str, page: Page
) -> None:
    """The links the reminder scan writes, opened as the recipient would: each page
    names the item and where to renew it, and nothing about the person."""
    provider = tenants.shared_provider
    use_context(db, MSC_SYSTEM)
    credential = Credential(
        user_id=provider.id,
        owner_organization_ids=members.organizations_of(db, provider.id),
        credential_type="dea_registration",
        number="AP5836727",
        state="TX",
        expiry_date=TODAY + dt.timedelta(days=30),
    )
    document = Document(
        organization_id=tenants.a.organization.id,
        document_type="tax_form",
        filename="w9-2026.pdf",
        content_type="application/pdf",
        size_bytes=1024,
        sha256="0" * 64,
        storage_key=f"test/{uuid.uuid4().hex}",
        expiry_date=TODAY,
    )
    db.add_all([credential, document])
    db.flush()
    use_context(db, TenantContext(is_msc_admin=True, request_id="job:reminder-scan:test"))
    reminders.scan(db, TODAY, (90, 60, 30, 7, 0), site)
    use_context(db, MSC_SYSTEM)
    links = {
        (message.template, message.recipient_user_id): message.payload["link"]
        for message in db.scalars(select(OutboxMessage))
    }
    own = links[("credential_reminder", provider.id)]
    staff = links[("credential_reminder", tenants.a.admin.id)]
    tax_form = links[("document_reminder", tenants.a.admin.id)]

    refused = policy_violations(page)
    with clock.frozen(TODAY):
        for link, heading, when, where, name in (
            (
                own,
                "Your DEA registration expires soon",
                "expires on 2026-07-01, in 30 days",
                f"PUT /api/v1/me/credentials/{credential.id}",
                "reminder-credential",
            ),
            (
                staff,
                "A provider's DEA registration expires soon",
                "expires on 2026-07-01, in 30 days",
                f"GET /api/v1/admin/providers/{provider.id}/credentials",
                "reminder-provider-credential",
            ),
            (
                tax_form,
                "Your organization's tax form expires today",
                "expires today, 2026-06-01",
                f"POST /api/v1/admin/organizations/{tenants.a.organization.id}/documents",
                "reminder-document",
            ),
        ):
            shown = page.goto(link)
            assert shown is not None and shown.status == 200, link
            assert shown.headers["content-security-policy"] == PAGE_POLICY
            assert page.inner_text("h1") == heading
            content = page.inner_text("main")
            assert where in page.inner_text("code")
            assert when in content
            for private in (provider.name, provider.email, "5836727", "w9-2026"):
                assert private not in content and private not in link
            screenshot(page, name)
    assert refused == []


@pytest.mark.parametrize(
    "query",
    [
        "",
        "type=medical_license",
        "expires=2026-07-01",
        "type=passport&expires=2026-07-01",
        "type=medical_license&expires=soon",
    ],
)
def test_a_reminder_link_that_names_no_item_gets_a_404_page(
    client: FlaskClient, query: str
) -> None:
    response = client.get(f"/reminders/me/credentials/{uuid.uuid4()}?{query}")
    assert response.status_code == 404
    assert "This reminder link is not valid" in response.get_data(as_text=True)
    assert response.headers["Content-Security-Policy"] == PAGE_POLICY


@pytest.mark.parametrize(
    "path",
    [
        "/reminders/providers/not-an-id/credentials",
        "/reminders/me/credentials/cut-sho",
        "/password-reset/token/extra",
        "/invitations/token/accept/extra",
    ],
)
def test_a_mangled_link_opens_a_page_saying_so(app: Flask, path: str) -> None:
    """A link from an email cut short or mangled, which no route matches, still opens a
    page a person can read, where an address of the API answers a problem."""
    response = app.test_client().get(path)
    assert (response.status_code, response.mimetype) == (404, "text/html")
    assert "This link is not valid" in response.get_data(as_text=True)
    api = app.test_client().get("/api/v1/admin/no-such-resource")
    assert (api.status_code, api.mimetype) == (404, "application/problem+json")
