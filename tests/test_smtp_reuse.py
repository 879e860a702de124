"""One SMTP connection carries one message after another (app/integrations/mail.py): a
kept connection the server has let go is replaced for a message not yet begun, and a
message cut short once begun is never sent again by the mailer."""

from __future__ import annotations

import socketserver
import threading
from collections.abc import Iterator
from dataclasses import replace
from email.message import EmailMessage

import pytest

from app.config import Settings
from app.integrations.mail import DeliveryError, SmtpMailer, UnconfirmedDelivery


class _Handler(socketserver.StreamRequestHandler):
    """A minimal SMTP server. `after_message`: what it does once a message is accepted
    ("keep" the connection, "close" it); `next_mail`: how it answers the MAIL command of
    a connection's second message ("ok", "421" and close); `end_of_data`: "reply", or
    "drop" the connection without a reply."""

    after_message = "keep"
    next_mail = "ok"
    end_of_data = "reply"
    connections = 0
    accepted = 0

    def handle(self) -> None:
        type(self).connections += 1
        self.wfile.write(b"220 test\r\n")
        in_data = False
        messages = 0
        for raw in self.rfile:
            line = raw.rstrip(b"\r\n")
            if in_data:
                if line == b".":
                    in_data = False
                    if self.end_of_data == "drop":
                        return
                    messages += 1
                    type(self).accepted += 1
                    self.wfile.write(b"250 accepted\r\n")
                    if self.after_message == "close":
                        return
                continue
            command = line[:4].upper()
            if command == b"MAIL" and messages and self.next_mail == "421":
                self.wfile.write(b"421 closing\r\n")
                return
            if command in (b"EHLO", b"HELO", b"MAIL", b"RCPT"):
                self.wfile.write(b"250 ok\r\n")
            elif command == b"DATA":
                in_data = True
                self.wfile.write(b"354 go on\r\n")
            elif command == b"QUIT":
                self.wfile.write(b"221 bye\r\n")
                return


@pytest.fixture
def mailer(settings: Settings) -> Iterator[SmtpMailer]:
    _Handler.after_message, _Handler.next_mail, _Handler.end_of_data = "keep", "ok", "reply"
    _Handler.connections = _Handler.accepted = 0
    with socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Handler) as tcp:
        thread = threading.Thread(target=tcp.serve_forever, daemon=True)
        thread.start()
        mailer = SmtpMailer(replace(settings, smtp_port=tcp.server_address[1]))
        yield mailer
        mailer.close()
        tcp.shutdown()


def _message(n: int) -> EmailMessage:
    message = EmailMessage()
    message["From"] = "no-reply@msc.example.com"
    message["To"] = f"someone{n}@example.com"
    message["Subject"] = f"test {n}"
    message.set_content("hello")
    return message


def _send(mailer: SmtpMailer, n: int) -> str:
    return mailer.send(_message(n), before_end_of_data=lambda: None)


def test_messages_share_one_connection(mailer: SmtpMailer) -> None:
    for n in range(3):
        assert _send(mailer, n).startswith("250")
    assert (_Handler.connections, _Handler.accepted) == (1, 3)


@pytest.mark.parametrize(("after_message", "next_mail"), [("close", "ok"), ("keep", "421")])
def test_a_kept_connection_the_server_let_go_is_replaced(
    mailer: SmtpMailer, after_message: str, next_mail: str
) -> None:
    """The server closed it after the first message, or answers the next MAIL with 421:
    the second message goes over a new connection, once."""
    _Handler.after_message, _Handler.next_mail = after_message, next_mail
    assert _send(mailer, 1).startswith("250")
    assert _send(mailer, 2).startswith("250")
    assert (_Handler.connections, _Handler.accepted) == (2, 2)


def test_a_message_cut_short_once_begun_is_not_sent_again(mailer: SmtpMailer) -> None:
    """On a kept connection, the server takes the whole message and drops the connection
    instead of answering: the sender cannot tell whether it was accepted, so the mailer
    says so and does not try again."""
    assert _send(mailer, 1).startswith("250")
    _Handler.end_of_data = "drop"
    with pytest.raises(UnconfirmedDelivery):
        _send(mailer, 2)
    assert _Handler.connections == 1


def test_a_stale_connection_and_an_unreachable_server_fail_the_message(
    mailer: SmtpMailer,
) -> None:
    """The kept connection is gone and a new one cannot be opened: the message fails as
    when the server is unreachable, for the outbox to try again later."""
    _Handler.after_message = "close"
    assert _send(mailer, 1).startswith("250")
    mailer.settings = replace(mailer.settings, smtp_port=1)  # nothing listens there
    with pytest.raises(DeliveryError):
        _send(mailer, 2)
    assert _Handler.accepted == 1
