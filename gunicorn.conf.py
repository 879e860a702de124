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

from gunicorn.workers.sync import SyncWorker

from app.config import Settings

bind = "0.0.0.0:8000"
workers = 2
accesslog = "-"
graceful_timeout = Settings.from_env().graceful_timeout_seconds


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
