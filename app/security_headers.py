"""The headers every response carries for the browser's protection, set in one place.

Whatever answers (an API view, a page, Swagger UI, a static file, an error handler, the
503 of a failed commit), the response leaves with:
- `X-Content-Type-Options: nosniff`: a body is never run or rendered as another type
  than it says (a JSON error echoing input is never taken for HTML or script);
- `X-Frame-Options: DENY` and the policy's `frame-ancestors 'none'`: no page is framed,
  so none can be clicked through another site's overlay (older browsers read the
  first, newer ones the second);
- `Referrer-Policy: no-referrer`: the pages' addresses carry invitation and password
  reset tokens, which must never reach another site as a Referer; no page needs one;
- a Content-Security-Policy: Swagger UI's page its own (its script and stylesheet from
  this server), the console's its own (its script, stylesheet and API calls here only:
  app/blueprints/console.py), every other response the pages' (this server's stylesheet
  and form posts, nothing else), which a JSON body or an uploaded file also gets, so that
  neither runs anything if a browser is ever led to render it;
- `Strict-Transport-Security` when the request came over HTTPS (as the trusted proxies
  say, TRUSTED_PROXY_COUNT: ProxyFix, app/auth/throttle.py) or the deployment is HTTPS
  only (HTTPS_ONLY): a browser that once reached the service never again tries it in
  clear text. Never on plain HTTP otherwise, where a browser ignores it anyway and a
  development server would be pinned to HTTPS it does not have;
- `Cache-Control: no-store` on what is a user's own: any answer to a request carrying
  credentials (Authorization) and the sign-in endpoints' (which hand out tokens), so
  no browser or shared cache keeps it. Swagger UI's files and the stylesheet stay
  cacheable. A view that says otherwise itself (a document download) is left alone.

The servers' `Server` header names no software version: gunicorn's is set to
SERVER_HEADER (gunicorn.conf.py), and the development server's (`make run`) too,
through QuietRequestHandler.
"""

from __future__ import annotations

from flask import Flask, Response, request
from werkzeug.serving import WSGIRequestHandler

from app.config import Settings

# The pages' policy: this server's stylesheet, forms posted back to it, nothing else (no
# script at all, no images, no framing).
PAGE_POLICY = (
    "default-src 'none'; style-src 'self'; form-action 'self'; frame-ancestors 'none';"
    " base-uri 'none'"
)
# Swagger UI's: its script and stylesheet from this server; it fetches the OpenAPI
# document (and "Try it out" calls the API) here only. React sets style attributes on
# some elements, so inline style attributes (not elements) are allowed; its stylesheet
# embeds its icons as data: URLs.
DOCS_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; style-src-attr 'unsafe-inline';"
    " img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none';"
    " base-uri 'none'"
)
# The console's (app/blueprints/console.py): its script and stylesheet from this server,
# which it calls, and nothing else; no inline script or style anywhere.
CONSOLE_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self';"
    " connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none';"
    " object-src 'none'"
)
# flask-smorest's endpoint for Swagger UI's page (OPENAPI_SWAGGER_UI_PATH, /docs).
DOCS_ENDPOINT = "api-docs.openapi_swagger_ui"
# The console's blueprint.
CONSOLE_BLUEPRINT = "console"
# The blueprint whose answers carry tokens (app/blueprints/auth.py).
TOKENS_BLUEPRINT = "auth"

# A year, and the subdomains too: the service's host is never served in clear text.
HSTS = "max-age=31536000; includeSubDomains"
# What the servers call themselves in `Server`: no product, no version to look up.
SERVER_HEADER = "msc-organizations"


def init_security_headers(app: Flask, settings: Settings) -> None:
    def secure(response: Response) -> Response:
        headers = response.headers
        headers["X-Content-Type-Options"] = "nosniff"
        headers["X-Frame-Options"] = "DENY"
        headers.setdefault("Referrer-Policy", "no-referrer")
        if request.endpoint == DOCS_ENDPOINT:
            policy = DOCS_POLICY
        elif request.blueprint == CONSOLE_BLUEPRINT:
            policy = CONSOLE_POLICY
        else:
            policy = PAGE_POLICY
        headers.setdefault("Content-Security-Policy", policy)
        if request.is_secure or settings.https_only:
            headers["Strict-Transport-Security"] = HSTS
        if "Cache-Control" not in headers and (
            "Authorization" in request.headers or request.blueprint == TOKENS_BLUEPRINT
        ):
            headers["Cache-Control"] = "no-store"
        return response

    app.after_request(secure)


class QuietRequestHandler(WSGIRequestHandler):
    """Werkzeug's development server, which would otherwise say `Server: Werkzeug/<version>
    Python/<version>`."""

    def version_string(self) -> str:
        return SERVER_HEADER
