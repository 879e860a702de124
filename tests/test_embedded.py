"""With no DATABASE_URL, DATABASE_ADMIN_URL or REDIS_URL, the application starts an
embedded PostgreSQL and Redis, migrates, and answers requests. Run in a child process
with a clean environment, as on a fresh laptop."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.process]

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
"""


def test_embedded_services_start_migrate_and_answer(tmp_path: Path) -> None:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "DATABASE_ADMIN_URL", "DATABASE_OWNER_URL", "REDIS_URL"}
    }
    env["LOCAL_DATA_DIR"] = str(tmp_path / "local")
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        cwd=Path(__file__).resolve().parents[1],
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "embedded ok postgresql://msc_app" in result.stdout
