"""The metrics as the deployment serves them: gunicorn's master adding up its workers' on
its metrics port, a real `rq worker` and the scheduler serving their own, and a real
Prometheus scraping the API and a worker and answering queries over them."""

from __future__ import annotations

import http.client
import json
import os
import shutil
import subprocess
import sys
import threading
import time
import urllib.parse
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families

from app.config import Settings
from tests import test_delivery as delivery
from tests.gunicorn_server import Gunicorn, gunicorn_serving
from tests.owned_servers import free_port
from tests.smtp_server import SmtpServer

# The fixtures of tests/test_delivery.py, made available to this module.
smtp = delivery.smtp
queue_name = delivery.queue_name
make_app = delivery.make_app
rq_worker = delivery.rq_worker

pytestmark = [pytest.mark.slow, pytest.mark.process]

LOGIN = "/api/v1/auth/login"
PROMETHEUS = Path("/usr/bin/prometheus")
ROOT = Path(__file__).resolve().parents[1]


def scrape(port: int) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """The samples served on `port`, by name and labels."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", "/metrics")
        response = connection.getresponse()
        assert response.status == 200
        body = response.read().decode()
    finally:
        connection.close()
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(body)
        for sample in family.samples
    }


def value(
    samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str
) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def wait_for(check: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            if check():
                return
        except OSError:
            pass  # not listening yet
        assert time.monotonic() < deadline, f"{what}: not within {seconds}s"
        time.sleep(0.2)


def failed_login(port: int) -> int:
    """A sign-in with an unknown email (a new one each time, so no account's delay
    starts): its password is checked all the same, which takes a worker a while."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        body = json.dumps({"email": f"nobody-{uuid.uuid4().hex}@example.com", "password": "x"})
        connection.request("POST", LOGIN, body, {"Content-Type": "application/json"})
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


@contextmanager
def api_serving(settings: Settings, tmp_path: Path, metrics_port: int) -> Iterator[Gunicorn]:
    """gunicorn with two workers, its metrics on `metrics_port`, and sign-in limits no
    test reaches (counted apart from other runs)."""
    environ = {
        "WEB_CONCURRENCY": "2",
        "METRICS_PORT": str(metrics_port),
        "RATE_LIMIT_SIGN_IN": "100000/minute",
        "RATE_LIMIT_SIGN_IN_ACCOUNT": "100000/minute",
        "RATE_LIMIT_KEY_PREFIX": f"rate-limit-test-{uuid.uuid4().hex}",
    }
    with gunicorn_serving(settings, tmp_path, environ) as server:
        wait_for(lambda: bool(scrape(metrics_port)), 30, "the master's metrics")
        yield server


def metrics_dir(pid: int) -> Path:
    """The metrics directory a process has its files open in (gunicorn.conf.py makes a
    new one per start, known only to the server)."""
    for link in Path(f"/proc/{pid}/fd").iterdir():
        target = Path(link.readlink())
        if target.parent.name.startswith("msc-metrics-"):
            return target.parent
    raise AssertionError(f"process {pid} has no metric files open")


def counted_by(directory: Path, pid: int, tmp_path: Path) -> float:
    """The sign-in requests the process `pid` counted, from its own file alone."""
    alone = tmp_path / f"metrics-of-{pid}"
    alone.mkdir()
    shutil.copy(directory / f"counter_{pid}.db", alone)
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(alone))
    found = registry.get_sample_value(
        "msc_http_requests_total", {"method": "POST", "route": LOGIN, "status": "401"}
    )
    return found or 0.0


def test_the_master_serves_the_sum_of_its_workers_counts(
    clean_database: None, settings: Settings, tmp_path: Path
) -> None:
    """Pairs of concurrent sign-ins, each slow (the password check): a sync worker
    answers one at a time, so each pair is spread over both workers. The master's port
    shows every request once; the API's own port serves no metrics."""
    metrics_port = free_port()
    rounds = 6
    with api_serving(settings, tmp_path, metrics_port) as server:
        statuses: list[int] = []
        for _ in range(rounds):
            pair = [
                threading.Thread(target=lambda: statuses.append(failed_login(server.port)))
                for _ in range(2)
            ]
            for thread in pair:
                thread.start()
            for thread in pair:
                thread.join()
        assert statuses == [401] * (2 * rounds), server.output()

        samples = scrape(metrics_port)
        labels = {"method": "POST", "route": LOGIN, "status": "401"}
        assert value(samples, "msc_http_requests_total", **labels) == 2 * rounds
        assert value(samples, "msc_http_request_duration_seconds_count", **labels) == 2 * rounds
        assert value(samples, "msc_login_failures_total") == 2 * rounds
        assert value(samples, "msc_http_requests_in_flight") == 0

        workers = delivery._children(server.process.pid)
        assert len(workers) == 2, server.output()
        directory = metrics_dir(workers[0])
        per_worker = [counted_by(directory, pid, tmp_path) for pid in workers]
        assert all(count > 0 for count in per_worker), per_worker
        assert sum(per_worker) == 2 * rounds

        api = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        api.request("GET", "/metrics")
        assert api.getresponse().status == 404
        api.close()


def test_the_worker_serves_what_it_sent_and_the_backlog(
    clean_database: None,
    smtp: SmtpServer,
    make_app: delivery.AppFactory,
    rq_worker: Callable[..., delivery.RqWorkerProcess],
    queue_name: str,
    tmp_path: Path,
) -> None:
    """A real `rq worker` delivers from the outbox to the real SMTP server; its metrics
    port shows the emails sent, the outbox as it now stands and its queue."""
    app = make_app()
    delivery.add_messages(app, 3)
    assert delivery.relay(app) == 3
    port = free_port()
    worker = rq_worker(environ=own_metrics(port, tmp_path))

    def delivered() -> bool:
        return value(scrape(port), "msc_emails_sent_total") == 3

    wait_for(delivered, 60, f"the worker's deliveries\n{worker.output()}")
    samples = scrape(port)
    assert len(smtp.received) == 3
    assert value(samples, "msc_outbox_messages", status="sent") == 3
    assert value(samples, "msc_outbox_messages", status="pending") == 0
    assert value(samples, "msc_outbox_oldest_due_age_seconds") == 0
    assert value(samples, "msc_rq_queue_depth", queue=queue_name) == 0
    assert ("msc_rq_failed_jobs", frozenset({("queue", queue_name)})) in samples
    assert value(samples, "msc_emails_failed_total") == 0


def test_the_scheduler_serves_its_heartbeat(
    settings: Settings, redis_url: str, queue_name: str, tmp_path: Path
) -> None:
    """Relaying every second, the scheduler comes round its loop every second: the
    heartbeat its port shows moves on."""
    port = free_port()
    environ = {
        **os.environ,
        **own_metrics(port, tmp_path),
        "APP_ENV": "test",
        "REGION": settings.region,
        "REDIS_URL": redis_url,
        "QUEUE_NAME": queue_name,
        "RELAY_INTERVAL_SECONDS": "1",
    }
    log = tmp_path / "scheduler.log"
    with log.open("wb") as out:
        scheduler = subprocess.Popen(
            [sys.executable, "-m", "workers.scheduler"],
            cwd=ROOT,
            env=environ,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        beats: list[float] = []

        def beat_moved_on() -> bool:
            beats.append(value(scrape(port), "msc_scheduler_heartbeat_timestamp_seconds"))
            return len(set(beats) - {0.0}) >= 2

        wait_for(beat_moved_on, 30, f"two heartbeats\n{log.read_text(errors='replace')}")
        assert time.time() - 30 < beats[-1] <= time.time()
    finally:
        scheduler.terminate()
        assert scheduler.wait(timeout=30) == 0, log.read_text(errors="replace")


def own_metrics(port: int, tmp_path: Path) -> dict[str, str]:
    """A worker's variables: its metrics on `port`, in a directory of its own (the test
    process's is inherited otherwise) among the test's files."""
    return {"METRICS_PORT": str(port), "PROMETHEUS_MULTIPROC_DIR": "", "TMPDIR": str(tmp_path)}


def _query(port: int, promql: str) -> list[dict[str, object]]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", "/api/v1/query?" + urllib.parse.urlencode({"query": promql}))
        answer = json.loads(connection.getresponse().read())
    finally:
        connection.close()
    assert answer["status"] == "success", answer
    result: list[dict[str, object]] = answer["data"]["result"]
    return result


@pytest.mark.skipif(not PROMETHEUS.exists(), reason="prometheus is not installed")
def test_prometheus_scrapes_the_api_and_the_worker(
    clean_database: None,
    settings: Settings,
    tmp_path: Path,
    rq_worker: Callable[..., delivery.RqWorkerProcess],
    queue_name: str,
) -> None:
    api_metrics, worker_metrics, prometheus_port = free_port(), free_port(), free_port()
    rq_worker(environ=own_metrics(worker_metrics, tmp_path))
    config = tmp_path / "prometheus.yml"
    config.write_text(
        json.dumps(  # YAML reads JSON
            {
                "global": {"scrape_interval": "1s", "scrape_timeout": "1s"},
                "scrape_configs": [
                    {
                        "job_name": "api",
                        "static_configs": [{"targets": [f"127.0.0.1:{api_metrics}"]}],
                    },
                    {
                        "job_name": "worker",
                        "static_configs": [{"targets": [f"127.0.0.1:{worker_metrics}"]}],
                    },
                ],
            }
        )
    )
    with api_serving(settings, tmp_path, api_metrics) as server:
        assert failed_login(server.port) == 401
        log = tmp_path / "prometheus.log"
        with log.open("wb") as out:
            prometheus = subprocess.Popen(
                [
                    str(PROMETHEUS),
                    f"--config.file={config}",
                    f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                    f"--web.listen-address=127.0.0.1:{prometheus_port}",
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        try:
            requests = "sum(msc_http_requests_total)"
            depth = f'msc_rq_queue_depth{{queue="{queue_name}"}}'

            def scraped() -> bool:
                return bool(_query(prometheus_port, requests)) and bool(
                    _query(prometheus_port, depth)
                )

            wait_for(scraped, 30, f"Prometheus's scrapes\n{log.read_text(errors='replace')}")
            total = _query(prometheus_port, requests)[0]["value"]
            assert isinstance(total, list) and float(total[1]) > 0
            up = _query(prometheus_port, "up")
            assert {str(series["metric"]["job"]): series["value"][1] for series in up} == {
                "api": "1",
                "worker": "1",
            }
        finally:
            prometheus.terminate()
            prometheus.wait(timeout=30)
