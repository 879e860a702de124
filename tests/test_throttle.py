"""Brute-force protection against the real Redis: request limits per client address and
per account, the growing delay after failed sign-ins, and where the client's address
comes from (app/auth/throttle.py).

Each test runs an application of its own, with small limits and a key prefix of its
own, so counts never leak between tests or runs."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from app.config import ConfigError, Settings
from app.factory import create_app
from tests.api_helpers import problem_of
from tests.conftest import TwoTenants, token_for
from tests.factories import PASSWORD

LOGIN = "/api/v1/auth/login"

MakeApp = Callable[..., Flask]


@pytest.fixture
def throttled_app(settings: Settings) -> MakeApp:
    """An application with the given throttle settings (generous limits elsewhere)."""

    def make(**overrides: Any) -> Flask:
        limits = {
            "rate_limit_sign_in": "1000/minute",
            "rate_limit_sign_in_account": "1000/minute",
            "rate_limit_links": "1000/minute",
            "rate_limit_links_token": "1000/minute",
            "rate_limit_refresh": "1000/minute",
            "rate_limit_key_prefix": f"rate-limit-test-{uuid.uuid4().hex}",
        }
        return create_app(replace(settings, **{**limits, **overrides}))

    return make


def _from(client: FlaskClient, address: str) -> FlaskClient:
    client.environ_base["REMOTE_ADDR"] = address
    return client


def _login(client: FlaskClient, email: str, password: str, **headers: str) -> TestResponse:
    return client.post(LOGIN, json={"email": email, "password": password}, headers=headers)


def _assert_429(response: TestResponse) -> int:
    assert "retry in" in problem_of(response, 429)["detail"]
    wait = int(response.headers["Retry-After"])
    assert wait > 0
    return wait


def test_repeated_wrong_passwords_delay_the_account_then_let_it_in_again(
    throttled_app: MakeApp, seeded: TwoTenants
) -> None:
    """The issue's case: 25 wrong passwords then the right one. The first failures
    answer 401; past the free ones, the account must wait (429, even with the right
    password), each further failure doubling the wait; once it has passed, the right
    password signs in and the count starts over."""
    app = throttled_app(sign_in_free_failures=3, sign_in_delay_seconds=1)
    client = _from(app.test_client(), "198.51.100.7")
    email = seeded.a.admin.email

    statuses = [_login(client, email, "wrong password " + str(i)).status_code for i in range(25)]
    # Three free failures, the fourth starts a 1 s delay: every attempt inside it is
    # refused without checking the password.
    assert statuses[:4] == [401] * 4
    assert set(statuses[4:]) == {429}
    assert _assert_429(_login(client, email, PASSWORD)) == 1

    time.sleep(1.1)
    # The delay has passed: one more failure now waits twice as long (2 s).
    assert _login(client, email, "wrong again").status_code == 401
    assert _assert_429(_login(client, email, PASSWORD)) == 2
    # Another account is not slowed down by it, nor is this one from elsewhere: the
    # delay is the account's from this address, so nobody keeps a user out by guessing.
    assert _login(client, seeded.b.admin.email, PASSWORD).status_code == 200
    elsewhere = _from(app.test_client(), "198.51.100.8")
    assert _login(elsewhere, email, PASSWORD).status_code == 200

    time.sleep(2.1)
    assert _login(client, email, PASSWORD).status_code == 200
    # A success forgets the failures: the next wrong password is a free one again.
    assert _login(client, email, "wrong").status_code == 401
    assert _login(client, email, PASSWORD).status_code == 200


def test_the_delay_is_capped(throttled_app: MakeApp, seeded: TwoTenants) -> None:
    app = throttled_app(
        sign_in_free_failures=1, sign_in_delay_seconds=60, sign_in_delay_max_seconds=90
    )
    client = _from(app.test_client(), "198.51.100.9")
    email = seeded.a.admin.email
    assert _login(client, email, "wrong").status_code == 401
    assert _login(client, email, "wrong").status_code == 401  # starts the 60 s delay
    assert 55 <= _assert_429(_login(client, email, PASSWORD)) <= 60
    # The stored failures keep counting (a second app shares the same Redis keys): the
    # next delay would be 120 s, and the cap holds it at 90.
    with app.test_request_context(environ_base={"REMOTE_ADDR": "198.51.100.9"}):
        from app.auth import throttle

        throttle.record_sign_in_failure(email)
    assert 85 <= _assert_429(_login(client, email, PASSWORD)) <= 90


def test_sign_in_is_limited_per_client_address(throttled_app: MakeApp, seeded: TwoTenants) -> None:
    app = throttled_app(rate_limit_sign_in="3/minute")
    attacker = _from(app.test_client(), "203.0.113.9")
    emails = [f"nobody-{i}-{uuid.uuid4().hex[:8]}@example.com" for i in range(3)]
    for email in emails:
        assert _login(attacker, email, "guess").status_code == 401
    wait = _assert_429(_login(attacker, seeded.a.admin.email, PASSWORD))
    assert wait <= 60
    # Someone else, from another address, signs in as usual.
    other = _from(app.test_client(), "203.0.113.10")
    assert _login(other, seeded.a.admin.email, PASSWORD).status_code == 200


def test_sign_in_is_limited_per_account_across_addresses(
    throttled_app: MakeApp, seeded: TwoTenants
) -> None:
    """Guesses spread over many addresses still meet the account's limit, whatever the
    case or spacing of the email sent."""
    app = throttled_app(rate_limit_sign_in_account="2/minute", sign_in_free_failures=100)
    email = seeded.a.admin.email
    spellings = [email, f"  {email.upper()} ", email.title()]
    responses = [
        _login(_from(app.test_client(), f"192.0.2.{i}"), spelled, "guess")
        for i, spelled in enumerate(spellings)
    ]
    assert [r.status_code for r in responses[:2]] == [401, 401]
    _assert_429(responses[2])
    assert _login(app.test_client(), seeded.b.admin.email, PASSWORD).status_code == 200


def test_forwarded_address_is_ignored_unless_a_proxy_is_trusted(
    throttled_app: MakeApp, seeded: TwoTenants
) -> None:
    """Without TRUSTED_PROXY_COUNT, X-Forwarded-For is the client's own claim: a new
    value per request does not escape the limit. With one trusted proxy, the address
    it reports is the client's (limits and the session list use it)."""
    run = uuid.uuid4().hex[:8]
    nobody = iter(f"nobody-{i}-{run}@example.com" for i in range(100))
    untrusting = throttled_app(rate_limit_sign_in="2/minute")
    client = _from(untrusting.test_client(), "203.0.113.20")
    statuses = [
        _login(client, next(nobody), "guess", **{"X-Forwarded-For": f"10.0.0.{i}"})
        for i in range(3)
    ]
    assert [r.status_code for r in statuses] == [401, 401, 429]

    trusting = throttled_app(rate_limit_sign_in="2/minute", trusted_proxy_count=1)
    proxy = _from(trusting.test_client(), "203.0.113.21")
    for i in range(3):
        # Only the entry the proxy appended counts; a client's own entry before it is
        # not believed.
        forwarded = {"X-Forwarded-For": f"6.6.6.6, 10.1.0.{i}"}
        assert _login(proxy, next(nobody), "guess", **forwarded).status_code == 401
    # A second attempt from the same forwarded client is its last this minute.
    same = {"X-Forwarded-For": "10.1.0.0"}
    assert _login(proxy, next(nobody), "guess", **same).status_code == 401
    _assert_429(_login(proxy, next(nobody), "guess", **same))

    signed_in = _login(proxy, seeded.a.admin.email, PASSWORD, **{"X-Forwarded-For": "10.9.9.9"})
    assert signed_in.status_code == 200
    token = signed_in.get_json()["access_token"]
    sessions = proxy.get("/api/v1/auth/sessions", headers={"Authorization": f"Bearer {token}"})
    assert [s["ip"] for s in sessions.get_json()] == ["10.9.9.9"]


def test_invitation_token_guesses_are_limited(throttled_app: MakeApp, seeded: TwoTenants) -> None:
    """Guessing invitation tokens was never throttled: now per client address (preview
    and accept share the budget) and per token."""
    app = throttled_app(rate_limit_links="4/minute", rate_limit_links_token="2/minute")
    guesser = _from(app.test_client(), "203.0.113.30")
    responses = [guesser.get(f"/api/v1/invitations/guess-{i}") for i in range(3)]
    responses.append(guesser.post("/api/v1/invitations/guess-9/accept", json={}))
    assert [r.status_code for r in responses] == [404, 404, 404, 404]
    _assert_429(guesser.post("/api/v1/invitations/guess-10/accept", json={}))

    # One token, from many addresses: its own limit.
    token_statuses = [
        _from(app.test_client(), f"198.18.0.{i}").get("/api/v1/invitations/same-token")
        for i in range(3)
    ]
    assert [r.status_code for r in token_statuses[:2]] == [404, 404]
    _assert_429(token_statuses[2])


def test_refresh_is_limited_per_client_address(throttled_app: MakeApp, seeded: TwoTenants) -> None:
    app = throttled_app(rate_limit_refresh="2/minute")
    client = _from(app.test_client(), "203.0.113.40")
    refresh = _login(client, seeded.a.admin.email, PASSWORD).get_json()["refresh_token"]
    for _ in range(2):
        response = client.post(
            "/api/v1/auth/refresh", headers={"Authorization": f"Bearer {refresh}"}
        )
        assert response.status_code == 200
        refresh = response.get_json()["refresh_token"]
    _assert_429(client.post("/api/v1/auth/refresh", headers={"Authorization": f"Bearer {refresh}"}))


def test_limits_refuse_with_503_when_redis_is_down(
    throttled_app: MakeApp, seeded: TwoTenants
) -> None:
    """No Redis, no count: a limited request is refused rather than let through."""
    app = throttled_app(redis_url="redis://127.0.0.1:1/0")
    response = app.test_client().get("/api/v1/invitations/some-token")
    assert response.status_code == 503
    assert response.headers["Retry-After"]


@pytest.mark.parametrize("variable", ["RATE_LIMIT_SIGN_IN", "RATE_LIMIT_LINKS"])
def test_a_malformed_limit_stops_start_up_naming_it(variable: str) -> None:
    with pytest.raises(ConfigError, match=variable):
        Settings.from_env({variable: "ten per fortnight"})


def test_wrong_second_factors_count_toward_the_accounts_delay(
    throttled_app: MakeApp, seeded: TwoTenants
) -> None:
    """A right password does not reset the count: wrong codes after it delay the
    account like wrong passwords, and the right code waits out the delay too."""
    from tests.test_mfa import _code, _enrol, _second_step, _wrong

    app = throttled_app(sign_in_free_failures=2, sign_in_delay_seconds=60)
    client = _from(app.test_client(), "198.51.100.50")
    user = seeded.a.admin
    enrolled = _enrol(client, token_for(client, user), step=0)

    statuses = []
    for _ in range(3):
        answer = _login(client, user.email, PASSWORD).get_json()
        mfa_token = answer["mfa_token"]  # a new challenge each time: it counts all the same
        wrong = _wrong(_code(enrolled.secret, 1))
        statuses.append(_second_step(client, mfa_token, 1, code=wrong).status_code)
    assert statuses == [401, 401, 401]  # the third failure starts the delay
    _assert_429(_second_step(client, mfa_token, 2, code=_code(enrolled.secret, 2)))
    _assert_429(_login(client, user.email, PASSWORD))


def test_reset_requests_are_limited_per_email_whether_or_not_it_exists(
    throttled_app: MakeApp, seeded: TwoTenants
) -> None:
    app = throttled_app(rate_limit_password_reset_account="2/hour")
    for email in (seeded.a.admin.email, f"nobody-{uuid.uuid4().hex[:8]}@example.com"):
        answers = [
            _from(app.test_client(), f"192.0.2.{100 + i}").post(
                "/api/v1/auth/password-reset", json={"email": email}
            )
            for i in range(3)
        ]
        assert [a.status_code for a in answers[:2]] == [202, 202]
        _assert_429(answers[2])


def test_reset_link_guesses_are_limited_on_the_api_and_the_page(
    throttled_app: MakeApp, seeded: TwoTenants
) -> None:
    app = throttled_app(rate_limit_links="3/minute")
    guesser = _from(app.test_client(), "203.0.113.60")
    body = {"new_password": "a perfectly fine passphrase"}
    answers = [
        guesser.post("/api/v1/auth/password-reset/confirm", json={**body, "token": f"guess-{i}"})
        for i in range(2)
    ]
    answers.append(guesser.get("/password-reset/guess-2"))
    assert [a.status_code for a in answers] == [404, 404, 404]
    _assert_429(guesser.post("/api/v1/auth/password-reset/confirm", json={**body, "token": "x"}))
    page = guesser.get("/password-reset/guess-3")
    assert page.status_code == 429 and int(page.headers["Retry-After"]) > 0
    assert page.mimetype == "text/html" and "Too many attempts" in page.get_data(as_text=True)


def test_wrong_current_passwords_count_toward_the_delay(
    throttled_app: MakeApp, seeded: TwoTenants
) -> None:
    """A stolen token is no way around the delay: guessing the current password to
    change it counts like guessing it at sign-in."""
    app = throttled_app(sign_in_free_failures=1, sign_in_delay_seconds=60)
    client = _from(app.test_client(), "198.51.100.70")
    user = seeded.a.admin
    headers = {"Authorization": f"Bearer {token_for(client, user)}"}
    body = {"new_password": "a brand new passphrase 4417"}
    for guess in ("guess one", "guess two"):
        refused = client.post(
            "/api/v1/auth/password", json={**body, "current_password": guess}, headers=headers
        )
        assert refused.status_code == 422, refused.get_json()
    _assert_429(
        client.post(
            "/api/v1/auth/password", json={**body, "current_password": PASSWORD}, headers=headers
        )
    )
    _assert_429(_login(client, user.email, PASSWORD))


def test_two_trusted_proxies_the_client_is_the_address_the_outer_one_saw(
    throttled_app: MakeApp, seeded: TwoTenants
) -> None:
    app = throttled_app(trusted_proxy_count=2)
    client = _from(app.test_client(), "10.0.0.2")  # the inner proxy
    # client-written, then the outer proxy's entry (the client), then the inner's
    forwarded = {"X-Forwarded-For": "6.6.6.6, 203.0.113.99, 10.0.0.1"}
    signed_in = _login(client, seeded.a.admin.email, PASSWORD, **forwarded)
    assert signed_in.status_code == 200
    token = signed_in.get_json()["access_token"]
    sessions = client.get("/api/v1/auth/sessions", headers={"Authorization": f"Bearer {token}"})
    assert [s["ip"] for s in sessions.get_json()] == ["203.0.113.99"]


def test_the_accept_page_is_limited_with_the_api_and_answers_a_page(
    throttled_app: MakeApp, seeded: TwoTenants
) -> None:
    app = throttled_app(rate_limit_links="2/minute")
    guesser = _from(app.test_client(), "203.0.113.80")
    assert guesser.get("/api/v1/invitations/guess-1").status_code == 404
    assert guesser.get("/invitations/guess-2/accept").status_code == 404
    refused = guesser.get("/invitations/guess-3/accept")
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
    assert refused.mimetype == "text/html"
    assert "Too many attempts" in refused.get_data(as_text=True)
