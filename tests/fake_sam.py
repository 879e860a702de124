"""A local stand-in for SAM.gov's Data Services extracts, so tests never touch the
internet: an HTTP server on 127.0.0.1 (a free port), in a thread, answering
`GET /data-services/v1/extracts?api_key=K&fileName=NAME` with the bytes it was given for
that name, 404 for any other name, 403 for a wrong key, or `down`'s status for all; and
extracts written in the public extract's (V2) layout."""

from __future__ import annotations

import csv
import io
import threading
import urllib.parse
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

API_KEY = "test-only-sam-key"

# The public extract's columns, in its order.
COLUMNS = (
    "Classification", "Name", "Prefix", "First", "Middle", "Last", "Suffix",
    "Address 1", "Address 2", "Address 3", "Address 4", "City", "State / Province",
    "Country", "Zip Code", "Open Data Flag?", "Blank (Deprecated)", "Unique Entity ID",
    "Exclusion Program", "Excluding Agency", "CT Code", "Exclusion Type",
    "Additional Comments", "Active Date", "Termination Date", "Record Status",
    "Cross-Reference", "SAM Number", "CAGE", "NPI", "Creation_Date",
)  # fmt: skip


def individual(
    last: str,
    first: str,
    *,
    npi: str = "",
    state: str = "VA",
    active: str = "03/15/2024",
    terminated: str = "Indefinite",
) -> dict[str, str]:
    """An individual's row as the extract writes it."""
    return {
        "Classification": "Individual",
        "First": first,
        "Last": last,
        "City": "RICHMOND",
        "State / Province": state,
        "Country": "USA",
        "Exclusion Program": "Reciprocal",
        "Excluding Agency": "HHS",
        "Exclusion Type": "Ineligible (Proceedings Completed)",
        "Active Date": active,
        "Termination Date": terminated,
        "Record Status": "Active",
        "NPI": npi,
    }


def firm(name: str, *, npi: str = "") -> dict[str, str]:
    return {
        "Classification": "Firm",
        "Name": name,
        "Country": "USA",
        "Excluding Agency": "HHS",
        "Exclusion Type": "Ineligible (Proceedings Completed)",
        "Active Date": "01/02/2023",
        "Termination Date": "Indefinite",
        "NPI": npi,
    }


def extract(rows: list[dict[str, str]], *, header: tuple[str, ...] = COLUMNS) -> bytes:
    """A ZIP holding one CSV of the rows (absent fields empty), as SAM.gov zips it."""
    text = io.StringIO()
    writer = csv.writer(text, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([row.get(name, "") for name in header])
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("SAM_Exclusions_Public_Extract_V2.CSV", text.getvalue())
    return out.getvalue()


def write(path: Path, rows: list[dict[str, str]]) -> Path:
    path.write_bytes(extract(rows))
    return path


class FakeSam:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.files: dict[str, bytes] = {}
        self.asked: list[str] = []
        self._down = 0
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(self.path).query))
                name = query.get("fileName", "")
                with fake._lock:
                    fake.asked.append(name)
                    body = fake.files.get(name)
                    status = fake._down or (200 if body is not None else 404)
                if query.get("api_key") != API_KEY:
                    status = 403
                payload = body if status == 200 and body is not None else b"{}"
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/zip")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._server.block_on_close = False
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/data-services/v1/extracts"

    def start(self) -> FakeSam:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def serve(self, files: dict[str, bytes]) -> None:
        """These files by name, and nothing else, from now on."""
        with self._lock:
            self.files = dict(files)
            self.asked.clear()
            self._down = 0

    def down(self, status: int = 503) -> None:
        with self._lock:
            self._down = status
