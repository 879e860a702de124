"""`/docs` works with no network: Swagger UI's files come from the installed package and
are served by the application itself, under a Content-Security-Policy, in a real
browser that may reach nothing but the local server."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask
from playwright.sync_api import Browser, Page, Route

from tests.browser import live_server, policy_violations, screenshot


def test_docs_list_every_operation_with_the_network_blocked(app: Flask, browser: Browser) -> None:
    spec = app.test_client().get("/openapi.json").get_json()
    operations = sum(method != "parameters" for item in spec["paths"].values() for method in item)
    blocked: list[str] = []

    def local_only(route: Route) -> None:
        if urlsplit(route.request.url).hostname in ("127.0.0.1", "localhost"):
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort()

    with live_server(app) as base:
        page = browser.new_page()
        page.route("**/*", local_only)
        refused = policy_violations(page)
        response = page.goto(f"{base}/docs")
        assert response is not None and response.status == 200
        policy = response.headers["content-security-policy"]
        assert "default-src 'none'" in policy and "script-src 'self'" in policy
        assert "unsafe-eval" not in policy and "cdn" not in policy

        page.locator(".opblock").first.wait_for()
        login = page.locator(".opblock-summary-path[data-path='/api/v1/auth/login']")
        assert login.count() == 1
        screenshot(page, "api-docs", full_page=False)
        assert len(_operations_shown(page)) == operations
        page.close()

    assert blocked == []  # nothing even tried to leave the machine
    assert refused == []


def _operations_shown(page: Page) -> set[str]:
    """Every operation the page shows, scrolled through from top to bottom: from 150
    tags and operations on, Swagger UI renders only those near the window (a virtualized
    list), so they are gathered a window at a time."""
    shown: set[str] = set()
    page.evaluate("window.scrollTo(0, 0)")
    while True:
        shown |= set(page.locator(".opblock").evaluate_all("blocks => blocks.map(b => b.id)"))
        at_end = page.evaluate(
            "window.scrollY + window.innerHeight >= document.documentElement.scrollHeight"
        )
        if at_end:
            return shown
        page.evaluate("window.scrollBy(0, window.innerHeight / 2)")
        page.wait_for_timeout(50)


def test_swagger_ui_files_are_served_here(app: Flask) -> None:
    client = app.test_client()
    page = client.get("/docs")
    text = page.get_data(as_text=True)
    assert "<script>" not in text  # no inline script: the policy allows none
    assert 'src="/docs/assets/swagger-ui-bundle.js"' in text
    bundle = client.get("/docs/assets/swagger-ui-bundle.js")
    assert bundle.status_code == 200 and "SwaggerUIBundle" in bundle.get_data(as_text=True)
