"""The API's graceful shutdown: gunicorn, started as the image starts it
(gunicorn.conf.py), gets SIGTERM while it has 50 signed-in requests in hand, most of
them still waiting for a worker. Every request that got a connection gets its complete
answer, and gunicorn exits within its graceful timeout. Prints the figures (pytest -s)."""

from __future__ import annotations

import http.client
import json
import signal
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
from tests.gunicorn_server import Gunicorn, gunicorn_serving

pytestmark = [pytest.mark.slow, pytest.mark.process]

REQUESTS = 50


@pytest.fixture
def gunicorn(settings: Settings, tmp_path: Path) -> Iterator[Gunicorn]:
    with gunicorn_serving(settings, tmp_path) as server:
        yield server


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
