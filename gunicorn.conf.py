"""gunicorn's configuration for the API: `gunicorn --config gunicorn.conf.py wsgi:app` (the
image's CMD and the chart's API command).

Stopping (SIGTERM): the master closes its listening socket and tells each worker to stop;
a worker finishes the request in hand, then answers every connection still waiting in
the listen backlog (see DrainingWorker), and exits. gunicorn kills what is left after
GRACEFUL_TIMEOUT_SECONDS; the Helm chart gives the pod that long, plus its preStop delay
and a margin, before Kubernetes kills it.
"""

from __future__ import annotations

import errno
import gc
import os
from typing import Any

import gunicorn.http.wsgi
from gunicorn.workers.sync import SyncWorker

from app.config import Settings
from app.security_headers import SERVER_HEADER

# Metrics (app/metrics.py): each start of the server counts afresh, in a directory of its
# own that app.metrics makes on import when none is named, and that every worker
# inherits. The master serves the sum of its workers' on METRICS_PORT (when_ready).
os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
from app import metrics

# Named again on a reload (SIGHUP), when this file runs again but app.metrics, imported
# already, keeps its directory: the new workers count there too.
os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics.DIRECTORY

bind = "0.0.0.0:8000"
# Sync workers, two per pod unless WEB_CONCURRENCY says otherwise. A request is mostly
# Python on the CPU: on 2 cores (bench/load.py, 32 clients) 2 workers served the list
# faster than 4 or 8, whose extra processes only took turns on the same cores (each
# request's CPU time rose with them), and each worker holds ~100 MB of the pod's 512 MiB.
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
# No access log of gunicorn's: the application logs a line at the end of each request
# (app/request_log.py), in the process's log format, with the route rather than the path
# as sent (whose query string may carry anything) and the caller's ids.
accesslog = None
settings = Settings.from_env()
graceful_timeout = settings.graceful_timeout_seconds

# gunicorn puts `Server: gunicorn` on every response, before the application's headers
# (a `Server` of the application's own would be a second one), and has no setting for
# it. Its responses read the name from this module global each time, so set here, in
# the master, it is the workers' too. tests/test_server_header.py checks the real server
# says nothing else, so a gunicorn that reads it elsewhere fails there.
gunicorn.http.wsgi.SERVER = SERVER_HEADER


class DrainingWorker(SyncWorker):
    """gunicorn's sync worker, which leaves on SIGTERM as soon as its request in hand is
    answered. The connections the kernel has already accepted for it are still waiting
    in the backlog of the shared listening socket, and the last process to close that
    socket resets them; their clients, already connected, would get no answer. So
    before leaving, the worker answers every connection waiting, until none is."""

    def run(self) -> None:
        super().run()
        for listener in self.sockets:  # non-blocking (SyncWorker.run)
            while True:
                try:
                    self.accept(listener)
                except OSError as exc:
                    if exc.errno == errno.ECONNABORTED:
                        continue  # that client gave up; others may still wait
                    break  # EAGAIN: nobody left waiting (or the socket is gone)
                self.notify()


worker_class = DrainingWorker


def post_worker_init(worker: Any) -> None:
    """The application a worker has just loaded lives as long as the worker: moved out of
    the garbage collector's sight, it is no longer walked by every full collection, which
    otherwise paused about one request in ten for ~80 ms (measured on the hierarchy of a
    tenant of a thousand facilities)."""
    gc.collect()
    gc.freeze()


def when_ready(server: Any) -> None:
    """The master serves the metrics of all its workers, on a port of its own: never on
    the API's, where the public would read them."""
    metrics.serve(settings.metrics_port)


def child_exit(server: Any, worker: Any) -> None:
    """A worker has exited: its gauges (requests in flight, connections) stop counting;
    its counters still do, so that a restart takes nothing off a total."""
    metrics.forget_process(worker.pid)
