"""The servers' `Server` header names no software version: gunicorn as the image runs
it (gunicorn.conf.py), and the development server of `make run`."""

from __future__ import annotations

import http.client
import threading
from pathlib import Path

import pytest
from flask import Flask
from werkzeug.serving import make_server

from app.config import Settings
from app.security_headers import SERVER_HEADER, QuietRequestHandler
from tests.gunicorn_server import gunicorn_serving


def _server_headers(port: int, path: str) -> list[str]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        response.read()
        return [value for name, value in response.getheaders() if name.lower() == "server"]
    finally:
        connection.close()


@pytest.mark.slow
@pytest.mark.process
def test_gunicorn_names_no_software(settings: Settings, tmp_path: Path) -> None:
    with gunicorn_serving(settings, tmp_path) as server:
        for path in ("/healthz", "/api/v1/me", "/no-such-page"):
            assert _server_headers(server.port, path) == [SERVER_HEADER], path


def test_the_development_server_names_no_version(app: Flask) -> None:
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=QuietRequestHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        for path in ("/healthz", "/no-such-page"):
            assert _server_headers(server.server_port, path) == [SERVER_HEADER], path
    finally:
        server.shutdown()
        thread.join()
