"""The jobs: relay the outbox, deliver one message, scan for renewal reminders, issue a
password reset link, retry NPI verifications, start and end assignments on their dates,
import the exclusion lists, screen providers against them, relay and deliver webhooks.

Every job logs what it worked on (outbox id, organization) and how it ended.
"""

from __future__ import annotations

import tempfile
import uuid
from datetime import date
from pathlib import Path

from cryptography.fernet import InvalidToken
from jinja2 import TemplateError
from rq import Queue
from sqlalchemy.orm import Session

from app import clock, metrics, tracing
from app.config import Settings
from app.domain import (
    assignments,
    exclusion_lists,
    npi,
    outbox,
    passwords,
    reminders,
    screening,
    webhooks,
)
from app.domain.errors import DomainError, Invalid
from app.domain.exclusion_lists import ImportResult
from app.domain.outbox import RetryPolicy
from app.integrations import mail, webhook_http
from app.integrations.nppes import NppesClient
from app.integrations.sam import DownloadFailed, download, download_extract
from app.models import OutboxMessage
from app.models.enums import OutboxStatus, WebhookDeliveryStatus
from workers.runtime import log, mailer, services, settings, system_session

DELIVER = "workers.jobs.deliver_message"
# A relay run hands over up to RELAY_ROUNDS batches of RELAY_BATCH messages, each batch
# its own transaction; the next run (RELAY_INTERVAL_SECONDS later) takes the rest. Far
# more than the workers send in the interval: the relay never holds delivery back.
RELAY_BATCH = 500
RELAY_ROUNDS = 20


def relay_outbox() -> int:
    """Hand due outbox messages to the queue (and recover abandoned ones)."""
    config = settings()
    policy = RetryPolicy.from_settings(config)
    queue = Queue(config.queue_name, connection=services().redis)

    def enqueue(message_id: uuid.UUID, attempts: int) -> None:
        queue.enqueue(
            DELIVER,
            str(message_id),
            job_id=f"outbox-{message_id}-{attempts}",
            job_timeout=int(config.smtp_timeout_seconds * 6),
            meta=tracing.job_meta(),
        )

    count = 0
    for _ in range(RELAY_ROUNDS):
        with system_session("relay-outbox") as session:
            relayed = outbox.relay(session, enqueue, clock.now(), policy, batch=RELAY_BATCH)
        count += relayed
        if relayed < RELAY_BATCH:
            break
    log.info("relay: %d message(s) queued", count)
    return count


def deliver_message(message_id: str) -> str:
    """Send one outbox message: claim, send, mark (see app/domain/outbox.py)."""
    config = settings()
    policy = RetryPolicy.from_settings(config)
    with system_session(f"deliver:{message_id}") as session:
        message = outbox.claim(session, uuid.UUID(message_id), clock.now(), policy)
        if message is None:
            log.info("outbox %s: not due or already handled, skipped", message_id)
            return "skipped"
        session.commit()  # the claim and its lease hold before anything is sent
        attributes: dict[str, str | int] = {
            "msc.outbox.message_id": message_id,
            "msc.outbox.kind": message.kind,
            "msc.outbox.attempt": message.attempts,
            tracing.ORGANIZATION_ID: str(message.organization_id or ""),
        }
        # Continues the trace of the request that wrote the message.
        with tracing.continued_span("outbox send", message.trace_context, attributes) as span:
            outcome = _send(session, message, config, policy)
            span.set_attribute("msc.outbox.outcome", str(outcome))
            return outcome


def _send(session: Session, message: OutboxMessage, config: Settings, policy: RetryPolicy) -> str:
    """Render and send the claimed message, and mark how it went; the outcome."""
    message_id = message.id
    tenant = message.organization_id or "-"
    try:
        sealer = outbox.Sealer(config.outbox_secret_key)
        email = mail.render(
            message.template,
            {**message.payload, **sealer.unseal(message.sealed_payload)},
            sender=config.smtp_sender,
            recipient=message.recipient_email,
            subject=message.subject,
            idempotency_key=message.idempotency_key,
        )
    except (TemplateError, ValueError, InvalidToken) as exc:
        # Its data cannot make a message (a template error, a line break in a header,
        # text that cannot be encoded): every attempt would fail alike, so it fails
        # now. A sealed payload that this worker's OUTBOX_SECRET_KEY does not open is
        # retried instead: during a key rotation, another worker's key may open it.
        sealed_elsewhere = isinstance(exc, InvalidToken)
        reason = "the sealed payload does not open" if sealed_elsewhere else str(exc)
        error = f"the message cannot be built: {type(exc).__name__}: {reason}"
        outbox.mark_failed_attempt(
            session, message, error, clock.now(), policy, permanent=not sealed_elsewhere
        )
        metrics.EMAILS_FAILED.inc()
        log.error(
            "outbox %s (organization %s): %s, now %s", message_id, tenant, error, message.status
        )
        return message.status

    def record_sent() -> None:
        outbox.mark_sent(session, message, clock.now())
        session.commit()

    try:
        reply = mailer().send(email, before_end_of_data=record_sent)
    except outbox.LostClaim as exc:
        # Another worker has the message now; this attempt never completed it.
        log.warning("outbox %s (organization %s): %s", message_id, tenant, exc)
        return "skipped"
    except mail.UnconfirmedDelivery as exc:
        # Sent, as far as anyone can tell: keep it so, and say so.
        outbox.confirm_sent(session, message, f"unconfirmed: {exc}")
        metrics.EMAILS_SENT.inc()
        log.warning("outbox %s (organization %s): %s", message_id, tenant, exc)
        return OutboxStatus.SENT
    except mail.DeliveryError as exc:
        # Refused before or after the sent mark: either way, not delivered.
        outbox.mark_failed_attempt(session, message, str(exc), clock.now(), policy)
        metrics.EMAILS_FAILED.inc()
        log.warning(
            "outbox %s (organization %s): attempt %d failed, now %s: %s",
            message_id,
            tenant,
            message.attempts,
            message.status,
            exc,
        )
        return message.status
    outbox.confirm_sent(session, message, reply)
    metrics.EMAILS_SENT.inc()
    log.info("outbox %s (organization %s): sent (%s)", message_id, tenant, reply)
    return OutboxStatus.SENT


def scan_reminders() -> int:
    """The daily scan for expiring credentials and documents; then relay what it wrote."""
    config = settings()
    today = clock.today()
    with system_session(f"reminder-scan:{today}") as session:
        result = reminders.scan(session, today, config.reminder_windows, config.public_base_url)
    metrics.REMINDERS_WRITTEN.inc(result.total)  # once committed: a scan rolled back wrote none
    log.info("reminder scan %s: %s", today, result)
    relay_outbox()
    return result.total


def issue_password_reset(email: str, request_id: str) -> None:
    """Email a reset link to the active account with this email, if there is one (see
    app/domain/passwords.py); then relay it, so that it leaves now rather than at the
    next relay. Queued by the reset request (app/blueprints/passwords.py), which
    answers at once: done there, the time the answer took would tell whether an
    account has the email. The log names the request, neither the email nor whether
    a link went out."""
    config = settings()
    with system_session("password-reset") as session:
        passwords.request_reset(
            session,
            email,
            config.password_reset_lifetime,
            config.public_base_url,
            outbox.Sealer(config.outbox_secret_key),
            request_id,
        )
    log.info("password reset request %s: handled", request_id)
    relay_outbox()


def retry_npi_verifications() -> int:
    """Ask the NPI Registry again about the verifications it could not answer."""
    config = settings()
    client = NppesClient(config.npi_registry_url, config.npi_registry_timeout_seconds)
    with system_session("npi-retry") as session:
        summary = npi.retry_pending(
            session, client=client, now=clock.now(), cache_hours=config.npi_registry_cache_hours
        )
    log.info("npi retry: %s", summary)
    return summary.checked


def apply_assignment_dates() -> int:
    """Activate the assignments whose start date has come and end those whose end date
    has (app/domain/assignments.py, apply_dates); today is the UTC date."""
    today = clock.today()
    with system_session(f"assignment-dates:{today}") as session:
        changes = assignments.apply_dates(session, today)
    log.info(
        "assignment dates %s: %d activated, %d ended",
        today,
        len(changes.activated),
        len(changes.ended),
    )
    return len(changes.activated) + len(changes.ended)


def import_leie_file(
    path: Path, *, supplement: bool = False, published_on: date | None = None
) -> ImportResult:
    """Import one LEIE file (app/domain/exclusion_lists.py); its publication date from
    `published_on` or else from its name."""
    published = published_on or exclusion_lists.published_on_from_name(path.name)
    if published is None:
        raise Invalid(
            "no publication date: give it (--published-on) or name the file with it"
            " (UPDATED-2026-11.csv)",
            field="published_on",
        )
    kind = exclusion_lists.SUPPLEMENT if supplement else exclusion_lists.FULL
    with system_session(f"exclusion-import:leie:{published}") as session:
        result = exclusion_lists.import_leie(session, path, kind=kind, published_on=published)
    log.info("exclusion import: %s", result)
    return result


def import_sam_extract_file(path: Path, *, published_on: date) -> ImportResult:
    """Import one SAM.gov public Exclusions extract (app/domain/exclusion_lists.py)."""
    with system_session(f"exclusion-import:sam:{published_on}") as session:
        result = exclusion_lists.import_sam_extract(session, path, published_on=published_on)
    log.info("exclusion import: %s", result)
    return result


def fetch_sam() -> ImportResult:
    """Download SAM.gov's newest public Exclusions extract (SAM_EXTRACT_URL, today's or
    one of the days before) to a temporary directory and import it. DownloadFailed
    (after the retries) or a refused file (DomainError) leave the version in force."""
    config = settings()
    assert config.sam_api_key, "SAM_API_KEY is not set"
    with tempfile.TemporaryDirectory(prefix="sam-") as directory:
        path, published_on = download_extract(
            config.sam_extract_url,
            config.sam_api_key,
            Path(directory),
            today=clock.today(),
            max_bytes=config.sam_extract_max_bytes,
            timeout_seconds=config.exclusion_timeout_seconds,
            retries=config.exclusion_retries,
        )
        return import_sam_extract_file(path, published_on=published_on)


def import_exclusion_lists() -> list[ImportResult]:
    """The monthly import: the LEIE's full file from LEIE_FULL_URL (downloaded to a
    temporary file, its publication date the server's Last-Modified, else today) and a
    SAM.gov's public extract when SAM_API_KEY is set; each source in its own transaction, so that
    one failing leaves the other's import done. A source that fails (not downloaded, a
    file refused) is logged and counted
    (msc_exclusion_fetch_failures_total) and its version in force stays; the
    job then fails, so the failure shows in the queue's failed jobs, and the next run
    tries again. The results, for the screening that follows an import."""
    config = settings()
    results: list[ImportResult] = []
    failures: list[str] = []
    if config.leie_full_url:
        with tempfile.TemporaryDirectory(prefix="leie-") as directory:
            path = Path(directory) / "UPDATED.csv"
            try:
                modified = download(
                    config.leie_full_url,
                    path,
                    max_bytes=config.leie_max_bytes,
                    timeout_seconds=config.exclusion_timeout_seconds,
                    retries=config.exclusion_retries,
                )
                results.append(import_leie_file(path, published_on=modified or clock.today()))
            except DownloadFailed as exc:
                failures.append(_import_failed("leie", f"download failed: {exc}"))
            except DomainError as exc:  # a malformed or older file: refused whole
                failures.append(_import_failed("leie", exc.message))
    if config.sam_api_key:
        try:
            results.append(fetch_sam())
        except DownloadFailed as exc:
            failures.append(_import_failed("sam", f"download failed: {exc}"))
        except DomainError as exc:  # a malformed or older extract: refused whole
            failures.append(_import_failed("sam", exc.message))
    screen_after_import(results)
    if failures:
        raise RuntimeError("exclusion import failed: " + "; ".join(failures))
    return results


def _import_failed(source: str, reason: str) -> str:
    """A source's import that did not happen: logged and counted; its version in force
    stays. What the job's failure then says of it."""
    metrics.EXCLUSION_FETCH_FAILURES.labels(source=source).inc()
    log.error("exclusion import: %s %s; the version in force stays", source, reason)
    return f"{source}: {reason}"


def screen_after_import(results: list[ImportResult]) -> None:
    """Every list import that brought a new version screens every active provider
    against the lists now in force (reason "list_import"): a new exclusion is found the
    day its list arrives, and a reinstatement clears its matches."""
    if any(not result.unchanged for result in results):
        screen_providers("list_import")


def screen_providers(reason: str) -> int:
    """Screen every active provider against the exclusion lists in force, in one pass
    (app/domain/screening.py): monthly by schedule (reason "monthly"), after a list
    import ("list_import"). The number of screenings written."""
    with system_session(f"screening:{reason}") as session:
        summary = screening.screen(session, reason=reason)
    log.info("screening (%s): %s", reason, summary)
    return summary.rows


DELIVER_WEBHOOK = "workers.jobs.deliver_webhook"


def relay_webhooks() -> int:
    """Hand due webhook deliveries to the queue (and recover abandoned ones)."""
    config = settings()
    policy = webhooks.DeliveryPolicy.from_settings(config)
    queue = Queue(config.queue_name, connection=services().redis)

    def enqueue(organization_id: uuid.UUID, delivery_id: uuid.UUID, attempts: int) -> None:
        queue.enqueue(
            DELIVER_WEBHOOK,
            str(organization_id),
            str(delivery_id),
            job_id=f"webhook-{delivery_id}-{attempts}",
            job_timeout=int(policy.lease.total_seconds()),
            meta=tracing.job_meta(),
        )

    count = 0
    for _ in range(RELAY_ROUNDS):
        with system_session("relay-webhooks") as session:
            relayed = webhooks.relay(session, enqueue, clock.now(), policy, batch=RELAY_BATCH)
        count += relayed
        if relayed < RELAY_BATCH:
            break
    log.info("relay: %d webhook delivery(ies) queued", count)
    return count


def deliver_webhook(organization_id: str, delivery_id: str) -> str:
    """Post one webhook delivery: claim, sign, post, record (app/domain/webhooks.py)."""
    config = settings()
    policy = webhooks.DeliveryPolicy.from_settings(config)
    with system_session(f"webhook:{delivery_id}") as session:
        claimed = webhooks.claim(
            session, uuid.UUID(organization_id), uuid.UUID(delivery_id), clock.now(), policy
        )
        if claimed is None:
            log.info("webhook delivery %s: not due or already handled, skipped", delivery_id)
            return "skipped"
        session.commit()  # the claim and its lease hold before anything is posted
        endpoint, event = claimed.endpoint, claimed.event
        if not endpoint.active:
            webhooks.fail_unsendable(session, claimed, "the endpoint is not active", clock.now())
            log.info("webhook delivery %s: endpoint %s inactive, failed", delivery_id, endpoint.id)
            return WebhookDeliveryStatus.FAILED
        now = clock.now()
        sealer = outbox.Sealer(config.outbox_secret_key)
        body = webhooks.envelope(event)
        try:
            secrets = webhooks.signing_secrets(endpoint, sealer, now)
        except InvalidToken:
            # Sealed under another OUTBOX_SECRET_KEY: unsigned, nothing is posted. The
            # attempt fails (and is retried: during a key change another worker may
            # still hold the old key); an admin rotating the secret mends it for good.
            answer = webhook_http.Answer.unsent(
                "the endpoint's signing secret does not open with this worker's"
                " OUTBOX_SECRET_KEY: rotate the secret"
            )
            return _settle_webhook(session, claimed, answer, "unsigned", policy)
        headers = webhooks.signed_headers(event.id, body, secrets, now)
        try:
            answer = webhook_http.post(
                endpoint.url,
                body,
                headers,
                timeout=config.webhook_timeout_seconds,
                max_body_bytes=config.webhook_response_max_bytes,
                allowed=config.webhook_allowed_networks,
                require_https=config.webhooks_require_https,
            )
            outcome = "delivered" if answer.succeeded else "failed"
        except webhook_http.Refused as exc:
            answer = webhook_http.Answer.refused(exc)
            outcome = "refused"
        except Exception:
            # A defect of ours or a library's: settled as a failure all the same, so the
            # attempt is logged, retried after its delay and counted against the endpoint
            # (unsettled, it would be posted again as soon as its lease ran out). The
            # customer reads a plain reason; the traceback stays in the worker's log.
            log.exception("webhook delivery %s: unexpected error posting", delivery_id)
            answer = webhook_http.Answer.unsent("an unexpected error on our side ended the attempt")
            outcome = "failed"
        return _settle_webhook(session, claimed, answer, outcome, policy)


def _settle_webhook(
    session: Session,
    claimed: webhooks.Claimed,
    answer: webhook_http.Answer,
    outcome: str,
    policy: webhooks.DeliveryPolicy,
) -> str:
    """Count and record how the attempt went; the delivery's status."""
    metrics.WEBHOOK_ATTEMPTS.labels(outcome=outcome).inc()
    delivery, event = claimed.delivery, claimed.event
    try:
        status = webhooks.settle(session, claimed, answer, clock.now(), policy)
    except webhooks.LostClaim as exc:
        log.warning(
            "webhook delivery %s (organization %s): %s", delivery.id, event.organization_id, exc
        )
        return "skipped"
    log.info(
        "webhook delivery %s (organization %s, event %s %s), attempt %d: %s, now %s",
        delivery.id,
        event.organization_id,
        event.type,
        event.id,
        delivery.attempts,
        answer.summary(),
        status,
    )
    return status
