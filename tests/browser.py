"""A real browser for the page tests: the system's Chromium (Debian's `chromium`
package) driven by Playwright, and the application served on a real port for it."""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from playwright.sync_api import Browser, Page, ViewportSize, sync_playwright
from werkzeug.serving import make_server

from tests.factories import PASSWORD

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[1] / "docs" / "screenshots"
# The console's screens (tests/test_console.py), which the README shows.
CONSOLE_SCREENSHOTS = SCREENSHOTS.parent / "console"


@contextmanager
def chromium() -> Iterator[Browser]:
    """Headless Chromium; the test is skipped where it is not installed."""
    if not CHROMIUM.exists():
        pytest.skip(f"no browser at {CHROMIUM}: install it with `apt-get install -y chromium`")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM))
        try:
            yield browser
        finally:
            browser.close()


@contextmanager
def live_server(app: Flask, port: int = 0) -> Iterator[str]:
    """`app` served on `port` (0: a free one), in threads of this process; yields its URL."""
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join()


def form_token(html: str) -> str:
    """The CSRF token of the form in a page's HTML."""
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, html
    return found.group(1)


def assert_refused_without_its_token(
    client: FlaskClient, path: str, form: dict[str, str], csrf: str
) -> None:
    """The form at `path` (whose page gave `client` the token `csrf`) is refused with the
    400 "form expired" page when sent without a token, with a forged one, or with the
    right one from another browser session (a client without the session's cookie)."""
    other_browser = client.application.test_client()
    forged = csrf[:-2] + ("AA" if not csrf.endswith("AA") else "BB")
    for sender, token in ((client, None), (client, forged), (other_browser, csrf)):
        data = form if token is None else {**form, "csrf_token": token}
        refused = sender.post(path, data=data)
        assert refused.status_code == 400
        assert "This form has expired" in refused.get_data(as_text=True)


def policy_violations(page: Page) -> list[str]:
    """The Content-Security-Policy refusals the page reports from now on (in a list
    that fills as they happen)."""
    found: list[str] = []
    page.on(
        "console",
        lambda message: (
            found.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    return found


def screenshot(
    page: Page, name: str, *, full_page: bool = True, folder: Path = SCREENSHOTS
) -> None:
    """With WRITE_SCREENSHOTS=1, the page as shown (all of it, or the window), into
    FOLDER/NAME.png (docs/screenshots/ unless said otherwise)."""
    if os.environ.get("WRITE_SCREENSHOTS") == "1":
        page.screenshot(path=str(folder / f"{name}.png"), full_page=full_page)


# The console (tests/test_console*.py) --------------------------------------------------

AXE = Path(__file__).resolve().parents[1] / "console" / "node_modules" / "axe-core" / "axe.min.js"
# What axe-core calls the problems that keep someone from using a screen.
BLOCKING_IMPACTS = ("serious", "critical")
LAPTOP: ViewportSize = {"width": 1280, "height": 800}
TABLET: ViewportSize = {"width": 768, "height": 1024}


def console_page(browser: Browser, site: str, build: Path) -> Page:
    """A page in a fresh browser profile (its own cookies: another person) over the
    console's real build, with axe-core added by the browser (no script of the page's
    own could be, under its policy). Close it with `page.context.close()`."""
    if not (build / "index.html").is_file():
        pytest.skip("the console is not built: run `make install`")
    if not AXE.is_file():
        pytest.skip("axe-core is not installed: run `npm ci` in console/")
    context = browser.new_context(base_url=site, viewport=LAPTOP)
    context.add_init_script(path=str(AXE))
    return context.new_page()


def assert_accessible(page: Page) -> None:
    """No serious or critical violation of axe-core's rules in the page as it stands."""
    violations: list[dict[str, Any]] = page.evaluate(
        """async () => (await axe.run(document, {resultTypes: ["violations"]})).violations
            .map((v) => ({id: v.id, impact: v.impact, help: v.help,
                          nodes: v.nodes.map((n) => n.html)}))"""
    )
    blocking = [v for v in violations if v["impact"] in BLOCKING_IMPACTS]
    assert blocking == [], blocking


def sign_in(page: Page, email: str, password: str = PASSWORD) -> None:
    """Fill and send the console's sign-in form (what follows is the caller's to wait for)."""
    page.goto("/console/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
