"""Passwords: the policy (NIST SP 800-63B: length, a list of common and breached
passwords, no composition rules), changing one's password, and resetting a forgotten
one by email: the link's token stored only hashed, single use, expiring, revoked by a
newer link or a changed password, the same answer whether or not the email has an
account (the request only queues the job that issues the link, so it does the same work
either way), and every login session ended."""

from __future__ import annotations

import datetime as dt
import hashlib
import threading
import uuid
from collections.abc import Callable
from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit

import pytest
from argon2 import PasswordHasher
from flask import Flask
from flask.testing import FlaskClient
from rq import Queue
from rq.utils import import_attribute
from sqlalchemy import Engine, select, text, update
from sqlalchemy.exc import DBAPIError, ProgrammingError
from sqlalchemy.orm import Session
from zxcvbn.frequency_lists import FREQUENCY_LISTS

from app import clock
from app.auth.passwords import hash_password, verify_password, weakness
from app.config import DEV_OUTBOX_SECRET, Settings
from app.domain import passwords
from app.domain.errors import Gone
from app.domain.invitations import token_hash
from app.domain.outbox import Sealer
from app.domain.passwords import ISSUE_PASSWORD_RESET
from app.extensions import db, redis_connection
from app.factory import create_app
from app.integrations.mail import render
from app.models import PasswordReset, User
from app.models.enums import Role
from app.tenancy.context import TenantContext, use_context
from tests import factories
from tests.api_helpers import refusal_of, validation_errors
from tests.conftest import MSC_SYSTEM, TwoTenants, bearer, token_for
from tests.queues import work
from workers import jobs

CHANGE = "/api/v1/auth/password"
REQUEST = "/api/v1/auth/password-reset"
CONFIRM = "/api/v1/auth/password-reset/confirm"
ME = "/api/v1/me"
NEW_PASSWORD = "riverbank-otter-lantern"


# --- the policy ---------------------------------------------------------------------


def _fullwidth(text: str) -> str:
    """`text` as a CJK keyboard types it: fullwidth letters and digits (NFKC maps them
    back)."""
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


def test_a_password_needs_12_characters_counted_after_nfkc() -> None:
    # "e" + a combining acute accent is one character, é, once normalised.
    assert weakness("kxqvbnmzptr") == ("a password needs at least 12 characters (this one has 11)")
    assert weakness("kxqvbnmzptrw") is None
    assert weakness("kxqvbnmzpte\u0301") == (
        "a password needs at least 12 characters (this one has 11)"
    )
    assert weakness("kxqvbnmzptre\u0301") is None
    assert weakness("x" * 1025) == "a password has at most 1024 characters (this one has 1025)"
    assert weakness(("correct horse battery staple " * 40)[:1024]) is None


def test_common_and_breached_passwords_are_refused() -> None:
    # The package's list of common passwords from breach corpora really holds these.
    listed = set(FREQUENCY_LISTS["passwords"])
    assert {"password1234", "qwertyuiop123", "1qaz2wsx3edc"} <= listed
    for password in ("password1234", "qwertyuiop123", "1qaz2wsx3edc"):
        assert weakness(password) == (
            "this password is too easy to guess: this is a very common password"
        ), password
    # The fullwidth form of a listed password is the listed password once normalised.
    assert weakness(_fullwidth("password1234")) == weakness("password1234")
    # Variations of listed passwords, and passwords made of a repeat or a sequence.
    assert weakness("P@ssw0rd12345") == (
        "this password is too easy to guess: this is similar to a commonly used password"
    )
    assert weakness("aaaaaaaaaaaa") == (
        'this password is too easy to guess: repeats like "aaa" are easy to guess'
    )
    assert weakness("abcdefghijkl") == (
        'this password is too easy to guess: sequences like "abc" or "6543" are easy to guess'
    )
    assert weakness("test-password") is not None  # the test accounts' own, set directly


def test_no_composition_rules() -> None:
    """Lower case only, digits only, spaces: long and unguessable is enough."""
    for password in (
        "correct horse battery staple",
        "58203917465382",
        NEW_PASSWORD,
        "Tr0ub4dor&3xx",
        "gâteau aux noix de grenoble",
    ):
        assert weakness(password) is None, password


def test_a_password_built_on_the_persons_email_is_refused() -> None:
    email, name = "jane.smith@example.com", "Dr. Jane Smith"
    for password in ("janesmith2024!", "Jane.Smith-lantern-41"):
        assert weakness(password, email=email, name=name) == (
            "a password must not contain your email address"
        ), password
        assert weakness(password) is None  # the same password is fine for someone else
    assert weakness("smith-smith-smith", email=email, name=name) is not None


def test_hashes_are_of_the_normalised_password() -> None:
    stored = hash_password(_fullwidth("pass word lantern"))
    assert verify_password(stored, "pass word lantern")
    assert verify_password(stored, _fullwidth("pass word lantern"))
    assert not verify_password(stored, "pass word lanterns")
    # A hash made before passwords were normalised still verifies as typed.
    legacy = PasswordHasher().hash("ﬁsh and chips forever")
    assert verify_password(legacy, "ﬁsh and chips forever")
    assert not verify_password(None, "anything at all")


# --- helpers --------------------------------------------------------------------------


def _login(client: FlaskClient, email: str, password: str) -> Any:
    return client.post("/api/v1/auth/login", json={"email": email, "password": password})


def _works(client: FlaskClient, access: str) -> bool:
    return client.get(ME, headers=bearer(access)).status_code == 200


def _reset_link(admin_engine: Engine, email: str) -> str:
    """The link of the newest reset email to `email`, as its recipient gets it."""
    with admin_engine.connect() as conn:
        sealed = conn.execute(
            text(
                "SELECT sealed_payload FROM outbox_messages WHERE kind = 'password_reset'"
                " AND recipient_email = :e ORDER BY created_at DESC, id LIMIT 1"
            ),
            {"e": email},
        ).scalar_one()
    return str(Sealer(DEV_OUTBOX_SECRET).unseal(sealed)["reset_url"])


def _token(link: str) -> str:
    return urlsplit(link).path.rsplit("/", 1)[-1]


def _request_link(client: FlaskClient, admin_engine: Engine, user: User) -> str:
    """Ask for a link for `user`, run the queued job that issues it; its token."""
    response = client.post(REQUEST, json={"email": user.email})
    assert response.status_code == 202, response.get_json()
    work(client.application)
    return _token(_reset_link(admin_engine, user.email))


def _rows(admin_engine: Engine, sql: str, **values: object) -> list[Any]:
    with admin_engine.connect() as conn:
        return list(conn.execute(text(sql), values).all())


def _deactivate(client: FlaskClient, seeded: TwoTenants, user: User) -> None:
    msc_admin = token_for(client, seeded.msc_admin)
    deactivated = client.post(
        f"/api/v1/admin/users/{user.id}/deactivate", headers=bearer(msc_admin)
    )
    assert deactivated.status_code == 200, deactivated.get_json()


def _password_hash(admin_engine: Engine, user: User) -> str:
    [(found,)] = _rows(admin_engine, "SELECT password_hash FROM users WHERE id = :u", u=user.id)
    return str(found)


# --- changing one's password ----------------------------------------------------------


def test_a_change_needs_the_current_password_and_an_acceptable_new_one(
    client: FlaskClient, seeded: TwoTenants, admin_engine: Engine
) -> None:
    admin = seeded.a.admin
    access = token_for(client, admin)
    before = _password_hash(admin_engine, admin)
    for body, field, message in (
        (
            {"current_password": "not-my-password", "new_password": NEW_PASSWORD},
            "current_password",
            "the current password is wrong",
        ),
        (
            {"current_password": factories.PASSWORD, "new_password": "password1234"},
            "new_password",
            "this password is too easy to guess: this is a very common password",
        ),
        (
            {"current_password": factories.PASSWORD, "new_password": "kxqvbnmzptr"},
            "new_password",
            "a password needs at least 12 characters (this one has 11)",
        ),
    ):
        refused = client.post(CHANGE, json=body, headers=bearer(access))
        assert refused.status_code == 422, refused.get_json()
        assert validation_errors(refused) == {field: [message]}
    missing = client.post(CHANGE, json={"new_password": NEW_PASSWORD}, headers=bearer(access))
    assert missing.status_code == 422 and "current_password" in validation_errors(missing)
    assert client.post(CHANGE, json={}).status_code == 401
    assert _password_hash(admin_engine, admin) == before
    assert _works(client, access)


def test_a_change_ends_every_other_session_and_keeps_this_one(
    client: FlaskClient, seeded: TwoTenants, admin_engine: Engine
) -> None:
    admin = seeded.a.admin
    current = token_for(client, admin)
    others = [token_for(client, admin), _login(client, admin.email, factories.PASSWORD)]
    someone_else = token_for(client, seeded.b.admin)

    changed = client.post(
        CHANGE,
        json={"current_password": factories.PASSWORD, "new_password": NEW_PASSWORD},
        headers=bearer(current),
    )
    assert changed.status_code == 200, changed.get_json()
    assert changed.get_json() == {"ended": 2}
    assert _works(client, current)
    assert not _works(client, others[0])
    assert not _works(client, others[1].get_json()["access_token"])
    refreshed = client.post(
        "/api/v1/auth/refresh", headers=bearer(others[1].get_json()["refresh_token"])
    )
    assert refreshed.status_code == 401
    assert _works(client, someone_else)

    assert _login(client, admin.email, factories.PASSWORD).status_code == 401
    assert _login(client, admin.email, NEW_PASSWORD).status_code == 200

    # Audited as the user's own change of their row, the hash never written out.
    events = _rows(
        admin_engine,
        "SELECT actor_user_id, changes FROM audit_events"
        " WHERE table_name = 'users' AND action = 'update' AND row_id = :u",
        u=admin.id,
    )
    assert [(e.actor_user_id, e.changes) for e in events] == [
        (admin.id, {"password_hash": {"old": "[redacted]", "new": "[redacted]"}})
    ]
    hashed = _password_hash(admin_engine, admin)
    assert not _rows(
        admin_engine, "SELECT 1 FROM audit_events WHERE changes::text LIKE :h", h=f"%{hashed}%"
    )


# --- asking for a reset link ----------------------------------------------------------


def test_the_same_answer_whether_or_not_the_email_has_an_account(
    client: FlaskClient, seeded: TwoTenants, admin_engine: Engine, settings: Settings
) -> None:
    admin, deactivated = seeded.a.admin, seeded.b.office_manager
    _deactivate(client, seeded, deactivated)
    answers = [
        client.post(REQUEST, json={"email": email})
        for email in (admin.email, "nobody@example.com", deactivated.email, admin.email.upper())
    ]
    assert {(a.status_code, a.get_data(as_text=True)) for a in answers} == {
        (
            202,
            '{"message":"If an active account has this email, a link to choose a new password'
            ' has been sent to it."}\n',
        )
    }
    work(client.application)
    # Only the active account gets links (two requests: two links, the first revoked).
    messages = _rows(
        admin_engine,
        "SELECT recipient_email, recipient_user_id, organization_id, subject, payload"
        " FROM outbox_messages WHERE kind = 'password_reset' ORDER BY created_at",
    )
    assert [(m.recipient_email, m.recipient_user_id, m.organization_id) for m in messages] == [
        (admin.email, admin.id, None)
    ] * 2
    links = _rows(
        admin_engine,
        "SELECT user_id, revoked_at IS NOT NULL AS revoked FROM password_resets"
        " ORDER BY created_at, revoked_at NULLS LAST",
    )
    assert [(link.user_id, link.revoked) for link in links] == [(admin.id, True), (admin.id, False)]

    # The email: the reset page on the public address, when the link expires, and
    # what to do when it was not asked for.
    link = _reset_link(admin_engine, admin.email)
    assert link.startswith(f"{settings.public_base_url}/password-reset/")
    email = render(
        "password_reset",
        {**messages[-1].payload, "reset_url": link},
        sender=settings.smtp_sender,
        recipient=admin.email,
        subject=messages[-1].subject,
        idempotency_key="test",
    )
    body = email.get_body(("plain",))
    assert body is not None
    plain = body.get_content()
    assert link in plain
    assert "expires in 30 minutes" in plain
    assert "If you did not ask for this, you can ignore this email" in plain


def test_the_request_only_queues_the_job_whether_or_not_the_email_has_an_account(
    client: FlaskClient, seeded: TwoTenants, admin_engine: Engine
) -> None:
    """The request writes nothing and queues the same job for an account's email as for
    an unknown one; the job, run afterwards, issues one link (and its email) for the
    account, under the request's id, and nothing for the unknown email."""
    app = client.application
    known, unknown = seeded.a.admin.email, f"nobody-{uuid.uuid4().hex[:8]}@example.com"
    written = (
        "SELECT (SELECT count(*) FROM password_resets) AS links,"
        " (SELECT count(*) FROM outbox_messages) AS messages,"
        " (SELECT count(*) FROM audit_events) AS events"
    )
    before = _rows(admin_engine, written)
    request_ids = {email: f"reset-{uuid.uuid4().hex}" for email in (known, unknown)}
    for email, request_id in request_ids.items():
        answer = client.post(REQUEST, json={"email": email}, headers={"X-Request-ID": request_id})
        assert answer.status_code == 202, answer.get_json()
    assert _rows(admin_engine, written) == before == [(0, 0, before[0].events)]

    with app.app_context():
        queued = Queue(app.config["SETTINGS"].queue_name, connection=redis_connection.client).jobs
    # (The queue is the run's: other tests' requests may have left jobs there.)
    these = [(job.func_name, job.args) for job in queued if job.args and job.args[0] in request_ids]
    assert sorted(these) == [
        (ISSUE_PASSWORD_RESET, (email, f"client:{request_ids[email]}"))
        for email in sorted(request_ids)
    ]

    work(app)
    links = _rows(admin_engine, "SELECT id, user_id FROM password_resets")
    assert [link.user_id for link in links] == [seeded.a.admin.id]
    messages = _rows(
        admin_engine, "SELECT recipient_email, kind FROM outbox_messages ORDER BY created_at"
    )
    assert [(m.recipient_email, m.kind) for m in messages] == [(known, "password_reset")]
    [(audited_as,)] = _rows(
        admin_engine,
        "SELECT request_id FROM audit_events WHERE table_name = 'password_resets' AND row_id = :r",
        r=links[0].id,
    )
    assert audited_as == f"client:{request_ids[known]}"


def test_the_queued_job_is_the_workers_reset_job() -> None:
    """The application names the job by its path (it never imports the workers): the
    path must still lead to the job."""
    assert import_attribute(ISSUE_PASSWORD_RESET) is jobs.issue_password_reset


def test_with_redis_down_every_reset_request_answers_503_alike(
    seeded: TwoTenants, admin_engine: Engine, settings: Settings
) -> None:
    """Without Redis (the request limits' counters and the job queue alike) the request
    answers the same 503 for an account's email and an unknown one, and issues nothing."""
    app = create_app(replace(settings, redis_url="redis://127.0.0.1:1/0"))  # nothing there
    sender = app.test_client()
    try:
        answers = [
            sender.post(REQUEST, json={"email": email})
            for email in (seeded.a.admin.email, f"nobody-{uuid.uuid4().hex[:8]}@example.com")
        ]
    finally:
        with app.app_context():
            db.engine.dispose()
            redis_connection.client.close()
    assert refusal_of(answers[0]) == refusal_of(answers[1])
    assert answers[0].status_code == 503
    assert _rows(admin_engine, "SELECT 1 FROM password_resets") == []


def test_a_malformed_email_is_refused_naming_the_field(client: FlaskClient) -> None:
    refused = client.post(REQUEST, json={"email": "not an email"})
    assert refused.status_code == 422 and "email" in validation_errors(refused)


def test_the_token_is_stored_only_as_its_hash(
    client: FlaskClient, seeded: TwoTenants, admin_engine: Engine
) -> None:
    token = _request_link(client, admin_engine, seeded.a.admin)
    assert len(token) >= 43  # 256 random bits
    [row] = _rows(
        admin_engine, "SELECT token_hash, expires_at - created_at AS life FROM password_resets"
    )
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert dt.timedelta(minutes=29) < row.life <= dt.timedelta(minutes=30)
    for table in ("password_resets", "outbox_messages", "audit_events"):
        found = _rows(
            admin_engine, f"SELECT 1 FROM {table} t WHERE to_jsonb(t)::text LIKE :t", t=f"%{token}%"
        )
        assert found == [], table
    # the audit trail records the link's creation without its hash
    [changes] = _rows(
        admin_engine,
        "SELECT changes FROM audit_events WHERE table_name = 'password_resets'",
    )
    assert changes[0]["token_hash"] == {"old": "[redacted]", "new": "[redacted]"}


# --- using the link -------------------------------------------------------------------


def test_a_reset_sets_the_password_once_and_ends_every_session(
    client: FlaskClient, seeded: TwoTenants, admin_engine: Engine
) -> None:
    admin = seeded.a.admin
    sessions = [token_for(client, admin), token_for(client, admin)]
    someone_else = token_for(client, seeded.b.admin)
    token = _request_link(client, admin_engine, admin)

    refused = client.post(CONFIRM, json={"token": token, "new_password": "password1234"})
    assert refused.status_code == 422
    assert validation_errors(refused) == {
        "new_password": ["this password is too easy to guess: this is a very common password"]
    }
    assert all(_works(client, access) for access in sessions)  # nothing changed

    done = client.post(CONFIRM, json={"token": token, "new_password": NEW_PASSWORD})
    assert done.status_code == 204, done.get_json()
    assert not any(_works(client, access) for access in sessions)
    assert _works(client, someone_else)
    assert _login(client, admin.email, factories.PASSWORD).status_code == 401
    assert _login(client, admin.email, NEW_PASSWORD).status_code == 200

    again = client.post(CONFIRM, json={"token": token, "new_password": "another-otter-lantern"})
    assert again.status_code == 410
    assert again.get_json()["detail"] == "this password reset link has already been used"
    assert _login(client, admin.email, NEW_PASSWORD).status_code == 200

    unknown = client.post(CONFIRM, json={"token": "not-a-real-token", "new_password": NEW_PASSWORD})
    assert unknown.status_code == 404
    assert validation_errors(unknown) == {"token": ["this password reset link is not valid"]}


def test_an_expired_link_changes_nothing(
    client: FlaskClient, seeded: TwoTenants, admin_engine: Engine, settings: Settings
) -> None:
    admin = seeded.a.admin
    asked = dt.datetime(2026, 6, 1, 9, 0, tzinfo=dt.UTC)
    with clock.frozen(asked):
        late = _request_link(client, admin_engine, admin)
    before = _password_hash(admin_engine, admin)
    with clock.frozen(asked + settings.password_reset_lifetime):
        expired = client.post(CONFIRM, json={"token": late, "new_password": NEW_PASSWORD})
    assert expired.status_code == 410
    assert expired.get_json()["detail"] == "this password reset link has expired"
    assert _password_hash(admin_engine, admin) == before

    with clock.frozen(asked + settings.password_reset_lifetime):
        in_time = _request_link(client, admin_engine, admin)
    with clock.frozen(asked + 2 * settings.password_reset_lifetime - dt.timedelta(seconds=1)):
        used = client.post(CONFIRM, json={"token": in_time, "new_password": NEW_PASSWORD})
    assert used.status_code == 204


def test_a_newer_link_or_a_changed_password_revokes_a_link(
    client: FlaskClient, seeded: TwoTenants, admin_engine: Engine
) -> None:
    admin = seeded.a.admin
    first = _request_link(client, admin_engine, admin)
    second = _request_link(client, admin_engine, admin)
    replaced = client.post(CONFIRM, json={"token": first, "new_password": NEW_PASSWORD})
    assert replaced.status_code == 410
    assert replaced.get_json()["detail"] == (
        "this password reset link was replaced by a newer one, or the password was changed since"
    )
    assert _login(client, admin.email, factories.PASSWORD).status_code == 200

    changed = client.post(
        CHANGE,
        json={"current_password": factories.PASSWORD, "new_password": NEW_PASSWORD},
        headers=bearer(token_for(client, admin)),
    )
    assert changed.status_code == 200
    stale = client.post(CONFIRM, json={"token": second, "new_password": "another-otter-lantern"})
    assert stale.status_code == 410
    assert _login(client, admin.email, NEW_PASSWORD).status_code == 200


def test_a_deactivated_account_cannot_use_its_link(
    client: FlaskClient, seeded: TwoTenants, admin_engine: Engine
) -> None:
    user = seeded.a.office_manager
    token = _request_link(client, admin_engine, user)
    _deactivate(client, seeded, user)
    refused = client.post(CONFIRM, json={"token": token, "new_password": NEW_PASSWORD})
    assert refused.status_code == 410
    assert _login(client, user.email, NEW_PASSWORD).status_code == 401
    [(used,)] = _rows(admin_engine, "SELECT used_at FROM password_resets")
    assert used is None


def test_two_uses_of_one_link_at_once_succeed_once(
    app: Flask, client: FlaskClient, seeded: TwoTenants, admin_engine: Engine
) -> None:
    token = _request_link(client, admin_engine, seeded.a.admin)
    start = threading.Barrier(2)
    statuses: list[int] = []

    def use(password: str) -> None:
        sender = app.test_client()
        start.wait()
        statuses.append(
            sender.post(CONFIRM, json={"token": token, "new_password": password}).status_code
        )

    users = [
        threading.Thread(target=use, args=(p,)) for p in (NEW_PASSWORD, "another-otter-lantern")
    ]
    for thread in users:
        thread.start()
    for thread in users:
        thread.join()
    assert sorted(statuses) == [204, 410]


# --- the policies -------------------------------------------------------------------


def _refused(db: Session, action: Callable[[], object]) -> bool:
    try:
        with db.begin_nested():
            action()
            db.flush()
    except (ProgrammingError, DBAPIError):
        return True
    return False


def _visible(db: Session) -> set[uuid.UUID]:
    return set(db.scalars(select(PasswordReset.id)))


def test_a_link_is_reached_by_its_token_and_its_user_only(db: Session, tenants: TwoTenants) -> None:
    owner, other = tenants.a.office_manager, tenants.b.admin
    use_context(db, MSC_SYSTEM)
    mine = PasswordReset(
        user_id=owner.id,
        token_hash=token_hash("owner-token"),
        expires_at=clock.now() + dt.timedelta(minutes=30),
    )
    theirs = PasswordReset(
        user_id=other.id,
        token_hash=token_hash("other-token"),
        expires_at=clock.now() + dt.timedelta(minutes=30),
    )
    db.add_all([mine, theirs])
    db.flush()

    for context in (
        TenantContext(),
        tenants.a.context(),  # the admin of the owner's organization
        TenantContext(login_email=owner.email),  # as a sign-in or a reset request
        TenantContext(password_reset_token_hash=token_hash("wrong-token")),
    ):
        use_context(db, context)
        assert _visible(db) == set(), context
    use_context(db, tenants.a.context(owner, Role.OFFICE_MANAGER))
    assert _visible(db) == {mine.id}  # the user: their own links
    holder = TenantContext(password_reset_token_hash=token_hash("owner-token"))
    use_context(db, holder)
    assert _visible(db) == {mine.id}

    # Only the service issues links.
    assert _refused(
        db,
        lambda: db.add(
            PasswordReset(user_id=owner.id, token_hash="0" * 64, expires_at=clock.now())
        ),
    )
    # The holder closes the link, and changes nothing else about it.
    for change in (
        {"expires_at": clock.now() + dt.timedelta(days=1)},
        {"token_hash": token_hash("chosen-token")},
        {"user_id": other.id},
    ):
        statement = update(PasswordReset).where(PasswordReset.id == mine.id).values(**change)
        assert _refused(db, lambda s=statement: db.execute(s)), change
    close = update(PasswordReset).where(PasswordReset.id == mine.id).values(used_at=clock.now())
    assert not _refused(db, lambda: db.execute(close))
    reopen = update(PasswordReset).where(PasswordReset.id == mine.id).values(used_at=None)
    assert _refused(db, lambda: db.execute(reopen))


def test_a_link_is_issued_and_used_under_the_application_role(
    db: Session, tenants: TwoTenants
) -> None:
    """The domain's request and reset, each under the context it sets itself."""
    user = tenants.a.office_manager
    sealer = Sealer(DEV_OUTBOX_SECRET)
    lifetime = dt.timedelta(minutes=30)
    passwords.request_reset(db, user.email, lifetime, "https://msc.example.com", sealer, "t")
    use_context(db, MSC_SYSTEM)
    reset = db.scalars(select(PasswordReset).where(PasswordReset.user_id == user.id)).one()
    assert reset.status_at(clock.now()).value == "pending"
    # The token went into the (sealed) email only: give the link one the test knows.
    db.execute(
        update(PasswordReset)
        .where(PasswordReset.id == reset.id)
        .values(token_hash=token_hash("known-token"))
    )
    changed = passwords.reset_password(db, "known-token", NEW_PASSWORD, "t")
    assert changed.id == user.id
    assert verify_password(changed.password_hash, NEW_PASSWORD)
    with pytest.raises(Gone):
        passwords.reset_password(db, "known-token", NEW_PASSWORD, "t")
