"""Races with one winner: 20 threads, each with its own test client (so its own request,
session and database connection), released together by a barrier against the real
database. Accepting one invitation token has exactly one success; revoking it while it
is accepted ends one way or the other, never both; re-inviting one address leaves
exactly one email to deliver.

The test app's pool holds a connection for every thread, so all 20 transactions are open
at once and meet on the database's locks, not in the pool's queue.
"""

from __future__ import annotations

import dataclasses
import queue
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import pyotp
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, text
from werkzeug.test import TestResponse

from app import clock
from app.config import DEV_OUTBOX_SECRET, Settings
from app.domain.outbox import Sealer
from app.extensions import db, redis_connection
from app.factory import create_app
from tests import factories
from tests.conftest import UNREACHABLE_LIMITS, TwoTenants, bearer, token_for

pytestmark = pytest.mark.slow

THREADS = 20
INVITE = "/api/v1/admin/providers/invite"
NEW_EMAIL = "raced.provider@example.com"
NEW_PASSWORD = "a-long-enough-password"


@pytest.fixture
def race_app(settings: Settings, clean_database: None) -> Iterator[Flask]:
    app = create_app(
        dataclasses.replace(settings, database_pool_size=THREADS + 5, **UNREACHABLE_LIMITS)
    )
    try:
        yield app
    finally:
        with app.app_context():
            db.engine.dispose()
            redis_connection.client.close()


def race(app: Flask, attempt: Callable[[FlaskClient], TestResponse]) -> list[TestResponse]:
    """Run `attempt` in THREADS threads at once, each with a client of its own."""
    barrier = threading.Barrier(THREADS)

    def one(_: int) -> TestResponse:
        client = app.test_client()
        barrier.wait(timeout=30)
        return attempt(client)

    with ThreadPoolExecutor(THREADS) as pool:
        return list(pool.map(one, range(THREADS), timeout=120))


def statuses(responses: list[TestResponse]) -> Counter[int]:
    return Counter(response.status_code for response in responses)


def invite(client: FlaskClient, admin_token: str, organization_id: str, email: str) -> TestResponse:
    return client.post(
        INVITE,
        json={
            "email": email,
            "name": "Dr. Nova Reyes",
            "role": "provider",
            "organization_id": organization_id,
            "facility_ids": [],
        },
        headers=bearer(admin_token),
    )


def invitation_token(admin_engine: Engine, email: str) -> str:
    """The token as the invitee gets it: from the invitation email still to be sent."""
    with admin_engine.connect() as connection:
        sealed = connection.execute(
            text(
                "SELECT sealed_payload FROM outbox_messages WHERE recipient_email = :e"
                " AND status = 'pending' ORDER BY created_at DESC LIMIT 1"
            ),
            {"e": email},
        ).scalar_one()
    return str(Sealer(DEV_OUTBOX_SECRET).unseal(sealed)["accept_url"]).rsplit("/", 2)[-2]


def acceptance(admin_engine: Engine, email: str) -> tuple[object, object, int]:
    """The invitation's accepted_at and accepted_user_id, and how many times the audit
    trail saw its acceptance written."""
    with admin_engine.connect() as connection:
        row = (
            connection.execute(
                text("SELECT id, accepted_at, accepted_user_id FROM invitations WHERE email = :e"),
                {"e": email},
            )
            .mappings()
            .one()
        )
        writes = connection.execute(
            text(
                "SELECT count(*) FROM audit_events WHERE table_name = 'invitations'"
                " AND action = 'update' AND row_id = :i AND changes ? 'accepted_at'"
            ),
            {"i": row["id"]},
        ).scalar_one()
    return row["accepted_at"], row["accepted_user_id"], writes


def test_concurrent_accepts_for_an_existing_account_have_one_winner(
    race_app: Flask, seeded: TwoTenants, admin_engine: Engine
) -> None:
    a, existing = seeded.a, seeded.b.office_manager  # has an account, not a member of A
    client = race_app.test_client()
    assert (
        invite(
            client, token_for(client, a.admin), str(a.organization.id), existing.email
        ).status_code
        == 201
    )
    token = invitation_token(admin_engine, existing.email)

    responses = race(race_app, lambda c: c.post(f"/api/v1/invitations/{token}/accept", json={}))

    assert statuses(responses) == {200: 1, 410: THREADS - 1}, [r.get_json() for r in responses]
    assert all(
        r.get_json()["detail"] == "the invitation is accepted"
        for r in responses
        if r.status_code == 410
    )
    accepted_at, accepted_user_id, writes = acceptance(admin_engine, existing.email)
    assert accepted_user_id == existing.id and writes == 1  # written once, never overwritten
    late = client.post(f"/api/v1/invitations/{token}/accept", json={})
    assert late.status_code == 410
    assert acceptance(admin_engine, existing.email) == (accepted_at, accepted_user_id, 1)
    with admin_engine.connect() as connection:
        memberships = connection.execute(
            text("SELECT count(*) FROM memberships WHERE user_id = :u AND organization_id = :o"),
            {"u": existing.id, "o": a.organization.id},
        ).scalar_one()
    assert memberships == 1


def test_concurrent_accepts_creating_an_account_have_one_winner(
    race_app: Flask, seeded: TwoTenants, admin_engine: Engine
) -> None:
    a = seeded.a
    client = race_app.test_client()
    assert (
        invite(client, token_for(client, a.admin), str(a.organization.id), NEW_EMAIL).status_code
        == 201
    )
    token = invitation_token(admin_engine, NEW_EMAIL)

    responses = race(
        race_app,
        lambda c: c.post(f"/api/v1/invitations/{token}/accept", json={"password": NEW_PASSWORD}),
    )

    assert statuses(responses) == {200: 1, 410: THREADS - 1}, [r.get_json() for r in responses]
    [winner] = [r.get_json() for r in responses if r.status_code == 200]
    _, accepted_user_id, writes = acceptance(admin_engine, NEW_EMAIL)
    assert str(accepted_user_id) == winner["user_id"] and writes == 1
    with admin_engine.connect() as connection:
        users = connection.execute(
            text("SELECT id FROM users WHERE lower(email) = :e"), {"e": NEW_EMAIL}
        ).all()
        memberships = connection.execute(
            text("SELECT count(*) FROM memberships WHERE organization_id = :o AND user_id = :u"),
            {"o": a.organization.id, "u": accepted_user_id},
        ).scalar_one()
    assert [str(user.id) for user in users] == [winner["user_id"]]
    assert memberships == 1


def test_concurrent_reinvites_leave_one_email_to_deliver(
    race_app: Flask, seeded: TwoTenants, admin_engine: Engine
) -> None:
    a = seeded.a
    client = race_app.test_client()
    admin = token_for(client, a.admin)
    organization_id = str(a.organization.id)
    assert invite(client, admin, organization_id, NEW_EMAIL).status_code == 201

    responses = race(race_app, lambda c: invite(c, admin, organization_id, NEW_EMAIL))

    assert statuses(responses) == {201: THREADS}, [r.get_json() for r in responses]
    with admin_engine.connect() as connection:
        token_hash = connection.execute(
            text("SELECT token_hash FROM invitations WHERE email = :e"), {"e": NEW_EMAIL}
        ).scalar_one()
        messages = (
            connection.execute(
                text(
                    "SELECT idempotency_key, status, sealed_payload FROM outbox_messages"
                    " WHERE recipient_email = :e"
                ),
                {"e": NEW_EMAIL},
            )
            .mappings()
            .all()
        )
    assert len(messages) == THREADS + 1
    live = [m for m in messages if m["status"] != "cancelled"]
    # The one left is the newest invitation's, whose link works; the cancelled ones
    # keep no secret.
    assert [(m["idempotency_key"].rsplit(":", 1)[-1], m["status"]) for m in live] == [
        (token_hash[:16], "pending")
    ]
    assert all(m["sealed_payload"] is None for m in messages if m["status"] == "cancelled")
    token = invitation_token(admin_engine, NEW_EMAIL)
    accepted = client.post(f"/api/v1/invitations/{token}/accept", json={"password": NEW_PASSWORD})
    assert accepted.status_code == 200, accepted.get_json()


def test_concurrent_revokes_and_accepts_have_one_outcome(
    race_app: Flask, seeded: TwoTenants, admin_engine: Engine
) -> None:
    """Half the threads revoke, half accept: the invitation ends either accepted (once;
    every revoke refused) or revoked (every accept refused), never both."""
    a = seeded.a
    client = race_app.test_client()
    admin = token_for(client, a.admin)
    invited = invite(client, admin, str(a.organization.id), NEW_EMAIL)
    assert invited.status_code == 201
    invitation_id = invited.get_json()["id"]
    token = invitation_token(admin_engine, NEW_EMAIL)
    turn = iter(range(THREADS))
    turns = threading.Lock()

    def revoke_or_accept(c: FlaskClient) -> TestResponse:
        with turns:
            revoking = next(turn) % 2 == 0
        if revoking:
            return c.post(
                f"/api/v1/admin/invitations/{invitation_id}/revoke", headers=bearer(admin)
            )
        return c.post(f"/api/v1/invitations/{token}/accept", json={"password": NEW_PASSWORD})

    responses = race(race_app, revoke_or_accept)

    revokes = statuses([r for r in responses if "/revoke" in r.request.path])
    accepts = statuses([r for r in responses if "/accept" in r.request.path])
    with admin_engine.connect() as connection:
        accepted_at, revoked_at = connection.execute(
            text("SELECT accepted_at, revoked_at FROM invitations WHERE id = :i"),
            {"i": invitation_id},
        ).one()
        email = connection.execute(
            text("SELECT status FROM outbox_messages WHERE invitation_id = :i"),
            {"i": invitation_id},
        ).scalar_one()
    half = THREADS // 2
    if accepted_at is not None:
        assert (revoked_at, accepts, revokes) == (None, {200: 1, 410: half - 1}, {409: half})
        assert email == "pending"
    else:
        assert revoked_at is not None
        assert (accepts, revokes, email) == ({410: half}, {200: half}, "cancelled")


def test_one_code_finishes_one_sign_in_however_many_present_it_at_once(
    race_app: Flask, seeded: TwoTenants
) -> None:
    """A TOTP code is accepted once: of THREADS sign-ins presenting it together, one
    gets tokens (the others 401, or 429 once their failures delay the account)."""
    client = race_app.test_client()
    user = seeded.a.admin
    headers = bearer(token_for(client, user))
    started = client.post(
        "/api/v1/auth/mfa/enrollment", json={"password": factories.PASSWORD}, headers=headers
    )
    totp = pyotp.TOTP(started.get_json()["secret"])
    # The service's clock held at a moment (in every thread), so no step rolls over
    # between a code and its check. Confirmed with the previous step's code, so that the
    # moment's own code is still unused.
    moment = clock.now()
    with clock.frozen(moment):
        confirmed = client.post(
            "/api/v1/auth/mfa/enrollment/confirm",
            json={"code": totp.at(moment.timestamp() - 30)},
            headers=headers,
        )
        assert confirmed.status_code == 200, confirmed.get_json()
        challenges: queue.SimpleQueue[str] = queue.SimpleQueue()
        for _ in range(THREADS):
            login = client.post(
                "/api/v1/auth/login", json={"email": user.email, "password": factories.PASSWORD}
            )
            challenges.put(login.get_json()["mfa_token"])
        code = totp.at(moment.timestamp())

        responses = race(
            race_app,
            lambda c: c.post(
                "/api/v1/auth/login/mfa", json={"mfa_token": challenges.get(), "code": code}
            ),
        )
    counted = statuses(responses)
    assert counted[200] == 1, counted
    assert set(counted) <= {200, 401, 429}, counted
