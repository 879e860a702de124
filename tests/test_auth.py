"""Tokens: every bad one answers 401 with JSON; logout revokes; switching organization."""

from __future__ import annotations

import datetime as dt
import uuid

import jwt as pyjwt
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, text
from werkzeug.test import TestResponse

from app.config import Settings
from app.factory import create_app
from app.tenancy.context import TenantContext, apply
from tests.api_helpers import problem_of
from tests.conftest import TwoTenants, bearer, login, token_for
from tests.factories import PASSWORD

ME = "/api/v1/me"


def _forge(
    settings: Settings,
    claims: dict[str, object],
    *,
    key: str | None = None,
    algorithm: str = "HS256",
) -> str:
    now = dt.datetime.now(dt.UTC)
    payload = {
        "iat": now,
        "nbf": now,
        "jti": uuid.uuid4().hex,
        "type": "access",
        "fresh": False,
        "exp": now + dt.timedelta(minutes=5),
        "org": None,
        "sid": uuid.uuid4().hex,
        **claims,
    }
    return pyjwt.encode(payload, key or settings.jwt_secret_key, algorithm=algorithm)


def _assert_401(response: TestResponse) -> None:
    problem_of(response, 401)


def test_login_returns_tokens_for_the_first_membership(
    client: FlaskClient, seeded: TwoTenants
) -> None:
    response = client.post(
        "/api/v1/auth/login", json={"email": seeded.a.admin.email.upper(), "password": PASSWORD}
    )
    assert response.status_code == 200
    body = response.get_json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 15 * 60
    assert body["organization_id"] == str(seeded.a.organization.id)
    me = client.get(ME, headers=bearer(body["access_token"])).get_json()
    assert me["email"] == seeded.a.admin.email
    assert me["role"] == "organization_admin"
    assert "manage-facilities" in me["permissions"]


def test_wrong_password_and_unknown_email_get_the_same_401(
    client: FlaskClient, seeded: TwoTenants
) -> None:
    wrong = client.post(
        "/api/v1/auth/login", json={"email": seeded.a.admin.email, "password": "nope"}
    )
    unknown = client.post(
        "/api/v1/auth/login", json={"email": "nobody@example.com", "password": "nope"}
    )
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.get_json()["detail"] == unknown.get_json()["detail"]


def test_login_validation_names_the_field(client: FlaskClient) -> None:
    response = client.post("/api/v1/auth/login", json={"email": "a@b.c"})
    assert response.status_code == 422
    assert "password" in response.get_json()["errors"]["json"]


def test_missing_token_is_401(client: FlaskClient) -> None:
    _assert_401(client.get(ME))


@pytest.mark.parametrize("header", ["Bearer", "Bearer not.a.jwt", "Bearer a.b", "Basic abc"])
def test_malformed_token_is_401(client: FlaskClient, header: str) -> None:
    _assert_401(client.get(ME, headers={"Authorization": header}))


def test_tampered_token_is_401(client: FlaskClient, seeded: TwoTenants) -> None:
    token = login(client, seeded.a.admin)
    header, payload, signature = token.split(".")
    flipped = signature[:-2] + ("A" if signature[-2] != "A" else "B") + signature[-1]
    _assert_401(client.get(ME, headers=bearer(f"{header}.{payload}.{flipped}")))


def test_expired_token_is_401(client: FlaskClient, seeded: TwoTenants, settings: Settings) -> None:
    past = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    token = _forge(settings, {"sub": str(seeded.a.admin.id), "iat": past, "nbf": past, "exp": past})
    _assert_401(client.get(ME, headers=bearer(token)))


def test_wrong_algorithm_is_401(
    client: FlaskClient, seeded: TwoTenants, settings: Settings
) -> None:
    claims = {"sub": str(seeded.a.admin.id)}
    _assert_401(client.get(ME, headers=bearer(_forge(settings, claims, algorithm="HS512"))))
    unsigned = pyjwt.encode({**claims, "type": "access", "jti": "x"}, None, algorithm="none")
    _assert_401(client.get(ME, headers=bearer(unsigned)))


def test_wrong_key_is_401(client: FlaskClient, seeded: TwoTenants, settings: Settings) -> None:
    token = _forge(
        settings, {"sub": str(seeded.a.admin.id)}, key="another-key-" + "0123456789abcdef" * 4
    )
    _assert_401(client.get(ME, headers=bearer(token)))


def test_unknown_user_is_401(client: FlaskClient, seeded: TwoTenants, settings: Settings) -> None:
    _assert_401(client.get(ME, headers=bearer(_forge(settings, {"sub": str(uuid.uuid4())}))))
    _assert_401(client.get(ME, headers=bearer(_forge(settings, {"sub": "not-a-uuid"}))))


def test_token_for_an_organization_the_user_never_joined_is_401(
    client: FlaskClient, seeded: TwoTenants, settings: Settings
) -> None:
    claims = {"sub": str(seeded.a.admin.id), "org": str(seeded.b.organization.id)}
    _assert_401(client.get(ME, headers=bearer(_forge(settings, claims))))


def test_token_stops_working_when_the_membership_is_removed(
    client: FlaskClient, seeded: TwoTenants, admin_engine: Engine
) -> None:
    token = login(client, seeded.a.office_manager)
    assert client.get(ME, headers=bearer(token)).status_code == 200
    with admin_engine.begin() as conn:
        # removed by hand: first no facility's office manager (the foreign key says so)
        conn.execute(
            text("UPDATE facilities SET office_manager_id = NULL WHERE office_manager_id = :u"),
            {"u": seeded.a.office_manager.id},
        )
        conn.execute(
            text("DELETE FROM memberships WHERE user_id = :u"), {"u": seeded.a.office_manager.id}
        )
    _assert_401(client.get(ME, headers=bearer(token)))


def test_token_stops_working_when_the_user_is_deactivated(
    client: FlaskClient, seeded: TwoTenants, admin_engine: Engine
) -> None:
    token = login(client, seeded.a.admin)
    with admin_engine.begin() as conn:
        # even the superuser changes is_active only in an MSC context (a column guard)
        apply(conn, TenantContext(is_msc_admin=True))
        conn.execute(
            text("UPDATE users SET is_active = false WHERE id = :u"), {"u": seeded.a.admin.id}
        )
    _assert_401(client.get(ME, headers=bearer(token)))
    response = client.post(
        "/api/v1/auth/login", json={"email": seeded.a.admin.email, "password": PASSWORD}
    )
    assert response.status_code == 401


def test_logout_revokes_access_and_refresh_tokens(client: FlaskClient, seeded: TwoTenants) -> None:
    body = client.post(
        "/api/v1/auth/login", json={"email": seeded.a.admin.email, "password": PASSWORD}
    ).get_json()
    access, refresh = body["access_token"], body["refresh_token"]
    assert client.get(ME, headers=bearer(access)).status_code == 200
    assert client.post("/api/v1/auth/logout", headers=bearer(access)).status_code == 204
    _assert_401(client.get(ME, headers=bearer(access)))
    _assert_401(client.post("/api/v1/auth/refresh", headers=bearer(refresh)))


def test_refresh_issues_a_working_access_token(client: FlaskClient, seeded: TwoTenants) -> None:
    body = client.post(
        "/api/v1/auth/login", json={"email": seeded.a.admin.email, "password": PASSWORD}
    ).get_json()
    refreshed = client.post("/api/v1/auth/refresh", headers=bearer(body["refresh_token"]))
    assert refreshed.status_code == 200
    new_access = refreshed.get_json()["access_token"]
    new_refresh = refreshed.get_json()["refresh_token"]
    assert client.get(ME, headers=bearer(new_access)).get_json()["organization_id"] == str(
        seeded.a.organization.id
    )
    # an access token is not a refresh token, and the other way round
    _assert_401(client.post("/api/v1/auth/refresh", headers=bearer(new_access)))
    _assert_401(client.get(ME, headers=bearer(new_refresh)))


def test_switch_only_to_an_organization_with_membership(
    client: FlaskClient, seeded: TwoTenants
) -> None:
    provider_token = login(client, seeded.shared_provider, seeded.a.organization)
    switched = client.post(
        "/api/v1/auth/switch-organization",
        json={"organization_id": str(seeded.b.organization.id)},
        headers=bearer(provider_token),
    )
    assert switched.status_code == 200
    assert switched.get_json()["organization_id"] == str(seeded.b.organization.id)

    admin_token = login(client, seeded.a.admin)
    refused = client.post(
        "/api/v1/auth/switch-organization",
        json={"organization_id": str(seeded.b.organization.id)},
        headers=bearer(admin_token),
    )
    assert refused.status_code == 404


def test_a_directly_issued_token_is_a_login_token(
    client: FlaskClient, seeded: TwoTenants, settings: Settings
) -> None:
    """`token_for` (what most API tests use) skips only the password check: the claims
    of a real login, a login session of its own, revoked by logout."""

    def claims(token: str) -> dict[str, object]:
        decoded: dict[str, object] = pyjwt.decode(
            token, settings.jwt_secret_key, algorithms=["HS256"]
        )
        return decoded

    real = claims(login(client, seeded.a.admin))
    direct_token = token_for(client, seeded.a.admin)
    direct = claims(direct_token)
    assert direct.keys() == real.keys()
    same = ("sub", "org", "type", "fresh")
    assert {k: direct[k] for k in same} == {k: real[k] for k in same}
    assert direct["sid"] != real["sid"]
    chosen = claims(token_for(client, seeded.shared_provider, seeded.b.organization))
    assert chosen["org"] == str(seeded.b.organization.id)

    assert client.get(ME, headers=bearer(direct_token)).status_code == 200
    assert client.post("/api/v1/auth/logout", headers=bearer(direct_token)).status_code == 204
    _assert_401(client.get(ME, headers=bearer(direct_token)))


def test_unreachable_redis_answers_503(settings: Settings, seeded: TwoTenants) -> None:
    """If Redis cannot be read, a request is refused, never let through unchecked; a
    login, which records its session there, is refused the same way."""
    from dataclasses import replace

    down: Flask = create_app(replace(settings, redis_url="redis://127.0.0.1:1/0"))
    client = down.test_client()
    login_response = client.post(
        "/api/v1/auth/login", json={"email": seeded.a.admin.email, "password": PASSWORD}
    )
    token = _forge(settings, {"sub": str(seeded.a.admin.id)})
    for response in (login_response, client.get(ME, headers=bearer(token))):
        problem_of(response, 503)
        assert response.headers["Retry-After"]
