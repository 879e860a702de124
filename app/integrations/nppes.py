"""A client for the NPPES NPI Registry API, version 2.1 (CMS's public NPI directory).

One question only: what does the registry know about this number?
`GET {base}?version=2.1&number=NNNNNNNNNN` answers `{"result_count": n, "results": [...]}`.

Three outcomes, as values, never as exceptions (the registry is optional: a request or a
worker must never fail because of it):

- `Found`: the registry's record for the number (the first result carrying it);
- `NotFound`: `result_count` 0, or a number that fails the offline check (nothing is asked:
  the registry cannot know a number with a wrong check digit);
- `Unavailable`: no usable answer, to be asked again later. Network errors, timeouts,
  HTTP errors (5xx and also 4xx: neither says anything about the number), bodies that are
  not JSON or not in the documented shape, an answer about another number, and answers
  carrying an `Errors` array.

Why `Errors` is `Unavailable` and not `NotFound`: the registry answers HTTP 200 with
`Errors` when it rejects the *query* (a malformed number, a missing parameter, an
unsupported version). We only ever send numbers that pass the offline check, so a
rejection means the API contract changed or our request is wrong, not that the number
does not exist; calling it "not found" would tell a provider their real NPI is unknown.
It is logged and retried like any outage.

Standard library only (urllib), so the service needs no HTTP dependency for this.
"""

from __future__ import annotations

import http.client
import json
import logging
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal, Protocol, TypeAlias

from app.config import Settings
from app.domain.reference import is_valid_npi

log = logging.getLogger(__name__)

API_VERSION = "2.1"
# An answer about one number is a few kilobytes; anything far larger is not an answer.
MAX_ANSWER_BYTES = 1_000_000
_READ_CHUNK = 64 * 1024
_NUMBER = re.compile(r"^[0-9]{10}\Z")
USER_AGENT = "msc-organizations/npi-verification (+urllib)"


class EnumerationType(StrEnum):
    INDIVIDUAL = "NPI-1"  # a person: provider, nurse, ...
    ORGANIZATION = "NPI-2"  # a facility, group or other organization


# A tuple, not a set: membership in it must not hash (an answer may hold a list there).
_KINDS: tuple[str, ...] = tuple(kind.value for kind in EnumerationType)


@dataclass(frozen=True)
class RegistryRecord:
    """The parts of a registry result the service uses; `raw` is the result as answered
    (what the cache keeps, so nothing the registry said is lost)."""

    number: str
    enumeration_type: EnumerationType
    # "A" = active. Other values (or none) are not active.
    status: str | None
    first_name: str | None = None
    middle_name: str | None = None
    last_name: str | None = None
    organization_name: str | None = None
    # Other names the registry lists (former names, doing-business-as names).
    other_person_names: tuple[tuple[str | None, str], ...] = ()
    other_organization_names: tuple[str, ...] = ()
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def active(self) -> bool:
        return self.status == "A"

    @property
    def name(self) -> str:
        """The name as the registry spells it: FIRST MIDDLE LAST, or the organization's."""
        if self.enumeration_type is EnumerationType.ORGANIZATION:
            return self.organization_name or ""
        return " ".join(p for p in (self.first_name, self.middle_name, self.last_name) if p)


@dataclass(frozen=True)
class Found:
    record: RegistryRecord
    kind: Literal["found"] = "found"


@dataclass(frozen=True)
class NotFound:
    number: str
    kind: Literal["not_found"] = "not_found"


@dataclass(frozen=True)
class Unavailable:
    reason: str
    kind: Literal["unavailable"] = "unavailable"


LookupResult: TypeAlias = Found | NotFound | Unavailable


class RegistryClient(Protocol):
    """What the domain needs from a registry client (tests may pass any such object)."""

    def lookup(self, number: str) -> LookupResult: ...


def _text(mapping: Mapping[str, Any], key: str) -> str | None:
    value = mapping.get(key)
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def _number_of(value: Any) -> str | None:
    # Answers have carried the number both as a string and as a JSON integer.
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        value = str(value)
    if isinstance(value, str) and _NUMBER.match(value.strip()):
        return value.strip()
    return None


def parse_record(result: Any) -> RegistryRecord | None:
    """One entry of `results` as a record, or None when it lacks what we rely on: a
    10-digit number, a known enumeration type, and a name for that type."""
    if not isinstance(result, Mapping):
        return None
    number = _number_of(result.get("number"))
    kind_value = result.get("enumeration_type")
    basic = result.get("basic")
    if number is None or not isinstance(basic, Mapping) or kind_value not in _KINDS:
        return None
    kind = EnumerationType(kind_value)

    others = result.get("other_names")
    others = [o for o in others if isinstance(o, Mapping)] if isinstance(others, list) else []
    record_fields: dict[str, Any] = {
        "number": number,
        "enumeration_type": kind,
        "status": _text(basic, "status"),
        "raw": result,
    }
    if kind is EnumerationType.INDIVIDUAL:
        last_name = _text(basic, "last_name")
        if last_name is None:
            return None
        record_fields.update(
            first_name=_text(basic, "first_name"),
            middle_name=_text(basic, "middle_name"),
            last_name=last_name,
            other_person_names=tuple(
                (_text(o, "first_name"), last)
                for o in others
                if (last := _text(o, "last_name")) is not None
            ),
        )
    else:
        organization_name = _text(basic, "organization_name")
        if organization_name is None:
            return None
        record_fields.update(
            organization_name=organization_name,
            other_organization_names=tuple(
                name for o in others if (name := _text(o, "organization_name")) is not None
            ),
        )
    return RegistryRecord(**record_fields)


def parse_answer(payload: Any, number: str) -> LookupResult:
    """The registry's decoded JSON answer to a query for `number`, as a result."""
    if not isinstance(payload, Mapping):
        return Unavailable("malformed answer: not a JSON object")
    errors = payload.get("Errors")
    if errors:
        # See the module docstring: a rejected query says nothing about the number.
        return Unavailable(f"the registry rejected the query: {_describe_errors(errors)}")
    count = payload.get("result_count")
    results = payload.get("results", [])
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        return Unavailable("malformed answer: no result_count")
    if not isinstance(results, list):
        return Unavailable("malformed answer: results is not a list")
    if count == 0:
        if results:
            return Unavailable("malformed answer: result_count 0 with results")
        return NotFound(number)
    for result in results:
        record = parse_record(result)
        if record is not None and record.number == number:
            return Found(record)
    # A count without a usable result for this very number: the answer cannot be trusted.
    return Unavailable("malformed answer: no usable result for the number asked")


def _describe_errors(errors: Any) -> str:
    if isinstance(errors, list):
        descriptions = [
            str(e.get("description"))
            for e in errors
            if isinstance(e, Mapping) and "description" in e
        ]
        if descriptions:
            return "; ".join(descriptions)[:500]
    return str(errors)[:500]


class _NoAnswer(Exception):
    """Internal: the registry gave no usable HTTP answer (turned into `Unavailable`)."""


class NppesClient:
    """Asks the registry about one number at a time, within `timeout_seconds`.

    The timeout bounds each socket operation (connecting, each read) and, checked
    between reads, the whole download, so a server trickling bytes cannot hold a request.
    Proxies come from the environment (HTTPS_PROXY, NO_PROXY), as urllib reads them.
    """

    def __init__(self, base_url: str, timeout_seconds: float) -> None:
        parts = urllib.parse.urlsplit(base_url)
        # urllib also opens file:// and ftp:// URLs; a misconfiguration must not do that.
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"the NPI Registry URL must be http(s): {base_url!r}")
        if timeout_seconds <= 0:
            raise ValueError("the NPI Registry timeout must be positive")
        self.base_url = base_url
        self.timeout_seconds = timeout_seconds
        self._opener = urllib.request.build_opener()

    @classmethod
    def from_settings(cls, settings: Settings) -> NppesClient:
        return cls(settings.npi_registry_url, settings.npi_registry_timeout_seconds)

    def url_for(self, number: str) -> str:
        """The base URL with version and number added to whatever query it already has."""
        parts = urllib.parse.urlsplit(self.base_url)
        query = urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
        query = [(k, v) for k, v in query if k not in ("version", "number")]
        query += [("version", API_VERSION), ("number", number)]
        return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query)))

    def lookup(self, number: str) -> LookupResult:
        if not is_valid_npi(number):
            return NotFound(number)
        try:
            result = parse_answer(self._fetch(number), number)
        except _NoAnswer as exc:
            result = Unavailable(str(exc))
        except Exception:
            # A bug here must not fail the caller's request: the registry is optional.
            log.exception("unexpected error asking the NPI Registry about %s", number)
            result = Unavailable("unexpected error")
        if isinstance(result, Unavailable):
            log.warning("NPI Registry unavailable for %s: %s", number, result.reason)
        return result

    def _fetch(self, number: str) -> Any:
        request = urllib.request.Request(
            self.url_for(number),
            headers={"Accept": "application/json", "User-Agent": USER_AGENT},
        )
        deadline = time.monotonic() + self.timeout_seconds
        try:
            with self._opener.open(request, timeout=self.timeout_seconds) as response:
                body = self._read(response, deadline)
        except urllib.error.HTTPError as exc:  # before OSError: it is one
            exc.close()
            raise _NoAnswer(f"HTTP {exc.code}") from exc
        except TimeoutError as exc:
            raise _NoAnswer("timed out") from exc
        except (OSError, http.client.HTTPException) as exc:
            # URLError (refused, DNS, TLS, a timeout while connecting), resets, bad status
            # lines, truncated bodies.
            reason = getattr(exc, "reason", None) or exc
            raise _NoAnswer(f"unreachable: {reason}") from exc
        try:
            return json.loads(body)
        except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError alike
            raise _NoAnswer("malformed answer: not JSON") from exc

    @staticmethod
    def _read(response: http.client.HTTPResponse, deadline: float) -> bytes:
        chunks: list[bytes] = []
        size = 0
        while chunk := response.read(_READ_CHUNK):
            size += len(chunk)
            if size > MAX_ANSWER_BYTES:
                raise _NoAnswer("answer too large")
            if time.monotonic() > deadline:
                raise _NoAnswer("timed out")
            chunks.append(chunk)
        return b"".join(chunks)
