"""Command-line tasks: `flask --app wsgi <command>`."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import click
from flask import Flask

from app import migrate
from app.extensions import current_settings
from app.tenancy.roles import ensure_roles


def _require(value: str | None, name: str) -> str:
    if not value:
        raise click.UsageError(f"{name} is not set")
    return value


def init_cli(app: Flask) -> None:
    db_group = click.Group("db", help="Database roles and migrations.")

    @db_group.command("ensure-roles")
    def ensure_roles_command() -> None:
        """Create or update the owner and application roles and their grants (idempotent).

        Uses DATABASE_ADMIN_URL; role names and passwords come from DATABASE_OWNER_URL
        and DATABASE_URL, the application role's statement, lock and idle-in-transaction
        timeouts from their DATABASE_*_TIMEOUT_SECONDS."""
        settings = current_settings()
        ensure_roles(
            _require(settings.database_admin_url, "DATABASE_ADMIN_URL"),
            _require(settings.database_owner_url, "DATABASE_OWNER_URL"),
            _require(settings.database_url, "DATABASE_URL"),
            settings,
        )
        click.echo("roles and grants are up to date")

    @db_group.command("upgrade")
    @click.argument("revision", default="head")
    def upgrade_command(revision: str) -> None:
        """Migrate the schema up (as the owner role, DATABASE_OWNER_URL) and record the
        database's region (REGION); refuses a database that belongs to another region."""
        settings = current_settings()
        owner_url = _require(settings.database_owner_url, "DATABASE_OWNER_URL")
        migrate.upgrade(owner_url, revision, region=settings.region)

    @db_group.command("downgrade")
    @click.argument("revision")
    def downgrade_command(revision: str) -> None:
        """Migrate the schema down to REVISION (`base` empties the database)."""
        migrate.downgrade(
            _require(current_settings().database_owner_url, "DATABASE_OWNER_URL"), revision
        )

    app.cli.add_command(db_group)

    @app.cli.command("seed-demo")
    def seed_demo_command() -> None:
        """Load the demo organizations and logins (skipped if already there)."""
        from app.demo import print_logins, seed_demo

        seed_demo()
        print_logins()

    jobs_group = click.Group("jobs", help="Run background jobs once, here and now.")

    @jobs_group.command("scan-reminders")
    def scan_reminders_command() -> None:
        """Scan for expiring credentials and documents (idempotent), then relay."""
        from workers import jobs

        click.echo(f"reminders written and relayed: {jobs.scan_reminders()}")

    @jobs_group.command("relay-outbox")
    def relay_outbox_command() -> None:
        """Hand due outbox messages to the queue."""
        from workers import jobs

        click.echo(f"messages queued: {jobs.relay_outbox()}")

    @jobs_group.command("relay-webhooks")
    def relay_webhooks_command() -> None:
        """Hand due webhook deliveries to the queue."""
        from workers import jobs

        click.echo(f"webhook deliveries queued: {jobs.relay_webhooks()}")

    @jobs_group.command("apply-assignment-dates")
    def apply_assignment_dates_command() -> None:
        """Activate the assignments whose start date has come and end those whose end
        date has (idempotent)."""
        from workers import jobs

        click.echo(f"assignments activated or ended: {jobs.apply_assignment_dates()}")

    app.cli.add_command(jobs_group)

    documents_group = click.Group("documents", help="Uploaded documents' stored files.")

    @documents_group.command("encrypt-stored")
    def encrypt_stored_command() -> None:
        """Encrypt every document file stored in the clear (before documents were
        encrypted), and wrap every file's key under the first of DOCUMENT_ENCRYPTION_KEYS.
        Idempotent, safe beside the running service: run it once after upgrading, and after
        putting a new key first, before removing the old one. Files that do not open are
        listed and left as they are; the command then fails."""
        from app.integrations.storage import store_for

        settings = current_settings()
        report = store_for(settings).encrypt_stored()
        current = settings.document_encryption_keys[0].key_id
        click.echo(
            f"encrypted: {report.encrypted}, rewrapped under {current!r}: {report.rewrapped},"
            f" already under {current!r}: {report.current}, unreadable: {len(report.unreadable)}"
        )
        for key, reason in report.unreadable:
            click.echo(f"{key}: {reason}", err=True)
        if report.unreadable:
            raise click.ClickException(
                "some files do not open: keep every master key they may need until they"
                " are restored from a backup or their documents deleted"
            )

    app.cli.add_command(documents_group)

    exclusions_group = click.Group(
        "exclusions", help="The exclusion lists (HHS-OIG LEIE, SAM.gov) screening reads."
    )

    @exclusions_group.command("import-leie")
    @click.argument(
        "path", type=click.Path(exists=True, dir_okay=False, readable=True, path_type=Path)
    )
    @click.option(
        "--supplement", is_flag=True, help="A monthly supplement, not the full UPDATED.csv."
    )
    @click.option(
        "--published-on",
        type=click.DateTime(formats=["%Y-%m-%d"]),
        help="The date the OIG published the file (default: from a name like"
        " UPDATED-2026-11.csv or UPDATED-2026-11-10.csv).",
    )
    def import_leie_command(path: Path, supplement: bool, published_on: datetime | None) -> None:
        """Import a LEIE CSV file as a new version of the list, in one transaction. The
        same file again changes nothing; a malformed file, or one published before the
        version in force, is refused whole (the line and the reason) and the command
        fails. A new version is followed by a screening of every active provider."""
        from app.domain.errors import DomainError
        from workers import jobs

        published = published_on.date() if published_on else None
        try:
            result = jobs.import_leie_file(path, supplement=supplement, published_on=published)
        except DomainError as exc:
            raise click.ClickException(f"{path.name}: {exc.message}") from None
        click.echo(str(result))
        jobs.screen_after_import([result])

    @exclusions_group.command("fetch-sam")
    def fetch_sam_command() -> None:
        """Download SAM.gov's newest public Exclusions extract (SAM_EXTRACT_URL,
        SAM_API_KEY) and import it as a new version; a download that fails or a file
        refused leaves the version in force, and the command fails."""
        from app.domain.errors import DomainError
        from app.integrations.sam import DownloadFailed
        from workers import jobs

        _require(current_settings().sam_api_key, "SAM_API_KEY")
        try:
            result = jobs.fetch_sam()
        except DownloadFailed as exc:
            raise click.ClickException(f"the SAM.gov extract was not downloaded: {exc}") from None
        except DomainError as exc:
            raise click.ClickException(f"the SAM.gov extract: {exc.message}") from None
        click.echo(str(result))
        jobs.screen_after_import([result])

    @exclusions_group.command("import-sam-extract")
    @click.argument(
        "path", type=click.Path(exists=True, dir_okay=False, readable=True, path_type=Path)
    )
    @click.option(
        "--published-on",
        type=click.DateTime(formats=["%Y-%m-%d"]),
        help="The date SAM.gov published the extract (default: from its name,"
        " SAM_Exclusions_Public_Extract_V2_26335.ZIP: 2026's 335th day).",
    )
    def import_sam_extract_command(path: Path, published_on: datetime | None) -> None:
        """Import a SAM.gov public Exclusions extract (the ZIP as downloaded) as a new
        version, in one transaction: its individuals' exclusions in force. The same file
        again changes nothing; a malformed file, or one published before the version in
        force, is refused whole (the line and the reason) and the command fails."""
        from app.domain import exclusion_lists
        from app.domain.errors import DomainError
        from workers import jobs

        published = (
            published_on.date() if published_on else exclusion_lists.extract_published_on(path.name)
        )
        if published is None:
            raise click.ClickException(
                f"{path.name}: no publication date: give it (--published-on)"
            )
        try:
            result = jobs.import_sam_extract_file(path, published_on=published)
        except DomainError as exc:
            raise click.ClickException(f"{path.name}: {exc.message}") from None
        click.echo(str(result))
        jobs.screen_after_import([result])

    @exclusions_group.command("screen")
    def screen_command() -> None:
        """Screen every active provider against the exclusion lists in force now (as
        the monthly job does, recorded with the reason "manual")."""
        from workers import jobs

        click.echo(f"screenings written: {jobs.screen_providers('manual')}")

    app.cli.add_command(exclusions_group)
