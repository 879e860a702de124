"""A local stand-in for SAM.gov's Exclusions API (v4), so tests never touch the internet:
an HTTP server on 127.0.0.1 (a free port), in a thread, answering
`GET /entity-information/v4/exclusions?api_key=K&page=P&size=S&...` with the records it
was given, in the API's shape and pages. It refuses a wrong key (403), counts the
requests per page, and can fail: every request (`down`), or a page's next n requests
(`fail_page`, with a status or a delay past the client's timeout).
"""

from __future__ import annotations

import json
import threading
import time
import urllib.parse
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

API_KEY = "test-only-sam-key"


def individual(
    last: str,
    first: str,
    *,
    middle: str = "",
    npi: str = "",
    state: str = "VA",
    activated: str = "03-15-2024",
    exclusion_type: str = "Ineligible (Proceedings Completed)",
    agency: str = "HHS",
) -> dict[str, Any]:
    """An individual's record as the API writes it."""
    return {
        "exclusionDetails": {
            "classificationType": "Individual",
            "exclusionType": exclusion_type,
            "exclusionProgram": "Reciprocal",
            "excludingAgencyCode": agency,
            "excludingAgencyName": "DEPT OF HEALTH AND HUMAN SERVICES",
        },
        "exclusionIdentification": {
            "ueiSAM": None,
            "cageCode": "",
            "npi": npi,
            "prefix": "",
            "firstName": first,
            "middleName": middle,
            "lastName": last,
            "suffix": "",
            "entityName": "",
        },
        "exclusionActions": {
            "listOfActions": [
                {
                    "createDate": "Currently Not Available",
                    "updateDate": "Currently Not Available",
                    "activateDate": activated,
                    "terminationDate": "Indefinite",
                    "terminationType": "Indefinite",
                    "recordStatus": "Active",
                }
            ]
        },
        "exclusionAddress": {
            "addressLine1": None,
            "city": "RICHMOND",
            "stateOrProvinceCode": state,
            "zipCode": "23219",
            "countryCode": "USA",
        },
    }


class FakeSam:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.records: list[dict[str, Any]] = []
        self.requests: Counter[int] = Counter()
        self.queries: list[dict[str, str]] = []
        self._down = 0  # status every request answers, 0: up
        self._failures: dict[int, list[tuple[int, float]]] = {}
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(self.path).query))
                page, size = int(query.get("page", "0")), int(query.get("size", "10"))
                with fake._lock:
                    fake.requests[page] += 1
                    fake.queries.append(query)
                    failing = fake._failures.get(page)
                    status, delay = failing.pop(0) if failing else (fake._down or 200, 0.0)
                    records = fake.records[page * size : (page + 1) * size]
                    total = len(fake.records)
                if query.get("api_key") != API_KEY:
                    status = 403
                if delay:
                    time.sleep(delay)
                payload: dict[str, Any] = (
                    {"totalRecords": total, "excludedEntity": records, "links": {}}
                    if status == 200
                    else {"error": "unavailable"}
                )
                body = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout test)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._server.block_on_close = False
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/entity-information/v4/exclusions"

    def start(self) -> FakeSam:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def serve(self, records: list[dict[str, Any]]) -> None:
        with self._lock:
            self.records = list(records)
            self.requests.clear()
            self.queries.clear()
            self._down = 0
            self._failures.clear()

    def down(self, status: int = 503) -> None:
        """Every request answers `status` from now on."""
        with self._lock:
            self._down = status

    def fail_page(self, page: int, times: int, *, status: int = 500, delay: float = 0.0) -> None:
        """The page's next `times` requests fail: with `status`, after `delay` seconds."""
        with self._lock:
            self._failures[page] = [(status, delay)] * times
