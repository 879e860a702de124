"""SAM.gov's public Exclusions extract and the LEIE file's download.

SAM.gov publishes every active exclusion each day as one file, the public extract
(`SAM_Exclusions_Public_Extract_V2_<YYDDD>.ZIP`: the year's last two digits and the day
of the year), from its Data Services:
`GET {SAM_EXTRACT_URL}?api_key=K&fileName=SAM_Exclusions_Public_Extract_V2_26335.ZIP`.
Its Exclusions API is no way to the whole list: it serves the first 10,000 records of a
query alone, and the active exclusions of individuals are more than that. The file of a
day may not be out yet when the job runs: the days before are tried in turn.

Retries and timeouts come from urllib3 (already a dependency of the service's HTTP
stack, maintained, and a Retry policy on its connection pool retries connection errors,
read timeouts and 429/5xx answers with exponential backoff, honouring Retry-After),
rather than a retry loop of our own. What is left after the retries raises
`DownloadFailed`: the caller keeps the version in force.
"""

from __future__ import annotations

import logging
import urllib.parse
from dataclasses import dataclass
from datetime import date, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path

import urllib3
from urllib3.exceptions import HTTPError
from urllib3.util import Retry, Timeout

log = logging.getLogger(__name__)

_RETRY_STATUSES = (429, 500, 502, 503, 504)
_CHUNK = 64 * 1024
USER_AGENT = "msc-organizations/exclusion-lists (+urllib3)"
# How many days before today an extract is looked for when today's is not out yet.
EXTRACT_DAYS_BEFORE = 3


class DownloadFailed(Exception):
    """A list file could not be downloaded whole; `status` is the HTTP status that
    refused it, if one did."""

    def __init__(self, reason: str, *, status: int | None = None) -> None:
        super().__init__(reason)
        self.status = status


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


def extract_name(day: date) -> str:
    """The name of the public extract SAM.gov published on `day`."""
    return f"SAM_Exclusions_Public_Extract_V2_{day:%y}{day.timetuple().tm_yday:03d}.ZIP"


def download_extract(
    base_url: str,
    api_key: str,
    directory: Path,
    *,
    today: date,
    max_bytes: int,
    timeout_seconds: float,
    retries: int,
    backoff_seconds: float = 1.0,
) -> tuple[Path, date]:
    """Download the newest public extract, today's or else one of the
    EXTRACT_DAYS_BEFORE days before, into `directory`: its path and the day it was
    published. DownloadFailed when none is found, or one cannot be had whole."""
    for back in range(EXTRACT_DAYS_BEFORE + 1):
        day = today - timedelta(days=back)
        name = extract_name(day)
        query = urllib.parse.urlencode({"api_key": api_key, "fileName": name})
        path = directory / name
        try:
            download(
                f"{base_url}?{query}",
                path,
                max_bytes=max_bytes,
                timeout_seconds=timeout_seconds,
                retries=retries,
                backoff_seconds=backoff_seconds,
            )
        except DownloadFailed as exc:
            if exc.status != 404:
                raise DownloadFailed(f"{name}: {exc}", status=exc.status) from None
            log.info("SAM.gov extract %s not published (404): trying the day before", name)
            continue
        return path, day
    first = today - timedelta(days=EXTRACT_DAYS_BEFORE)
    raise DownloadFailed(f"no extract published from {first} to {today} (HTTP 404)", status=404)


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
            raise DownloadFailed(f"HTTP {response.status}", status=response.status)
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
