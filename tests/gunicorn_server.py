"""gunicorn as the image starts it (gunicorn.conf.py, wsgi:app), on a free port and the
test database, in a session of its own, for the tests of what only the real server
does."""

from __future__ import annotations

import http.client
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from app.config import Settings
from tests.owned_servers import free_port

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Gunicorn:
    process: subprocess.Popen[bytes]
    port: int
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@contextmanager
def gunicorn_serving(
    settings: Settings, log_dir: Path, environ: Mapping[str, str] | None = None
) -> Iterator[Gunicorn]:
    """The server, once it answers /healthz; killed with its workers at the end.
    `environ`: variables of the server's own, over the test's."""
    assert settings.database_url and settings.redis_url
    port = free_port()
    env = {
        **os.environ,
        "APP_ENV": "test",
        "REGION": settings.region,
        "DATABASE_URL": settings.database_url,
        "REDIS_URL": settings.redis_url,
        "JWT_SECRET_KEY": settings.jwt_secret_key,
        # Its metrics directory (gunicorn.conf.py) goes with the test's files.
        "TMPDIR": str(log_dir),
        **(environ or {}),
    }
    log = log_dir / "gunicorn.log"
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
