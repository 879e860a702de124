"""The refresh token as a browser app keeps it: in a cookie its script cannot read.

A client asks for this delivery with the request header `X-Token-Delivery: cookie` on
the sign-in steps, a refresh, a switch of organization or a logout. Then the refresh
token never appears in a response body: it is set as the cookie `msc_refresh_token`,
HttpOnly (no script reads it, so a cross-site scripting flaw cannot steal a login),
SameSite=Strict (no other site's page makes the browser send it), Secure (only over
HTTPS; plain HTTP only when the service runs on localhost for development), and scoped
to `/api/v1/auth/refresh`, the one address that reads it. The access token stays in the
body, for the app to hold in memory only.

A refresh reads the cookie only when the request carries the same header. A cross-site
form cannot set a request header, and another origin's script cannot send one without a
CORS preflight, which this service never allows for it (app/cors.py): the header is what
keeps a forged request from riding on the cookie the browser sends by itself. Clients
that send the refresh token as a bearer token, as before, are served as before.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Response, request

from app.config import Settings
from app.errors import abort

DELIVERY_HEADER = "X-Token-Delivery"
COOKIE_DELIVERY = "cookie"
REFRESH_COOKIE = "msc_refresh_token"
REFRESH_COOKIE_PATH = "/api/v1/auth/refresh"

# The hosts of a development server, where the cookie travels over plain HTTP.
_LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})

# The 422 of a request asking for another delivery, as the document says.
UNKNOWN_DELIVERY = f"{DELIVERY_HEADER} other than `{COOKIE_DELIVERY}`"
# How the OpenAPI document describes the header, on each endpoint that honours it.
DELIVERY_PARAMETER = {
    "in": "header",
    "name": DELIVERY_HEADER,
    "required": False,
    "schema": {"type": "string", "enum": [COOKIE_DELIVERY]},
    "description": "`cookie` (browser apps; any other value is refused with 422): the "
    "refresh token is set as the HttpOnly, "
    f"SameSite=Strict cookie `{REFRESH_COOKIE}` (path `{REFRESH_COOKIE_PATH}`) and left "
    "out of the body; a refresh with this header reads that cookie. Without it, the "
    "refresh token travels in the body and as a bearer token, as ever.",
}


def cookie_delivery_asked() -> bool:
    return request.headers.get(DELIVERY_HEADER) == COOKIE_DELIVERY


def refuse_unknown_delivery() -> None:
    """422 naming the header when it asks for a delivery there is none of, before the
    request does anything: a client that misspells `cookie` learns so, rather than
    getting its refresh token where it did not mean to keep it."""
    asked = request.headers.get(DELIVERY_HEADER)
    if asked is not None and asked != COOKIE_DELIVERY:
        message = f"`{COOKIE_DELIVERY}` is the one delivery to ask for, or leave the header out"
        abort(
            422,
            message=f"{DELIVERY_HEADER}: {message}",
            errors={"headers": {DELIVERY_HEADER: [message]}},
        )


def secure_cookie(settings: Settings) -> bool:
    """Whether the cookie is sent over HTTPS only: always, but for a development server
    on localhost reached over plain HTTP (PUBLIC_BASE_URL)."""
    address = urlsplit(settings.public_base_url)
    return not (address.scheme == "http" and address.hostname in _LOCAL_HOSTS)


def set_refresh_cookie(response: Response, token: str, settings: Settings) -> None:
    response.set_cookie(
        REFRESH_COOKIE,
        token,
        max_age=int(settings.refresh_token_lifetime.total_seconds()),
        path=REFRESH_COOKIE_PATH,
        secure=secure_cookie(settings),
        httponly=True,
        samesite="Strict",
    )


def clear_refresh_cookie(response: Response, settings: Settings) -> None:
    response.delete_cookie(
        REFRESH_COOKIE,
        path=REFRESH_COOKIE_PATH,
        secure=secure_cookie(settings),
        httponly=True,
        samesite="Strict",
    )
