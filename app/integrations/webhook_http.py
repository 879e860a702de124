"""Posting a signed webhook to an organization's endpoint, safely.

The endpoint's URL comes from a customer, and the request leaves from inside our
network: without care it could reach the database, the cloud's metadata service or
anything else listening privately (server-side request forgery). So:

- the host is resolved here, and the request refused unless every address it resolves
  to is public (`ipaddress`' is_global: not private, loopback, link-local, the
  169.254.169.254 metadata address, shared, reserved, multicast or unspecified), but for
  addresses inside the allowed networks (WEBHOOK_ALLOWED_NETWORKS, development and tests
  only);
- the connection goes to the address that was checked, not to a second resolution of
  the name (which a hostile DNS server could answer differently), while TLS still
  verifies the certificate against the host's name (SNI and hostname check);
- no redirect is followed: a 3xx is a failed attempt like any other non-2xx;
- at most `max_body_bytes` of the answer are read, so an endpoint cannot make a worker
  read a large body, and every socket operation waits `timeout` at most.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network
from urllib.parse import urlsplit

import urllib3
from urllib3.exceptions import HTTPError

Address = IPv4Address | IPv6Address
Network = IPv4Network | IPv6Network


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


def _unmapped(address: Address) -> Address:
    """An IPv4 address written as IPv6 (::ffff:127.0.0.1) is judged as the IPv4 one."""
    if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def address_refusal(address: Address, allowed: Sequence[Network]) -> str | None:
    """Why a request may not go to `address`, or None when it may."""
    address = _unmapped(address)
    if any(address in network for network in allowed if network.version == address.version):
        return None
    if not address.is_global or address.is_multicast:
        return f"{address} is not a public address"
    return None


def resolve(host: str, port: int, allowed: Sequence[Network]) -> Address:
    """The address to connect to for `host`: refused unless every address it resolves to
    may be reached."""
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise Refused(f"{host} does not resolve: {exc}") from None
    addresses = [ipaddress.ip_address(info[4][0]) for info in found]
    for address in addresses:
        if (reason := address_refusal(address, allowed)) is not None:
            raise Refused(f"{host} resolves to {reason}")
    if not addresses:
        raise Refused(f"{host} does not resolve")
    return addresses[0]


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
    host = parts.hostname
    port = parts.port or (443 if parts.scheme == "https" else 80)
    address = resolve(host, port, allowed)
    target = parts.path or "/"
    if parts.query:
        target += f"?{parts.query}"
    # The Host header names the host (and a port other than the scheme's), as the URL does.
    host_header = parts.netloc.rsplit("@", 1)[-1]
    settings: dict[str, object] = {
        "timeout": urllib3.Timeout(connect=timeout, read=timeout),
        "retries": False,
        "maxsize": 1,
    }
    pool: urllib3.HTTPConnectionPool
    if parts.scheme == "https":
        pool = urllib3.HTTPSConnectionPool(
            str(address),
            port,
            server_hostname=host,
            assert_hostname=host,
            cert_reqs="CERT_REQUIRED",
            **settings,  # type: ignore[arg-type]
        )
    else:
        pool = urllib3.HTTPConnectionPool(str(address), port, **settings)  # type: ignore[arg-type]
    started = time.monotonic()
    try:
        response = pool.urlopen(
            "POST",
            target,
            body=body,
            headers={**headers, "Host": host_header},
            redirect=False,
            retries=False,
            preload_content=False,
        )
        try:
            content = response.read(max_body_bytes) if max_body_bytes else b""
        finally:
            response.release_conn()
        return Answer(
            status_code=response.status,
            body=content.decode("utf-8", errors="replace"),
            error=None,
            latency_ms=_since(started),
        )
    except (HTTPError, OSError) as exc:
        return Answer(
            status_code=None,
            body=None,
            error=f"{type(exc).__name__}: {exc}"[:500],
            latency_ms=_since(started),
        )
    finally:
        pool.close()


def _since(started: float) -> int:
    return round((time.monotonic() - started) * 1000)
