"""A real webhook receiver for the delivery tests: an HTTP server on 127.0.0.1 and a free
port, on a thread of its own, that verifies each request's Standard Webhooks signature
with the `standardwebhooks` package (as a customer's receiver would) and records it.

Its answers follow a script: `answers` is a list of status codes taken one per request
(then `then` for every later one); a 3xx answer points to /elsewhere, which records a
request if anyone follows it; `delay` holds each answer that long; `body` is what each
answer carries; `drip`, when set, writes each answer a byte at a time, that long apart
(an endpoint that is never quite silent, yet never done).
"""

from __future__ import annotations

import json
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks.webhooks import Webhook, WebhookVerificationError


@dataclass(frozen=True)
class Delivered:
    """One request the receiver took: its path, headers and body, whether a signature
    verified with any of the secrets it was given, and the payload."""

    path: str
    headers: dict[str, str]
    body: bytes
    verified: bool
    at: float

    @property
    def webhook_id(self) -> str:
        return self.headers["webhook-id"]

    @property
    def payload(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.body)
        return parsed


@dataclass
class Script:
    answers: list[int] = field(default_factory=list)
    then: int = 200
    delay: float = 0.0
    body: bytes = b"ok"
    drip: float = 0.0


class Receiver:
    """Over TLS with `tls` (a server context holding its certificate)."""

    def __init__(self, secrets: list[str] | None = None, tls: ssl.SSLContext | None = None) -> None:
        self.secrets = list(secrets or [])
        self.scheme = "http" if tls is None else "https"
        self.script = Script()
        self.received: list[Delivered] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                headers = {k.lower(): v for k, v in self.headers.items()}
                receiver._record(self.path, headers, body)
                status, delay, answer = receiver._next()
                if delay:
                    time.sleep(delay)
                if receiver.script.drip:
                    self._drip(status, answer, receiver.script.drip)
                    return
                self.send_response(status)
                if 300 <= status < 400:
                    self.send_header("Location", "/elsewhere")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def _drip(self, status: int, answer: bytes, pause: float) -> None:
                head = f"HTTP/1.1 {status} OK\r\nContent-Length: {len(answer)}\r\n\r\n"
                try:
                    for byte in head.encode() + answer:
                        self.wfile.write(bytes([byte]))
                        time.sleep(pause)
                except OSError:
                    pass  # the client gave up waiting
                self.close_connection = True

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        if tls is not None:
            self._server.socket = tls.wrap_socket(self._server.socket, server_side=True)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def url(self, path: str = "/hooks") -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}{path}"

    def start(self) -> Receiver:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> Receiver:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _verified(self, headers: dict[str, str], body: bytes) -> bool:
        for secret in self.secrets:
            try:
                Webhook(secret).verify(body, headers)
                return True
            except WebhookVerificationError:
                continue
        return False

    def _record(self, path: str, headers: dict[str, str], body: bytes) -> None:
        delivered = Delivered(path, headers, body, self._verified(headers, body), time.time())
        with self._lock:
            self.received.append(delivered)

    def _next(self) -> tuple[int, float, bytes]:
        with self._lock:
            status = self.script.answers.pop(0) if self.script.answers else self.script.then
            return status, self.script.delay, self.script.body

    def wait_for(self, done: Callable[[list[Delivered]], bool], timeout: float = 20.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if done(list(self.received)):
                    return True
            time.sleep(0.02)
        with self._lock:
            return done(list(self.received))
