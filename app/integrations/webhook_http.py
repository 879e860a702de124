"""Posting a signed webhook to an organization's endpoint, safely.

The endpoint's URL comes from a customer, and the request leaves from inside our
network: without care it could reach the database, the cloud's metadata service or
anything else listening privately (server-side request forgery). So:

- the host is resolved here, and the request refused unless every address it resolves
  to is public (`address_refusal`), but for addresses inside the allowed networks
  (WEBHOOK_ALLOWED_NETWORKS, development and tests only). The customer is told only
  that the host resolves to an address that is not public, or does not resolve: which
  private address it reached is logged here, not shown in the delivery log;
- the connection goes to an address that was checked, not to a second resolution of
  the name (which a hostile DNS server could answer differently), while TLS still
  verifies the certificate against the host's name (SNI and hostname check);
- no redirect is followed: a 3xx is a failed attempt like any other non-2xx;
- at most `max_body_bytes` of the answer are read, so an endpoint cannot make a worker
  read a large body, and the whole attempt (connection, TLS, request, answer) ends
  within `timeout`, however slowly the endpoint drips its answer. Resolving the name
  is outside that time: the system resolver bounds it.

An internationalized host name goes everywhere in its IDNA (xn--) form: to the resolver,
the Host header, SNI and the certificate check. It is encoded with Python's "idna" codec
(IDNA 2003), as socket.getaddrinfo itself encodes a Unicode name.
"""

from __future__ import annotations

import functools
import http.client
import io
import ipaddress
import logging
import socket
import ssl
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network
from typing import TYPE_CHECKING
from urllib.parse import quote, urlsplit

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

log = logging.getLogger(__name__)

Address = IPv4Address | IPv6Address
Network = IPv4Network | IPv6Network

# IPv6 ranges whose addresses lead to an IPv4 address written in their last 32 bits (or,
# for 6to4, bits 16 to 48): each is judged as that IPv4 address. Python's is_global calls
# most of them global whatever they embed (64:ff9b::a00:1 reaches 10.0.0.1).
NAT64 = IPv6Network("64:ff9b::/96")
IPV4_COMPATIBLE = IPv6Network("::/96")
SIX_TO_FOUR = IPv6Network("2002::/16")
# Refused outright: Teredo tunnels and local-use NAT64 (RFC 8215), whose embedding is
# up to a network's operator; and anything outside global unicast (2000::/3), such as
# the deprecated site-local fec0::/10 that is_global accepts.
NOT_PUBLIC_IPV6 = (IPv6Network("2001::/32"), IPv6Network("64:ff9b:1::/48"))
GLOBAL_UNICAST = IPv6Network("2000::/3")

# What the customer reads in the delivery log when an address is refused.
NOT_PUBLIC = "the host resolves to an address that is not public"
DOES_NOT_RESOLVE = "the host name does not resolve"
# Characters kept as they are in the request's path and query; any other (non-ASCII
# above all) is percent-encoded as UTF-8, as browsers do.
URL_SAFE = "!#$%&'()*+,/:;=?@[]~"


class Refused(Exception):
    """The endpoint may not be called: its URL or the address its host resolves to."""


@dataclass(frozen=True)
class Answer:
    """How an attempt ended: the endpoint's status code and the start of its body, or the
    error that left no answer; and how long it took."""

    status_code: int | None
    body: str | None
    error: str | None
    latency_ms: int

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300

    def summary(self) -> str:
        """The answer in a few words: its status, or the error."""
        if self.status_code is not None:
            return f"HTTP {self.status_code}"
        return self.error or "no answer"

    @classmethod
    def unsent(cls, reason: str) -> Answer:
        """An attempt that was not made, and why."""
        return cls(status_code=None, body=None, error=reason, latency_ms=0)

    @classmethod
    def refused(cls, refusal: Refused) -> Answer:
        """An attempt that was not made: the address may not be reached."""
        return cls.unsent(f"refused: {refusal}")


def _embedded_ipv4(address: IPv6Address) -> IPv4Address | None:
    """The IPv4 address an IPv6 one leads to, when it embeds one."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in NAT64 or address in IPV4_COMPATIBLE:
        return IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def address_refusal(address: Address, allowed: Sequence[Network]) -> str | None:
    """Why a request may not go to `address`, or None when it may: it must be public
    (`ipaddress`' is_global: not private, loopback, link-local, the 169.254.169.254
    metadata address, shared, reserved or unspecified; nor multicast), or inside one of
    the `allowed` networks. The reason names the address: for the server's log only."""
    if any(address in network for network in allowed if network.version == address.version):
        return None
    if isinstance(address, IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            reason = address_refusal(embedded, allowed)
            return None if reason is None else f"{address} leads to {reason}"
        if address not in GLOBAL_UNICAST or any(address in n for n in NOT_PUBLIC_IPV6):
            return f"{address} is not a public address"
    if not address.is_global or address.is_multicast:
        return f"{address} is not a public address"
    return None


def _ascii_host(host: str) -> str:
    """The host as DNS, TLS and the Host header carry it: an internationalized name in its
    IDNA (xn--) form, any other unchanged."""
    try:
        return host.encode("idna").decode("ascii")
    except UnicodeError as exc:
        log.info("webhook host %r is not a valid domain name: %s", host, exc)
        raise Refused(DOES_NOT_RESOLVE) from None


def resolve(host: str, port: int, allowed: Sequence[Network]) -> list[Address]:
    """The addresses to connect to for `host` (ASCII), in the resolver's order: refused
    unless every address it resolves to may be reached."""
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError, ValueError) as exc:
        log.info("webhook host %s does not resolve: %s", host, exc)
        raise Refused(DOES_NOT_RESOLVE) from None
    addresses = list(dict.fromkeys(ipaddress.ip_address(info[4][0]) for info in found))
    if not addresses:
        raise Refused(DOES_NOT_RESOLVE)
    for address in addresses:
        if (reason := address_refusal(address, allowed)) is not None:
            log.warning("webhook host %s refused: %s", host, reason)
            raise Refused(NOT_PUBLIC)
    return addresses


def post(
    url: str,
    body: bytes,
    headers: Mapping[str, str],
    *,
    timeout: float,
    max_body_bytes: int,
    allowed: Sequence[Network],
    require_https: bool,
) -> Answer:
    """POST `body` to `url` once; raises Refused when it may not be sent at all."""
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise Refused(f"not an http(s) URL: {url}")
    if require_https and parts.scheme != "https":
        raise Refused("not an https:// URL")
    host = _ascii_host(parts.hostname)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    addresses = resolve(host, port, allowed)
    target = quote(parts.path or "/", safe=URL_SAFE)
    if parts.query:
        target += f"?{quote(parts.query, safe=URL_SAFE)}"
    # The Host header names the host (and a port the URL names), as the URL does.
    host_header = f"[{host}]" if ":" in host else host
    if parts.port is not None:
        host_header += f":{parts.port}"
    started = time.monotonic()
    connection = _Connection(started + timeout)
    try:
        connection.open(addresses, port, tls_host=host if parts.scheme == "https" else None)
        exchange = http.client.HTTPConnection(host, port)
        exchange.sock = connection
        exchange.request(
            "POST",
            target,
            body=body,
            headers={**headers, "Host": host_header, "Connection": "close"},
        )
        response = exchange.getresponse()
        content = response.read(max_body_bytes) if max_body_bytes else b""
        return Answer(
            status_code=response.status,
            body=_text(content.decode("utf-8", errors="replace")),
            error=None,
            latency_ms=_since(started),
        )
    except TimeoutError:
        error = f"no complete answer within {timeout:g} s"
    except (OSError, http.client.HTTPException) as exc:
        error = _text(f"{type(exc).__name__}: {exc}"[:500])
    finally:
        connection.end()
    return Answer(status_code=None, body=None, error=error, latency_ms=_since(started))


class _Connection:
    """A connection whose every operation ends by `deadline` (time.monotonic()): the
    socket's timeout is set to the time left before each one, so that the attempt as a
    whole is bounded, and an endpoint sending a byte now and then cannot hold the worker.
    It stands in for the socket of an http.client connection (sendall, makefile, close);
    `end` closes it."""

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline
        self.sock: socket.socket | None = None

    def left(self) -> float:
        """The time left, or TimeoutError once it has run out (a timeout of 0 would make
        the socket non-blocking, not fail)."""
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("out of time")
        return left

    def open(self, addresses: Sequence[Address], port: int, *, tls_host: str | None) -> None:
        """Connect to the first of `addresses` that accepts (the others are the same host:
        one refusing or unreachable is no answer yet), over TLS for `tls_host`."""
        *others, last = addresses
        for address in others:
            try:
                self.sock = socket.create_connection((str(address), port), timeout=self.left())
                break
            except TimeoutError:
                raise
            except OSError as exc:
                log.info("webhook address %s:%d: %s, trying the next", address, port, exc)
        else:
            self.sock = socket.create_connection((str(last), port), timeout=self.left())
        if tls_host is not None:
            # CPython bounds the handshake as a whole by the socket's timeout.
            self.sock.settimeout(self.left())
            self.sock = _tls().wrap_socket(self.sock, server_hostname=tls_host)

    def _socket(self) -> socket.socket:
        if self.sock is None:
            raise OSError("not connected")
        self.sock.settimeout(self.left())
        return self.sock

    def sendall(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            view = view[self._socket().send(view) :]

    def recv_into(self, buffer: WriteableBuffer) -> int:
        return self._socket().recv_into(buffer)

    def makefile(self, mode: str) -> io.BufferedReader:
        return io.BufferedReader(_Reader(self))

    def close(self) -> None:
        """Nothing: http.client closes its connection as soon as the answer's head says
        it will close, before its body is read; `end` closes it after."""

    def end(self) -> None:
        if self.sock is not None:
            self.sock.close()


class _Reader(io.RawIOBase):
    """The answer as http.client reads it, each read ending by the connection's deadline."""

    def __init__(self, connection: _Connection) -> None:
        self._connection = connection

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer) -> int:
        return self._connection.recv_into(buffer)


@functools.cache
def _tls() -> ssl.SSLContext:
    """Certificates verified against the system's authorities, and the host's name."""
    return ssl.create_default_context()


def _text(text: str) -> str:
    """Text PostgreSQL stores: a NUL character (which a text column refuses) becomes the
    replacement character, one for one, so the text stays within its length."""
    return text.replace("\x00", "\ufffd")


def _since(started: float) -> int:
    return round((time.monotonic() - started) * 1000)
