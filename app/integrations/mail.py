"""Email: building messages from templates, and sending them over SMTP.

`SmtpMailer.send` takes a callback run after the server has the whole message and
before the end-of-data mark that makes it accept the message; the outbox records the
delivery there (see app/domain/outbox.py for why).
"""

from __future__ import annotations

import hashlib
import smtplib
import socket
import ssl
from collections.abc import Callable
from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from app.config import Settings

TEMPLATES = Path(__file__).resolve().parents[1] / "templates" / "email"

_environment = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,
)


class DeliveryError(Exception):
    """The SMTP server could not be reached or refused the message."""


class UnconfirmedDelivery(DeliveryError):
    """The end-of-data mark went out but no reply came back: the server may well have
    accepted the message, so it must not be sent again."""


def message_id(idempotency_key: str, sender: str) -> str:
    """The same Message-ID for every attempt at one message, so a mail system that
    sees it twice can tell it is one message."""
    digest = hashlib.sha256(idempotency_key.encode()).hexdigest()[:32]
    domain = sender.rsplit("@", 1)[-1].strip("> ") or "msc.example.com"
    return f"<{digest}@{domain}>"


def render(
    template: str,
    payload: dict[str, Any],
    *,
    sender: str,
    recipient: str,
    subject: str,
    idempotency_key: str,
) -> EmailMessage:
    """A multipart message: plain text, and HTML as the alternative."""
    message = EmailMessage(policy=SMTP)
    message["From"] = sender
    message["To"] = recipient
    message["Subject"] = subject
    message["Message-ID"] = message_id(idempotency_key, sender)
    message.set_content(_environment.get_template(f"{template}.txt").render(**payload))
    message.add_alternative(
        _environment.get_template(f"{template}.html").render(**payload), subtype="html"
    )
    return message


def _close(smtp: smtplib.SMTP) -> None:
    """Say goodbye; whatever the server answers to QUIT changes nothing about a message
    it has already accepted (or refused)."""
    try:
        smtp.quit()
    except (OSError, smtplib.SMTPException):
        smtp.close()


class SmtpMailer:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def send(self, message: EmailMessage, before_end_of_data: Callable[[], None]) -> str:
        """Send, calling `before_end_of_data` just before the server is asked to accept.
        Returns the server's acceptance reply; raises DeliveryError."""
        settings = self.settings
        try:
            smtp = smtplib.SMTP(
                settings.smtp_host, settings.smtp_port, timeout=settings.smtp_timeout_seconds
            )
        except (OSError, smtplib.SMTPException) as exc:
            raise DeliveryError(f"{type(exc).__name__}: {exc}") from exc
        completed = False
        try:
            smtp.ehlo()
            if settings.smtp_starttls:
                smtp.starttls(context=ssl.create_default_context())
                smtp.ehlo()
            if settings.smtp_username:
                smtp.login(settings.smtp_username, settings.smtp_password or "")
            # The body and its end-of-data mark go out as two writes: without this,
            # the second waits for the server's delayed acknowledgement (~40 ms).
            if smtp.sock is not None:
                smtp.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            reply = self._transaction(smtp, message, before_end_of_data)
            completed = True
            return reply
        except (OSError, smtplib.SMTPException) as exc:
            raise DeliveryError(f"{type(exc).__name__}: {exc}") from exc
        finally:
            # A transaction cut short mid-message is dropped, not QUIT: a QUIT line there
            # would only be more message text.
            if completed:
                _close(smtp)
            else:
                smtp.close()

    @staticmethod
    def _transaction(
        smtp: smtplib.SMTP, message: EmailMessage, before_end_of_data: Callable[[], None]
    ) -> str:
        # smtplib's sendmail() sends the message and its end-of-data in one go; here the
        # two are split so the callback runs between them.
        sender = str(message["From"])
        code, reply = smtp.mail(sender)
        if code != 250:
            raise smtplib.SMTPSenderRefused(code, reply, sender)
        code, reply = smtp.rcpt(str(message["To"]))
        if code not in (250, 251):
            raise smtplib.SMTPRecipientsRefused({str(message["To"]): (code, reply)})
        code, reply = smtp.docmd("DATA")
        if code != 354:
            raise smtplib.SMTPDataError(code, reply)
        body = message.as_bytes()
        if not body.endswith(b"\r\n"):
            body += b"\r\n"
        # Transparency: a line starting with "." gets a second one (RFC 5321 4.5.2).
        body = (b"." + body if body.startswith(b".") else body).replace(b"\r\n.", b"\r\n..")
        smtp.send(body)
        before_end_of_data()
        try:
            smtp.send(b".\r\n")
            code, reply = smtp.getreply()
        except (OSError, smtplib.SMTPServerDisconnected) as exc:
            raise UnconfirmedDelivery(f"no reply to the end of the message: {exc}") from exc
        if code != 250:
            raise smtplib.SMTPDataError(code, reply)
        return f"{code} {reply.decode(errors='replace')}"
