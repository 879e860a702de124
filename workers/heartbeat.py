"""Liveness of the background processes: each time round its loop, a worker or the
scheduler touches HEARTBEAT_FILE (when set), and its liveness probe checks how old the
touch is:

    python -m workers.heartbeat MAX_AGE_SECONDS    # exit 0: alive; 1: stuck

The loops come round while Redis is down too (they back off and try again), so a Redis
outage never makes a probe fail: only a process that stopped coming round does, and
restarting it is then the cure.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from app.config import Settings


def beat(path: Path | None) -> None:
    """Record that the loop came round now."""
    if path is not None:
        path.touch()


def age_seconds(path: Path) -> float | None:
    """Seconds since the last beat; None before the first."""
    try:
        return time.time() - path.stat().st_mtime
    except FileNotFoundError:
        return None


def main(argv: list[str]) -> int:
    if len(argv) != 1 or not argv[0].isdigit():
        print("usage: python -m workers.heartbeat MAX_AGE_SECONDS", file=sys.stderr)
        return 2
    path = Settings.from_env().heartbeat_file
    if path is None:
        print("HEARTBEAT_FILE is not set", file=sys.stderr)
        return 2
    age = age_seconds(path)
    if age is None:
        print(f"{path}: no heartbeat yet", file=sys.stderr)
        return 1
    if age > int(argv[0]):
        print(f"{path}: last heartbeat {age:.0f}s ago, over {argv[0]}s", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
