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
import time
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


class _Stale(Exception):
    """A kept connection failed before any of the message went out: the server had let
    it go while it waited (idle timeout, a cap on messages per connection)."""


class SmtpMailer:
    """Sends messages over one SMTP connection, kept open between them (opening one, with
    its greeting, EHLO, STARTTLS and login, costs more than sending a message over it).

    A kept connection is used again only within KEEP_IDLE_SECONDS of its last message,
    and only for a message it has not begun: if the server turns out to have closed it,
    the message goes over a new connection instead, as nothing of it was sent. Anything
    that goes wrong during a message drops the connection."""

    # Well below the five minutes a server waits for the next command (RFC 5321 4.5.3.2.7).
    KEEP_IDLE_SECONDS = 30.0

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._kept: smtplib.SMTP | None = None
        self._kept_since = 0.0

    def send(self, message: EmailMessage, before_end_of_data: Callable[[], None]) -> str:
        """Send, calling `before_end_of_data` just before the server is asked to accept.
        Returns the server's acceptance reply; raises DeliveryError."""
        smtp = self._take_kept()
        if smtp is not None:
            try:
                return self._transaction(smtp, message, before_end_of_data, kept=True)
            except _Stale:
                pass
        return self._transaction(self._open(), message, before_end_of_data, kept=False)

    def close(self) -> None:
        """Say goodbye on the kept connection, if any."""
        smtp, self._kept = self._kept, None
        if smtp is not None:
            _close(smtp)

    def forget(self) -> None:
        """Drop the kept connection without a word: in a forked process, whose parent
        still owns it."""
        self._kept = None

    def _take_kept(self) -> smtplib.SMTP | None:
        smtp, self._kept = self._kept, None
        if smtp is not None and time.monotonic() - self._kept_since > self.KEEP_IDLE_SECONDS:
            _close(smtp)
            return None
        return smtp

    def _open(self) -> smtplib.SMTP:
        settings = self.settings
        try:
            smtp = smtplib.SMTP(
                settings.smtp_host, settings.smtp_port, timeout=settings.smtp_timeout_seconds
            )
        except (OSError, smtplib.SMTPException) as exc:
            raise DeliveryError(f"{type(exc).__name__}: {exc}") from exc
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
        except (OSError, smtplib.SMTPException) as exc:
            smtp.close()
            raise DeliveryError(f"{type(exc).__name__}: {exc}") from exc
        return smtp

    def _transaction(
        self,
        smtp: smtplib.SMTP,
        message: EmailMessage,
        before_end_of_data: Callable[[], None],
        *,
        kept: bool,
    ) -> str:
        # smtplib's sendmail() sends the message and its end-of-data in one go; here the
        # two are split so the callback runs between them.
        begun = False
        try:
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
            begun = True
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
        except BaseException as exc:
            # A transaction cut short mid-message is dropped, not QUIT: a QUIT line there
            # would only be more message text.
            smtp.close()
            if kept and not begun and _dropped(exc):
                raise _Stale from exc
            if isinstance(exc, (OSError, smtplib.SMTPException)):
                raise DeliveryError(f"{type(exc).__name__}: {exc}") from exc
            raise
        self._kept, self._kept_since = smtp, time.monotonic()
        return f"{code} {reply.decode(errors='replace')}"


def _dropped(exc: BaseException) -> bool:
    """Whether a command failed because the server had closed the connection (or says
    it is closing it: 421)."""
    if isinstance(exc, smtplib.SMTPResponseException):
        return exc.smtp_code == 421
    return isinstance(exc, (OSError, smtplib.SMTPServerDisconnected))
