"""Brute-force protection: request limits, and a growing delay after failed sign-ins.

Two defences, both kept in Redis so that every API process counts alike:

- Request limits (the `limits` library's moving windows, in Redis), per client address
  and per account, on every endpoint where a secret can be guessed: sign-in and its
  second factor, refresh, password reset, and the links emails carry. "Account" means
  what the guess is aimed at: the email signed in with, the MFA token, the invitation or
  reset token. Limits are settings in the `limits` notation ("10/minute;100/hour"); a
  refused request answers 429 with Retry-After.
- A growing delay after repeated failed sign-ins (wrong password or wrong second
  factor) on an account from one client address: the first few failures are free, then
  each further one makes that address wait twice as long as the last, up to a cap, for
  that account. It is kept per account *and* address so that someone who knows a user's
  email cannot keep them out with a wrong password now and then: the user, elsewhere,
  is not delayed. Guesses spread over many addresses meet the per-account request limit
  instead, which ends with the window it counts.

A client's address is the connection's, or, when TRUSTED_PROXY_COUNT says that many
proxies stand in front of the service, the one they report (X-Forwarded-For; see
`init_throttle`). When Redis cannot be reached, a limited request is refused with 503
rather than let through unlimited.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from functools import wraps
from typing import Any, TypeVar

import redis
from flask import Flask, current_app, render_template, request
from flask.typing import ResponseReturnValue
from flask_jwt_extended import get_jwt_identity
from flask_smorest import Blueprint
from limits import parse_many
from limits.storage import RedisStorage
from limits.strategies import MovingWindowRateLimiter
from werkzeug.exceptions import TooManyRequests
from werkzeug.middleware.proxy_fix import ProxyFix

from app import metrics
from app.config import Settings
from app.extensions import current_settings, redis_connection
from app.problems import PAGES_BLUEPRINT, problem

F = TypeVar("F", bound=Callable[..., Any])

# Failures are forgotten a day after the last one; a success forgets them at once.
_FAILURE_MEMORY_SECONDS = 24 * 3600

# Counts one failure and, past the free ones, starts the account's delay: the first
# delay is ARGV[3] seconds, each further failure doubles it, up to ARGV[4].
# KEYS: failure count, delay marker. ARGV: memory, free failures, first delay, cap.
# Returns the delay started (0: none yet).
_RECORD_FAILURE = """
local failures = redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], ARGV[1])
local free = tonumber(ARGV[2])
if failures <= free then return 0 end
local delay = math.min(tonumber(ARGV[3]) * 2 ^ (failures - free - 1), tonumber(ARGV[4]))
redis.call('SET', KEYS[2], '1', 'EX', math.floor(delay))
return math.floor(delay)
"""


def client_address() -> str:
    """The client's address, as ProxyFix leaves it (see the module's docstring)."""
    return request.remote_addr or "unknown"


def account_key(value: object) -> str:
    """A fixed-length key for an account name or token, so no email or secret is written
    to Redis as it was sent; emails compare without case or surrounding spaces."""
    text = value.strip().lower() if isinstance(value, str) else ""
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def body_value(name: str) -> object:
    """The JSON body's (or form's) field `name`, before any validation: None if absent."""
    body = request.get_json(silent=True) if request.is_json else request.form
    return body.get(name) if isinstance(body, Mapping) else None


def body_field(name: str) -> Callable[[], str]:
    """The account named by the body's field `name` (an email, a token)."""

    def key() -> str:
        return account_key(body_value(name))

    return key


def url_part(name: str) -> Callable[[], str]:
    """The account named by the URL's part `name` (an invitation or reset token)."""

    def key() -> str:
        return account_key((request.view_args or {}).get(name))

    return key


def signed_in_user() -> str:
    """The account of the request's verified token: for limits applied inside
    `authenticated`, so a forged token cannot spend another user's budget."""
    return account_key(str(get_jwt_identity()))


@dataclass(frozen=True)
class Limit:
    """A request limit: the setting holding its rates, whom it counts (a key function of
    the request), and its scope: views sharing a scope share their counts."""

    setting: str
    key: Callable[[], str]
    scope: str


class Throttle:
    """An application's limits: the `limits` library's moving windows in its Redis (the
    application's own connection pool, so its timeouts apply and an outage raises the
    RedisError that answers 503), under its key prefix."""

    def __init__(self, settings: Settings, client: redis.Redis) -> None:
        assert settings.redis_url
        storage = RedisStorage(
            _storage_uri(settings.redis_url),
            connection_pool=client.connection_pool,
            key_prefix=settings.rate_limit_key_prefix,
        )
        self.windows = MovingWindowRateLimiter(storage)
        self.settings = settings

    def hit(self, setting: str, scope: str, key: str) -> None:
        """Count a request against the limits of `setting` for `key`; TooManyRequests
        (429 with the wait) when one of them is reached already."""
        for item in parse_many(getattr(self.settings, setting)):
            if not self.windows.hit(item, scope, key):
                reset_at = self.windows.get_window_stats(item, scope, key).reset_time
                raise LimitReached(str(item), max(1, math.ceil(reset_at - time.time())))


def _throttle() -> Throttle:
    found: Throttle = current_app.extensions["throttle"]
    return found


def limited(blp: Blueprint, *limits: Limit) -> Callable[[F], F]:
    """Count each request of the view against `limits`, refusing it (429) when one is
    reached. The 429 answer joins the view's documentation in `blp`."""

    def decorate(view: F) -> F:
        @wraps(view)
        def limited_view(*args: Any, **kwargs: Any) -> Any:
            throttle = _throttle()
            for limit in limits:
                throttle.hit(limit.setting, limit.scope, limit.key())
            return view(*args, **kwargs)

        documented = blp.alt_response(
            429,
            description="too many attempts: wait the number of seconds in Retry-After",
            headers={"Retry-After": {"schema": {"type": "integer"}}},
        )(limited_view)
        return documented  # type: ignore[no-any-return]

    return decorate


# The limits of each kind of guess, named once for every view (API and page) they guard.

# Sign-in and its second factor share one budget per client address; each counts the
# account it aims at (the email; the user of the MFA token; the signed-in user).
SIGN_IN_BY_CLIENT = Limit("rate_limit_sign_in", client_address, "sign-in")


def sign_in_by_account(key: Callable[[], str]) -> Limit:
    return Limit("rate_limit_sign_in_account", key, "sign-in-account")


REFRESH_BY_CLIENT = Limit("rate_limit_refresh", client_address, "refresh")
REFRESH_BY_USER = Limit("rate_limit_refresh", signed_in_user, "refresh-account")
# Asking for reset links, per client and per email: the service can neither flood a
# mailbox nor probe many addresses.
RESET_REQUESTS = (
    Limit("rate_limit_password_reset", client_address, "password-reset"),
    Limit("rate_limit_password_reset_account", body_field("email"), "password-reset-account"),
)
# The links emails carry: their tokens are secrets, guessed per client and per token.
LINKS_BY_CLIENT = Limit("rate_limit_links", client_address, "links")


def link_token(key: Callable[[], str]) -> Limit:
    return Limit("rate_limit_links_token", key, "links-token")


# An invitation's token in the URL: the API's preview and acceptance and the accept page.
INVITATION_LINKS = (LINKS_BY_CLIENT, link_token(url_part("token")))


class Refused(TooManyRequests):
    """A request refused for now: 429, with how long to wait."""

    def __init__(self, message: str, seconds: int) -> None:
        super().__init__(message)
        self.seconds = seconds


class LimitReached(Refused):
    """A request limit (per client or per account) is reached."""

    def __init__(self, limit: str, seconds: int) -> None:
        super().__init__(
            f"too many requests (at most {limit}); retry in {seconds} seconds", seconds
        )


class TooManyAttempts(Refused):
    """An account waiting out the delay its failed sign-ins started."""

    def __init__(self, seconds: int) -> None:
        super().__init__(
            f"too many failed sign-in attempts for this account from here; retry in {seconds}"
            " seconds",
            seconds,
        )


def _failure_keys(account: str) -> tuple[str, str]:
    """The failure count and delay marker of the account from this client's address,
    under the application's prefix."""
    base = f"{current_settings().rate_limit_key_prefix}:sign-in"
    key = account_key(f"{account.strip().lower()} {client_address()}")
    return f"{base}-failures:{key}", f"{base}-delayed:{key}"


def check_sign_in_delay(account: str) -> None:
    """Refuse (TooManyAttempts: 429 with Retry-After) a sign-in attempt on an account
    from an address still waiting out the delay its failures there started."""
    _, delayed = _failure_keys(account)
    remaining: int = redis_connection.client.ttl(delayed)  # type: ignore[assignment]
    if remaining > 0:
        raise TooManyAttempts(remaining)


def record_sign_in_failure(account: str) -> None:
    """Count a failed sign-in (wrong password or second factor) against the account, from
    this address."""
    metrics.LOGIN_FAILURES.inc()
    settings = current_settings()
    script = redis_connection.client.register_script(_RECORD_FAILURE)
    script(
        keys=list(_failure_keys(account)),
        args=[
            _FAILURE_MEMORY_SECONDS,
            settings.sign_in_free_failures,
            settings.sign_in_delay_seconds,
            settings.sign_in_delay_max_seconds,
        ],
    )


def forget_sign_in_failures(account: str) -> None:
    """A successful sign-in: the account's failures from this address no longer count."""
    redis_connection.client.delete(*_failure_keys(account))


@contextmanager
def guessing(account: str, *wrong: type[Exception]) -> Iterator[None]:
    """A check of a secret that may be a guess aimed at `account` (a password, a second
    factor): refused during the account's delay from this address, and counted toward it
    when it fails with one of `wrong`, which goes on up."""
    check_sign_in_delay(account)
    try:
        yield
    except wrong:
        record_sign_in_failure(account)
        raise


def _too_many_requests(refused: Refused) -> ResponseReturnValue:
    """429 with Retry-After, as a problem for the API and as a page for the pages."""
    metrics.RATE_LIMIT_REJECTIONS.inc()
    wait = {"Retry-After": str(refused.seconds)}
    if request.blueprint == PAGES_BLUEPRINT:
        return render_template("pages/too_many_attempts.html"), 429, wait
    return problem(429, refused.description or "", headers=wait)


def init_throttle(app: Flask, settings: Settings, client: redis.Redis) -> None:
    if settings.trusted_proxy_count:
        # Each trusted proxy appends the address it received the request from; the
        # client's is the one the outermost trusted proxy added. Any further entries
        # were written by the client itself and are ignored.
        count = settings.trusted_proxy_count
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=count, x_proto=count, x_host=count
        )
    app.extensions["throttle"] = Throttle(settings, client)
    app.register_error_handler(Refused, _too_many_requests)


def _storage_uri(redis_url: str) -> str:
    """The `limits` library's name for the Redis in REDIS_URL (a unix socket is
    `redis+unix://`); the connection itself is the application's pool."""
    if redis_url.startswith("unix://"):
        return "redis+unix://" + redis_url.removeprefix("unix://")
    return redis_url
