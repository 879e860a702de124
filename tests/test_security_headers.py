"""The headers every response carries for the browser's protection
(app/security_headers.py): whatever answers, over the real services."""

from __future__ import annotations

from dataclasses import replace

import pytest
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from app.config import Settings
from app.factory import create_app
from app.security_headers import DOCS_POLICY, HSTS, PAGE_POLICY
from tests import factories
from tests.conftest import TwoTenants, bearer, token_for

ME = "/api/v1/me"
STYLESHEET = "/static/pages.css"
SWAGGER_SCRIPT = "/docs/assets/swagger-ui-bundle.js"


def _assert_hardened(response: TestResponse, policy: str = PAGE_POLICY) -> None:
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["Content-Security-Policy"] == policy
    assert "Server" not in response.headers  # the servers name themselves, without version


def test_every_kind_of_response_is_hardened(client: FlaskClient, seeded: TwoTenants) -> None:
    answers = {
        "JSON 401": client.get(ME),
        "JSON 200": client.get(ME, headers=bearer(token_for(client, seeded.a.admin))),
        "JSON 404": client.get("/api/v1/no-such-thing"),
        "405": client.delete("/healthz"),
        "health": client.get("/healthz"),
        "page": client.get("/password-reset"),
        "stylesheet": client.get(STYLESHEET),
        "Swagger UI's file": client.get(SWAGGER_SCRIPT),
        "OpenAPI document": client.get("/openapi.json"),
    }
    for name, response in answers.items():
        assert response.status_code < 500, name
        _assert_hardened(response)
    assert answers["JSON 200"].status_code == 200
    assert answers["page"].status_code == 200
    assert answers["405"].status_code == 405


def test_the_docs_page_keeps_its_own_policy(client: FlaskClient) -> None:
    docs = client.get("/docs")
    assert docs.status_code == 200
    _assert_hardened(docs, DOCS_POLICY)
    # No weaker than it was: no eval, no inline script, nothing from elsewhere.
    assert "script-src 'self';" in DOCS_POLICY and "unsafe-eval" not in DOCS_POLICY
    assert "frame-ancestors 'none'" in DOCS_POLICY


def test_no_hsts_over_plain_http(client: FlaskClient) -> None:
    assert "Strict-Transport-Security" not in client.get("/healthz").headers
    # A client's own claim of HTTPS is not believed with no trusted proxy.
    forged = client.get("/healthz", headers={"X-Forwarded-Proto": "https"})
    assert "Strict-Transport-Security" not in forged.headers


def test_hsts_over_https(client: FlaskClient) -> None:
    for path in ("/healthz", ME, "/password-reset", "/docs"):
        response = client.get(path, base_url="https://localhost")
        assert response.headers["Strict-Transport-Security"] == HSTS, path


def test_hsts_when_the_trusted_proxy_says_https(settings: Settings, clean_database: None) -> None:
    behind_proxy = create_app(replace(settings, trusted_proxy_count=1)).test_client()
    said_https = behind_proxy.get("/healthz", headers={"X-Forwarded-Proto": "https"})
    assert said_https.headers["Strict-Transport-Security"] == HSTS
    said_http = behind_proxy.get("/healthz", headers={"X-Forwarded-Proto": "http"})
    assert "Strict-Transport-Security" not in said_http.headers


def test_hsts_on_every_response_of_an_https_only_deployment(
    settings: Settings, clean_database: None
) -> None:
    https_only = create_app(replace(settings, https_only=True)).test_client()
    for path in ("/healthz", ME, "/password-reset", STYLESHEET):
        assert https_only.get(path).headers["Strict-Transport-Security"] == HSTS, path


def test_what_is_a_users_own_is_never_cached(client: FlaskClient, seeded: TwoTenants) -> None:
    headers = bearer(token_for(client, seeded.a.admin, seeded.a.organization))
    mine = client.get(ME, headers=headers)
    assert mine.status_code == 200 and mine.headers["Cache-Control"] == "no-store"
    # Refused credentials too: the answer still depends on what was presented.
    refused = client.get(ME, headers=bearer("not-a-token"))
    assert refused.status_code == 401 and refused.headers["Cache-Control"] == "no-store"
    listed = client.get("/api/v1/admin/facilities", headers=headers)
    assert listed.status_code == 200 and listed.headers["Cache-Control"] == "no-store"

    signed_in = client.post(
        "/api/v1/auth/login",
        json={"email": seeded.a.admin.email, "password": factories.PASSWORD},
    )
    assert signed_in.status_code == 200 and "access_token" in signed_in.get_json()
    assert signed_in.headers["Cache-Control"] == "no-store"
    refreshed = client.post(
        "/api/v1/auth/refresh", headers=bearer(signed_in.get_json()["refresh_token"])
    )
    assert refreshed.status_code == 200 and refreshed.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("path", [STYLESHEET, SWAGGER_SCRIPT])
def test_static_files_stay_cacheable(client: FlaskClient, path: str) -> None:
    asset = client.get(path)
    assert asset.status_code == 200
    assert "no-store" not in asset.headers.get("Cache-Control", "")
    assert asset.headers.get("ETag")  # revalidated, not fetched again
