"""Schemathesis, an independent property-based tester, against the served /openapi.json,
in process (`schemathesis.openapi.from_wsgi`), as each role: every check, positive and
negative data, the explicit examples, the coverage phase's boundary values, and the
stateful phase following the document's links and the ones it infers. Zero failures is
the contract. Every check is on; the one place a check expects other than its default
is REFUSED_FOR_WHAT_NO_SCHEMA_STATES, each with why.

The run is bounded (FUZZ_MAX_EXAMPLES cases per operation and phase, default 12, and five
times as many stateful scenarios) and seeded (FUZZ_SEED, default fixed) so that CI is
repeatable and takes minutes; the README gives the longer run (`FUZZ_MAX_EXAMPLES=200
FUZZ_SEED=$RANDOM`). Ids in paths, queries and bodies are half the time the tenants'
own rows (`_known_rows`), so that operations answer about real rows, not only 404.

What differs from production, and why:
- The request limits (app/auth/throttle.py) are raised: thousands of requests from one
  address would otherwise meet them within seconds and every answer would be 429. The
  limits themselves are tested in tests/test_throttle.py.
- Each role's token is minted as a login would mint it (`token_for`), and minted again
  after a 401: an operation the tester calls (logout, ending other sessions) can revoke it.
"""

from __future__ import annotations

import collections
import dataclasses
import os
from collections.abc import Callable
from typing import Any

import pytest
import schemathesis
from flask import Flask
from flask.testing import FlaskClient
from schemathesis.engine import events, from_schema
from schemathesis.transport.wsgi import WSGITransport
from sqlalchemy import Engine, text

from app.config import Settings
from app.factory import create_app
from app.models import Organization, User
from tests.api_helpers import committed_credential
from tests.conftest import TwoTenants, token_for

MAX_EXAMPLES = int(os.environ.get("FUZZ_MAX_EXAMPLES", "12"))
SEED = int(os.environ.get("FUZZ_SEED", "20261130"))
STATEFUL_SCENARIOS_PER_EXAMPLE = 5
UNLIMITED = "1000000/minute"

Caller = Callable[[TwoTenants], tuple[User, Organization | None]]
ROLES: dict[str, Caller] = {
    "msc_admin": lambda t: (t.msc_admin, None),
    "organization_admin": lambda t: (t.a.admin, t.a.organization),
    "office_manager": lambda t: (t.a.office_manager, t.a.organization),
    "provider": lambda t: (t.shared_provider, t.a.organization),
}


# `positive_data_acceptance` expects data valid by the document to be taken, or refused
# for reasons outside the request (401, 403, 404, 409, 429). These operations also refuse
# data the document allows, with a 422 naming the field (a 400 page for the forms), for
# reasons no schema can state; for them, and only for them, that answer is expected too.
ACCEPTED = ["2xx", "3xx", "401", "403", "404", "409", "429", "5xx"]
REFUSED_FOR_WHAT_NO_SCHEMA_STATES: dict[str, tuple[str, ...]] = {
    # Which ids exist and are the caller's, no schema knows.
    "the body names a row the caller cannot reach or that does not fit (a parent"
    " organization, an MSC representative, an office manager, a facility, an assignment)": (
        "POST /api/v1/admin/organizations",
        "PUT /api/v1/admin/organizations/{organization_id}",
        "POST /api/v1/admin/organizations/{organization_id}/facilities",
        "PUT /api/v1/admin/facilities/{facility_id}",
        "POST /api/v1/admin/providers/invite",
        "POST /api/v1/admin/providers/{provider_id}/assign-facility",
        "POST /api/v1/me/primary-facility",
        "POST /api/v1/orders",
        # an event of another organization's, or of a type the endpoint does not take
        "POST /api/v1/admin/organizations/{organization_id}/webhook-endpoints/{endpoint_id}"
        "/replays",
    ),
    "one value against another, or against today: a range's `from` after its `to` or"
    " longer than allowed, an end before its start or before today, an expiry before the"
    " effective date": (
        "GET /api/v1/admin/analytics",
        "GET /api/v1/admin/organizations/{organization_id}/analytics",
        "GET /api/v1/admin/audit-events",
        "GET /api/v1/admin/audit-events/export",
        "GET /api/v1/admin/screenings",
        "GET /api/v1/admin/screenings/export",
        "GET /api/v1/admin/organizations/{organization_id}/webhook-events",
        "POST /api/v1/admin/organizations/{organization_id}/webhook-endpoints/{endpoint_id}"
        "/replays",
        "GET /api/v1/orders",
        "POST /api/v1/admin/providers/{provider_id}/assignments/{assignment_id}/end",
        "POST /api/v1/me/credentials",
        "PUT /api/v1/me/credentials/{credential_id}",
    ),
    "what a pattern cannot check (the descriptions say it): an NPI's or a DEA number's check"
    " digit, a phone number valid in its country's numbering plan, a state code among the"
    " database's, an email address's deliverable domain, a webhook URL's parts (an"
    " http(s) scheme, a port in range, no user name or fragment)": (
        "GET /api/v1/npi/{npi}",
        "PUT /api/v1/me",
        "POST /api/v1/auth/password-reset",
        "GET /api/v1/admin/invitations",
        "POST /api/v1/admin/organizations/{organization_id}/webhook-endpoints",
        "PATCH /api/v1/admin/organizations/{organization_id}/webhook-endpoints/{endpoint_id}",
    ),
    "the caller's role: an MSC admin, who acts for no one organization, names it": (
        "GET /api/v1/admin/compliance",
        "GET /api/v1/admin/compliance/expirations",
        "GET /api/v1/admin/screenings/export",
    ),
    "a secret the caller must know: the current password, a second factor's code, a"
    " password the policy takes": (
        "POST /api/v1/auth/password",
        "POST /api/v1/auth/mfa/enrollment",
        "POST /api/v1/auth/password-reset/confirm",
        "POST /api/v1/invitations/{token}/accept",
    ),
    "an upload's bytes must be a file of the type they claim (PDF, PNG, JPEG)": (
        "POST /api/v1/me/documents",
        "POST /api/v1/admin/organizations/{organization_id}/documents",
    ),
}
# A page's form carries the CSRF token of the page it came from, which no generated
# request has: the answer is the form-expired page (400).
FORMS = (
    "POST /invitations/{token}/accept",
    "POST /password-reset",
    "POST /password-reset/{token}",
)


# The tenants' own rows (tests/conftest.py `seeded`, and a credential), which a path,
# query or body parameter of that name takes half the time: the other half, made up, an
# id of nothing. The operations then answer about real rows too, not only 404.
KNOWN_SHARE = 0.5


def _known_rows(engine: Engine, tenants: TwoTenants) -> dict[str, list[str]]:
    provider = tenants.shared_provider
    credential = committed_credential(engine, provider)
    with engine.connect() as connection:
        # Not the admin's own: deactivated, it would end the run's sign-in.
        memberships = connection.scalars(
            text("SELECT id FROM memberships WHERE organization_id = :o AND user_id <> :u"),
            {"o": tenants.a.organization.id, "u": tenants.a.admin.id},
        ).all()
        assignments = connection.scalars(
            text("SELECT id FROM provider_facilities WHERE user_id = :u"), {"u": provider.id}
        ).all()
    with engine.begin() as connection:
        # A's webhook endpoint, with an event delivered to it.
        endpoint = connection.scalar(
            text(
                "INSERT INTO webhook_endpoints (organization_id, url, event_types, secret_sealed)"
                " VALUES (:o, 'https://hooks.example.com/msc', ARRAY['provider.joined'], 'sealed')"
                " RETURNING id"
            ),
            {"o": tenants.a.organization.id},
        )
        event = connection.scalar(
            text(
                "INSERT INTO webhook_events (organization_id, type, key, data)"
                " VALUES (:o, 'provider.joined', 'fuzzed', '{}') RETURNING id"
            ),
            {"o": tenants.a.organization.id},
        )
        connection.execute(
            text(
                "INSERT INTO webhook_deliveries (organization_id, endpoint_id, event_id)"
                " VALUES (:o, :endpoint, :event)"
            ),
            {"o": tenants.a.organization.id, "endpoint": endpoint, "event": event},
        )
    ids = {
        "organization_id": [tenants.a.organization.id, tenants.b.organization.id],
        "facility_id": [tenants.a.facility.id, tenants.b.facility.id],
        "provider_id": [provider.id],
        "user_id": [provider.id, tenants.a.office_manager.id],
        "membership_id": memberships,
        "assignment_id": assignments,
        "credential_id": [credential],
        "endpoint_id": [endpoint],
        "event_id": [event],
    }
    return {name: [str(value) for value in values] for name, values in ids.items()}


def _taking_known_rows(known: dict[str, list[str]]) -> dict[str, Any]:
    """Config: each name's ids as a dictionary, drawn for that name wherever it is a
    parameter (path, query) or a field of a JSON body."""
    parameters = {
        key: {"dictionary": name, "probability": KNOWN_SHARE}
        for name in known
        for key in (name, f"body.{name}")
    }
    return {
        "dictionaries": {name: {"values": values} for name, values in known.items()},
        "parameters": parameters,
    }


def _expected_refusals() -> list[dict[str, Any]]:
    def expecting(operation: str, *statuses: str) -> dict[str, Any]:
        acceptance = {"expected-statuses": [*ACCEPTED, *statuses]}
        return {"include-name": operation, "checks": {"positive_data_acceptance": acceptance}}

    refused = [op for ops in REFUSED_FOR_WHAT_NO_SCHEMA_STATES.values() for op in ops]
    return [expecting(op, "422") for op in refused] + [expecting(op, "400") for op in FORMS]


@pytest.fixture(scope="module")
def fuzzed_app(settings: Settings) -> Flask:
    limits: dict[str, Any] = {
        f.name: UNLIMITED
        for f in dataclasses.fields(Settings)
        if f.name.startswith("rate_limit_") and f.name != "rate_limit_key_prefix"
    }
    return create_app(dataclasses.replace(settings, **limits))


@pytest.fixture
def in_process_transport(monkeypatch: pytest.MonkeyPatch) -> None:
    """Schemathesis 4.32's WSGI transport passes the socket-only `max_redirects` on to
    Werkzeug when a check re-sends a request without a session (`ignored_auth`'s probe),
    which Werkzeug refuses (TypeError). Drop what has no in-process meaning, as the
    transport already does when it is given a session."""
    send = WSGITransport.send

    def sending_in_process(self: WSGITransport, case: Any, **kwargs: Any) -> Any:
        for name in ("max_redirects", "verify", "cert", "proxies"):
            kwargs.pop(name, None)
        return send(self, case, **kwargs)

    monkeypatch.setattr(WSGITransport, "send", sending_in_process)


@dataclasses.dataclass
class Findings:
    cases: int = 0
    operations: set[str] = dataclasses.field(default_factory=set)
    # Operations answered 2xx at least once: the run reached real rows, not only refusals.
    succeeded: set[str] = dataclasses.field(default_factory=set)
    # Stateful steps taken: along the document's links, and along those Schemathesis
    # infers (a value one answer gave used as a parameter of another operation).
    links: set[str] = dataclasses.field(default_factory=set)
    inferred: set[str] = dataclasses.field(default_factory=set)
    failures: collections.Counter[tuple[str, str, str]] = dataclasses.field(
        default_factory=collections.Counter
    )
    examples: dict[tuple[str, str, str], str] = dataclasses.field(default_factory=dict)
    errors: list[str] = dataclasses.field(default_factory=list)


def _run(schema: Any) -> Findings:
    found = Findings()
    for event in from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            recorder = event.recorder
            found.cases += len(recorder.cases)
            for case_id, node in recorder.cases.items():
                found.operations.add(node.value.operation.label)
                interaction = recorder.interactions.get(case_id)
                answer = interaction.response if interaction is not None else None
                # (not the checks' probes with other methods: OPTIONS answers 200)
                as_documented = node.value.method.upper() == node.value.operation.method.upper()
                if as_documented and answer is not None and answer.status_code < 300:
                    found.succeeded.add(node.value.operation.label)
                if node.transition is not None:
                    taken = found.inferred if node.transition.is_inferred else found.links
                    taken.add(node.transition.id)
            for case_id, checks in recorder.checks.items():
                case = recorder.cases[case_id].value
                for check in checks:
                    if check.failure_info is None:
                        continue
                    failure = check.failure_info.failure
                    key = (check.name, case.operation.label, failure.title)
                    found.failures[key] += 1
                    interaction = recorder.interactions.get(case_id)
                    answer = interaction.response if interaction is not None else None
                    answered = (
                        f"{answer.status_code} {answer.content[:300]!r}" if answer else "no answer"
                    )
                    found.examples.setdefault(
                        key,
                        f"{failure.message}\n  {check.failure_info.code_sample}\n  -> {answered}",
                    )
        elif isinstance(event, events.NonFatalError):
            found.errors.append(f"{event.label}: {event.info.format()}")
        elif isinstance(event, events.FatalError):
            found.errors.append(f"fatal: {event.exception!r}")
    return found


@pytest.mark.slow
@pytest.mark.parametrize("role", ROLES)
def test_the_api_keeps_its_documented_contract(
    role: str,
    fuzzed_app: Flask,
    client: FlaskClient,
    seeded: TwoTenants,
    admin_engine: Engine,
    in_process_transport: None,
    capsys: pytest.CaptureFixture[str],
) -> None:
    user, organization = ROLES[role](seeded)
    config = schemathesis.Config.from_dict(
        {
            **_taking_known_rows(_known_rows(admin_engine, seeded)),
            "seed": SEED,
            # Each run starts afresh: nothing learnt by an earlier run changes this one.
            "cache": {"enabled": False},
            "generation": {"mode": "all", "max-examples": MAX_EXAMPLES},
            "checks": {"enabled": True},
            "operations": _expected_refusals(),
            "phases": {
                "examples": {"enabled": True},
                "coverage": {"enabled": True},
                "fuzzing": {"enabled": True},
                # A workflow is a scenario: more of them than of single requests.
                "stateful": {
                    "enabled": True,
                    "generation": {"max-examples": STATEFUL_SCENARIOS_PER_EXAMPLE * MAX_EXAMPLES},
                },
            },
        }
    )
    schema = schemathesis.openapi.from_wsgi("/openapi.json", fuzzed_app, config=config)

    @schema.auth(refresh_interval=None, retry_on=[401])
    class Bearer:
        def get(self, case: Any, context: Any) -> str:
            return token_for(client, user, organization)

        def set(self, case: Any, data: str, context: Any) -> None:
            case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}

    found = _run(schema)
    with capsys.disabled():
        print(
            f"\n[fuzz {role}] seed {SEED}, {MAX_EXAMPLES} examples: {len(found.operations)}"
            f" operations ({len(found.succeeded)} answered 2xx), {found.cases} cases,"
            f" {len(found.links)} document links and {len(found.inferred)} inferred ones followed,"
            f" {sum(found.failures.values())} failures"
        )
    report = [
        f"{count}x {check} {operation}: {title}\n  {found.examples[(check, operation, title)]}"
        for (check, operation, title), count in sorted(found.failures.items())
    ]
    assert not found.errors, "\n".join(found.errors)
    assert not report, "\n".join(report)
