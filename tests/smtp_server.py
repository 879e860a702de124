"""A real SMTP server for the delivery tests: aiosmtpd on 127.0.0.1 and a free port,
recording every message it accepts, with switchable behaviours to refuse or to hold a
transaction at a chosen point.

- ACCEPT: accept everything.
- RCPT_TEMPFAIL / RCPT_PERMFAIL: refuse the recipient with 451 / 550.
- DATA_TEMPFAIL / DATA_PERMFAIL: take the whole message, then refuse it with 451 / 554
  (the reply to the end-of-data mark), storing nothing.
- BLOCK_RCPT: hold the reply to RCPT until `release()`; the transaction is then
  abandoned (421), so nothing is stored: a client killed while held never got further.
- BLOCK_DATA: the end-of-data mark has arrived (aiosmtpd calls handle_DATA only then);
  hold the reply until `release()`, then store the message and answer 250. The message
  is stored even if the client has gone meanwhile, as a real server that has taken
  responsibility for it would.

"Connection refused" is a port nothing listens on: `closed_port()`.
"""

from __future__ import annotations

import asyncio
import email
import enum
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import default as default_policy
from typing import Any

from aiosmtpd.controller import Controller


class Behaviour(enum.Enum):
    ACCEPT = "accept"
    RCPT_TEMPFAIL = "rcpt-451"
    RCPT_PERMFAIL = "rcpt-550"
    DATA_TEMPFAIL = "data-451"
    DATA_PERMFAIL = "data-554"
    BLOCK_RCPT = "block-rcpt"
    BLOCK_DATA = "block-data"


@dataclass(frozen=True)
class Received:
    """One message the server accepted."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    mail_options: tuple[str, ...]
    message_id: str | None
    message: EmailMessage
    raw: bytes
    # The client's end of the connection that carried it (host, port).
    peer: tuple[str, int]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (connecting is refused)."""
    return free_port()


def _poll(done: Callable[[], bool], timeout: float) -> bool:
    """Whether `done()` holds within `timeout` seconds (the server works on its own thread)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if done():
            return True
        time.sleep(0.02)
    return done()


def _parse(raw: bytes) -> EmailMessage:
    parsed = email.message_from_bytes(raw, policy=default_policy)
    assert isinstance(parsed, EmailMessage)
    return parsed


class _Handler:
    """aiosmtpd hooks; they run on the controller's event loop thread."""

    def __init__(self, server: SmtpServer) -> None:
        self._server = server

    async def handle_RCPT(
        self,
        smtp: Any,
        session: Any,
        envelope: Any,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        behaviour = self._server.behaviour
        if behaviour is Behaviour.RCPT_TEMPFAIL:
            return "451 4.3.0 Mailbox temporarily unavailable, try again later"
        if behaviour is Behaviour.RCPT_PERMFAIL:
            return "550 5.1.1 Mailbox unavailable"
        if behaviour is Behaviour.BLOCK_RCPT:
            self._server._note_blocking(self._server.rcpt_blocking)
            try:
                # Cancelled here (and nothing stored) if the client's connection goes.
                await self._server._released()
            finally:
                self._server._note_rcpt_hold_ended()
            return "421 4.3.0 Transaction abandoned"
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 2.1.5 OK"

    async def handle_DATA(self, smtp: Any, session: Any, envelope: Any) -> str:
        behaviour = self._server.behaviour
        if behaviour is Behaviour.DATA_TEMPFAIL:
            return "451 4.3.0 Temporary failure, try again later"
        if behaviour is Behaviour.DATA_PERMFAIL:
            return "554 5.6.0 Message rejected"
        # Copy now: aiosmtpd starts a new envelope once this hook returns.
        raw = bytes(envelope.original_content)
        mail_from = str(envelope.mail_from)
        rcpt_tos = tuple(str(r) for r in envelope.rcpt_tos)
        options = tuple(str(o) for o in envelope.mail_options)
        peer = (str(session.peer[0]), int(session.peer[1]))
        if behaviour is Behaviour.BLOCK_DATA:
            self._server._note_blocking(self._server.data_blocking)

            async def hold_then_store() -> None:
                await self._server._released()
                self._server._store(mail_from, rcpt_tos, options, raw, peer)

            # A task of its own, shielded: the client's connection going (which cancels
            # this hook) does not undo what the server already holds.
            task = asyncio.ensure_future(hold_then_store())
            self._server._held.add(task)
            task.add_done_callback(self._server._held.discard)
            await asyncio.shield(task)
            return "250 2.0.0 OK: queued"
        self._server._store(mail_from, rcpt_tos, options, raw, peer)
        return "250 2.0.0 OK: queued"


class SmtpServer:
    """Start with `start()` (or as a context manager), stop with `stop()`."""

    def __init__(self, behaviour: Behaviour = Behaviour.ACCEPT) -> None:
        self.host = "127.0.0.1"
        self.port = free_port()
        self.behaviour = behaviour
        self.rcpt_blocking = threading.Event()
        self.data_blocking = threading.Event()
        self._release = threading.Event()
        self._lock = threading.Lock()
        self._received: list[Received] = []
        self._blocked = 0
        self._rcpt_holds_ended = 0
        self._held: set[asyncio.Future[None]] = set()
        self._controller = Controller(
            _Handler(self), hostname=self.host, port=self.port, ready_timeout=10
        )
        self._running = False

    # --- lifecycle -------------------------------------------------------------

    def start(self) -> SmtpServer:
        self._controller.start()
        self._running = True
        return self

    def stop(self) -> None:
        """Stop listening (later connections are refused); releases held transactions."""
        self._release.set()
        if self._running:
            self._running = False
            self._controller.stop()

    def __enter__(self) -> SmtpServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- behaviour -------------------------------------------------------------

    def set_behaviour(self, behaviour: Behaviour) -> None:
        """Switch behaviour; a new blocking behaviour also re-arms the block."""
        if behaviour in (Behaviour.BLOCK_RCPT, Behaviour.BLOCK_DATA):
            self._release.clear()
            self.rcpt_blocking.clear()
            self.data_blocking.clear()
        self.behaviour = behaviour

    def release(self) -> None:
        """Let every held transaction go on."""
        self._release.set()

    def wait_held_stored(self, count: int, timeout: float = 5.0) -> bool:
        """Wait until at least `count` messages are stored (a released DATA block stores
        its message asynchronously)."""
        return _poll(lambda: len(self.received) >= count, timeout)

    def wait_rcpt_holds_ended(self, count: int, timeout: float = 5.0) -> bool:
        """Wait until at least `count` held RCPT transactions have ended, released or
        cancelled by their client's connection going."""

        def ended() -> bool:
            with self._lock:
                return self._rcpt_holds_ended >= count

        return _poll(ended, timeout)

    # --- what arrived ----------------------------------------------------------

    @property
    def received(self) -> list[Received]:
        with self._lock:
            return list(self._received)

    @property
    def blocked(self) -> int:
        """How many transactions have been held so far."""
        with self._lock:
            return self._blocked

    def with_message_id(self, message_id: str) -> list[Received]:
        return [r for r in self.received if r.message_id == message_id]

    def to(self, address: str) -> list[Received]:
        wanted = address.lower()
        return [r for r in self.received if wanted in (a.lower() for a in r.rcpt_tos)]

    # --- used by the handler (event loop thread) ---------------------------------

    def _note_blocking(self, event: threading.Event) -> None:
        with self._lock:
            self._blocked += 1
        event.set()

    def _note_rcpt_hold_ended(self) -> None:
        with self._lock:
            self._rcpt_holds_ended += 1

    async def _released(self) -> None:
        while not self._release.is_set():
            await asyncio.sleep(0.01)

    def _store(
        self,
        mail_from: str,
        rcpt_tos: tuple[str, ...],
        options: tuple[str, ...],
        raw: bytes,
        peer: tuple[str, int],
    ) -> None:
        message = _parse(raw)
        received = Received(
            mail_from=mail_from,
            rcpt_tos=rcpt_tos,
            mail_options=options,
            message_id=str(message["Message-ID"]) if message["Message-ID"] else None,
            message=message,
            raw=raw,
            peer=peer,
        )
        with self._lock:
            self._received.append(received)
