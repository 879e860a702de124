"""Demo data for local runs: an MSC admin, two tenants (one with a child organization),
their admins, facilities, and a provider who works for both tenants; and `make run`
(`python -m app.demo`), which serves the API with them."""

from __future__ import annotations

import datetime as dt
import signal
import subprocess  # nosec B404
import sys
from dataclasses import replace
from pathlib import Path
from types import FrameType

import click
from sqlalchemy import select
from sqlalchemy.orm import Session

from app import clock, local
from app.auth.passwords import hash_password
from app.config import DemoSettings, Settings, child_environment
from app.domain import assignments, members, onboarding
from app.extensions import current_settings, db
from app.models import Facility, Membership, Organization, ProviderFacility, User
from app.models.enums import AssignmentStatus, Role
from app.tenancy.context import TenantContext, use_context

# Development-only password shared by every demo login (never deployed: bandit B105).
DEMO_PASSWORD = "demo-password"  # nosec B105

LOGINS = [
    ("msc-admin@example.com", "MSC admin (every tenant)"),
    ("admin@northwind.example", "organization admin, Northwind Health System (+ child)"),
    ("admin@riverside.example", "organization admin, Riverside Family Practice"),
    ("dr.lee@example.com", "provider at both Northwind and Riverside"),
]


def seed_demo() -> None:
    session = db.session
    # An explicit MSC system context: the policies admit it, the audit trail records it.
    use_context(session, TenantContext.system("demo-seed"))
    if session.scalar(select(User.id).where(User.email == LOGINS[0][0])) is not None:
        return
    password = hash_password(DEMO_PASSWORD)

    def user(email: str, name: str, **extra: object) -> User:
        row = User(email=email, name=name, password_hash=password, **extra)
        session.add(row)
        return row

    user("msc-admin@example.com", "Morgan Castillo", is_msc_admin=True)
    northwind_admin = user("admin@northwind.example", "Nadia Wells")
    riverside_admin = user("admin@riverside.example", "Ravi Shah")
    provider = user("dr.lee@example.com", "Dr. Jordan Lee", npi="1234567893")
    session.flush()

    northwind = _organization(session, "Northwind Health System", "hospital_system")
    pediatrics = _organization(session, "Northwind Pediatrics", "group_practice", parent=northwind)
    riverside = _organization(session, "Riverside Family Practice", "group_practice")

    joined = [
        (northwind, northwind_admin, Role.ORGANIZATION_ADMIN),
        (riverside, riverside_admin, Role.ORGANIZATION_ADMIN),
        (northwind, provider, Role.PROVIDER),
        (riverside, provider, Role.PROVIDER),
    ]
    for org, person, role in joined:
        session.add(Membership(organization_id=org.id, user_id=person.id, role=role))
    members.sync_organization_ids(session, (person.id for _, person, _ in joined))

    facilities = {
        "nw-main": _facility(session, northwind, "Northwind General Hospital", "hospital", "IL"),
        "nw-wound": _facility(session, northwind, "Northwind Wound Center", "wound_center", "WI"),
        "peds": _facility(session, pediatrics, "Northwind Pediatrics Clinic", "clinic", "MN"),
        "rv-main": _facility(session, riverside, "Riverside Clinic", "clinic", "TX"),
    }
    session.flush()
    for organization_id in {f.organization_id for f in facilities.values()}:
        onboarding.mark_started(session, organization_id)
    at = {
        key: ProviderFacility(
            organization_id=facilities[key].organization_id,
            user_id=provider.id,
            facility_id=facilities[key].id,
            start_date=dt.date(2026, 1, 5),
            status=AssignmentStatus.ACTIVE,
        )
        for key in ("nw-main", "rv-main")
    }
    session.add_all(at.values())
    session.flush()
    assignments.make_primary(session, at["nw-main"])
    session.commit()


def _organization(
    session: Session, name: str, kind: str, parent: Organization | None = None
) -> Organization:
    org = Organization(
        name=name,
        organization_type=kind,
        status="active",
        parent_organization_id=parent.id if parent else None,
        activated_at=clock.now(),
    )
    session.add(org)
    session.flush()
    return org


def _facility(session: Session, org: Organization, name: str, kind: str, state: str) -> Facility:
    facility = Facility(organization_id=org.id, name=name, facility_type=kind, state=state)
    session.add(facility)
    return facility


def print_logins() -> None:
    click.echo(f"Demo logins (password for all: {DEMO_PASSWORD}):")
    for email, what in LOGINS:
        click.echo(f"  {email:28} {what}")


def _runs_smtp_sink(settings: Settings) -> bool:
    """Whether the demo brings its own SMTP relay: unless SMTP_HOST names one, a local
    sink that prints what it receives listens where the settings say the relay is."""
    return settings.smtp_host == Settings.smtp_host


def _background_processes(settings: Settings, workers: int) -> list[subprocess.Popen[bytes]]:
    """`workers` workers, the scheduler and (see `_runs_smtp_sink`) an SMTP sink, all on
    the same database and Redis as the API. Each has a session of its own, so that a
    Ctrl-C reaches this process alone, which stops them in order (`_stop`)."""
    env = child_environment(
        DATABASE_URL=settings.database_url or "",
        DATABASE_OWNER_URL=settings.database_owner_url or "",
        DATABASE_ADMIN_URL=settings.database_admin_url or "",
        REDIS_URL=settings.redis_url or "",
        REGION=settings.region,
        PUBLIC_BASE_URL=settings.public_base_url,
        # On one machine they would all want the one metrics port: the demo serves none.
        METRICS_PORT="0",
    )
    bin_dir = Path(sys.executable).parent
    worker = [
        str(bin_dir / "rq"),
        "worker",
        "--url",
        settings.redis_url or "",
        "--worker-class",
        "workers.worker.Worker",
        settings.queue_name,
    ]
    commands = [worker] * workers
    commands.append([sys.executable, "-m", "workers.scheduler"])
    if _runs_smtp_sink(settings):
        sink = f"{settings.smtp_host}:{settings.smtp_port}"
        commands.append([sys.executable, "-m", "aiosmtpd", "-n", "-l", sink])
    # The demo starts its own processes (the subprocess import, bandit B404): this
    # interpreter's own modules, as argument lists, no shell (bandit B603).
    return [subprocess.Popen(c, env=env, start_new_session=True) for c in commands]  # nosec B603


def _stop(processes: list[subprocess.Popen[bytes]]) -> None:
    """SIGTERM: a worker finishes the job in hand, the scheduler its round. Whatever is
    still running after a while is killed."""
    for process in processes:
        process.terminate()
    for process in processes:
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main() -> None:
    """Set everything up, seed the demo, start the background processes, serve the API.
    Ctrl-C (SIGINT) or SIGTERM stops what it started: the background processes, then
    the embedded PostgreSQL and Redis if it started them (app/local.py)."""
    from werkzeug.serving import run_simple

    from app.factory import create_app
    from app.security_headers import QuietRequestHandler

    signal.signal(signal.SIGTERM, _interrupt)
    demo = DemoSettings.from_env()
    settings = Settings.from_env()
    if settings.public_base_url == Settings.public_base_url:
        # Links in emails point at this server unless PUBLIC_BASE_URL says otherwise.
        settings = replace(settings, public_base_url=f"http://{demo.host}:{demo.port}")
    processes: list[subprocess.Popen[bytes]] = []
    try:
        app = create_app(settings)
        with app.app_context():
            settings = current_settings()
            seed_demo()
        processes = _background_processes(settings, demo.workers)
        click.echo(f"\nAPI docs: http://{demo.host}:{demo.port}/docs")
        print_logins()
        click.echo(
            f"Background: worker(s), scheduler{', SMTP sink' if _runs_smtp_sink(settings) else ''}"
            f" (pids {', '.join(str(p.pid) for p in processes)});"
            f" `rq info --url {settings.redis_url}`"
        )
        # returns on KeyboardInterrupt
        run_simple(demo.host, demo.port, app, threaded=True, request_handler=QuietRequestHandler)
    except KeyboardInterrupt:
        pass  # interrupted while starting
    finally:
        _stop(processes)
        local.stop_embedded()


if __name__ == "__main__":
    main()
