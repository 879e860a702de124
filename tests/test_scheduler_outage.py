"""The background processes outlive a Redis outage: a Redis this test owns is stopped
under a running scheduler (`python -m workers.scheduler`, relaying every second) and a
running worker (`rq worker --worker-class workers.worker.Worker`), and started again on
the same port, empty. The scheduler enqueues its next job and the worker runs a job
enqueued afterwards, without being restarted; meanwhile both keep their liveness
heartbeat fresh, so the chart's probe (`python -m workers.heartbeat`) would not restart
them. Prints the figures (pytest -s)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from redis import Redis
from rq import Queue
from rq.job import Job, JobStatus

from app.config import Settings
from tests.owned_servers import OwnedRedis

pytestmark = [pytest.mark.slow, pytest.mark.process]

ROOT = Path(__file__).resolve().parents[1]
OUTAGE_SECONDS = 3.0
# The scheduler's and rq's retries after a 3 s outage come at most 4 s apart.
RECOVERY_DEADLINE_SECONDS = 10.0
PROBE_MAX_AGE = "10"


def wait_for(condition: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"{what}: not within {seconds}s"
        time.sleep(0.1)


class Background:
    """A background process of the service, its output in a log file."""

    def __init__(self, command: list[str], env: dict[str, str], log: Path) -> None:
        self.log = log
        with log.open("wb") as out:
            self.process = subprocess.Popen(
                command,
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> int:
        if self.alive():
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=15)

    def kill(self) -> None:
        if self.alive():
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)


@pytest.fixture
def redis_server() -> Iterator[OwnedRedis]:
    server = OwnedRedis()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def background(tmp_path: Path) -> Iterator[Callable[..., Background]]:
    started: list[Background] = []

    def start(name: str, command: list[str], env: dict[str, str]) -> Background:
        process = Background(command, env, tmp_path / f"{name}.log")
        started.append(process)
        return process

    try:
        yield start
    finally:
        for process in started:
            process.kill()


def probe_passes(env: dict[str, str]) -> bool:
    """The chart's liveness probe, as the kubelet runs it in the container."""
    command = [sys.executable, "-m", "workers.heartbeat", PROBE_MAX_AGE]
    return subprocess.run(command, cwd=ROOT, env=env, timeout=30).returncode == 0


def test_scheduler_and_worker_carry_on_after_redis_comes_back(
    settings: Settings,
    redis_server: OwnedRedis,
    background: Callable[..., Background],
    tmp_path: Path,
) -> None:
    assert settings.database_url
    connection = Redis.from_url(redis_server.url, socket_timeout=2, socket_connect_timeout=2)
    scheduled = Queue(f"scheduled-{os.getpid()}", connection=connection)
    worked = Queue(f"worked-{os.getpid()}", connection=connection)
    common = {
        **os.environ,
        "APP_ENV": "test",
        "REGION": settings.region,
        "REDIS_URL": redis_server.url,
        "PYTHONPATH": str(ROOT),
    }
    scheduler_env = {
        **common,
        "QUEUE_NAME": scheduled.name,
        "RELAY_INTERVAL_SECONDS": "1",
        "HEARTBEAT_FILE": str(tmp_path / "scheduler.alive"),
    }
    worker_env = {
        **common,
        "DATABASE_URL": settings.database_url,
        "QUEUE_NAME": worked.name,
        "HEARTBEAT_FILE": str(tmp_path / "worker.alive"),
    }
    scheduler = background("scheduler", [sys.executable, "-m", "workers.scheduler"], scheduler_env)
    worker = background(
        "worker",
        [
            sys.executable,
            "-m",
            "rq.cli",
            "worker",
            "--url",
            redis_server.url,
            "--worker-class",
            "workers.worker.Worker",
            worked.name,
        ],
        worker_env,
    )

    def relayed() -> bool:
        assert scheduler.alive(), scheduler.output()
        # The scheduler enqueues other periodic jobs beside it (the webhooks' relay).
        return any(
            Job.fetch(job_id, connection=scheduled.connection).func_name
            == "workers.jobs.relay_outbox"
            for job_id in scheduled.get_job_ids()
        )

    def runs(job: Job) -> Callable[[], bool]:
        def finished() -> bool:
            assert worker.alive(), worker.output()
            return job.get_status(refresh=True) == JobStatus.FINISHED

        return finished

    wait_for(relayed, 20, "the scheduler's first relay job")
    wait_for(runs(worked.enqueue("os.getpid")), 20, "a job before the outage")

    redis_server.stop()
    time.sleep(OUTAGE_SECONDS)
    assert scheduler.alive(), scheduler.output()
    assert worker.alive(), worker.output()
    assert probe_passes(scheduler_env), scheduler.output()
    assert probe_passes(worker_env), worker.output()

    redis_server.start()  # empty: any job found from now on was enqueued after the outage
    returned = time.monotonic()
    job = worked.enqueue("os.getpid")
    wait_for(relayed, RECOVERY_DEADLINE_SECONDS, "a relay job after the outage")
    scheduler_recovery = time.monotonic() - returned
    wait_for(runs(job), RECOVERY_DEADLINE_SECONDS, "a job after the outage")
    worker_recovery = time.monotonic() - returned
    print(
        f"\n[redis outage] {OUTAGE_SECONDS:g}s outage; after Redis returned, the scheduler"
        f" enqueued its next job in {scheduler_recovery:.1f}s and the worker ran a new job"
        f" in {worker_recovery:.1f}s; neither restarted, both probes passed",
        flush=True,
    )

    assert scheduler.stop() == 0, scheduler.output()
    assert worker.stop() == 0, worker.output()
    assert "Redis answers again" in scheduler.output()
