"""The liveness check of the worker and the scheduler (`python -m workers.heartbeat`):
alive while the loop's last touch of HEARTBEAT_FILE is recent enough, stuck otherwise."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from workers import heartbeat


@pytest.fixture
def heartbeat_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "heartbeat"
    monkeypatch.setenv("HEARTBEAT_FILE", str(path))
    return path


def test_a_recent_beat_is_alive(heartbeat_file: Path) -> None:
    heartbeat.beat(heartbeat_file)
    assert heartbeat.main(["120"]) == 0


def test_an_old_beat_is_stuck(heartbeat_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    heartbeat.beat(heartbeat_file)
    old = time.time() - 300
    os.utime(heartbeat_file, (old, old))
    assert heartbeat.main(["120"]) == 1
    assert "last heartbeat 300s ago, over 120s" in capsys.readouterr().err


def test_no_beat_yet_is_stuck(heartbeat_file: Path) -> None:
    assert heartbeat.main(["120"]) == 1


def test_without_a_file_or_an_age_the_probe_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HEARTBEAT_FILE", raising=False)
    assert heartbeat.main(["120"]) == 2
    assert heartbeat.main([]) == 2
