"""Settings from the environment, without a database: each default is its field's, each
value is parsed, a malformed one is refused by name, and production refuses development
secrets."""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import ipaddress
import os
import re
from pathlib import Path

import pytest
from redis import Redis
from rq.cron import CronScheduler

from app.config import (
    DEV_APP_PASSWORD,
    DEV_DOCUMENT_KEY,
    DEV_JWT_SECRET,
    DEV_MFA_SECRET,
    DEV_OUTBOX_SECRET,
    DEV_OWNER_PASSWORD,
    DEV_TENANT_CONTEXT_KEY,
    ConfigError,
    DemoSettings,
    MasterKey,
    ProductionConfigError,
    Settings,
)
from app.factory import create_app
from workers import cron, runtime, scheduler

README = Path(__file__).resolve().parents[2] / "README.md"
SECRET = "x" * 32
DOCUMENT_KEY = MasterKey("2026-01", os.urandom(32))


def _variables(cls: type[Settings] | type[DemoSettings]) -> set[str]:
    return {field.metadata["env"] for field in dataclasses.fields(cls)}


def test_unset_and_empty_variables_keep_the_field_defaults() -> None:
    assert Settings.from_env({}) == Settings()
    assert Settings.from_env(dict.fromkeys(_variables(Settings), "")) == Settings()
    assert DemoSettings.from_env({}) == DemoSettings(host="127.0.0.1", port=8000, workers=1)


def test_defaults() -> None:
    settings = Settings()
    assert settings.app_env == "development"
    assert settings.smtp_starttls is False
    assert settings.access_token_lifetime == dt.timedelta(minutes=15)
    assert settings.invitation_lifetime == dt.timedelta(hours=168)
    assert settings.reminder_windows == (90, 60, 30, 7, 0)
    assert settings.relay_interval_seconds == 15
    assert settings.reminder_scan_cron == "0 6 * * *"
    assert settings.npi_retry_cron == "17 * * * *"
    assert settings.assignment_dates_cron == "2 * * * *"


def test_every_variable_is_in_the_readme_table() -> None:
    section = README.read_text().split("## Configuration", 1)[1].split("\n## ", 1)[0]
    first_cells = [line.split("|")[1] for line in section.splitlines() if line.startswith("| `")]
    documented = {name for cell in first_cells for name in re.findall(r"`([A-Z_]+)`", cell)}
    assert documented == _variables(Settings) | _variables(DemoSettings)


def test_values_are_parsed() -> None:
    settings = Settings.from_env(
        {
            "APP_ENV": "test",
            "DATABASE_URL": "postgresql://app@db/msc",
            "JWT_ACCESS_TOKEN_MINUTES": "5",
            "JWT_REFRESH_TOKEN_DAYS": "2",
            "INVITATION_TTL_HOURS": "36",
            "DOCUMENT_STORAGE_PATH": "/srv/documents",
            "NPI_REGISTRY_TIMEOUT_SECONDS": "2.5",
            "NPI_REGISTRY_CACHE_HOURS": "0",
            "SMTP_PORT": "587",
            "SMTP_STARTTLS": "True",
            "OUTBOX_RETRY_BASE_SECONDS": "0",
            "REMINDER_WINDOWS": "7, 90,0,30",
            "RELAY_INTERVAL_SECONDS": "30",
            "REMINDER_SCAN_CRON": "30 5 * * 1-5",
            "NPI_RETRY_CRON": "*/20 * * * *",
            "ASSIGNMENT_DATES_CRON": "5 0 * * *",
            "LOG_LEVEL": "debug",
        }
    )
    assert settings.app_env == "test"
    assert settings.database_url == "postgresql://app@db/msc"
    assert settings.access_token_lifetime == dt.timedelta(minutes=5)
    assert settings.refresh_token_lifetime == dt.timedelta(days=2)
    assert settings.invitation_lifetime == dt.timedelta(hours=36)
    assert settings.document_storage_path == Path("/srv/documents")
    assert settings.npi_registry_timeout_seconds == 2.5
    assert settings.npi_registry_cache_hours == 0
    assert settings.smtp_port == 587
    assert settings.smtp_starttls is True
    assert settings.outbox_retry_base_seconds == 0
    assert settings.reminder_windows == (90, 30, 7, 0)
    assert settings.relay_interval_seconds == 30
    assert settings.reminder_scan_cron == "30 5 * * 1-5"
    assert settings.npi_retry_cron == "*/20 * * * *"
    assert settings.assignment_dates_cron == "5 0 * * *"
    assert settings.log_level == "DEBUG"
    assert DemoSettings.from_env({"HOST": "0.0.0.0", "PORT": "9000", "WORKERS": "0"}) == (
        DemoSettings(host="0.0.0.0", port=9000, workers=0)
    )


FLAGS = {
    **{"true": True, "1": True, "yes": True, "ON": True},
    **{"false": False, "0": False, "no": False, "Off": False},
}


@pytest.mark.parametrize(("raw", "expected"), FLAGS.items())
def test_flags(raw: str, expected: bool) -> None:
    assert Settings.from_env({"SMTP_STARTTLS": raw}).smtp_starttls is expected


def test_webhook_settings() -> None:
    settings = Settings.from_env(
        {
            "WEBHOOK_RETRY_DELAYS": "5, 60,0",
            "WEBHOOK_ALLOWED_NETWORKS": " 127.0.0.1/32, ::1 ,10.0.0.0/8",
            "WEBHOOK_DISABLE_AFTER_HOURS": "12",
        }
    )
    assert settings.webhook_retry_delays == (5, 60, 0)
    assert [str(n) for n in settings.webhook_allowed_networks] == [
        "127.0.0.1/32",
        "::1/128",
        "10.0.0.0/8",
    ]
    assert settings.webhook_disable_after == dt.timedelta(hours=12)
    assert Settings.from_env({}).webhook_allowed_networks == ()


def test_cors_origins() -> None:
    assert Settings.from_env({}).cors_allowed_origins == ()
    raw = " https://portal.example.com, http://127.0.0.1:3000 ,"
    assert Settings.from_env({"CORS_ALLOWED_ORIGINS": raw}).cors_allowed_origins == (
        "https://portal.example.com",
        "http://127.0.0.1:3000",
    )


@pytest.mark.parametrize(
    ("variable", "raw", "expected"),
    [
        ("SMTP_STARTTLS", "ture", "expected true/false"),
        ("APP_ENV", "prod", "expected one of development, test, production"),
        ("SMTP_PORT", "abc", "expected a whole number"),
        ("SMTP_PORT", "70000", "from 1 to 65535"),
        ("DOCUMENT_MAX_BYTES", "1.5", "expected a whole number"),
        ("DOCUMENT_MAX_BYTES", "-1", "at least 1"),
        ("JWT_ACCESS_TOKEN_MINUTES", "0", "at least 1"),
        ("INVITATION_TTL_HOURS", "-24", "at least 1"),
        ("OUTBOX_LEASE_SECONDS", "0", "at least 1"),
        ("DATABASE_POOL_SIZE", "many", "expected a whole number"),
        ("NPI_REGISTRY_TIMEOUT_SECONDS", "-5", "positive number of seconds"),
        ("SMTP_TIMEOUT_SECONDS", "nan", "positive number of seconds"),
        ("SMTP_TIMEOUT_SECONDS", "soon", "positive number of seconds"),
        ("REMINDER_WINDOWS", "90,,30", "separated by commas"),
        ("REMINDER_WINDOWS", "90;30", "separated by commas"),
        ("REMINDER_WINDOWS", "30,-7", "separated by commas"),
        ("REMINDER_WINDOWS", "30,30", "each day once"),
        ("REMINDER_SCAN_CRON", "0 25 * * *", "a cron expression"),
        ("NPI_RETRY_CRON", "hourly", "a cron expression"),
        ("ASSIGNMENT_DATES_CRON", "daily", "a cron expression"),
        ("LOG_LEVEL", "loud", "a logging level"),
        ("CORS_ALLOWED_ORIGINS", "*", "expected origins"),
        ("CORS_ALLOWED_ORIGINS", "https://portal.example.com/", "expected origins"),
        ("CORS_ALLOWED_ORIGINS", "https://Portal.example.com", "expected origins"),
        ("CORS_ALLOWED_ORIGINS", "portal.example.com", "expected origins"),
        ("WEBHOOK_RETRY_DELAYS", "5,soon", "whole seconds"),
        ("WEBHOOK_RETRY_DELAYS", "5,-1", "whole seconds"),
        ("WEBHOOK_ALLOWED_NETWORKS", "localhost", "address ranges"),
        ("WEBHOOK_ALLOWED_NETWORKS", "10.0.0.0/33", "address ranges"),
        ("WEBHOOK_RESPONSE_MAX_BYTES", "100000", "from 0 to 65536"),
    ],
)
def test_a_malformed_value_is_refused_by_name(variable: str, raw: str, expected: str) -> None:
    with pytest.raises(ConfigError, match=f"^{variable}: ") as refused:
        Settings.from_env({variable: raw})
    assert expected in str(refused.value)
    assert repr(raw) in str(refused.value)


def test_document_encryption_keys() -> None:
    assert Settings().document_encryption_keys == (DEV_DOCUMENT_KEY,)
    # Either base64 alphabet (these keys are "++++..." and "____..." in them); the first
    # listed is the one that encrypts.
    new, old = b"\xfb\xef\xbe" * 10 + b"\xfb\xe0", b"\xff" * 32
    standard, url_safe = base64.b64encode(new).decode(), base64.urlsafe_b64encode(old).decode()
    assert "+" in standard and "_" in url_safe
    raw = f" 2026-07:{standard} ,2026_01:{url_safe}"
    keys = Settings.from_env({"DOCUMENT_ENCRYPTION_KEYS": raw}).document_encryption_keys
    assert keys == (MasterKey("2026-07", new), MasterKey("2026_01", old))
    # The secrets stay out of the settings' repr, and so out of any log of them.
    assert standard not in repr(keys) and repr(new) not in repr(keys)


_KEY_TEXT = base64.b64encode(b"k" * 32).decode()


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (_KEY_TEXT, "expected id:key pairs"),
        (f"two words:{_KEY_TEXT}", "expected id:key pairs"),
        (f"k1:{_KEY_TEXT},", "pair 2 is not one"),
        ("k1:" + base64.b64encode(b"k" * 16).decode(), "32 random bytes in base64"),
        (f"k1:{_KEY_TEXT}!", "32 random bytes in base64"),
        (f"k1:{_KEY_TEXT},k1:{_KEY_TEXT}", "key id 'k1' is given twice"),
    ],
)
def test_a_malformed_document_key_is_refused_without_repeating_it(raw: str, expected: str) -> None:
    with pytest.raises(ConfigError, match=r"^DOCUMENT_ENCRYPTION_KEYS: ") as refused:
        Settings.from_env({"DOCUMENT_ENCRYPTION_KEYS": raw})
    assert expected in str(refused.value)
    assert _KEY_TEXT[:16] not in str(refused.value)


@pytest.mark.parametrize(
    ("variable", "raw"), [("PORT", "http"), ("PORT", "0"), ("WORKERS", "-1"), ("WORKERS", "2x")]
)
def test_a_malformed_demo_value_is_refused_by_name(variable: str, raw: str) -> None:
    with pytest.raises(ConfigError, match=f"^{variable}: expected a whole number"):
        DemoSettings.from_env({variable: raw})


def test_every_malformed_variable_is_named_at_once() -> None:
    with pytest.raises(ConfigError) as refused:
        Settings.from_env({"SMTP_STARTTLS": "ture", "SMTP_PORT": "abc", "REGION": "eu"})
    message = str(refused.value)
    assert "SMTP_STARTTLS: " in message
    assert "SMTP_PORT: " in message
    assert "REGION" not in message


def test_a_config_error_is_a_value_error() -> None:
    assert issubclass(ConfigError, ValueError)


def _production(**changes: object) -> Settings:
    ready = Settings(
        app_env="production",
        database_url="postgresql://msc_app:a-real-password@db/msc",
        database_owner_url="postgresql://msc_owner:another-password@db/msc",
        database_admin_url="postgresql://postgres@db/msc",
        redis_url="redis://cache:6379/0",
        jwt_secret_key=SECRET,
        outbox_secret_key=SECRET,
        mfa_encryption_key=SECRET,
        tenant_context_key=SECRET,
        document_encryption_keys=(DOCUMENT_KEY,),
        smtp_starttls=True,
        document_storage_path=Path("/var/lib/msc/documents"),
    )
    return dataclasses.replace(ready, **changes)


def test_production_accepts_real_secrets_and_services() -> None:
    assert _production().production_problems() == []
    _production().check()


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"jwt_secret_key": DEV_JWT_SECRET}, "JWT_SECRET_KEY"),
        ({"jwt_secret_key": "short"}, "JWT_SECRET_KEY"),
        ({"outbox_secret_key": DEV_OUTBOX_SECRET}, "OUTBOX_SECRET_KEY"),
        ({"outbox_secret_key": "short"}, "OUTBOX_SECRET_KEY"),
        ({"mfa_encryption_key": DEV_MFA_SECRET}, "MFA_ENCRYPTION_KEY"),
        ({"mfa_encryption_key": "short"}, "MFA_ENCRYPTION_KEY"),
        ({"tenant_context_key": DEV_TENANT_CONTEXT_KEY}, "TENANT_CONTEXT_KEY"),
        ({"tenant_context_key": "short"}, "TENANT_CONTEXT_KEY"),
        ({"document_encryption_keys": (DEV_DOCUMENT_KEY,)}, "DOCUMENT_ENCRYPTION_KEYS"),
        # Kept only to decrypt, or under another id: what it encrypted is public all the same.
        (
            {"document_encryption_keys": (DOCUMENT_KEY, DEV_DOCUMENT_KEY)},
            "DOCUMENT_ENCRYPTION_KEYS",
        ),
        (
            {"document_encryption_keys": (MasterKey("prod", DEV_DOCUMENT_KEY.secret),)},
            "DOCUMENT_ENCRYPTION_KEYS",
        ),
        ({"database_url": None}, "DATABASE_URL"),
        ({"redis_url": None}, "REDIS_URL"),
        ({"database_url": f"postgresql://msc_app:{DEV_APP_PASSWORD}@db/msc"}, "DATABASE_URL"),
        (
            {"database_owner_url": f"postgresql+psycopg://msc_owner:{DEV_OWNER_PASSWORD}@db/msc"},
            "DATABASE_OWNER_URL",
        ),
        (
            {"database_admin_url": f"postgresql://u:{DEV_OWNER_PASSWORD}@db/msc"},
            "DATABASE_ADMIN_URL",
        ),
        ({"smtp_starttls": False}, "SMTP_STARTTLS"),
        ({"document_storage_path": Path(".local/documents")}, "DOCUMENT_STORAGE_PATH"),
        ({"document_storage_path": Path("documents")}, "DOCUMENT_STORAGE_PATH"),
        ({"debug": True}, "FLASK_DEBUG"),
        (
            {"webhook_allowed_networks": (ipaddress.ip_network("127.0.0.1/32"),)},
            "WEBHOOK_ALLOWED_NETWORKS",
        ),
    ],
)
def test_production_refuses_development_settings(changes: dict[str, object], named: str) -> None:
    problems = _production(**changes).production_problems()
    assert len(problems) == 1
    assert problems[0].startswith(named)
    with pytest.raises(ProductionConfigError, match=named):
        _production(**changes).check()


def test_production_names_every_problem_at_once() -> None:
    # Nothing but APP_ENV set: every default that must not reach production is named.
    with pytest.raises(ProductionConfigError) as refused:
        Settings.from_env({"APP_ENV": "production", "FLASK_DEBUG": "1"}).check()
    named = {problem.split(" ", 1)[0] for problem in refused.value.problems}
    assert named == {
        "JWT_SECRET_KEY",
        "OUTBOX_SECRET_KEY",
        "MFA_ENCRYPTION_KEY",
        "TENANT_CONTEXT_KEY",
        "DOCUMENT_ENCRYPTION_KEYS",
        "DATABASE_URL",
        "REDIS_URL",
        "SMTP_STARTTLS",
        "DOCUMENT_STORAGE_PATH",
        "FLASK_DEBUG",
    }
    for name in named:
        assert name in str(refused.value)


def test_the_development_passwords_are_found_however_the_url_spells_them() -> None:
    encoded = DEV_APP_PASSWORD.replace("-", "%2D")
    settings = _production(
        database_url=f"postgresql://msc_app:{encoded}@db:5432/msc?sslmode=require"
    )
    assert settings.production_problems() == ["DATABASE_URL carries a development password"]


def test_development_keeps_its_defaults() -> None:
    Settings().check()
    Settings(app_env="test", debug=True).check()


def test_the_application_refuses_to_start_with_development_settings_in_production() -> None:
    # Refused before connecting to anything: no database or Redis is named.
    with pytest.raises(ProductionConfigError, match="JWT_SECRET_KEY"):
        create_app(Settings(app_env="production"))


def test_a_worker_refuses_to_start_with_development_settings_in_production(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # What the RQ worker opens before its first job (workers.worker.Worker.work).
    monkeypatch.setattr(runtime, "_services", None)
    monkeypatch.setenv("APP_ENV", "production")
    with pytest.raises(ProductionConfigError, match="DOCUMENT_STORAGE_PATH"):
        runtime.services()


def test_the_scheduler_refuses_to_start_with_development_settings_in_production(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("APP_ENV", "production")
    # Without REDIS_URL the scheduler would refuse for that alone: the check must come first.
    monkeypatch.delenv("REDIS_URL", raising=False)
    with pytest.raises(ProductionConfigError, match="SMTP_STARTTLS"):
        scheduler.main()


def test_the_schedule_comes_from_the_settings() -> None:
    settings = Settings.from_env(
        {
            "QUEUE_NAME": "reminders",
            "RELAY_INTERVAL_SECONDS": "30",
            "REMINDER_SCAN_CRON": "0 5 * * *",
            "NPI_RETRY_CRON": "*/20 * * * *",
            "ASSIGNMENT_DATES_CRON": "5 0 * * *",
        }
    )
    scheduler = CronScheduler(Redis())  # registering jobs connects to nothing
    cron.register(scheduler, settings)
    registered = {job.func_name.rsplit(".", 1)[1]: job for job in scheduler.get_jobs()}
    assert {job.queue_name for job in registered.values()} == {"reminders"}
    assert registered["relay_outbox"].interval == 30
    assert registered["relay_webhooks"].interval == 30
    assert registered["scan_reminders"].cron == "0 5 * * *"
    assert registered["retry_npi_verifications"].cron == "*/20 * * * *"
    assert registered["apply_assignment_dates"].cron == "5 0 * * *"


def test_a_malformed_schedule_stops_the_scheduler(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REMINDER_SCAN_CRON", "daily")
    with pytest.raises(ConfigError, match=r"^REMINDER_SCAN_CRON: "):
        scheduler.main()
