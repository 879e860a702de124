"""Cross-origin calls from browsers (app/cors.py): none by default; with
CORS_ALLOWED_ORIGINS, only the listed origins, over the real services."""

from __future__ import annotations

from dataclasses import replace

import pytest
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from app.config import Settings
from app.factory import create_app
from tests.conftest import TwoTenants, bearer, token_for

PORTAL = "https://portal.example.com"
OTHER = "https://evil.example.net"
FACILITIES = "/api/v1/admin/facilities"


def _preflight(client: FlaskClient, origin: str, path: str = FACILITIES) -> TestResponse:
    return client.options(
        path,
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )


def _cors_headers(response: TestResponse) -> list[str]:
    return [name for name, _ in response.headers.items() if name.startswith("Access-Control")]


@pytest.fixture
def allowing(settings: Settings, clean_database: None) -> FlaskClient:
    """The application with the portal's origin on the list."""
    return create_app(replace(settings, cors_allowed_origins=(PORTAL,))).test_client()


def test_no_origin_is_allowed_by_default(client: FlaskClient, seeded: TwoTenants) -> None:
    headers = {**bearer(token_for(client, seeded.a.admin, seeded.a.organization)), "Origin": PORTAL}
    for response in (
        client.get(FACILITIES, headers=headers),
        client.get("/healthz", headers={"Origin": PORTAL}),
        _preflight(client, PORTAL),
    ):
        assert _cors_headers(response) == []


def test_a_listed_origin_may_read_the_answer(allowing: FlaskClient, seeded: TwoTenants) -> None:
    token = token_for(allowing, seeded.a.admin, seeded.a.organization)
    listed = allowing.get(FACILITIES, headers={**bearer(token), "Origin": PORTAL})
    assert listed.status_code == 200
    assert listed.headers["Access-Control-Allow-Origin"] == PORTAL
    assert "Origin" in listed.headers["Vary"]
    assert "X-Request-ID" in listed.headers["Access-Control-Expose-Headers"]
    # Tokens, not cookies: a browser never sends the pages' cookie along.
    assert "Access-Control-Allow-Credentials" not in listed.headers
    # Refusals are readable too: the portal's script sees why.
    refused = allowing.get(FACILITIES, headers={"Origin": PORTAL})
    assert refused.status_code == 401
    assert refused.headers["Access-Control-Allow-Origin"] == PORTAL


@pytest.mark.parametrize(
    "origin",
    [OTHER, "http://portal.example.com", "https://portal.example.com:8443", PORTAL + "/", "null"],
)
def test_an_unlisted_origin_may_not(allowing: FlaskClient, origin: str) -> None:
    answer = allowing.get("/healthz", headers={"Origin": origin})
    assert answer.status_code == 200
    assert "Access-Control-Allow-Origin" not in answer.headers
    assert "Origin" in answer.headers["Vary"]  # a cache keeps the answers apart
    preflight = _preflight(allowing, origin)
    assert _cors_headers(preflight) == []


def test_a_listed_origins_preflight_is_answered(allowing: FlaskClient) -> None:
    for path in (FACILITIES, "/api/v1/auth/login", "/api/v1/no-such-thing"):
        answer = _preflight(allowing, PORTAL, path)
        assert answer.status_code == 204, path
        assert answer.headers["Access-Control-Allow-Origin"] == PORTAL
        assert "POST" in answer.headers["Access-Control-Allow-Methods"]
        allowed = answer.headers["Access-Control-Allow-Headers"].lower()
        assert "authorization" in allowed and "content-type" in allowed
        assert int(answer.headers["Access-Control-Max-Age"]) > 0
        assert answer.get_data() == b""
    # A plain OPTIONS (no preflight) is Flask's, with no allowance of methods.
    plain = allowing.options(FACILITIES, headers={"Origin": PORTAL})
    assert "Access-Control-Allow-Methods" not in plain.headers
