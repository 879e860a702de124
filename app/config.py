"""Settings read from the environment, in one place.

Every variable is listed in README.md. Each field below names its variable, how its value
is read and its default, which an unset or empty variable keeps. A malformed value stops
start-up with a ConfigError naming the variable. Development defaults are named as such
and are refused when APP_ENV=production.
"""

from __future__ import annotations

import base64
import binascii
import logging
import math
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from datetime import timedelta
from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

# Development defaults, which production refuses (Settings.production_problems): bandit
# (B105) is told so on each.
DEV_JWT_SECRET = "dev-only-insecure-jwt-secret-change-me"  # nosec B105
DEV_OUTBOX_SECRET = "dev-only-insecure-outbox-secret-change-me"  # nosec B105
DEV_MFA_SECRET = "dev-only-insecure-mfa-secret-change-me"  # nosec B105
DEV_TENANT_CONTEXT_KEY = "dev-only-insecure-tenant-context-key-change-me"
# The database roles' passwords on development servers (app/local.py provisions them;
# trust authentication ignores them).
DEV_OWNER_PASSWORD = "dev-only-owner-password"  # nosec B105
DEV_APP_PASSWORD = "dev-only-app-password"  # nosec B105
# Where the local document store keeps files outside production.
DEV_DOCUMENT_STORAGE_PATH = Path(".local/documents")
# The length of a master key of DOCUMENT_ENCRYPTION_KEYS: an AES-256 key.
MASTER_KEY_BYTES = 32
# Secrets production needs random and at least this long.
MIN_SECRET_LENGTH = 32


@dataclass(frozen=True)
class MasterKey:
    """One of DOCUMENT_ENCRYPTION_KEYS: its id, which each file it encrypts records, and
    its secret (kept out of the settings' repr, and so out of logs)."""

    key_id: str
    secret: bytes = field(repr=False)


# The documents' master key outside production: its secret is public, so production
# refuses it.
DEV_DOCUMENT_KEY = MasterKey("dev-only", b"dev-only-insecure-document-key-1")


class ConfigError(ValueError):
    """A setting the service cannot start with; the message names its variable."""


class ProductionConfigError(ConfigError):
    """Settings that must never reach production: `problems` names each offending
    variable, all of them at once, so one deployment fixes every one."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("refused in production: " + "; ".join(problems))
        self.problems = problems


def _env(name: str, parse: Callable[[str], object]) -> dict[str, object]:
    """A field's metadata: read from the variable `name` by `parse`, which raises
    ValueError on a malformed value; the field's default stands when it is unset or empty."""
    return {"env": name, "parse": parse}


def _parsed(cls: type[Any], environ: Mapping[str, str]) -> dict[str, Any]:
    """The fields of `cls` whose variables are set, parsed; every malformed one is named."""
    values: dict[str, Any] = {}
    errors: list[str] = []
    for setting in fields(cls):
        name = setting.metadata["env"]
        raw = environ.get(name)
        if not raw:
            continue
        try:
            values[setting.name] = setting.metadata["parse"](raw)
        except ValueError as exc:
            errors.append(f"{name}: {exc}")
    if errors:
        raise ConfigError("; ".join(errors))
    return values


def _text(raw: str) -> str:
    return raw


def _one_of(*allowed: str) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        if raw not in allowed:
            raise ValueError(f"expected one of {', '.join(allowed)}, got {raw!r}")
        return raw

    return parse


def _flag(raw: str) -> bool:
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"expected true/false (or 1/0, yes/no, on/off), got {raw!r}")


def _whole(minimum: int, maximum: int | None = None) -> Callable[[str], int]:
    expected = (
        f"a whole number from {minimum} to {maximum}"
        if maximum is not None
        else f"a whole number of at least {minimum}"
    )

    def parse(raw: str) -> int:
        try:
            value = int(raw)
        except ValueError:
            raise ValueError(f"expected {expected}, got {raw!r}") from None
        if value < minimum or (maximum is not None and value > maximum):
            raise ValueError(f"expected {expected}, got {raw!r}")
        return value

    return parse


def _seconds(raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"expected a positive number of seconds, got {raw!r}")
    return value


def _duration(unit: str, maximum: int | None = None) -> Callable[[str], timedelta]:
    count = _whole(1, maximum)

    def parse(raw: str) -> timedelta:
        return timedelta(**{unit: count(raw)})

    return parse


def _path(raw: str) -> Path:
    return Path(raw)


_KEY_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
# Either base64 alphabet: `openssl rand -base64 32` writes the standard one, Python's
# secrets.token_urlsafe the URL-safe one.
_URL_SAFE_TO_STANDARD = str.maketrans("-_", "+/")


def _master_keys(raw: str) -> tuple[MasterKey, ...]:
    """`id:key` pairs separated by commas, the first the one that encrypts (the others
    still decrypt what they encrypted): an id is letters, digits, `-` and `_` (at most
    64), a key 32 random bytes in base64. No message repeats any part of a key."""
    keys: list[MasterKey] = []
    for position, part in enumerate(raw.split(","), start=1):
        key_id, colon, encoded = part.strip().partition(":")
        if not colon or not _KEY_ID.fullmatch(key_id):
            raise ValueError(
                f"expected id:key pairs separated by commas, the id letters, digits, - or _;"
                f" pair {position} is not one"
            )
        try:
            secret = base64.b64decode(
                encoded.strip().translate(_URL_SAFE_TO_STANDARD), validate=True
            )
        except binascii.Error:
            secret = b""
        if len(secret) != MASTER_KEY_BYTES:
            raise ValueError(
                f"the key of pair {position} must be {MASTER_KEY_BYTES} random bytes in"
                " base64 (e.g. from `openssl rand -base64 32`)"
            )
        if any(key.key_id == key_id for key in keys):
            raise ValueError(f"key id {key_id!r} is given twice")
        keys.append(MasterKey(key_id, secret))
    return tuple(keys)


def _windows(raw: str) -> tuple[int, ...]:
    """Days before expiry, comma-separated, in any order; kept largest first."""
    day = _whole(0)
    try:
        days = [day(part.strip()) for part in raw.split(",")]
    except ValueError:
        raise ValueError(
            f"expected days before expiry separated by commas (e.g. 90,30,0), got {raw!r}"
        ) from None
    if len(set(days)) != len(days):
        raise ValueError(f"expected each day once, got {raw!r}")
    return tuple(sorted(days, reverse=True))


def _cron(raw: str) -> str:
    # The schedule's own parser (rq's scheduler reads it with croniter); imported here because
    # it is slow to import and only a set variable needs it.
    from croniter import croniter

    if not croniter.is_valid(raw):
        raise ValueError(f"expected a cron expression (e.g. '0 6 * * *'), got {raw!r}")
    return raw


def _log_level(raw: str) -> str:
    level = raw.strip().upper()
    if level not in logging.getLevelNamesMapping():
        raise ValueError(f"expected a logging level (DEBUG, INFO, WARNING, ERROR), got {raw!r}")
    return level


def _rate_limits(raw: str) -> str:
    # The limits library's own parser: the notation app/auth/throttle.py reads at each
    # request.
    from limits import parse_many

    try:
        parse_many(raw)
    except ValueError:
        raise ValueError(
            f"expected rate limits such as '10/minute;100/hour', got {raw!r}"
        ) from None
    return raw


# An origin as browsers send it: no "*" (the allow-list names its origins), no path.
_ORIGIN = re.compile(r"https?://[a-z0-9.-]+(:[0-9]{1,5})?")


def _origins(raw: str) -> tuple[str, ...]:
    """Web origins (scheme, host and port, nothing after), comma-separated; compared
    with a browser's Origin header as text, so kept in its form: lowercase, no slash."""
    origins = tuple(part.strip() for part in raw.split(",") if part.strip())
    for origin in origins:
        if not _ORIGIN.fullmatch(origin):
            raise ValueError(
                f"expected origins such as https://portal.example.com (scheme and host,"
                f" optional port, lowercase, no path), separated by commas, got {origin!r}"
            )
    return origins


def _networks(raw: str) -> tuple[IPv4Network | IPv6Network, ...]:
    """Address ranges in CIDR notation (a bare address is its own), comma-separated."""
    networks = []
    for part in (p.strip() for p in raw.split(",")):
        if not part:
            continue
        try:
            networks.append(ip_network(part, strict=False))
        except ValueError:
            raise ValueError(
                f"expected address ranges such as 127.0.0.1/32 or 10.0.0.0/8, separated by"
                f" commas, got {part!r}"
            ) from None
    return tuple(networks)


def _delays(raw: str) -> tuple[int, ...]:
    """Seconds between one delivery attempt and the next, comma-separated: one per retry."""
    try:
        delays = tuple(int(part) for part in raw.split(","))
    except ValueError:
        delays = ()
    if not delays or any(d < 0 for d in delays):
        raise ValueError(
            f"expected whole seconds separated by commas, such as 5,300,1800, got {raw!r}"
        )
    return delays


_port = _whole(1, 65535)


@dataclass(frozen=True)
class Settings:
    """The service's settings: the API's, the workers' and the scheduler's."""

    app_env: str = field(
        default="development",
        metadata=_env("APP_ENV", _one_of("development", "test", "production")),
    )
    region: str = field(default="local", metadata=_env("REGION", _text))
    database_url: str | None = field(default=None, metadata=_env("DATABASE_URL", _text))
    database_owner_url: str | None = field(default=None, metadata=_env("DATABASE_OWNER_URL", _text))
    database_admin_url: str | None = field(default=None, metadata=_env("DATABASE_ADMIN_URL", _text))
    redis_url: str | None = field(default=None, metadata=_env("REDIS_URL", _text))
    jwt_secret_key: str = field(default=DEV_JWT_SECRET, metadata=_env("JWT_SECRET_KEY", _text))
    access_token_lifetime: timedelta = field(
        default=timedelta(minutes=15),
        metadata=_env("JWT_ACCESS_TOKEN_MINUTES", _duration("minutes")),
    )
    refresh_token_lifetime: timedelta = field(
        default=timedelta(days=30), metadata=_env("JWT_REFRESH_TOKEN_DAYS", _duration("days"))
    )
    invitation_lifetime: timedelta = field(
        default=timedelta(days=7), metadata=_env("INVITATION_TTL_HOURS", _duration("hours"))
    )
    # A password reset link opens the account to whoever holds it: an hour at most.
    password_reset_lifetime: timedelta = field(
        default=timedelta(minutes=30),
        metadata=_env("PASSWORD_RESET_TTL_MINUTES", _duration("minutes", maximum=60)),
    )
    public_base_url: str = field(
        default="http://127.0.0.1:8000", metadata=_env("PUBLIC_BASE_URL", _text)
    )
    # Uploaded documents: where the local store keeps them, and the largest accepted.
    document_storage_path: Path = field(
        default=DEV_DOCUMENT_STORAGE_PATH, metadata=_env("DOCUMENT_STORAGE_PATH", _path)
    )
    document_max_bytes: int = field(
        default=10 * 1024 * 1024, metadata=_env("DOCUMENT_MAX_BYTES", _whole(1))
    )
    # Uploaded documents' master keys (app/integrations/document_crypto.py): the first
    # encrypts each new file's own key; every one listed decrypts the files it encrypted,
    # so a new key is put first and an old one removed once no file needs it
    # (`flask documents encrypt-stored`).
    document_encryption_keys: tuple[MasterKey, ...] = field(
        default=(DEV_DOCUMENT_KEY,), metadata=_env("DOCUMENT_ENCRYPTION_KEYS", _master_keys)
    )
    # The largest request body other than an upload (in practice, a JSON body).
    json_max_bytes: int = field(default=1024 * 1024, metadata=_env("JSON_MAX_BYTES", _whole(1)))
    # The NPPES NPI Registry API: base URL, per-request timeout, how long answers are kept.
    npi_registry_url: str = field(
        default="https://npiregistry.cms.hhs.gov/api/", metadata=_env("NPI_REGISTRY_URL", _text)
    )
    npi_registry_timeout_seconds: float = field(
        default=5.0, metadata=_env("NPI_REGISTRY_TIMEOUT_SECONDS", _seconds)
    )
    npi_registry_cache_hours: int = field(
        default=24, metadata=_env("NPI_REGISTRY_CACHE_HOURS", _whole(0))
    )
    # The exclusion lists (app/domain/exclusion_lists.py) the scheduled import fetches
    # at EXCLUSION_IMPORT_CRON: the HHS-OIG LEIE's full file (unset: not fetched; load
    # files by hand with `flask exclusions import-leie`), at most LEIE_MAX_BYTES, and
    # SAM.gov's public Exclusions extract (unset key: not fetched), at most
    # SAM_EXTRACT_MAX_BYTES. Each request waits
    # EXCLUSION_TIMEOUT_SECONDS at most and is retried EXCLUSION_RETRIES times.
    leie_full_url: str | None = field(default=None, metadata=_env("LEIE_FULL_URL", _text))
    leie_max_bytes: int = field(
        default=200 * 1024 * 1024, metadata=_env("LEIE_MAX_BYTES", _whole(1))
    )
    sam_extract_url: str = field(
        default="https://api.sam.gov/data-services/v1/extracts",
        metadata=_env("SAM_EXTRACT_URL", _text),
    )
    sam_api_key: str | None = field(default=None, repr=False, metadata=_env("SAM_API_KEY", _text))
    sam_extract_max_bytes: int = field(
        default=100 * 1024 * 1024, metadata=_env("SAM_EXTRACT_MAX_BYTES", _whole(1))
    )
    exclusion_timeout_seconds: float = field(
        default=30.0, metadata=_env("EXCLUSION_TIMEOUT_SECONDS", _seconds)
    )
    exclusion_retries: int = field(default=3, metadata=_env("EXCLUSION_RETRIES", _whole(0, 10)))
    # Webhook delivery (app/domain/webhooks.py, app/integrations/webhook_http.py): each
    # attempt (connection, request and the whole answer) ends within
    # WEBHOOK_TIMEOUT_SECONDS, and keeps the first WEBHOOK_RESPONSE_MAX_BYTES of the
    # answer. A failed attempt is retried after each of WEBHOOK_RETRY_DELAYS in turn
    # (seconds, each varied by up to a fifth so that failed deliveries do not return
    # together): by default after 5 s, 5 min, 30 min, 2 h, 5 h, 10 h and 10 h, about a
    # day in all, then the delivery fails. An endpoint whose attempts have all failed for
    # WEBHOOK_DISABLE_AFTER_HOURS is disabled and its admins are emailed. A rotated secret
    # keeps signing beside the new one for WEBHOOK_SECRET_OVERLAP_HOURS.
    webhook_timeout_seconds: float = field(
        default=10.0, metadata=_env("WEBHOOK_TIMEOUT_SECONDS", _seconds)
    )
    webhook_response_max_bytes: int = field(
        default=2048, metadata=_env("WEBHOOK_RESPONSE_MAX_BYTES", _whole(0, 65536))
    )
    webhook_retry_delays: tuple[int, ...] = field(
        default=(5, 300, 1800, 7200, 18000, 36000, 36000),
        metadata=_env("WEBHOOK_RETRY_DELAYS", _delays),
    )
    webhook_disable_after: timedelta = field(
        default=timedelta(hours=72),
        metadata=_env("WEBHOOK_DISABLE_AFTER_HOURS", _duration("hours")),
    )
    webhook_secret_overlap: timedelta = field(
        default=timedelta(hours=24),
        metadata=_env("WEBHOOK_SECRET_OVERLAP_HOURS", _duration("hours", maximum=24 * 30)),
    )
    # Delivery refuses any address that is not public (private, loopback, link-local,
    # cloud metadata, ...) after resolving the endpoint's host, but for those in these
    # ranges (CIDR, comma-separated): for development and tests, e.g. 127.0.0.1/32. Never
    # in production.
    webhook_allowed_networks: tuple[IPv4Network | IPv6Network, ...] = field(
        default=(), metadata=_env("WEBHOOK_ALLOWED_NETWORKS", _networks)
    )
    # Outgoing email (SMTP) and the outbox's delivery rules.
    smtp_host: str = field(default="127.0.0.1", metadata=_env("SMTP_HOST", _text))
    smtp_port: int = field(default=1025, metadata=_env("SMTP_PORT", _port))
    smtp_starttls: bool = field(default=False, metadata=_env("SMTP_STARTTLS", _flag))
    smtp_username: str | None = field(default=None, metadata=_env("SMTP_USERNAME", _text))
    smtp_password: str | None = field(default=None, metadata=_env("SMTP_PASSWORD", _text))
    smtp_sender: str = field(
        default="MSC Organizations <no-reply@msc.example.com>", metadata=_env("SMTP_SENDER", _text)
    )
    smtp_timeout_seconds: float = field(
        default=10.0, metadata=_env("SMTP_TIMEOUT_SECONDS", _seconds)
    )
    outbox_secret_key: str = field(
        default=DEV_OUTBOX_SECRET, metadata=_env("OUTBOX_SECRET_KEY", _text)
    )
    # Multi-factor sign-in (app/domain/mfa.py): the key that encrypts users' TOTP secrets,
    # and how long the challenge between a login's password and its second factor lasts.
    mfa_encryption_key: str = field(
        default=DEV_MFA_SECRET, metadata=_env("MFA_ENCRYPTION_KEY", _text)
    )
    mfa_challenge_seconds: int = field(
        default=300, metadata=_env("MFA_CHALLENGE_SECONDS", _whole(1, 300))
    )
    # The key the tenant context is signed with (app/tenancy/signing.py): the processes
    # sign with it, and the migrations write it where the database checks the signatures,
    # so every process and the migrations of a region must be given the same one.
    tenant_context_key: str = field(
        default=DEV_TENANT_CONTEXT_KEY, metadata=_env("TENANT_CONTEXT_KEY", _text)
    )
    outbox_max_attempts: int = field(default=6, metadata=_env("OUTBOX_MAX_ATTEMPTS", _whole(1)))
    outbox_retry_base_seconds: int = field(
        default=60, metadata=_env("OUTBOX_RETRY_BASE_SECONDS", _whole(0))
    )
    outbox_lease_seconds: int = field(default=300, metadata=_env("OUTBOX_LEASE_SECONDS", _whole(1)))
    # A message handed to the queue and not claimed within this time is handed again (its
    # job may have been lost with Redis); a second job for a message still waiting in a
    # long queue is harmless, as only one worker can claim the message.
    outbox_requeue_seconds: int = field(
        default=60, metadata=_env("OUTBOX_REQUEUE_SECONDS", _whole(1))
    )
    # Background jobs: the queue, the renewal-reminder windows (days before expiry) and
    # the schedule the scheduler (`python -m workers.scheduler`) keeps, in UTC.
    queue_name: str = field(default="default", metadata=_env("QUEUE_NAME", _text))
    reminder_windows: tuple[int, ...] = field(
        default=(90, 60, 30, 7, 0), metadata=_env("REMINDER_WINDOWS", _windows)
    )
    relay_interval_seconds: int = field(
        default=15, metadata=_env("RELAY_INTERVAL_SECONDS", _whole(1))
    )
    reminder_scan_cron: str = field(default="0 6 * * *", metadata=_env("REMINDER_SCAN_CRON", _cron))
    npi_retry_cron: str = field(default="17 * * * *", metadata=_env("NPI_RETRY_CRON", _cron))
    # Hourly, though dates change daily: a run missed at midnight (the scheduler down) is
    # made up within the hour, and the job is idempotent.
    assignment_dates_cron: str = field(
        default="2 * * * *", metadata=_env("ASSIGNMENT_DATES_CRON", _cron)
    )
    # Monthly, after the LEIE's republication by the 10th.
    exclusion_import_cron: str = field(
        default="30 6 11 * *", metadata=_env("EXCLUSION_IMPORT_CRON", _cron)
    )
    # Monthly exclusion screening of every active provider: 07:00 UTC on the 11th, the day
    # after the HHS-OIG publishes the LEIE's monthly files (by the 10th).
    screening_cron: str = field(default="0 7 11 * *", metadata=_env("SCREENING_CRON", _cron))
    # The file a worker or the scheduler touches each time round its loop, for a liveness
    # probe to check (`python -m workers.heartbeat`); unset: none.
    heartbeat_file: Path | None = field(default=None, metadata=_env("HEARTBEAT_FILE", _path))
    # How long a stopping API process (gunicorn, gunicorn.conf.py) has to answer the
    # requests it accepted before it is killed.
    graceful_timeout_seconds: int = field(
        default=25, metadata=_env("GRACEFUL_TIMEOUT_SECONDS", _whole(1))
    )
    # The port each process serves its Prometheus metrics on (app/metrics.py): the API's
    # gunicorn master, a worker, the scheduler; never the API's own port. 0: none.
    metrics_port: int = field(default=9100, metadata=_env("METRICS_PORT", _whole(0, 65535)))
    local_data_dir: Path = field(default=Path(".local"), metadata=_env("LOCAL_DATA_DIR", _path))
    database_pool_size: int = field(default=5, metadata=_env("DATABASE_POOL_SIZE", _whole(1)))
    # Server-side prepared statements (psycopg prepares a statement run 5 times on one
    # connection). Off behind PgBouncer in transaction pooling mode before 1.21, or without
    # its max_prepared_statements: there a prepared statement may not be on the server
    # connection the next transaction gets.
    database_prepared_statements: bool = field(
        default=True, metadata=_env("DATABASE_PREPARED_STATEMENTS", _flag)
    )
    # How long the service waits on the database: to connect (libpq's connect_timeout,
    # whole seconds, 2 at least), for a pooled connection, and, set on the application
    # role (`flask db ensure-roles`), for a statement, a lock, and a transaction left idle.
    database_connect_timeout_seconds: int = field(
        default=3, metadata=_env("DATABASE_CONNECT_TIMEOUT_SECONDS", _whole(2))
    )
    database_pool_timeout_seconds: float = field(
        default=5.0, metadata=_env("DATABASE_POOL_TIMEOUT_SECONDS", _seconds)
    )
    database_statement_timeout_seconds: float = field(
        default=15.0, metadata=_env("DATABASE_STATEMENT_TIMEOUT_SECONDS", _seconds)
    )
    database_lock_timeout_seconds: float = field(
        default=5.0, metadata=_env("DATABASE_LOCK_TIMEOUT_SECONDS", _seconds)
    )
    database_idle_in_transaction_timeout_seconds: float = field(
        default=30.0, metadata=_env("DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_SECONDS", _seconds)
    )
    # How long a Redis command (or connecting for one) may take.
    redis_timeout_seconds: float = field(
        default=2.0, metadata=_env("REDIS_TIMEOUT_SECONDS", _seconds)
    )
    # Brute-force protection (app/auth/throttle.py). Request limits in the `limits`
    # notation ("10/minute;100/hour"), per client address and per account (the email,
    # challenge or token a guess is aimed at).
    rate_limit_sign_in: str = field(
        default="30/minute;300/hour", metadata=_env("RATE_LIMIT_SIGN_IN", _rate_limits)
    )
    rate_limit_sign_in_account: str = field(
        default="10/minute;60/hour", metadata=_env("RATE_LIMIT_SIGN_IN_ACCOUNT", _rate_limits)
    )
    rate_limit_refresh: str = field(
        default="60/minute", metadata=_env("RATE_LIMIT_REFRESH", _rate_limits)
    )
    rate_limit_password_reset: str = field(
        default="20/hour", metadata=_env("RATE_LIMIT_PASSWORD_RESET", _rate_limits)
    )
    rate_limit_password_reset_account: str = field(
        default="5/hour", metadata=_env("RATE_LIMIT_PASSWORD_RESET_ACCOUNT", _rate_limits)
    )
    # The links an email carries (invitations, password resets): their tokens.
    rate_limit_links: str = field(
        default="30/minute;300/hour", metadata=_env("RATE_LIMIT_LINKS", _rate_limits)
    )
    rate_limit_links_token: str = field(
        default="10/minute", metadata=_env("RATE_LIMIT_LINKS_TOKEN", _rate_limits)
    )
    # After this many failed sign-ins in a row, an account waits before the next attempt:
    # the first delay, doubled with each further failure, up to the cap.
    sign_in_free_failures: int = field(default=5, metadata=_env("SIGN_IN_FREE_FAILURES", _whole(1)))
    sign_in_delay_seconds: int = field(
        default=15, metadata=_env("SIGN_IN_DELAY_SECONDS", _whole(1))
    )
    sign_in_delay_max_seconds: int = field(
        default=900, metadata=_env("SIGN_IN_DELAY_MAX_SECONDS", _whole(1))
    )
    # Prefixes the limits' Redis keys: deployments sharing one Redis count apart.
    rate_limit_key_prefix: str = field(
        default="rate-limit", metadata=_env("RATE_LIMIT_KEY_PREFIX", _text)
    )
    # How many reverse proxies (ingress, load balancer) stand in front of the service and
    # append the client's address to X-Forwarded-For. 0: the header is ignored, and the
    # client is the connection's peer.
    trusted_proxy_count: int = field(default=0, metadata=_env("TRUSTED_PROXY_COUNT", _whole(0)))
    # The deployment is reached over HTTPS only: every response tells browsers so
    # (Strict-Transport-Security), even one to a request that reached the service as
    # plain HTTP (TLS ended at a proxy that does not say so). Off: only responses to
    # requests seen as HTTPS carry it (app/security_headers.py).
    https_only: bool = field(default=False, metadata=_env("HTTPS_ONLY", _flag))
    # The web origins whose pages may call the API from a browser (CORS, app/cors.py);
    # comma-separated, e.g. https://portal.example.com. None (the default): no other
    # origin may.
    cors_allowed_origins: tuple[str, ...] = field(
        default=(), metadata=_env("CORS_ALLOWED_ORIGINS", _origins)
    )
    # Traces (app/tracing.py): exported over OTLP/HTTP to this collector address (the
    # standard OpenTelemetry variable, which the exporter also reads for its path and
    # options); unset, nothing is traced and no tracer is set up. The service name
    # defaults to the process's own (msc-organizations-api, -worker, -scheduler).
    otel_exporter_otlp_endpoint: str | None = field(
        default=None, metadata=_env("OTEL_EXPORTER_OTLP_ENDPOINT", _text)
    )
    otel_service_name: str | None = field(default=None, metadata=_env("OTEL_SERVICE_NAME", _text))
    log_level: str = field(default="INFO", metadata=_env("LOG_LEVEL", _log_level))
    # `json` (one object per line) or `plain` (readable); unset: json in production,
    # plain elsewhere (see json_logs).
    log_format: str | None = field(
        default=None, metadata=_env("LOG_FORMAT", _one_of("json", "plain"))
    )
    # Flask's debug mode, which `flask --debug` also turns on through this variable: the
    # interactive debugger runs code sent to it. Read here so production can refuse it.
    debug: bool = field(default=False, metadata=_env("FLASK_DEBUG", _flag))

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> Settings:
        return cls(**_parsed(cls, environ))

    @property
    def json_logs(self) -> bool:
        """Whether log lines are JSON objects (LOG_FORMAT, by default in production)."""
        if self.log_format is None:
            return self.app_env == "production"
        return self.log_format == "json"

    @property
    def webhooks_require_https(self) -> bool:
        """Whether webhook endpoints must be https:// URLs: in production; elsewhere a
        plain http:// receiver on a developer's machine will do."""
        return self.app_env == "production"

    def production_problems(self) -> list[str]:
        """What in these settings must never reach production, one entry per offending
        variable, each naming it; empty when they may."""
        problems: list[str] = []
        secrets = (
            ("JWT_SECRET_KEY", self.jwt_secret_key, DEV_JWT_SECRET),
            ("OUTBOX_SECRET_KEY", self.outbox_secret_key, DEV_OUTBOX_SECRET),
            ("MFA_ENCRYPTION_KEY", self.mfa_encryption_key, DEV_MFA_SECRET),
            ("TENANT_CONTEXT_KEY", self.tenant_context_key, DEV_TENANT_CONTEXT_KEY),
        )
        for name, value, development in secrets:
            if value == development:
                problems.append(f"{name} is the development key")
            elif len(value) < MIN_SECRET_LENGTH:
                problems.append(f"{name} must be a random value of {MIN_SECRET_LENGTH}+ chars")
        # Even as a key that only decrypts: what it encrypted is as good as plaintext.
        if any(key.secret == DEV_DOCUMENT_KEY.secret for key in self.document_encryption_keys):
            problems.append("DOCUMENT_ENCRYPTION_KEYS holds the development key")
        for name, url in (("DATABASE_URL", self.database_url), ("REDIS_URL", self.redis_url)):
            if not url:
                problems.append(f"{name} is required")
        databases = (
            ("DATABASE_URL", self.database_url),
            ("DATABASE_OWNER_URL", self.database_owner_url),
            ("DATABASE_ADMIN_URL", self.database_admin_url),
        )
        for name, url in databases:
            if url and _password(url) in (DEV_OWNER_PASSWORD, DEV_APP_PASSWORD):
                problems.append(f"{name} carries a development password")
        if not self.smtp_starttls:
            problems.append("SMTP_STARTTLS must be on: mail carries sign-in and reset links")
        if not self.document_storage_path.is_absolute():
            problems.append(
                "DOCUMENT_STORAGE_PATH must be the absolute path of the documents' volume, "
                f"not {str(self.document_storage_path)!r}"
            )
        if self.debug:
            problems.append("FLASK_DEBUG must be off")
        if self.webhook_allowed_networks:
            problems.append(
                "WEBHOOK_ALLOWED_NETWORKS must be empty: it lets webhooks reach private addresses"
            )
        return problems

    def check(self) -> None:
        """Refuse settings that must never reach production: every process calls this
        before it connects to anything (app.services.start, workers.scheduler)."""
        if self.app_env == "production" and (problems := self.production_problems()):
            raise ProductionConfigError(problems)


def _password(url: str) -> str | None:
    """The password in a connection URL, decoded; None without one (or unparsable)."""
    try:
        password = urlsplit(url).password
    except ValueError:
        return None
    return unquote(password) if password is not None else None


@dataclass(frozen=True)
class DemoSettings:
    """Where `make run` (app/demo.py) serves the API, and how many workers it starts."""

    host: str = field(default="127.0.0.1", metadata=_env("HOST", _text))
    port: int = field(default=8000, metadata=_env("PORT", _port))
    workers: int = field(default=1, metadata=_env("WORKERS", _whole(0)))

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> DemoSettings:
        return cls(**_parsed(cls, environ))


def child_environment(**overrides: str) -> dict[str, str]:
    """The environment for a process this one starts: its own, with `overrides`."""
    return {**os.environ, **overrides}
