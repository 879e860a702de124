"""A local stand-in for the NPPES NPI Registry API (v2.1), so tests never touch the
internet. An HTTP server on 127.0.0.1 (a free port), in a thread, answering
`GET /api/?version=2.1&number=N` in the registry's shape, with a behaviour chosen per
number. Numbers it was not told about are unknown to it (result_count 0), like the
real registry's answer for an unassigned number. It counts the requests per number.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.parse
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes
    content_type: str = "application/json"
    delay_seconds: float = 0.0


def _json(payload: Any, status: int = 200, delay_seconds: float = 0.0) -> Reply:
    return Reply(status, json.dumps(payload).encode(), delay_seconds=delay_seconds)


def individual_result(
    number: str,
    first_name: str,
    last_name: str,
    *,
    middle_name: str = "",
    credential: str = "M.D.",
    status: str = "A",
    other_names: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """An NPI-1 result as the registry writes it (names in capitals)."""
    return {
        "created_epoch": "1117584000000",
        "enumeration_type": "NPI-1",
        "last_updated_epoch": "1700000000000",
        "number": number,
        "addresses": [
            {
                "country_code": "US",
                "country_name": "United States",
                "address_purpose": "LOCATION",
                "address_type": "DOM",
                "address_1": "100 MAIN ST",
                "city": "AUSTIN",
                "state": "TX",
                "postal_code": "787010000",
                "telephone_number": "512-555-0100",
            }
        ],
        "practiceLocations": [],
        "basic": {
            "first_name": first_name.upper(),
            "last_name": last_name.upper(),
            "middle_name": middle_name.upper(),
            "credential": credential,
            "sole_proprietor": "NO",
            "sex": "F",
            "enumeration_date": "2005-06-01",
            "last_updated": "2023-11-14",
            "status": status,
        },
        "taxonomies": [
            {
                "code": "207Q00000X",
                "taxonomy_group": "",
                "desc": "Family Medicine",
                "state": "TX",
                "license": "Q1234",
                "primary": True,
            }
        ],
        "identifiers": [],
        "endpoints": [],
        "other_names": other_names or [],
    }


def organization_result(number: str, name: str, *, status: str = "A") -> dict[str, Any]:
    """An NPI-2 result as the registry writes it."""
    return {
        "created_epoch": "1117584000000",
        "enumeration_type": "NPI-2",
        "last_updated_epoch": "1700000000000",
        "number": number,
        "addresses": [],
        "practiceLocations": [],
        "basic": {
            "organization_name": name.upper(),
            "organizational_subpart": "NO",
            "enumeration_date": "2006-01-01",
            "last_updated": "2023-01-01",
            "status": status,
            "authorized_official_first_name": "PAT",
            "authorized_official_last_name": "DOE",
        },
        "taxonomies": [],
        "identifiers": [],
        "endpoints": [],
        "other_names": [],
    }


class FakeRegistry:
    def __init__(self) -> None:
        self._replies: dict[str, Callable[[], Reply]] = {}
        self._lock = threading.Lock()
        self.requests: Counter[str] = Counter()
        self.versions: list[str] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
                number = query.get("number", [""])[0]
                with fake._lock:
                    fake.requests[number] += 1
                    fake.versions.extend(query.get("version", []))
                    make = fake._replies.get(number)
                reply = make() if make else _json({"result_count": 0, "results": []})
                if reply.delay_seconds:
                    time.sleep(reply.delay_seconds)
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", reply.content_type)
                    self.send_header("Content-Length", str(len(reply.body)))
                    self.end_headers()
                    self.wfile.write(reply.body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout test): nothing to answer

            def log_message(self, format: str, *args: Any) -> None:
                pass  # keep test output quiet

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._server.block_on_close = False  # slow replies must not hold up stop()
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/api/"

    def start(self) -> FakeRegistry:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def reset(self) -> None:
        with self._lock:
            self._replies.clear()
            self.requests.clear()
            self.versions.clear()

    def _set(self, number: str, make: Callable[[], Reply]) -> None:
        with self._lock:
            self._replies[number] = make

    # --- behaviours, per number ---

    def found(self, result: dict[str, Any], *, delay_seconds: float = 0.0) -> None:
        payload = {"result_count": 1, "results": [result]}
        self._set(str(result["number"]), lambda: _json(payload, delay_seconds=delay_seconds))

    def individual(self, number: str, first_name: str, last_name: str, **extra: Any) -> None:
        self.found(individual_result(number, first_name, last_name, **extra))

    def organization(self, number: str, name: str, **extra: Any) -> None:
        self.found(organization_result(number, name, **extra))

    def not_found(self, number: str) -> None:
        self._set(number, lambda: _json({"result_count": 0, "results": []}))

    def errors(self, number: str) -> None:
        """HTTP 200 with an Errors array: how the registry rejects a query."""
        payload = {
            "Errors": [{"description": "Field number must have 10 digits", "field": "number"}]
        }
        self._set(number, lambda: _json(payload))

    def not_json(self, number: str) -> None:
        body = b"<html><body>Service Unavailable</body></html>"
        self._set(number, lambda: Reply(200, body, content_type="text/html"))

    def bad_shape(self, number: str, payload: Any) -> None:
        """Valid JSON that is not the documented shape."""
        self._set(number, lambda: _json(payload))

    def server_error(self, number: str, status: int = 500) -> None:
        self._set(number, lambda: _json({"message": "internal error"}, status=status))

    def slow(self, number: str, seconds: float) -> None:
        """Answers (a valid 'not found') only after `seconds`."""
        self._set(number, lambda: _json({"result_count": 0, "results": []}, delay_seconds=seconds))
