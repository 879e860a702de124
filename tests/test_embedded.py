"""With no DATABASE_URL, DATABASE_ADMIN_URL or REDIS_URL, the application starts an
embedded PostgreSQL and Redis, migrates, and answers requests. Run in child processes
with a clean environment, as on a fresh laptop.

Embedded servers have one owner, the process that started them: it stops them when it
exits, and `make run` (`python -m app.demo`) also on SIGTERM, after its background
processes. A CLI command run beside it uses them and leaves them running."""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest
from pgserver.utils import PostmasterInfo
from redis import Redis

from app.demo import DEMO_PASSWORD
from tests.owned_servers import free_port

pytestmark = [pytest.mark.slow, pytest.mark.process]

ROOT = Path(__file__).resolve().parents[1]

SCRIPT = """
from app.factory import create_app
app = create_app()
client = app.test_client()
ready = client.get("/readyz")
assert ready.status_code == 200, ready.get_json()
login = client.post("/api/v1/auth/login", json={"email": "nobody@example.com", "password": "x"})
assert login.status_code == 401, login.get_json()
assert client.get("/docs").status_code == 200
print("embedded ok", app.config["SETTINGS"].database_url.split("@")[0])
print("redis", app.config["SETTINGS"].redis_url)
"""


def clean_environment(local_data: Path, **extra: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "DATABASE_ADMIN_URL", "DATABASE_OWNER_URL", "REDIS_URL"}
    }
    return {**env, "LOCAL_DATA_DIR": str(local_data), **extra}


def running(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def postgres_pid(local_data: Path) -> int | None:
    info = PostmasterInfo.read_from_pgdata(local_data / "postgres")
    return info.pid if info is not None and info.is_running() else None


def redis_socket(local_data: Path) -> str:
    socket_file: str = json.loads((local_data / "redis.db.settings").read_text())["unixsocket"]
    return socket_file


def redis_answers(socket_file: str) -> bool:
    try:
        return bool(Redis(unix_socket_path=socket_file, socket_timeout=2).ping())
    except Exception:  # redis' ConnectionError: nobody listens there any more
        return False


def wait_for(condition: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"{what}: not within {seconds}s"
        time.sleep(0.2)


@pytest.fixture(scope="module")
def local_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One local data folder for the module: the first test initializes the database
    cluster, the second starts it again (quicker than a new one)."""
    return tmp_path_factory.mktemp("embedded") / "local"


def test_embedded_services_start_migrate_and_answer(local_data: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        env=clean_environment(local_data),
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "embedded ok postgresql://msc_app" in result.stdout
    # It started them, so it stopped them when it exited.
    assert postgres_pid(local_data) is None
    (redis_url,) = [line for line in result.stdout.splitlines() if line.startswith("redis ")]
    assert not redis_answers(redis_url.removeprefix("redis unix://"))


def test_a_cli_command_beside_make_run_leaves_its_services_running(
    local_data: Path, tmp_path: Path
) -> None:
    port = free_port()
    env = clean_environment(
        local_data,
        HOST="127.0.0.1",
        PORT=str(port),
        WORKERS="1",
        SMTP_PORT=str(free_port()),  # the demo's SMTP sink listens there
    )
    log = tmp_path / "demo.log"
    with log.open("wb") as out:
        demo = subprocess.Popen(
            [sys.executable, "-m", "app.demo"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def output() -> str:
        return log.read_text(errors="replace")[-4000:]

    def request(method: str, path: str, body: object = None, token: str = "") -> tuple[int, dict]:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        connection.request(method, path, json.dumps(body) if body else None, headers)
        response = connection.getresponse()
        return response.status, json.loads(response.read() or b"{}")

    def serving() -> bool:
        assert demo.poll() is None, output()
        try:
            return request("GET", "/healthz")[0] == 200
        except OSError:
            return False

    try:
        wait_for(serving, 240, "make run serving")
        background = psutil.Process(demo.pid).children()
        assert len(background) == 3, background  # a worker, the scheduler, the SMTP sink
        # Links in its emails point at where it serves.
        assert {child.environ()["PUBLIC_BASE_URL"] for child in background} == {
            f"http://127.0.0.1:{port}"
        }
        status, body = request(
            "POST",
            "/api/v1/auth/login",
            {"email": "admin@northwind.example", "password": DEMO_PASSWORD},
        )
        assert status == 200, body
        token = body["access_token"]
        database_pid = postgres_pid(local_data)
        assert database_pid is not None
        socket_file = redis_socket(local_data)

        command = subprocess.run(
            [str(Path(sys.executable).parent / "flask"), "--app", "wsgi", "jobs", "relay-outbox"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert command.returncode == 0, command.stderr[-3000:]
        assert "messages queued" in command.stdout

        # The command used make run's servers and left them running.
        assert postgres_pid(local_data) == database_pid
        assert redis_answers(socket_file)
        status, body = request("GET", "/api/v1/me", token=token)
        assert status == 200, body

        demo.send_signal(signal.SIGTERM)
        assert demo.wait(timeout=60) == 0, output()
        assert not [child for child in background if running(child.pid)], output()
        assert not running(database_pid)
        assert not redis_answers(socket_file)
    finally:
        if demo.poll() is None:
            os.killpg(demo.pid, signal.SIGKILL)
            demo.wait(timeout=10)
