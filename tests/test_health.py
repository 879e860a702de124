from __future__ import annotations

from dataclasses import replace

from flask.testing import FlaskClient

from app.config import Settings
from app.factory import create_app


def test_liveness_and_readiness(client: FlaskClient) -> None:
    assert client.get("/healthz").get_json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    report = ready.get_json()
    latency_ms = report.pop("latency_ms")
    assert report == {
        "status": "ok",
        "region": "test",
        "checks": {"database": "ok", "redis": "ok"},
    }
    assert set(latency_ms) == {"database", "redis"}
    assert all(0 < ms < 1000 for ms in latency_ms.values())


def test_readiness_fails_when_redis_is_unreachable(settings: Settings) -> None:
    app = create_app(replace(settings, redis_url="redis://127.0.0.1:1/0"))
    ready = app.test_client().get("/readyz")
    assert ready.status_code == 503
    report = ready.get_json()
    assert report["checks"] == {"database": "ok", "redis": "unreachable"}
    # Refused at once: an unreachable server is timed too, unlike one that never answers.
    assert report["latency_ms"]["redis"] is not None
