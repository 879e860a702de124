"""Cross-origin calls from browsers (CORS): none unless CORS_ALLOWED_ORIGINS lists the
web origins whose pages may call the API.

With no list (the default) no response carries `Access-Control-Allow-Origin`, so a
browser gives no other site's script an answer of this service. With a list, a request
from a listed origin gets its answer marked readable by that origin (never `*`), and
its preflight (OPTIONS with `Access-Control-Request-Method`) is answered here before
anything else runs: no authentication, no database. A preflight from any other origin
is left to Flask, whose answer allows nothing, so the browser never sends the request.

The API authenticates with a bearer token the calling page holds, not a cookie, so
credentials (`Access-Control-Allow-Credentials`) are never allowed: the pages' session
cookie is never sent along with another origin's call. Nor is the console's refresh
cookie read for one: a refresh reads it only with `X-Token-Delivery`, a header no other
origin may send (it is not in REQUEST_HEADERS), on top of the cookie's SameSite=Strict
(app/auth/refresh_cookie.py).
"""

from __future__ import annotations

from flask import Flask, Response, request

from app.config import Settings

METHODS = "GET, POST, PUT, PATCH, DELETE"
# The request headers a calling page may set: its token, a JSON body, its own request id.
REQUEST_HEADERS = "Authorization, Content-Type, X-Request-ID"
# The response headers its script may read besides the always-readable ones.
EXPOSED_HEADERS = "X-Request-ID, Retry-After, Content-Disposition, X-Content-SHA256"
# How long a browser may reuse a preflight's answer.
PREFLIGHT_MAX_AGE_SECONDS = 600


def init_cors(app: Flask, settings: Settings) -> None:
    allowed = frozenset(settings.cors_allowed_origins)
    if not allowed:
        return

    def listed_origin() -> str | None:
        origin = request.headers.get("Origin")
        return origin if origin in allowed else None

    def preflight() -> Response | None:
        if request.method != "OPTIONS" or "Access-Control-Request-Method" not in request.headers:
            return None
        origin = listed_origin()
        if origin is None:
            return None
        response = Response(status=204)
        response.headers["Access-Control-Allow-Methods"] = METHODS
        response.headers["Access-Control-Allow-Headers"] = REQUEST_HEADERS
        response.headers["Access-Control-Max-Age"] = str(PREFLIGHT_MAX_AGE_SECONDS)
        return response

    def allow(response: Response) -> Response:
        # Whether the answer may be read depends on the Origin: a cache must not give
        # one origin's answer to another.
        response.vary.add("Origin")
        origin = listed_origin()
        if origin is not None:
            response.headers["Access-Control-Allow-Origin"] = origin
            if request.method != "OPTIONS":
                response.headers["Access-Control-Expose-Headers"] = EXPOSED_HEADERS
        return response

    app.before_request(preflight)
    app.after_request(allow)
