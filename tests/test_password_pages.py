"""The password pages, in a real browser with JavaScript off: asking for a reset link
("forgotten password", the same answer for any email), the reset email's page (a new
password under the policy, every session ended, the link single use), the 404 and 410
pages of links that open nothing, and the forms' CSRF tokens. A request for a link only
queues the job that issues it (app/blueprints/passwords.py): the tests run the job
before they look for the link."""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlsplit

from flask import Flask
from flask.testing import FlaskClient
from playwright.sync_api import Page
from sqlalchemy import Engine, text

from app import clock
from app.config import DEV_OUTBOX_SECRET, Settings
from app.domain.outbox import Sealer
from app.models import User
from app.security_headers import PAGE_POLICY
from tests import factories
from tests.browser import (
    assert_refused_without_its_token,
    form_token,
    policy_violations,
    screenshot,
)
from tests.conftest import TwoTenants, bearer, token_for
from tests.queues import work

NEW_PASSWORD = "riverbank-otter-lantern"
FORGOTTEN = "/password-reset"


def _links(admin_engine: Engine, email: str) -> list[str]:
    """The links of the reset emails sent to `email`, oldest first."""
    with admin_engine.connect() as connection:
        sealed = connection.execute(
            text(
                "SELECT sealed_payload FROM outbox_messages WHERE kind = 'password_reset'"
                " AND recipient_email = :e ORDER BY created_at, id"
            ),
            {"e": email},
        ).scalars()
        return [str(Sealer(DEV_OUTBOX_SECRET).unseal(s)["reset_url"]) for s in sealed]


def _reset_path(client: FlaskClient, admin_engine: Engine, settings: Settings, user: User) -> str:
    """Ask for a link for `user` through the API; the path of the link they get."""
    assert client.post("/api/v1/auth/password-reset", json={"email": user.email}).status_code == 202
    work(client.application)
    link = _links(admin_engine, user.email)[-1]
    # The page, on the server the settings name.
    assert link.startswith(f"{settings.public_base_url}/password-reset/"), link
    return urlsplit(link).path


def _password_hash(admin_engine: Engine, user: User) -> str:
    with admin_engine.connect() as connection:
        return str(
            connection.execute(
                text("SELECT password_hash FROM users WHERE id = :u"), {"u": user.id}
            ).scalar_one()
        )


def _signs_in(client: FlaskClient, user: User, password: str) -> bool:
    body = {"email": user.email, "password": password}
    return client.post("/api/v1/auth/login", json=body).status_code == 200


def _submit(page: Page) -> int:
    with page.expect_navigation() as sent:
        page.click("button[type=submit]")
    assert sent.value is not None
    return sent.value.status


def test_a_forgotten_password_is_reset_in_the_browser(
    client: FlaskClient,
    seeded: TwoTenants,
    admin_engine: Engine,
    settings: Settings,
    site: str,
    page: Page,
) -> None:
    admin = seeded.a.admin
    signed_in = [token_for(client, admin), token_for(client, admin)]
    refused = policy_violations(page)

    shown = page.goto(site + FORGOTTEN)
    assert shown is not None and shown.status == 200
    assert shown.headers["content-security-policy"] == PAGE_POLICY
    screenshot(page, "password-forgotten")
    answers = []
    for email in ("nobody@example.com", admin.email):
        page.goto(site + FORGOTTEN)
        page.fill("#email", email)
        assert _submit(page) == 200
        answers.append(page.inner_text("main"))
    assert answers[0] == answers[1]  # whether or not an account has the email
    assert "If an active account has this email" in answers[1]
    assert "30 minutes" in answers[1]
    screenshot(page, "password-reset-requested")
    assert _links(admin_engine, admin.email) == []  # issued by the queued job, not the page
    work(client.application)
    [link] = _links(admin_engine, admin.email)
    assert _links(admin_engine, "nobody@example.com") == []
    assert link.startswith(f"{settings.public_base_url}/password-reset/")
    path = urlsplit(link).path

    shown = page.goto(site + path)
    assert shown is not None and shown.status == 200
    assert shown.headers["content-security-policy"] == PAGE_POLICY
    assert shown.headers["referrer-policy"] == "no-referrer"
    assert page.inner_text("h1") == "Choose a new password"
    assert admin.email in page.inner_text("main")
    screenshot(page, "password-reset")

    # Refused by the server (the browser's own checks pass): shown again, nothing written.
    before = _password_hash(admin_engine, admin)
    for first, second, problem in (
        ("password1234", "password1234", "too easy to guess: this is a very common password"),
        (NEW_PASSWORD, NEW_PASSWORD + "!", "the two passwords differ"),
    ):
        page.fill("#password", first)
        page.fill("#password_confirm", second)
        assert _submit(page) == 422
        assert problem in page.inner_text(".error")
        assert page.input_value("#password") == ""  # passwords are never sent back
        if problem.startswith("too easy"):
            screenshot(page, "password-reset-refused")
    assert _password_hash(admin_engine, admin) == before
    assert all(client.get("/api/v1/me", headers=bearer(t)).status_code == 200 for t in signed_in)

    page.fill("#password", NEW_PASSWORD)
    page.fill("#password_confirm", NEW_PASSWORD)
    assert _submit(page) == 200
    assert page.inner_text("h1") == "Your password has been changed"
    screenshot(page, "password-reset-done")
    assert all(client.get("/api/v1/me", headers=bearer(t)).status_code == 401 for t in signed_in)
    assert _signs_in(client, admin, NEW_PASSWORD)
    assert not _signs_in(client, admin, factories.PASSWORD)

    # The link works once.
    again = page.goto(site + path)
    assert again is not None and again.status == 410
    assert page.inner_text("h1") == "This link has already been used"
    assert "Nothing was changed" in page.inner_text("main")
    screenshot(page, "password-reset-closed")
    page.click("text=Ask for a new link")
    assert page.url == site + FORGOTTEN
    assert refused == []


def test_a_link_that_opens_nothing_gets_a_404_page(site: str, page: Page) -> None:
    shown = page.goto(site + "/password-reset/not-a-real-token")
    assert shown is not None and shown.status == 404
    assert page.inner_text("h1") == "This password reset link is not valid"
    assert shown.headers["content-security-policy"] == PAGE_POLICY
    screenshot(page, "password-reset-unknown")


def test_expired_replaced_and_deactivated_links_answer_410_and_change_nothing(
    client: FlaskClient, seeded: TwoTenants, admin_engine: Engine, settings: Settings
) -> None:
    admin, manager = seeded.a.admin, seeded.a.office_manager
    asked = dt.datetime(2026, 6, 1, 9, 0, tzinfo=dt.UTC)
    with clock.frozen(asked):
        replaced = _reset_path(client, admin_engine, settings, admin)
        expiring = _reset_path(client, admin_engine, settings, admin)
        csrf = form_token(client.get(expiring).get_data(as_text=True))
    deactivated = _reset_path(client, admin_engine, settings, manager)
    msc_admin = token_for(client, seeded.msc_admin)
    off = client.post(f"/api/v1/admin/users/{manager.id}/deactivate", headers=bearer(msc_admin))
    assert off.status_code == 200

    form = {"password": NEW_PASSWORD, "password_confirm": NEW_PASSWORD, "csrf_token": csrf}
    before = {user.id: _password_hash(admin_engine, user) for user in (admin, manager)}
    with clock.frozen(asked + settings.password_reset_lifetime):
        for path, words in (
            (replaced, "This link was replaced"),
            (expiring, "This link has expired"),
            (deactivated, "The account of this password reset link is deactivated"),
        ):
            for response in (client.get(path), client.post(path, data=form)):
                assert response.status_code == 410, (path, response.status_code)
                body = response.get_data(as_text=True)
                assert words in body and "Nothing was changed" in body
                assert response.headers["Content-Security-Policy"] == PAGE_POLICY
    assert {user.id: _password_hash(admin_engine, user) for user in (admin, manager)} == before


def test_the_forms_need_their_csrf_token_from_the_same_browser(
    app: Flask, client: FlaskClient, seeded: TwoTenants, admin_engine: Engine, settings: Settings
) -> None:
    admin = seeded.a.admin
    path = _reset_path(client, admin_engine, settings, admin)
    before = _password_hash(admin_engine, admin)
    reset_form = {"password": NEW_PASSWORD, "password_confirm": NEW_PASSWORD}
    email_form = {"email": seeded.b.admin.email}
    for form_path, form in ((path, reset_form), (FORGOTTEN, email_form)):
        csrf = form_token(client.get(form_path).get_data(as_text=True))
        assert_refused_without_its_token(client, form_path, form, csrf)
    assert _password_hash(admin_engine, admin) == before
    work(client.application)  # a refused form queued no job either
    assert _links(admin_engine, seeded.b.admin.email) == []

    csrf = form_token(client.get(FORGOTTEN).get_data(as_text=True))
    malformed = client.post(FORGOTTEN, data={"email": "not an email", "csrf_token": csrf})
    assert malformed.status_code == 422 and 'class="error"' in malformed.get_data(as_text=True)
    sent = client.post(FORGOTTEN, data={**email_form, "csrf_token": csrf})
    assert sent.status_code == 200
    work(client.application)
    assert len(_links(admin_engine, seeded.b.admin.email)) == 1

    csrf = form_token(client.get(path).get_data(as_text=True))
    assert client.post(path, data={**reset_form, "csrf_token": csrf}).status_code == 200
    assert _signs_in(client, admin, NEW_PASSWORD)
