"""A new customer's first day, end to end, as the people involved see it.

MSC creates an organization with its first admin's invitation. The email goes out
through the outbox, a worker and a real SMTP server; its link opens the accept page in
a real browser, where the admin signs up. Her organization requires its admins to use a
second factor, so her first sign-in enrols one. She then walks onboarding to go-live:
documents, a facility, an office manager and a provider invited (each signing up from
their own email's link), one member's role changed. Nothing here reaches into the
database to help: every step is an email, a page or an API call.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from dataclasses import replace
from io import BytesIO
from typing import Any

import pyotp
import pytest
from flask import Flask
from flask.testing import FlaskClient
from playwright.sync_api import Page

from app import clock
from app.config import Settings
from app.factory import create_app
from tests import test_delivery as delivery
from tests.browser import live_server
from tests.conftest import TwoTenants, bearer, token_for
from tests.smtp_server import SmtpServer, free_port

pytestmark = pytest.mark.slow

# The fixtures of tests/test_delivery.py, made available to this module.
smtp = delivery.smtp
queue_name = delivery.queue_name

ORGANIZATIONS = "/api/v1/admin/organizations"
LOGIN = "/api/v1/auth/login"
ADMIN_EMAIL = "ada.first@lakeside.example.com"
ADMIN_PASSWORD = "lantern quarry velvet 9182"
PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << >>\n%%EOF\n"


@pytest.fixture
def delivering_site(
    settings: Settings, smtp: SmtpServer, queue_name: str
) -> Iterator[tuple[Flask, str]]:
    """The service on a real port, its links naming that port, delivering to the test's
    SMTP server through the test's queue."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    app = create_app(
        replace(
            settings,
            public_base_url=url,
            smtp_host=smtp.host,
            smtp_port=smtp.port,
            queue_name=queue_name,
            rate_limit_key_prefix=f"rate-limit-go-live-{uuid.uuid4().hex}",
        )
    )
    with live_server(app, port) as served:
        yield app, served


def _emailed_link(app: Flask, smtp: SmtpServer, recipient: str, site: str) -> str:
    """Deliver what the outbox holds (relay, then a worker) and return the link in the
    plain-text part of the one email `recipient` got."""
    delivery.relay(app)
    delivery.work(app)
    [received] = [r for r in smtp.received if recipient in r.rcpt_tos]
    text = delivery.parts(received)["text/plain"]
    [link] = [line.strip() for line in text.splitlines() if line.strip().startswith(site)]
    return link


def _accept_by_api(client: FlaskClient, link: str, site: str, name: str) -> None:
    token = link.removeprefix(f"{site}/invitations/").removesuffix("/accept")
    accepted = client.post(
        f"/api/v1/invitations/{token}/accept",
        json={"name": name, "password": f"{name.lower()} keeps a quiet harbour 77"},
    )
    assert accepted.status_code == 200, accepted.get_json()


def _code_at(secret: str, moment: dt.datetime) -> str:
    return pyotp.TOTP(secret).at(moment.timestamp())


def test_a_new_organization_reaches_go_live_with_its_own_admin(
    delivering_site: tuple[Flask, str], smtp: SmtpServer, seeded: TwoTenants, page: Page
) -> None:
    app, url = delivering_site
    client = app.test_client()
    msc = bearer(token_for(client, seeded.msc_admin))

    # 1. MSC creates the organization, its first admin's invitation with it.
    created = client.post(
        ORGANIZATIONS,
        json={
            "name": "Lakeside Wound Care",
            "organization_type": "group_practice",
            "tax_id": "12-3456780",
            "primary_contact_name": "Ada First",
            "primary_contact_email": ADMIN_EMAIL,
            "primary_contact_phone": "+1 415 555 2671",
            "require_admin_mfa": True,
            "first_admin": {"email": ADMIN_EMAIL, "name": "Ada First"},
        },
        headers=msc,
    )
    assert created.status_code == 201, created.get_json()
    organization_id = created.get_json()["id"]
    assert created.get_json()["status"] == "pending"

    # 2. The invitation email's link opens the accept page, where she signs up.
    link = _emailed_link(app, smtp, ADMIN_EMAIL, url)
    assert link.startswith(f"{url}/invitations/") and link.endswith("/accept")
    shown = page.goto(link)
    assert shown is not None and shown.status == 200
    assert "Join Lakeside Wound Care" in page.inner_text("h1")
    assert page.input_value("#name") == "Ada First"
    page.fill("#password", ADMIN_PASSWORD)
    page.fill("#password_confirm", ADMIN_PASSWORD)
    with page.expect_navigation() as sent:
        page.click("button[type=submit]")
    assert sent.value is not None and sent.value.status == 200
    assert "Welcome to Lakeside Wound Care" in page.inner_text("h1")
    assert "as organization admin" in page.inner_text("body")

    # 3. Her first sign-in: the organization requires a second factor of its admins, and
    # she has none yet, so she enrols one on the way in.
    first = client.post(LOGIN, json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})
    assert first.status_code == 200, first.get_json()
    challenge = first.get_json()
    assert challenge["mfa_enrollment_required"] is True and "access_token" not in challenge
    enrollment = client.post(
        "/api/v1/auth/login/mfa/enrollment", json={"mfa_token": challenge["mfa_token"]}
    )
    assert enrollment.status_code == 200, enrollment.get_json()
    secret = enrollment.get_json()["secret"]
    assert enrollment.get_json()["otpauth_uri"].startswith("otpauth://totp/")
    enrolled_at = clock.now()
    with clock.frozen(enrolled_at):
        confirmed = client.post(
            "/api/v1/auth/login/mfa/enrollment/confirm",
            json={"mfa_token": challenge["mfa_token"], "code": _code_at(secret, enrolled_at)},
        )
    assert confirmed.status_code == 200, confirmed.get_json()
    assert len(confirmed.get_json()["recovery_codes"]) == 10
    admin = bearer(confirmed.get_json()["access_token"])
    assert confirmed.get_json()["organization_id"] == organization_id

    # 4. Onboarding, step by step, as its admin.
    onboarding = f"{ORGANIZATIONS}/{organization_id}/onboarding"
    for kind in ("tax_form", "banking_letter"):
        uploaded = client.post(
            f"{ORGANIZATIONS}/{organization_id}/documents",
            data={"file": (BytesIO(PDF), f"{kind}.pdf", "application/pdf"), "document_type": kind},
            headers=admin,
            content_type="multipart/form-data",
        )
        assert uploaded.status_code == 201, uploaded.get_json()
    facility = client.post(
        f"{ORGANIZATIONS}/{organization_id}/facilities",
        json={"name": "Lakeside Clinic", "facility_type": "wound_center", "state": "CA"},
        headers=admin,
    )
    assert facility.status_code == 201, facility.get_json()
    team = {
        "office_manager": ("olive.manager@lakeside.example.com", "Olive"),
        "provider": ("pat.provider@lakeside.example.com", "Pat"),
    }
    for role, (email, name) in team.items():
        invited = client.post(
            "/api/v1/admin/providers/invite",
            json={"email": email, "name": name, "role": role, "organization_id": organization_id},
            headers=admin,
        )
        assert invited.status_code == 201, invited.get_json()
    for email, name in team.values():
        _accept_by_api(client, _emailed_link(app, smtp, email, url), url, name)

    # 5. One member's role changes: the office manager becomes a second admin.
    members = client.get(f"{ORGANIZATIONS}/{organization_id}/members", headers=admin)
    assert members.status_code == 200, members.get_json()
    by_email = {m["email"]: m for m in members.get_json()}
    assert {e: m["role"] for e, m in by_email.items()} == {
        ADMIN_EMAIL: "organization_admin",
        team["office_manager"][0]: "office_manager",
        team["provider"][0]: "provider",
    }
    olive = by_email[team["office_manager"][0]]
    promoted = client.put(
        f"/api/v1/admin/members/{olive['id']}", json={"role": "organization_admin"}, headers=admin
    )
    assert promoted.status_code == 200, promoted.get_json()
    assert promoted.get_json()["role"] == "organization_admin"

    # 6. Training, then go-live: the organization is active.
    progress = client.get(onboarding, headers=admin).get_json()
    assert progress["next_step"] == "training_and_certification", progress
    for step in ("training_and_certification", "go_live"):
        done = client.post(f"{onboarding}/steps/{step}/complete", headers=admin)
        assert done.status_code == 200, done.get_json()
    assert done.get_json()["onboarding_status"] == "completed"
    assert done.get_json()["percent_complete"] == 100
    organization = client.get(f"{ORGANIZATIONS}/{organization_id}", headers=admin).get_json()
    assert organization["status"] == "active"

    # 7. Her next sign-in takes two steps, with the next code from her app.
    later = enrolled_at + dt.timedelta(seconds=30)
    again = client.post(LOGIN, json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})
    assert again.get_json().keys() == {"mfa_required", "mfa_token", "expires_in"}
    with clock.frozen(later):
        second: Any = client.post(
            "/api/v1/auth/login/mfa",
            json={"mfa_token": again.get_json()["mfa_token"], "code": _code_at(secret, later)},
        )
    assert second.status_code == 200, second.get_json()
    assert second.get_json()["organization_id"] == organization_id
