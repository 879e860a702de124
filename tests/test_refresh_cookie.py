"""The refresh token as a browser app keeps it (app/auth/refresh_cookie.py): asked for
with `X-Token-Delivery: cookie`, it travels only in an HttpOnly, SameSite=Strict cookie
scoped to the refresh path, rotates there, is read only with the header, and is cleared
by logout; clients that carry it in the body and as a bearer token are served as before."""

from __future__ import annotations

from dataclasses import replace

import pyotp
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from app import clock
from app.auth.refresh_cookie import REFRESH_COOKIE, REFRESH_COOKIE_PATH
from app.config import Settings
from app.factory import create_app
from tests.api_helpers import SIGN_IN_AT, enrol_second_factor, problem_of
from tests.conftest import TwoTenants, bearer
from tests.factories import PASSWORD

LOGIN = "/api/v1/auth/login"
REFRESH = "/api/v1/auth/refresh"
LOGOUT = "/api/v1/auth/logout"
SWITCH = "/api/v1/auth/switch-organization"
ME = "/api/v1/me"
COOKIE_DELIVERY = {"X-Token-Delivery": "cookie"}


def _refresh_cookie(response: TestResponse) -> dict[str, str]:
    """The attributes of the refresh cookie `response` sets (names in lower case, flags
    with an empty value), its value under "value"."""
    found = [
        header
        for header in response.headers.getlist("Set-Cookie")
        if header.startswith(f"{REFRESH_COOKIE}=")
    ]
    assert len(found) == 1, response.headers.getlist("Set-Cookie")
    first, *attributes = (part.strip() for part in found[0].split(";"))
    cookie = {"value": first.partition("=")[2]}
    for attribute in attributes:
        name, _, value = attribute.partition("=")
        cookie[name.lower()] = value
    return cookie


def _sets_no_refresh_cookie(response: TestResponse) -> bool:
    return not any(
        header.startswith(f"{REFRESH_COOKIE}=") for header in response.headers.getlist("Set-Cookie")
    )


def _cookie_login(client: FlaskClient, email: str) -> TestResponse:
    response = client.post(
        LOGIN, json={"email": email, "password": PASSWORD}, headers=COOKIE_DELIVERY
    )
    assert response.status_code == 200, response.get_json()
    return response


def _held_cookie(client: FlaskClient) -> str:
    """The refresh cookie the client holds now (it sends it to the refresh path only)."""
    cookie = client.get_cookie(REFRESH_COOKIE, path=REFRESH_COOKIE_PATH)
    assert cookie is not None
    return cookie.value


def test_a_cookie_login_puts_the_refresh_token_in_an_httponly_strict_cookie_only(
    client: FlaskClient, seeded: TwoTenants, settings: Settings
) -> None:
    response = _cookie_login(client, seeded.a.admin.email)
    body = response.get_json()
    assert "refresh_token" not in body
    assert client.get(ME, headers=bearer(body["access_token"])).status_code == 200
    cookie = _refresh_cookie(response)
    assert cookie["value"]
    assert cookie["path"] == REFRESH_COOKIE_PATH
    assert "httponly" in cookie
    assert cookie["samesite"] == "Strict"
    assert int(cookie["max-age"]) == int(settings.refresh_token_lifetime.total_seconds())
    # The test settings' service is a development server on http://127.0.0.1.
    assert settings.public_base_url.startswith("http://127.0.0.1")
    assert "secure" not in cookie


def test_the_cookie_is_secure_wherever_the_service_is_not_a_local_development_server(
    settings: Settings, seeded: TwoTenants
) -> None:
    for address in ("https://msc.example.com", "http://msc.example.com"):
        client = create_app(replace(settings, public_base_url=address)).test_client()
        assert "secure" in _refresh_cookie(_cookie_login(client, seeded.a.admin.email))


def test_a_cookie_refresh_rotates_the_cookie_and_a_reused_one_ends_the_login(
    client: FlaskClient, seeded: TwoTenants
) -> None:
    _cookie_login(client, seeded.a.admin.email)
    first = _held_cookie(client)
    refreshed = client.post(REFRESH, headers=COOKIE_DELIVERY)
    assert refreshed.status_code == 200, refreshed.get_json()
    assert "refresh_token" not in refreshed.get_json()
    second = _refresh_cookie(refreshed)["value"]
    assert second and second != first
    access = refreshed.get_json()["access_token"]
    assert client.get(ME, headers=bearer(access)).get_json()["organization_id"] == str(
        seeded.a.organization.id
    )
    # A copy of the first cookie, presented again: the whole login ends.
    client.set_cookie(REFRESH_COOKIE, first, path=REFRESH_COOKIE_PATH)
    problem_of(client.post(REFRESH, headers=COOKIE_DELIVERY), 401)
    client.set_cookie(REFRESH_COOKIE, second, path=REFRESH_COOKIE_PATH)
    problem_of(client.post(REFRESH, headers=COOKIE_DELIVERY), 401)
    problem_of(client.get(ME, headers=bearer(access)), 401)


def test_the_cookie_is_not_read_without_the_delivery_header(
    client: FlaskClient, seeded: TwoTenants
) -> None:
    """What a forged cross-site request would be: the browser sends the cookie, but the
    request cannot carry the header."""
    _cookie_login(client, seeded.a.admin.email)
    held = _held_cookie(client)
    problem_of(client.post(REFRESH), 401)
    # Nothing was spent: the cookie still refreshes with the header.
    assert _held_cookie(client) == held
    assert client.post(REFRESH, headers=COOKIE_DELIVERY).status_code == 200


def test_a_delivery_there_is_none_of_is_refused_naming_the_header_before_anything_is_done(
    client: FlaskClient, seeded: TwoTenants
) -> None:
    access = _cookie_login(client, seeded.a.admin.email).get_json()["access_token"]
    for path in (LOGIN, REFRESH, LOGOUT):
        refused = client.post(
            path,
            json={"email": seeded.a.admin.email, "password": PASSWORD},
            headers={**bearer(access), "X-Token-Delivery": "cookies"},
        )
        body = problem_of(refused, 422)
        assert list(body["errors"]) == ["headers"], path
        assert list(body["errors"]["headers"]) == ["X-Token-Delivery"], path
        assert _sets_no_refresh_cookie(refused)
    # The logout refused ended nothing.
    assert client.get(ME, headers=bearer(access)).status_code == 200
    assert client.post(REFRESH, headers=COOKIE_DELIVERY).status_code == 200


def test_logout_clears_the_cookie_and_ends_the_login(
    client: FlaskClient, seeded: TwoTenants
) -> None:
    access = _cookie_login(client, seeded.a.admin.email).get_json()["access_token"]
    held = _held_cookie(client)
    logged_out = client.post(LOGOUT, headers={**bearer(access), **COOKIE_DELIVERY})
    assert logged_out.status_code == 204
    cleared = _refresh_cookie(logged_out)
    assert cleared["value"] == ""
    assert cleared["path"] == REFRESH_COOKIE_PATH
    assert cleared["max-age"] == "0"
    assert client.get_cookie(REFRESH_COOKIE, path=REFRESH_COOKIE_PATH) is None
    # The token it held is revoked too, wherever a copy of it might be.
    client.set_cookie(REFRESH_COOKIE, held, path=REFRESH_COOKIE_PATH)
    problem_of(client.post(REFRESH, headers=COOKIE_DELIVERY), 401)


def test_switching_organization_in_cookie_mode_moves_the_cookie_to_the_new_organization(
    client: FlaskClient, seeded: TwoTenants
) -> None:
    body = client.post(
        LOGIN,
        json={
            "email": seeded.shared_provider.email,
            "password": PASSWORD,
            "organization_id": str(seeded.a.organization.id),
        },
        headers=COOKIE_DELIVERY,
    ).get_json()
    switched = client.post(
        SWITCH,
        json={"organization_id": str(seeded.b.organization.id)},
        headers={**bearer(body["access_token"]), **COOKIE_DELIVERY},
    )
    assert switched.status_code == 200, switched.get_json()
    assert "refresh_token" not in switched.get_json()
    assert _refresh_cookie(switched)["value"] == _held_cookie(client)
    refreshed = client.post(REFRESH, headers=COOKIE_DELIVERY)
    assert refreshed.get_json()["organization_id"] == str(seeded.b.organization.id)


def test_the_second_factor_step_delivers_the_cookie_too(
    client: FlaskClient, seeded: TwoTenants
) -> None:
    admin = seeded.a.admin
    secret = enrol_second_factor(
        client, _cookie_login(client, admin.email).get_json()["access_token"]
    )
    challenge = _cookie_login(client, admin.email)
    assert _sets_no_refresh_cookie(challenge)
    with clock.frozen(SIGN_IN_AT):
        signed_in = client.post(
            "/api/v1/auth/login/mfa",
            json={
                "mfa_token": challenge.get_json()["mfa_token"],
                "code": pyotp.TOTP(secret).at(SIGN_IN_AT),
            },
            headers=COOKIE_DELIVERY,
        )
    assert signed_in.status_code == 200, signed_in.get_json()
    assert "refresh_token" not in signed_in.get_json()
    assert _refresh_cookie(signed_in)["value"] == _held_cookie(client)
    assert client.post(REFRESH, headers=COOKIE_DELIVERY).status_code == 200


def test_body_clients_are_served_as_before(client: FlaskClient, seeded: TwoTenants) -> None:
    login = client.post(LOGIN, json={"email": seeded.a.admin.email, "password": PASSWORD})
    assert login.status_code == 200
    assert _sets_no_refresh_cookie(login)
    refreshed = client.post(REFRESH, headers=bearer(login.get_json()["refresh_token"]))
    assert refreshed.status_code == 200
    assert refreshed.get_json()["refresh_token"]
    assert _sets_no_refresh_cookie(refreshed)
    logged_out = client.post(LOGOUT, headers=bearer(refreshed.get_json()["access_token"]))
    assert logged_out.status_code == 204
    assert _sets_no_refresh_cookie(logged_out)


def test_the_delivery_header_is_documented_on_every_endpoint_that_honours_it(
    client: FlaskClient,
) -> None:
    paths = client.get("/openapi.json").get_json()["paths"]
    for path in (
        LOGIN,
        "/api/v1/auth/login/mfa",
        "/api/v1/auth/login/mfa/enrollment/confirm",
        REFRESH,
        LOGOUT,
        SWITCH,
    ):
        parameters = paths[path]["post"].get("parameters", [])
        assert {"in": "header", "name": "X-Token-Delivery"}.items() <= next(
            (p for p in parameters if p.get("name") == "X-Token-Delivery"), {}
        ).items(), path
