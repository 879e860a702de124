"""A client for SAM.gov's Exclusions API (version 4) and the LEIE file's download.

SAM.gov: `GET {base}?api_key=K&classification=Individual&recordStatus=Active&page=P&size=S`
answers `{"totalRecords": n, "excludedEntity": [...], "links": {...}}`, each record in
sections: `exclusionDetails` (classificationType, exclusionType, excludingAgencyCode),
`exclusionIdentification` (ueiSAM, cageCode, npi, firstName, middleName, lastName,
entityName), `exclusionActions.listOfActions[]` (activateDate, terminationDate,
recordStatus) and `exclusionAddress` (stateOrProvinceCode, countryCode). Pages count from
0 and hold at most 10 records; the API serves the first 10,000 records of a query alone.

Only individuals are pulled: the providers screened are people, and an entity matches by
NPI alone, which SAM.gov rarely records for one.

Retries and timeouts come from urllib3 (already a dependency of the service's HTTP
stack, maintained, and a Retry policy on its connection pool retries connection errors,
read timeouts and 429/5xx answers with exponential backoff, honouring Retry-After),
rather than a retry loop of our own. What is left after the retries, and any answer that
is not the documented shape, raises `SamUnavailable`: the caller keeps the version in
force.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import urllib3
from urllib3.exceptions import HTTPError
from urllib3.util import Retry, Timeout

log = logging.getLogger(__name__)

# The API's largest page, and its last reachable page (0 to 999).
MAX_PAGE_SIZE = 10
LAST_PAGE = 999
# A page of 10 records is a few tens of kilobytes; far more is not a page.
MAX_PAGE_BYTES = 5_000_000
_RETRY_STATUSES = (429, 500, 502, 503, 504)
_STATE = re.compile(r"[A-Z]{2}")
_NPI = re.compile(r"[0-9]{10}")
# SAM.gov writes dates MM-DD-YYYY (its documentation also shows MM/DD/YYYY, YYYY-MM-DD).
_DATE_FORMATS = ("%m-%d-%Y", "%m/%d/%Y", "%Y-%m-%d")
_CHUNK = 64 * 1024
USER_AGENT = "msc-organizations/exclusion-lists (+urllib3)"


class SamUnavailable(Exception):
    """No complete answer from SAM.gov: down, too slow, refusing, or not its shape."""


class DownloadFailed(Exception):
    """A list file could not be downloaded whole."""


@dataclass(frozen=True)
class SamRecord:
    """The parts of an exclusion record the lists keep."""

    classification: str | None
    first_name: str | None
    middle_name: str | None
    last_name: str | None
    entity_name: str | None
    uei: str | None
    cage_code: str | None
    npi: str | None
    excluding_agency: str | None
    exclusion_type: str | None
    activated_on: date | None
    state: str | None


def _pool(timeout_seconds: float, retries: int, backoff_seconds: float) -> urllib3.PoolManager:
    retry = Retry(
        total=retries,
        connect=retries,
        read=retries,
        status=retries,
        backoff_factor=backoff_seconds,
        status_forcelist=_RETRY_STATUSES,
        allowed_methods=frozenset({"GET"}),
        raise_on_status=False,
        respect_retry_after_header=True,
    )
    return urllib3.PoolManager(
        retries=retry,
        timeout=Timeout(connect=timeout_seconds, read=timeout_seconds),
        headers={"User-Agent": USER_AGENT},
    )


@dataclass(frozen=True)
class SamPage:
    total: int
    records: list[Any]
    body: bytes


class SamClient:
    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout_seconds: float,
        retries: int,
        page_size: int = MAX_PAGE_SIZE,
        backoff_seconds: float = 1.0,
    ) -> None:
        self._base_url = base_url
        self._api_key = api_key
        self._page_size = max(1, min(page_size, MAX_PAGE_SIZE))
        self._http = _pool(timeout_seconds, retries, backoff_seconds)

    def pull(self) -> SamPull:
        """Every active exclusion of an individual, page by page, as they are read."""
        return SamPull(self)

    def page(self, number: int) -> SamPage:
        """One page of the answer; SamUnavailable when there is none to be had."""
        fields = {
            "api_key": self._api_key,
            "classification": "Individual",
            "recordStatus": "Active",
            "page": str(number),
            "size": str(self._page_size),
        }
        try:
            response = self._http.request(
                "GET", self._base_url, fields=fields, preload_content=False
            )
        except HTTPError as exc:  # connection refused, timeouts: after the retries
            raise SamUnavailable(f"page {number}: {type(exc).__name__}") from None
        try:
            if response.status != 200:
                raise SamUnavailable(f"page {number}: HTTP {response.status}")
            body = response.read(MAX_PAGE_BYTES + 1)
        except HTTPError as exc:
            raise SamUnavailable(f"page {number}: {type(exc).__name__}") from None
        finally:
            response.release_conn()
        if len(body) > MAX_PAGE_BYTES:
            raise SamUnavailable(f"page {number}: larger than {MAX_PAGE_BYTES} bytes")
        try:
            answer = json.loads(body)
        except ValueError:
            raise SamUnavailable(f"page {number}: not JSON") from None
        if not (
            isinstance(answer, dict)
            and isinstance(answer.get("totalRecords"), int)
            and isinstance(answer.get("excludedEntity", []), list)
        ):
            raise SamUnavailable(f"page {number}: not the Exclusions API's answer")
        return SamPage(answer["totalRecords"], answer.get("excludedEntity") or [], body)

    @property
    def page_size(self) -> int:
        return self._page_size


class SamPull:
    """The records of a pull, read page after page while iterated; `sha256`, once it is
    done, is the digest of the pages' bodies in order."""

    def __init__(self, client: SamClient) -> None:
        self._client = client
        self._digest = hashlib.sha256()
        self._done = False

    def __iter__(self) -> Iterator[SamRecord]:
        number, read = 0, 0
        while True:
            page = self._client.page(number)
            self._digest.update(page.body)
            total = page.total
            if total > (LAST_PAGE + 1) * self._client.page_size:
                raise SamUnavailable(
                    f"{total} records: more than the API's paging reaches; a partial"
                    " list would withdraw the rest"
                )
            for record in page.records:
                yield _record(record)
            read += len(page.records)
            if read >= total or not page.records:
                break
            number += 1
        if read < total:
            raise SamUnavailable(f"{read} of {total} records served: incomplete")
        self._done = True

    @property
    def sha256(self) -> str:
        assert self._done, "the pull's digest is known once every page is read"
        return self._digest.hexdigest()


def _section(record: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    section = record.get(name)
    if not isinstance(section, dict):
        raise SamUnavailable(f"a record without its {name} section")
    return section


def _text(section: Mapping[str, Any], name: str) -> str | None:
    value = section.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise SamUnavailable(f"{name} is not text")
    return " ".join(value.split()) or None


def _day(raw: str | None) -> date | None:
    if raw is None:
        return None
    for pattern in _DATE_FORMATS:
        try:
            return datetime.strptime(raw, pattern).date()
        except ValueError:
            continue
    return None  # "Currently Not Available", "Indefinite"


def _record(record: Any) -> SamRecord:
    if not isinstance(record, dict):
        raise SamUnavailable("a record that is not an object")
    details = _section(record, "exclusionDetails")
    identification = _section(record, "exclusionIdentification")
    address = record.get("exclusionAddress") or record.get("exclusionPrimaryAddress") or {}
    actions = (record.get("exclusionActions") or {}).get("listOfActions") or [{}]
    activated = min(
        (day for action in actions if (day := _day(_text(action, "activateDate")))),
        default=None,
    )
    npi = _text(identification, "npi")
    state = (_text(address, "stateOrProvinceCode") or "").upper()
    country = _text(address, "countryCode")
    return SamRecord(
        classification=_text(details, "classificationType"),
        first_name=_text(identification, "firstName"),
        middle_name=_text(identification, "middleName"),
        last_name=_text(identification, "lastName"),
        entity_name=_text(identification, "entityName"),
        uei=_text(identification, "ueiSAM"),
        cage_code=_text(identification, "cageCode"),
        npi=npi if npi and _NPI.fullmatch(npi) else None,
        excluding_agency=_text(details, "excludingAgencyCode"),
        exclusion_type=_text(details, "exclusionType"),
        activated_on=activated,
        state=state if _STATE.fullmatch(state) and country in (None, "USA") else None,
    )


def download(
    url: str,
    destination: Path,
    *,
    max_bytes: int,
    timeout_seconds: float,
    retries: int,
    backoff_seconds: float = 1.0,
) -> date | None:
    """Stream the file at `url` to `destination`, refusing one larger than `max_bytes`;
    the date its Last-Modified header gives, if any. DownloadFailed when it cannot be
    had whole."""
    http = _pool(timeout_seconds, retries, backoff_seconds)
    try:
        response = http.request("GET", url, preload_content=False)
    except HTTPError as exc:
        raise DownloadFailed(f"{type(exc).__name__}") from None
    try:
        if response.status != 200:
            raise DownloadFailed(f"HTTP {response.status}")
        written = 0
        with destination.open("wb") as out:
            for chunk in response.stream(_CHUNK):
                written += len(chunk)
                if written > max_bytes:
                    raise DownloadFailed(f"larger than {max_bytes} bytes")
                out.write(chunk)
        modified = response.headers.get("Last-Modified")
    except HTTPError as exc:
        raise DownloadFailed(f"{type(exc).__name__}") from None
    finally:
        response.release_conn()
    if not modified:
        return None
    try:
        return parsedate_to_datetime(modified).date()
    except (TypeError, ValueError):
        return None
