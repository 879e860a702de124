"""Posting a webhook (app/integrations/webhook_http.py) to a real HTTP receiver on the
loopback (tests/webhook_receiver.py): which addresses may be reached, host names as the
network carries them, a host's other addresses, what an answer may hold, and the time an
attempt may take. Where a host name must resolve to chosen addresses, the resolver
answers from a table (`names`); everything else is the real network stack."""

from __future__ import annotations

import datetime as dt
import ipaddress
import socket
import ssl
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from app.integrations import webhook_http
from app.integrations.webhook_http import Refused, address_refusal
from tests.webhook_receiver import Receiver

LOOPBACK = (ipaddress.ip_network("127.0.0.0/8"),)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as server:
        yield server


@pytest.fixture
def names(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[str]]:
    """Host names (in their IDNA form) the resolver answers with these IPv4 addresses,
    in this order; any other name resolves as usual."""
    table: dict[str, list[str]] = {}
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.encode("idna").decode() if isinstance(host, str) else host
        if name in table:
            stream = (socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "")
            return [(*stream, (address, port)) for address in table[name]]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return table


@pytest.fixture
def trusted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A file of certificates the posts trust instead of the system's authorities."""
    path = tmp_path / "trusted.pem"
    path.touch()
    monkeypatch.setenv("SSL_CERT_FILE", str(path))
    webhook_http._tls.cache_clear()
    yield path
    webhook_http._tls.cache_clear()


def _tls_server(name: str, trusted: Path) -> ssl.SSLContext:
    """A server context with a self-signed certificate for `name`, which is trusted."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    pem = certificate.public_bytes(serialization.Encoding.PEM)
    trusted.write_bytes(trusted.read_bytes() + pem)
    chain = trusted.parent / f"{name}.pem"
    chain.write_bytes(
        pem
        + key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(chain)
    return context


def _post(
    url: str, *, timeout: float = 2.0, max_body_bytes: int = 2048, require_https: bool = False
) -> webhook_http.Answer:
    return webhook_http.post(
        url,
        b'{"n": 1}',
        {"content-type": "application/json"},
        timeout=timeout,
        max_body_bytes=max_body_bytes,
        allowed=LOOPBACK,
        require_https=require_https,
    )


# --- addresses --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "refused"),
    [
        # NAT64 (64:ff9b::/96) reaches the IPv4 address in its last 32 bits
        ("64:ff9b::a00:1", True),  # 10.0.0.1
        ("64:ff9b::7f00:1", True),  # 127.0.0.1
        ("64:ff9b::5db8:d70e", False),  # 93.184.215.14
        ("64:ff9b:1::5db8:d70e", True),  # local-use NAT64: its embedding is anyone's guess
        # IPv4-compatible (::/96)
        ("::7f00:1", True),
        ("::a9fe:a9fe", True),  # 169.254.169.254
        ("::5db8:d70e", False),
        # 6to4 (2002::/16) embeds an IPv4 address in bits 16 to 48
        ("2002:7f00:1::", True),
        ("2002:a00:1::1", True),
        ("2002:5db8:d70e::1", False),
        # Teredo, site-local, and anything else outside global unicast (2000::/3)
        ("2001:0:4136:e378:8000:63bf:3fff:fdd2", True),
        ("fec0::1", True),
        ("100::1", True),
        ("2606:4700::6810:84e5", False),
    ],
)
def test_an_ipv6_address_is_judged_by_the_ipv4_address_it_leads_to(
    address: str, refused: bool
) -> None:
    parsed = ipaddress.ip_address(address)
    assert (address_refusal(parsed, ()) is not None) is refused


def test_the_allowed_networks_admit_addresses_that_lead_into_them() -> None:
    allowed = (ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("fec0::/10"))
    for address in ("64:ff9b::a00:1", "::ffff:10.0.0.1", "2002:a00:1::", "fec0::1"):
        assert address_refusal(ipaddress.ip_address(address), allowed) is None
    assert address_refusal(ipaddress.ip_address("64:ff9b::7f00:1"), allowed) is not None


def test_a_refusal_tells_the_customer_no_address(names: dict[str, list[str]]) -> None:
    names["inside.example"] = ["93.184.215.14", "10.3.0.7"]
    with pytest.raises(Refused) as refused:
        webhook_http.post(
            "https://inside.example/hooks",
            b"{}",
            {},
            timeout=1.0,
            max_body_bytes=0,
            allowed=(),
            require_https=True,
        )
    assert str(refused.value) == "the host resolves to an address that is not public"
    with pytest.raises(Refused) as unknown:
        _post("http://no-such-host.invalid/hooks")
    assert str(unknown.value) == "the host name does not resolve"


# --- host names and addresses -------------------------------------------------------


def test_an_internationalized_host_is_named_in_its_idna_form(
    receiver: Receiver, names: dict[str, list[str]]
) -> None:
    names["xn--e1afmkfd.xn--p1ai"] = ["127.0.0.1"]  # пример.рф
    answer = _post(f"http://пример.рф:{receiver.port}/hooks/заказ?q=ü")
    assert answer.succeeded, answer
    (got,) = receiver.received
    assert got.headers["host"] == f"xn--e1afmkfd.xn--p1ai:{receiver.port}"
    assert got.path == "/hooks/%D0%B7%D0%B0%D0%BA%D0%B0%D0%B7?q=%C3%BC"


def test_over_tls_an_internationalized_host_is_verified_in_its_idna_form(
    names: dict[str, list[str]], trusted: Path
) -> None:
    names["xn--e1afmkfd.xn--p1ai"] = ["127.0.0.1"]  # пример.рф
    names["xn--80aswg.xn--p1ai"] = ["127.0.0.1"]  # сайт.рф
    with Receiver(tls=_tls_server("xn--e1afmkfd.xn--p1ai", trusted)) as receiver:
        answer = _post(f"https://пример.рф:{receiver.port}/hooks", require_https=True)
        assert answer.status_code == 200, answer
        (got,) = receiver.received
        assert got.headers["host"] == f"xn--e1afmkfd.xn--p1ai:{receiver.port}"
        # the certificate is checked against the name: another host's is refused
        other = _post(f"https://сайт.рф:{receiver.port}/hooks", require_https=True)
        assert other.status_code is None and "certificate verify failed" in (other.error or "")
        assert len(receiver.received) == 1


def test_when_an_address_refuses_the_hosts_next_one_is_tried(
    receiver: Receiver, names: dict[str, list[str]]
) -> None:
    # The receiver listens on 127.0.0.1 alone: 127.0.0.2 refuses the connection.
    names["twice.example"] = ["127.0.0.2", "127.0.0.1"]
    answer = _post(f"http://twice.example:{receiver.port}/hooks")
    assert answer.status_code == 200
    assert len(receiver.received) == 1
    names["refusing.example"] = ["127.0.0.2", "127.0.0.3"]
    refused = _post(f"http://refusing.example:{receiver.port}/hooks")
    assert refused.status_code is None and "refused" in (refused.error or "").lower()


# --- the answer ---------------------------------------------------------------------


def test_nul_characters_in_an_answer_become_replacement_characters(receiver: Receiver) -> None:
    receiver.script.body = b"ok\x00\x00done"
    answer = _post(receiver.url(), max_body_bytes=5)
    assert answer.status_code == 200
    assert answer.body == "ok\ufffd\ufffdd"  # one for one: within the bytes kept


def test_an_answer_dripping_slower_than_the_whole_timeout_ends_the_attempt_on_time(
    receiver: Receiver,
) -> None:
    # Each byte comes well within the timeout; the whole head would take seconds.
    receiver.script.drip = 0.1
    started = time.monotonic()
    answer = _post(receiver.url(), timeout=0.6)
    assert time.monotonic() - started < 1.5
    assert answer.status_code is None
    assert answer.error == "no complete answer within 0.6 s"
    assert 600 <= answer.latency_ms < 1500
