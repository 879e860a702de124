"""The API's graceful shutdown: gunicorn, started as the image starts it
(gunicorn.conf.py), gets SIGTERM while it has 50 signed-in requests in hand, most of
them still waiting for a worker. Every request that got a connection gets its complete
answer, and gunicorn exits within its graceful timeout. Prints the figures (pytest -s)."""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from app.config import Settings
from tests.conftest import TwoTenants, bearer, token_for
from tests.owned_servers import free_port

pytestmark = [pytest.mark.slow, pytest.mark.process]

ROOT = Path(__file__).resolve().parents[1]
REQUESTS = 50


@dataclass
class Gunicorn:
    process: subprocess.Popen[bytes]
    port: int
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@pytest.fixture
def gunicorn(settings: Settings, tmp_path: Path) -> Iterator[Gunicorn]:
    """gunicorn with the repository's configuration, on a free port and the test
    database, in a session of its own."""
    assert settings.database_url and settings.redis_url
    port = free_port()
    env = {
        **os.environ,
        "APP_ENV": "test",
        "REGION": settings.region,
        "DATABASE_URL": settings.database_url,
        "REDIS_URL": settings.redis_url,
        "JWT_SECRET_KEY": settings.jwt_secret_key,
    }
    log = tmp_path / "gunicorn.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "--config",
                "gunicorn.conf.py",
                "--bind",
                f"127.0.0.1:{port}",
                "wsgi:app",
            ],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = Gunicorn(process, port, log)
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, server.output()
            try:
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                connection.request("GET", "/healthz")
                if connection.getresponse().status == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, server.output()
            time.sleep(0.1)
        yield server
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


@dataclass
class Outcome:
    connected: bool = False
    status: int | None = None
    error: str | None = None


def test_sigterm_finishes_every_accepted_request(
    seeded: TwoTenants, client: FlaskClient, gunicorn: Gunicorn
) -> None:
    tenant = seeded.a
    headers = bearer(token_for(client, tenant.admin, tenant.organization))
    outcomes = [Outcome() for _ in range(REQUESTS)]
    all_connected = threading.Barrier(REQUESTS + 1, timeout=30)

    def list_facilities(outcome: Outcome) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", gunicorn.port, timeout=60)
        try:
            connection.connect()
            outcome.connected = True
        except OSError as exc:
            outcome.error = f"connect: {exc!r}"
        all_connected.wait()
        if not outcome.connected:
            return
        try:
            connection.request("GET", "/api/v1/admin/facilities", headers=headers)
            response = connection.getresponse()
            answer = json.loads(response.read())
            assert [row["id"] for row in answer] == [str(tenant.facility.id)], answer
            outcome.status = response.status
        except (OSError, http.client.HTTPException, ValueError, AssertionError) as exc:
            outcome.error = repr(exc)
        finally:
            connection.close()

    graceful_timeout = Settings.graceful_timeout_seconds
    with ThreadPoolExecutor(REQUESTS) as pool:
        for outcome in outcomes:
            pool.submit(list_facilities, outcome)
        all_connected.wait()
        time.sleep(0.05)  # the requests are on their way; the first are being answered
        answered_before = sum(outcome.status is not None for outcome in outcomes)
        signalled = time.monotonic()
        gunicorn.process.send_signal(signal.SIGTERM)
        exit_code = gunicorn.process.wait(timeout=graceful_timeout + 10)
        exited_after = time.monotonic() - signalled

    accepted = [outcome for outcome in outcomes if outcome.connected]
    completed = [outcome for outcome in accepted if outcome.status == 200]
    failed = [outcome for outcome in accepted if outcome.status != 200]
    print(
        f"\n[graceful shutdown] sent {REQUESTS}, accepted {len(accepted)}, answered before"
        f" SIGTERM {answered_before}, completed {len(completed)}, failed {len(failed)};"
        f" gunicorn exited {exit_code} {exited_after:.2f}s after SIGTERM"
        f" (graceful timeout {graceful_timeout:g}s)",
        flush=True,
    )
    assert len(accepted) == REQUESTS
    assert answered_before < REQUESTS, "SIGTERM came after every answer: nothing was tested"
    assert failed == [], [outcome.error for outcome in failed][:5]
    assert exit_code == 0, gunicorn.output()[-3000:]
    assert exited_after < graceful_timeout
