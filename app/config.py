"""Settings read from the environment, in one place.

Every variable is listed in README.md. Development defaults are named as such and are
refused when APP_ENV=production.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

DEV_JWT_SECRET = "dev-only-insecure-jwt-secret-change-me"
DEV_OUTBOX_SECRET = "dev-only-insecure-outbox-secret-change-me"


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    return int(raw) if raw else default


@dataclass(frozen=True)
class Settings:
    app_env: str = "development"
    region: str = "local"
    database_url: str | None = None
    database_owner_url: str | None = None
    database_admin_url: str | None = None
    redis_url: str | None = None
    jwt_secret_key: str = DEV_JWT_SECRET
    access_token_lifetime: timedelta = timedelta(minutes=15)
    refresh_token_lifetime: timedelta = timedelta(days=30)
    invitation_lifetime: timedelta = timedelta(days=7)
    public_base_url: str = "http://127.0.0.1:8000"
    # Uploaded documents: where the local store keeps them, and the largest accepted.
    document_storage_path: Path = Path(".local/documents")
    document_max_bytes: int = 10 * 1024 * 1024
    # The NPPES NPI Registry API: base URL, per-request timeout, how long answers are kept.
    npi_registry_url: str = "https://npiregistry.cms.hhs.gov/api/"
    npi_registry_timeout_seconds: float = 5.0
    npi_registry_cache_hours: int = 24
    # Outgoing email (SMTP) and the outbox's delivery rules.
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 1025
    smtp_starttls: bool = False
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_sender: str = "MSC Organizations <no-reply@msc.example.com>"
    smtp_timeout_seconds: float = 10.0
    outbox_secret_key: str = DEV_OUTBOX_SECRET
    outbox_max_attempts: int = 6
    outbox_retry_base_seconds: int = 60
    outbox_lease_seconds: int = 300
    # Background jobs: the queue name and the renewal-reminder windows (days before expiry).
    queue_name: str = "default"
    reminder_windows: tuple[int, ...] = (90, 60, 30, 7, 0)
    local_data_dir: Path = Path(".local")
    database_pool_size: int = 5
    log_level: str = "INFO"

    @classmethod
    def from_env(cls) -> Settings:
        env = os.environ
        return cls(
            app_env=env.get("APP_ENV", "development"),
            region=env.get("REGION", "local"),
            database_url=env.get("DATABASE_URL") or None,
            database_owner_url=env.get("DATABASE_OWNER_URL") or None,
            database_admin_url=env.get("DATABASE_ADMIN_URL") or None,
            redis_url=env.get("REDIS_URL") or None,
            jwt_secret_key=env.get("JWT_SECRET_KEY", DEV_JWT_SECRET),
            access_token_lifetime=timedelta(minutes=_env_int("JWT_ACCESS_TOKEN_MINUTES", 15)),
            refresh_token_lifetime=timedelta(days=_env_int("JWT_REFRESH_TOKEN_DAYS", 30)),
            invitation_lifetime=timedelta(hours=_env_int("INVITATION_TTL_HOURS", 7 * 24)),
            public_base_url=env.get("PUBLIC_BASE_URL", "http://127.0.0.1:8000"),
            document_storage_path=Path(env.get("DOCUMENT_STORAGE_PATH", ".local/documents")),
            document_max_bytes=_env_int("DOCUMENT_MAX_BYTES", 10 * 1024 * 1024),
            npi_registry_url=env.get("NPI_REGISTRY_URL", "https://npiregistry.cms.hhs.gov/api/"),
            npi_registry_timeout_seconds=float(env.get("NPI_REGISTRY_TIMEOUT_SECONDS", "5")),
            npi_registry_cache_hours=_env_int("NPI_REGISTRY_CACHE_HOURS", 24),
            smtp_host=env.get("SMTP_HOST", "127.0.0.1"),
            smtp_port=_env_int("SMTP_PORT", 1025),
            smtp_starttls=env.get("SMTP_STARTTLS", "false").lower() in ("1", "true", "yes"),
            smtp_username=env.get("SMTP_USERNAME") or None,
            smtp_password=env.get("SMTP_PASSWORD") or None,
            smtp_sender=env.get("SMTP_SENDER", "MSC Organizations <no-reply@msc.example.com>"),
            smtp_timeout_seconds=float(env.get("SMTP_TIMEOUT_SECONDS", "10")),
            outbox_secret_key=env.get("OUTBOX_SECRET_KEY", DEV_OUTBOX_SECRET),
            outbox_max_attempts=_env_int("OUTBOX_MAX_ATTEMPTS", 6),
            outbox_retry_base_seconds=_env_int("OUTBOX_RETRY_BASE_SECONDS", 60),
            outbox_lease_seconds=_env_int("OUTBOX_LEASE_SECONDS", 300),
            queue_name=env.get("QUEUE_NAME", "default"),
            reminder_windows=tuple(
                sorted(
                    (int(d) for d in env.get("REMINDER_WINDOWS", "90,60,30,7,0").split(",")),
                    reverse=True,
                )
            ),
            local_data_dir=Path(env.get("LOCAL_DATA_DIR", ".local")),
            database_pool_size=_env_int("DATABASE_POOL_SIZE", 5),
            log_level=env.get("LOG_LEVEL", "INFO"),
        )

    def check(self) -> None:
        """Refuse settings that must never reach production."""
        if self.app_env == "production":
            if self.jwt_secret_key == DEV_JWT_SECRET or len(self.jwt_secret_key) < 32:
                raise RuntimeError("JWT_SECRET_KEY must be set to a random value of 32+ chars")
            if self.outbox_secret_key == DEV_OUTBOX_SECRET or len(self.outbox_secret_key) < 32:
                raise RuntimeError("OUTBOX_SECRET_KEY must be set to a random value of 32+ chars")
            if not self.database_url or not self.redis_url:
                raise RuntimeError("DATABASE_URL and REDIS_URL are required in production")


def current_settings() -> Settings:
    """The settings of the application handling the current request or command."""
    from flask import current_app

    settings: Settings = current_app.config["SETTINGS"]
    return settings
