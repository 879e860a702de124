from __future__ import annotations

from dataclasses import replace

from flask.testing import FlaskClient

from app.config import Settings
from app.factory import create_app


def test_liveness_and_readiness(client: FlaskClient) -> None:
    assert client.get("/healthz").get_json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.get_json() == {
        "status": "ok",
        "region": "test",
        "checks": {"database": "ok", "redis": "ok"},
    }


def test_readiness_fails_when_redis_is_unreachable(settings: Settings) -> None:
    app = create_app(replace(settings, redis_url="redis://127.0.0.1:1/0"))
    ready = app.test_client().get("/readyz")
    assert ready.status_code == 503
    assert ready.get_json()["checks"] == {"database": "ok", "redis": "unreachable"}
