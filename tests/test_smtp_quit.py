"""A server that accepted the message but answers QUIT badly: the message is still sent
(once), not failed and resent."""

from __future__ import annotations

import socketserver
import threading
from collections.abc import Iterator
from dataclasses import replace
from email.message import EmailMessage

import pytest

from app.config import Settings
from app.integrations.mail import SmtpMailer


class _Handler(socketserver.StreamRequestHandler):
    accepted = 0

    def handle(self) -> None:
        self.wfile.write(b"220 test\r\n")
        in_data = False
        for raw in self.rfile:
            line = raw.rstrip(b"\r\n")
            if in_data:
                if line == b".":
                    in_data = False
                    type(self).accepted += 1
                    self.wfile.write(b"250 accepted\r\n")
                continue
            command = line[:4].upper()
            if command in (b"EHLO", b"HELO", b"MAIL", b"RCPT"):
                self.wfile.write(b"250 ok\r\n")
            elif command == b"DATA":
                in_data = True
                self.wfile.write(b"354 go on\r\n")
            elif command == b"QUIT":
                self.wfile.write(b"452 busy\r\n")
                return


@pytest.fixture
def server() -> Iterator[int]:
    _Handler.accepted = 0
    with socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Handler) as tcp:
        thread = threading.Thread(target=tcp.serve_forever, daemon=True)
        thread.start()
        yield tcp.server_address[1]
        tcp.shutdown()


def test_a_bad_answer_to_quit_does_not_fail_an_accepted_message(
    server: int, settings: Settings
) -> None:
    message = EmailMessage()
    message["From"] = "no-reply@msc.example.com"
    message["To"] = "someone@example.com"
    message["Subject"] = "test"
    message.set_content("hello")
    marked = []
    reply = SmtpMailer(replace(settings, smtp_port=server)).send(
        message, before_end_of_data=lambda: marked.append(True)
    )
    assert reply.startswith("250")
    assert marked == [True]
    assert _Handler.accepted == 1
